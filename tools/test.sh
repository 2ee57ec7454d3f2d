#!/usr/bin/env bash
# Install everything the tests need (Debian's redis-server/redis-tools as the reference and
# peer, the Python packages into ./.venv) and run the whole test suite.
# Extra arguments are passed to pytest (e.g. -k strings -x).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
apt_install redis-server redis-tools
# Debian's package starts a redis-server on 6379 where an init system runs; tests use their
# own servers on free ports and never touch it.
ensure_venv "[test]"
cd "$KV_ROOT"
exec "$KV_VENV/bin/python" -m pytest -p no:cacheprovider -q "$@"
