#!/usr/bin/env bash
# Install kvstore into ./.venv and run it with the default config, data under ./data.
# Extra arguments are passed to kvstore-server (e.g. --port 7000).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ensure_venv
mkdir -p "$KV_ROOT/data"
exec "$KV_VENV/bin/kvstore-server" "$KV_ROOT/etc/kvstore.conf" --dir "$KV_ROOT/data" "$@"
