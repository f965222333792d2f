# SPDX-License-Identifier: Apache-2.0
# Helpers of the loader integration tests (loader_e2e.sh, loader_shares.sh),
# sourced after common.sh; they use $T (the test's directory, with the
# swtpm state in $T/tpm and the application log at $T/app.log).

# wait_file FILE: true once FILE is non-empty (30 s at most).
wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$1" ]
}

# json_field A.B.C: that member of the JSON document on standard input.
json_field() {
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

# reboot: the same TPM (state, seeds, the AK's parent) with its PCRs reset,
# and no application log. Orderly (TPM2_Shutdown first): a TPM counts a
# disorderly shutdown as a failed authorization of its DA-protected objects
# (TPM 2.0 Part 1, 19.8.6), and AKs are. swtpm gets a second try to start,
# and says why when both fail.
reboot() {
    tpm2_shutdown -c >/dev/null 2>&1
    pid=$(cat "$T/tpm/swtpm.pid" 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    n=0
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    rm -f "$T/app.log"
    swtpm_start "$T/tpm" || swtpm_start "$T/tpm" || {
        sed 's/^/# /' "$T/tpm/swtpm.err" 2>/dev/null
        tail -5 "$T/tpm/swtpm.log" 2>/dev/null | sed 's/^/# /'
        return 1
    }
}

# The loader fails closed when it cannot lock its memory. Where this user may
# lock less than the loader needs (about 2 MiB with the test models), and in
# an ASan build (ASan makes mlock() a no-op, which the loader notices), the
# tests run it with allow_unlocked and do not assert the lock (exclusion from
# core dumps still is). Sets UNLOCKED and ASAN_BUILD to yes or no.
UNLOCKED=no
ASAN_BUILD=no
ML=$(ulimit -l 2>/dev/null || echo unlimited)
if [ "$(id -u)" != 0 ] && [ "$ML" != unlimited ] && [ "$ML" -lt 4096 ]; then
    UNLOCKED=yes
fi
if asan_build; then
    echo "# ASan build: allow_unlocked (mlock is a no-op under ASan)"
    UNLOCKED=yes
    ASAN_BUILD=yes
fi

# start_loader CONFIG [LOADER]: ks-launch measures LOADER ($L/ks-loader by
# default) into the application PCR and starts it with CONFIG (CI key
# $T/ci.pub, TPM $KS_TCTI); LOADER_PID is set, its stderr is $T/loader.log.
# True once it serves on $T/loader.sock (60 s at most).
LOADER_PID=""
start_loader() {
    rm -f "$T/loader.sock"
    $L/ks-launch --loader "${2:-$L/ks-loader}" --config "$1" --ci-key "$T/ci.pub" \
        --log "$T/app.log" --tcti "$KS_TCTI" >"$T/loader.out" 2>"$T/loader.log" &
    LOADER_PID=$!
    at_exit "kill $LOADER_PID 2>/dev/null"
    i=0
    while [ ! -S "$T/loader.sock" ] && [ $i -lt 600 ] && kill -0 $LOADER_PID 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -S "$T/loader.sock" ]
}

# stop_loader: SIGTERM and wait; its log is kept in $T/all-loader.log.
stop_loader() {
    kill "$LOADER_PID" 2>/dev/null
    wait "$LOADER_PID"
    cat "$T/loader.log" >>"$T/all-loader.log"
}
