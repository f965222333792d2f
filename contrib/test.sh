#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Sets up a fresh Debian 12 machine, builds in _build/ and runs every test
# (unit, integration with a real swtpm). Prints "N passed, N failed, N skipped".
# Extra arguments go to ./configure (e.g. --enable-werror).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh contrib/install-deps.sh
[ -x configure ] || ./bootstrap
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure "$@"
make -j"$(nproc)"
set +e
make -j"$(nproc)" check
rc=$?
set -e
sh "$top/contrib/test-summary.sh" test-suite.log
exit $rc
