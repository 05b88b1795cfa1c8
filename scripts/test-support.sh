#!/usr/bin/env bash
# Prepare what the test suite runs beside streamdelta, once, and cache it:
#   .cache/venv                 Debian's python3 + pytest, pyarrow, duckdb
#                               (pinned in tests/support/requirements.txt)
#   tests/support/node_modules  @duckdb/node-api (tests/support/package.json),
#                               the independent Parquet reader of the e2e tests
# A stamp holding a hash of those pins (and of this script) skips all of it
# when nothing changed, so a second run neither downloads nor installs.
# Installs Debian's python3-venv / nodejs / npm only when they are missing.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

venv=.cache/venv
stamp=.cache/test-support.stamp
req=tests/support/requirements.txt
pkg=tests/support/package.json

want=$(cat "$req" "$pkg" "$self" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -x "$venv/bin/pytest" ] && [ -d tests/support/node_modules/@duckdb/node-api ]; then
    exit 0
fi

log() { echo "test-support: $*" >&2; }

apt_install() {
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian's interpreter on purpose: not whatever python3 comes first in PATH
# (pyenv and friends), so every machine builds the same venv.
if ! /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
fi
# @duckdb/node-api is N-API based; Debian 12's nodejs (18.x) runs it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
fi

mkdir -p .cache
if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    /usr/bin/python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" 2>/dev/null; then
    # An old pip may not know the current wheel tags; upgrade it and retry.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
fi

# Offline-safe: skip npm when the pinned version is already installed.
want_node=$(node -p 'require("./tests/support/package.json").dependencies["@duckdb/node-api"]')
have_node=$(node -p 'try { require("./tests/support/node_modules/@duckdb/node-api/package.json").version } catch (e) { "" }')
if [ "$want_node" != "$have_node" ]; then
    log "npm install in tests/support (@duckdb/node-api $want_node)"
    (cd tests/support && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi

echo "$want" >"$stamp"
log "ready"
