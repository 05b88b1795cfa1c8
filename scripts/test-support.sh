#!/usr/bin/env bash
# Prepare what the test suite runs beside streamdelta, once, and cache it:
#   .cache/venv                 Debian's python3 + pytest, pyarrow, duckdb
#                               (pinned in tests/support/requirements.txt)
#   tests/support/node_modules  @duckdb/node-api (tests/support/package.json),
#                               the independent Parquet reader of the e2e tests
#   .cache/jars                 Delta 2.4.0's jars for Spark 3.4.1 (pyspark, in
#                               the venv), resolved by Maven from Maven Central
#                               through tests/support/spark/pom.xml
# A stamp holding a hash of those pins (and of this script) skips all of it
# when nothing changed, so a second run neither downloads nor installs.
# Installs Debian's python3-venv / nodejs / npm / Java 17 / Maven only when
# they are missing.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

venv=.cache/venv
stamp=.cache/test-support.stamp
req=tests/support/requirements.txt
pkg=tests/support/package.json
spark_pom=tests/support/spark/pom.xml
jars=.cache/jars
delta_jars=("$jars/delta-core_2.12-2.4.0.jar" "$jars/delta-storage-2.4.0.jar")

have_jars() {
    local j
    for j in "${delta_jars[@]}"; do [ -s "$j" ] || return 1; done
}

want=$(cat "$req" "$pkg" "$spark_pom" "$self" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -x "$venv/bin/pytest" ] && [ -d tests/support/node_modules/@duckdb/node-api ] &&
    have_jars; then
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
# Spark 3.4 runs on Java 8/11/17 (Debian 12's is 17); Maven fetches Delta's jars.
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    apt_install openjdk-17-jre-headless maven
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

# Offline-safe: Maven runs only when a jar is missing.
if ! have_jars; then
    log "fetching Delta Lake 2.4.0 jars into $jars (Maven Central)"
    mkdir -p "$jars"
    mvn -q -B -f "$spark_pom" -Djars.dir="$PWD/$jars" dependency:copy@delta-jars >&2
fi

echo "$want" >"$stamp"
log "ready"
