#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs every build, test and demo dependency on Debian 12 (bookworm).
# Idempotent: does nothing when everything is already installed.
set -eu

PKGS="build-essential autoconf automake autoconf-archive libtool pkg-config
libtss2-dev libssl-dev libjansson-dev libcbor-dev libsqlite3-dev libmicrohttpd-dev libgcrypt20-dev
libcurl4-openssl-dev libcmocka-dev
swtpm swtpm-tools tpm2-tools openssl curl sqlite3 python3 python3-numpy python3-cryptography
clang-14 libfuzzer-14-dev libclang-rt-14-dev clang-format gdb valgrind"

missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
