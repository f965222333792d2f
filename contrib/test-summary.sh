#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prints "N passed, N failed, N skipped" from automake test-suite.log files
# (TAP results of every test program; ERROR and XPASS count as failures).
awk '
/^# PASS:/  { p += $3 }
/^# SKIP:/  { s += $3 }
/^# XFAIL:/ { p += $3 }
/^# FAIL:/  { f += $3 }
/^# XPASS:/ { f += $3 }
/^# ERROR:/ { f += $3 }
END { printf "%d passed, %d failed, %d skipped\n", p, f, s }
' "$@"
