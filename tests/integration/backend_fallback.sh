#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The inference backend choice of the real ks-loader on a machine without a
# usable GPU (CI): the loader opens its backend in step 1, before the TPM,
# so a configuration with `backend = X` and an unreachable TPM shows what the
# backend did and stops right after.
#   backend = cuda: refused at once, exit 3 (KS_ERR_BACKEND_UNAVAILABLE:
#     the machine, not the input), with the CUDA runtime's message ("CUDA
#     driver version is insufficient for CUDA runtime version" without a
#     driver, "no CUDA-capable device is detected" with a driver and no GPU)
#     in a build with CUDA, "no CUDA support" in a build without;
#   backend = auto: one log line saying why CUDA is not used, then the CPU
#     backend: the loader goes on to the TPM (which fails here: exit 3);
#   backend = cpu: no backend line at all; an unknown name: exit 2.
# A CUDA build links the CUDA runtime (statically) and must start without a
# GPU. On a machine with a usable GPU the no-GPU expectations are skipped.
. "$KS_SRCDIR/tests/integration/common.sh"

L=$KS_BUILDDIR/loader-ref
for p in ks-loader ks-seal; do
    [ -x "$L/$p" ] || skip_all "$p not built"
done
# $LOADER is split into words: it may carry a $VALGRIND prefix.
LOADER="${VALGRIND:+$VALGRIND }$L/ks-loader"
T=$TEST_TMP
cuda_build=no
grep -q '^NVCC = ..*' "$KS_BUILDDIR/Makefile" 2>/dev/null && cuda_build=yes
echo "# CUDA build: $cuda_build"

"$L"/ks-seal gen-model --seed 3 --out "$T/w.bin" --d-model 16 --layers 1 --heads 2 --d-ff 24 \
    --max-seq 16 >/dev/null
"$L"/ks-seal seal --in "$T/w.bin" --out "$T/w.sealed" --key-name weights-dek \
    --key-out "$T/dek" >/dev/null
"$L"/ks-seal ci-keygen --out-priv "$T/ci.key" --out-pub "$T/ci.pub" >/dev/null
check "test inputs (model, sealed file, CI key)" test -s "$T/w.sealed" -a -s "$T/ci.pub"

# run_loader BACKEND: the loader's exit status in $rc, its log in $T/BACKEND.err
run_loader() {
    cat >"$T/$1.conf" <<EOF
keyserver = http://127.0.0.1:9/
insecure_http = yes
receipt_key = AAAA
request_key = req
sealed = $T/w.sealed
socket = $T/$1.sock
allow_unlocked = yes
backend = $1
EOF
    # shellcheck disable=SC2086
    $LOADER --config "$T/$1.conf" --ci-key "$T/ci.pub" --tcti "device:$T/no-such-tpm" \
        >"$T/$1.out" 2>"$T/$1.err"
    rc=$?
    sed 's/^/# /' "$T/$1.err"
}

has() {
    grep -qF -- "$2" "$T/$1.err"
}

if [ $cuda_build = yes ]; then
    # shellcheck disable=SC2086
    check "a CUDA build starts without a GPU (--help)" $LOADER --help
fi

run_loader cuda
if [ $rc -eq 0 ] || ! has cuda "cannot open the backend"; then
    if [ $cuda_build = yes ] && ! has cuda "backend cuda:"; then
        ok "backend = cuda # SKIP a usable CUDA device is present"
        ok "backend = auto # SKIP a usable CUDA device is present"
        run_loader cpu
        check "backend = cpu: no backend line" sh -c "! grep -q 'backend: ' '$T/cpu.err'"
        done_testing
        exit $?
    fi
fi
if [ $rc -eq 3 ]; then
    ok "backend = cuda: refused, exit 3"
else
    not_ok "backend = cuda: refused, exit 3 (exit $rc)"
fi
if [ $cuda_build = yes ]; then
    if has cuda "backend cuda: no CUDA support on this machine: cudaGetDeviceCount: CUDA driver version is insufficient for CUDA runtime version" ||
        has cuda "backend cuda: no CUDA support on this machine: cudaGetDeviceCount: no CUDA-capable device is detected"; then
        ok "backend = cuda: the CUDA runtime's message"
    else
        not_ok "backend = cuda: the CUDA runtime's message"
    fi
else
    check "backend = cuda: 'no CUDA support' in a build without CUDA" \
        has cuda "backend cuda: this build has no CUDA support"
fi
check "backend = cuda: the loader says it cannot open the backend" \
    has cuda "cannot open the backend 'cuda': inference backend not available"
check "backend = cuda: stopped before the TPM" sh -c "! grep -q 'TPM' '$T/cuda.err'"

run_loader auto
check "backend = auto: one line says why CUDA is not used" \
    has auto "backend: backend auto: CUDA unavailable ("
check "backend = auto: ... and that the CPU backend is used" has auto "; using the CPU backend"
if [ $cuda_build = yes ]; then
    check "backend = auto: the reason is the runtime's" has auto "cudaGetDeviceCount: "
fi
check "backend = auto: the loader goes on (to the TPM)" has auto "cannot open the TPM"
check "backend = auto: and does not fail on the backend" sh -c "! grep -q 'cannot open the backend' '$T/auto.err'"
if [ $rc -eq 3 ]; then
    ok "backend = auto: exit 3 from the missing TPM"
else
    not_ok "backend = auto: exit 3 from the missing TPM (exit $rc)"
fi

run_loader cpu
check "backend = cpu: no backend line" sh -c "! grep -q 'backend: ' '$T/cpu.err'"
check "backend = cpu: the loader goes on (to the TPM)" has cpu "cannot open the TPM"

run_loader tpu
if [ $rc -eq 2 ] && has tpu "cannot open the backend 'tpu': unknown inference backend"; then
    ok "backend = tpu: unknown, exit 2"
else
    not_ok "backend = tpu: unknown, exit 2 (exit $rc)"
fi

done_testing
exit $?
