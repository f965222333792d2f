#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run every libFuzzer target of a build configured with --enable-fuzzing.
#
#   run.sh BUILDDIR TESTDATA [SECONDS]
#
# For each BUILDDIR/tests/fuzz/fuzz_<name> it makes a seed corpus in
# BUILDDIR/fuzz-corpus/<name>/ from the real data in TESTDATA (tests/data),
# runs the target on it for SECONDS (default 20; -max_total_time) and prints
# one TAP line per target: `ok N - fuzz_<name> Ss, K execs`, or `not ok` when
# it exits non-zero or leaves a crash, leak, timeout or OOM file in
# BUILDDIR/fuzz-artifacts/. The libFuzzer output is kept in
# BUILDDIR/fuzz-logs/fuzz_<name>.log. Exits non-zero on any failure.

set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILDDIR TESTDATA [SECONDS]" >&2
    exit 2
fi
BUILDDIR=$1
TESTDATA=$2
SECONDS_EACH=${3:-20}
[ -n "$SECONDS_EACH" ] || SECONDS_EACH=20

FUZZDIR=$BUILDDIR/tests/fuzz
CORPUS=$BUILDDIR/fuzz-corpus
ARTIFACTS=$BUILDDIR/fuzz-artifacts
LOGS=$BUILDDIR/fuzz-logs

targets=""
for t in "$FUZZDIR"/fuzz_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    case $t in *.o | *.c) continue ;; esac
    targets="$targets $(basename "$t")"
done
if [ -z "$targets" ]; then
    echo "Bail out! no fuzz targets in $FUZZDIR (configure --enable-fuzzing CC=clang)"
    exit 1
fi
if [ ! -d "$TESTDATA" ]; then
    echo "Bail out! no test data directory $TESTDATA"
    exit 1
fi
mkdir -p "$CORPUS" "$ARTIFACTS" "$LOGS" || exit 1

# seeds NAME FIND-ARGS...: copy the files find(1) selects under TESTDATA into
# the corpus of NAME, named after their path so that equal basenames from
# different directories do not collide.
seeds() {
    name=$1
    shift
    mkdir -p "$CORPUS/$name"
    (cd "$TESTDATA" && find . -type f "$@") | while IFS= read -r f; do
        seed=$(printf '%s' "$f" | sed 's|^\./||; s|/|_|g')
        cp "$TESTDATA/$f" "$CORPUS/$name/seed-$seed"
    done
}

seeds eventlog -path './eventlogs/*' -name '*.bin'
seeds ima -path './ima/*'
seeds tpm_public -path './quotes/*' \( -name 'ak*.pub' -o -name '*.tpm2b_public.bin' \)
seeds tpm_attest -path './quotes/*' \( -name 'quote.out' -o -name '*.tpms_attest.bin' \)
seeds tpm_signature -path './quotes/*' \( -name 'quotesig.out' -o -name '*.tpmt_signature.bin' \)
seeds ekcert \( -path './certs/*' -o -path './makecred/cred-*' -o -name 'mkcred.out' \)
seeds applog -path './eventlogs/*' -name '*.bin'
seeds sealed -path './sealed/*' -name '*.sealed'
seeds program -path './program/*' -name '*.json'
seeds release_request_cbor -path './cbor/*'
# The loader configuration: the shipped example (top-level keys and sections).
EXAMPLES=$(cd "$(dirname "$0")/../.." && pwd)/contrib/examples
mkdir -p "$CORPUS/loader_config"
[ -f "$EXAMPLES/ks-loader.conf" ] && cp "$EXAMPLES/ks-loader.conf" "$CORPUS/loader_config/seed-example"

n=0
for t in $targets; do
    n=$((n + 1))
done
echo "1..$n"

i=0
failed=0
for t in $targets; do
    i=$((i + 1))
    name=${t#fuzz_}
    mkdir -p "$CORPUS/$name"
    log=$LOGS/$t.log
    # Artifacts of earlier runs of this target are not this run's failures.
    rm -f "$ARTIFACTS/$t-"*
    "$FUZZDIR/$t" -max_total_time="$SECONDS_EACH" -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$t-" "$CORPUS/$name" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    found=$(ls "$ARTIFACTS/$t-"* 2>/dev/null | head -n 5)
    if [ $rc -eq 0 ] && [ -z "$found" ]; then
        echo "ok $i - $t ${SECONDS_EACH}s, ${execs:-0} execs"
    else
        failed=$((failed + 1))
        echo "not ok $i - $t (exit $rc) ${found:+artifacts: $(echo $found)}"
        grep -E '^(==[0-9]+==|SUMMARY|[[:space:]]+#[0-9]+ )' "$log" | head -n 30 | sed 's/^/# /'
        echo "# full output: $log"
    fi
done
[ $failed -eq 0 ]
