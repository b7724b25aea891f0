#!/bin/sh
# Install Rebound on this machine and either start it or run its tests.
#   ./setup.sh serve   install, then run the service on http://127.0.0.1:8000 with its own Redis
#   ./setup.sh test    install with the test extras, then run the test suite
# Works as root on a fresh Debian 12 (or later): missing system packages come from apt.
set -eu
cd "$(dirname "$0")"
mode=${1:-}
case "$mode" in serve|test) ;; *) echo "usage: $0 serve|test" >&2; exit 2 ;; esac

need=""
command -v python3 >/dev/null 2>&1 || need="$need python3"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then echo "missing:$need (run as root, or install them first)" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
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
    exec .venv/bin/python -m pytest -q
fi
