#!/usr/bin/env bash
# Shared setup for tools/serve.sh and tools/test.sh: a virtual environment in the checkout
# (.venv; Debian's system Python refuses pip installs outside one) with kvstore installed.
# Usage: source tools/bootstrap.sh; ensure_venv [extras]
set -euo pipefail

KV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KV_VENV="$KV_ROOT/.venv"

apt_install() {
    # apt_install PKG...: install Debian packages that are missing (needs root; runs
    # `apt-get update` once per call site, as Debian requires before the first install).
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "== installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
    local extras="${1:-}"
    local py
    py="$(command -v python3)"
    if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    if [ ! -x "$KV_VENV/bin/python" ]; then
        echo "== creating virtual environment in $KV_VENV"
        "$py" -m venv "$KV_VENV"
    fi
    local stamp="$KV_VENV/.kvstore-installed$extras"
    if [ ! -f "$stamp" ] || [ "$KV_ROOT/setup.cfg" -nt "$stamp" ]; then
        echo "== installing kvstore${extras} into the virtual environment"
        "$KV_VENV/bin/pip" install -q --upgrade pip >/dev/null
        "$KV_VENV/bin/pip" install -q -e "$KV_ROOT$extras"
        touch "$stamp"
    fi
}
