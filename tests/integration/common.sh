# SPDX-License-Identifier: Apache-2.0
# Sourced by the integration tests: TAP output, temp dirs, free ports, swtpm.
# Every resource a test starts is registered and torn down by the EXIT trap,
# also when the test fails half-way.

KS_BUILDDIR=${KS_BUILDDIR:-$(pwd)}
KS_SRCDIR=${KS_SRCDIR:-$(pwd)}
KS_TESTDATA=${KS_TESTDATA:-$KS_SRCDIR/tests/data}
KSCTL="${VALGRIND:+$VALGRIND }$KS_BUILDDIR/ksctl"

tap_n=0
tap_failed=0
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ks-test.XXXXXX")
cleanup_cmds=""

ks_cleanup() {
    eval "$cleanup_cmds"
    rm -rf "$TEST_TMP"
}
trap ks_cleanup EXIT
trap 'exit 1' INT TERM

# Register a command to run at exit (runs in reverse order of registration).
at_exit() {
    cleanup_cmds="$1; $cleanup_cmds"
}

# Start keyserverd over the database $DB and master key $T/mk on a free port
# of 127.0.0.1, with a self-signed TLS certificate made in $T (tls.crt,
# tls.key; kept when there already is one), its log in $T/ksd.log; extra
# arguments go to keyserverd. Sets KSD (its pid, killed at exit) and URL.
# Returns non-zero when it did not come up.
ksd_start() {
    [ -s "$T/tls.crt" ] ||
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=keyserver \
            -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || return 1
    rm -f "$T/port"
    ${VALGRIND:+$VALGRIND }$KS_BUILDDIR/keyserverd/keyserverd --listen 127.0.0.1:0 \
        --port-file "$T/port" --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" --db "$DB" \
        --master-key "$T/mk" "$@" 2>"$T/ksd.log" &
    KSD=$!
    at_exit "kill $KSD 2>/dev/null"
    ksd_i=0
    while [ ! -s "$T/port" ] && [ $ksd_i -lt $((100 * ${SLOW:-1})) ] && kill -0 $KSD 2>/dev/null; do
        sleep 0.1
        ksd_i=$((ksd_i + 1))
    done
    URL="https://127.0.0.1:$(cat "$T/port" 2>/dev/null)"
    [ -s "$T/port" ]
}

ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $*"
}

not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $*"
}

skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

# check "description" command...: one TAP result from a command's status.
check() {
    desc=$1
    shift
    if "$@" >"$TEST_TMP/last.out" 2>"$TEST_TMP/last.err"; then
        ok "$desc"
    else
        not_ok "$desc"
        sed 's/^/# /' "$TEST_TMP/last.out" "$TEST_TMP/last.err" | head -40
    fi
}

# check_fails "description" command...: passes when the command exits non-zero
# (but not by a signal: a crash is a failure).
check_fails() {
    desc=$1
    shift
    "$@" >"$TEST_TMP/last.out" 2>"$TEST_TMP/last.err"
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc)"
        sed 's/^/# /' "$TEST_TMP/last.out" "$TEST_TMP/last.err" | head -40
    fi
}

done_testing() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ]
}

. "$KS_SRCDIR/contrib/swtpm-lib.sh"

# asan_build: true when the build under test uses AddressSanitizer. ASan
# makes mlock() a no-op, which ks-loader notices and refuses, so the loader
# tests run it with allow_unlocked there.
asan_build() {
    grep -q -- '-fsanitize=address' "$KS_BUILDDIR/Makefile" 2>/dev/null
}

need_tools() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || skip_all "$t not installed"
    done
}
