#!/usr/bin/env bash
# Install the Debian packages streamdelta needs to build, test and fuzz.
# Idempotent: asks dpkg first and calls apt-get only for what is missing.
set -euo pipefail

packages=(
    build-essential pkg-config clang libclang-rt-14-dev clang-format
    libsnappy-dev libzstd-dev liblz4-dev zlib1g-dev
    librdkafka-dev libavro-dev libmicrohttpd-dev libcurl4-openssl-dev
    kcat python3-venv curl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
