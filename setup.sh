#!/bin/sh
# Install Rebound on this machine and either start it or run its tests.
#   ./setup.sh serve   install, then run the service on http://127.0.0.1:8000 with its own Redis
#   ./setup.sh test    install with the test extras (and Chromium for the console), then run the test suite (in parallel, one worker per core)
# Works as root on a fresh Debian 12 (or later): missing system packages come from apt.
set -eu
cd "$(dirname "$0")"
mode=${1:-}
case "$mode" in serve|test) ;; *) echo "usage: $0 serve|test" >&2; exit 2 ;; esac

need=""
command -v python3 >/dev/null 2>&1 || need="$need python3"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
# the tests start their own Postfix and Dovecot (own config, ports and directories): only the binaries
if [ "$mode" = test ]; then
    [ -x /usr/sbin/postfix ] || need="$need postfix"
    [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || need="$need dovecot-imapd"
    [ -x /usr/lib/dovecot/pop3 ] || need="$need dovecot-pop3d"
fi
# the console's browser tests drive Debian's Chromium (Playwright never downloads a browser here)
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then need="$need chromium"; fi
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then echo "missing:$need (run as root, or install them first)" >&2; exit 1; fi
    apt-get update -qq
    # installing a mail server must not start (or configure) the machine's own: no policy, no start
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
    if [ -n "$own_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
        if command -v systemctl >/dev/null 2>&1; then systemctl disable --now postfix dovecot >/dev/null 2>&1 || true; fi
    fi
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "Rebound needs Python 3.11 or newer; this is $(python3 --version)" >&2; exit 1; }

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$mode" = serve ]; then
    .venv/bin/python -m pip install -q .
    exec .venv/bin/rebound serve
else
    .venv/bin/python -m pip install -q -e '.[test]'
    # flanker writes its parser tables on first import: once, before the parallel workers
    .venv/bin/python -c 'import flanker.addresslib.address, flanker.mime'
    exec .venv/bin/python -m pytest -q -n auto
fi
