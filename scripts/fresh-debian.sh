#!/bin/sh
# Try Rebound on a fresh Debian, as a new user would: build a minimal Debian chroot with
# debootstrap from the Debian mirror, clone this repository into it, and run the README's
# two commands there (`./setup.sh test`, then `./setup.sh serve` until /readyz answers).
#
#   scripts/fresh-debian.sh 12|13 [--shared DIR] [--keep] [--workdir DIR]
#
#   12, 13        Debian release (bookworm: Python 3.11; trixie: Python 3.13)
#   --shared DIR  bind DIR (read-only) as ../shared beside the clone, as CI has it;
#                 without it the clone stands alone, as a user's does, and the tests
#                 that need ../shared are skipped (the count is printed)
#   --keep        leave the chroot in place (default: removed at the end)
#   --workdir DIR where to build the chroot (default: a new directory under /var/tmp)
#
# The chroot has git (a user who cloned the repository has it; tests/test_packaging.py uses it).
# Needs root (debootstrap, chroot, mounts), debootstrap (installed from apt if missing)
# and the network to reach the Debian mirror and PyPI. The committed repository is
# cloned (HEAD of this checkout), not the working tree: uncommitted changes are not tried.
# Takes 10-20 minutes; the last line says what happened. Exit status: that of the tests,
# or 1 if the service did not come up.
set -eu

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in 12) suite=bookworm ;; 13) suite=trixie ;; *) usage ;; esac
release=$1; shift
shared="" keep="" work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --shared) shared=$(cd "$2" && pwd); shift 2 ;;
        --keep) keep=1; shift ;;
        --workdir) work=$2; shift 2 ;;
        *) usage ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
port=${REBOUND_PORT:-8000}      # the port the service is tried on (REBOUND_PORT: another, if 8000 is taken here)

command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }

work=${work:-$(mktemp -d /var/tmp/rebound-debian$release.XXXXXX)}
root=$work/root
log=$work/log
mkdir -p "$root"
say() { echo "[fresh-debian $release] $*" >&2; }

mounted=""
cleanup() {
    for m in $mounted; do umount -l "$m" 2>/dev/null || true; done
    if [ -z "$keep" ]; then rm -rf "$work"; else say "chroot kept in $root"; fi
}
trap cleanup EXIT INT TERM

say "debootstrap $suite from $mirror into $root"
debootstrap --variant=minbase --include=ca-certificates,git "$suite" "$root" "$mirror" >"$log" 2>&1 || {
    tail -20 "$log" >&2; exit 1; }

for fs in proc sys dev dev/pts; do
    mount --bind "/$fs" "$root/$fs"
    mounted="$root/$fs $mounted"
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
# a site that inspects TLS (a proxy with its own CA) must be trusted in the chroot as on the host
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
fi

say "cloning $repo (HEAD $(git -C "$repo" rev-parse --short HEAD))"
mkdir -p "$root/home/user"
git clone -q --no-hardlinks "$repo" "$root/home/user/rebound"
if [ -n "$shared" ]; then
    mkdir -p "$root/home/user/shared"
    mount --bind -o ro "$shared" "$root/home/user/shared"
    mounted="$root/home/user/shared $mounted"
fi

in_chroot() {
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt REBOUND_PORT=$port sh -c "cd /home/user/rebound && $1"
}

say "./setup.sh test"
status=0
in_chroot "./setup.sh test" 2>&1 | tee "$work/test.log" || true
tail -1 "$work/test.log" | grep -Eq '^[0-9]+ passed' && ! tail -1 "$work/test.log" | grep -q failed || status=1

say "./setup.sh serve"
in_chroot "./setup.sh serve >/tmp/serve.log 2>&1 & echo \$! >/tmp/serve.pid
           for i in \$(seq 1 600); do
               .venv/bin/python -c 'import urllib.request,sys; urllib.request.urlopen(\"http://127.0.0.1:$port/readyz\", timeout=10)' 2>/dev/null && break
               sleep 1
           done
           .venv/bin/python -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:$port/readyz\", timeout=10).read().decode())' || { tail -20 /tmp/serve.log; false; }
           kill \$(cat /tmp/serve.pid); wait" >"$work/serve.log" 2>&1 && served=yes || { served=no; status=1; }
cat "$work/serve.log" >&2

python=$(in_chroot "python3 --version" 2>&1)
say "Debian $release ($suite, $python): tests: $(tail -1 "$work/test.log"); serve: /readyz $( [ $served = yes ] && echo answered || echo 'did not answer')"
exit $status
