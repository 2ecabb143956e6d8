#!/bin/sh
# Installs the Debian 12 packages newsflow builds, runs and tests with, when any is missing.
# Usage: deploy/debian-deps.sh [build|test]   (test adds what the test suite needs)
set -eu
BUILD="build-essential cmake pkg-config libzmq3-dev libmsgpack-dev libconfig-dev libsqlite3-dev
sqlite3 libutf8proc-dev libxxhash-dev libjansson-dev libsodium-dev libpcre2-dev zlib1g-dev
libxml2-dev libuchardet-dev libsystemd-dev iso-codes python3 bc
libcurl4-openssl-dev libpq-dev libcld2-dev libmicrohttpd-dev time"
TEST="libcmocka-dev clang libclang-rt-14-dev procps psmisc gzip postgresql iproute2 curl chromium tcpdump"
want="$BUILD"
[ "${1:-build}" = test ] && want="$BUILD $TEST"
# cmocka is needed to configure the tree at all (the tests are part of the build).
want="$want libcmocka-dev"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "newsflow: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "newsflow: these packages are missing and I am neither root nor have sudo:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
