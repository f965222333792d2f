#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `ksctl quote verify` against quotes made by a software TPM (swtpm) with
# Debian's tpm2-tools: RSASSA, RSA-PSS, ECDSA P-256 and P-384 AKs, a 24-PCR
# selection and a two-bank selection, AK public keys in all three formats,
# PCR files in both formats; then tampered inputs, which must all be refused
# with exit status 1. tpm2-tools' own Name files are the oracle for the AK
# ids ksctl prints.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm python3 tpm2_createprimary tpm2_create tpm2_load tpm2_readpublic \
    tpm2_quote tpm2_pcrextend tpm2_flushcontext tpm2_getrandom
[ -x "$KS_BUILDDIR/ksctl" ] || skip_all "ksctl not built"

# tpm2-tss logs every TPM error to stderr; the checks below report their own.
TSS2_LOG=all+none
export TSS2_LOG

T=$TEST_TMP
if ! swtpm_start "$T/tpm"; then
    not_ok "swtpm starts"
    done_testing
    exit 1
fi

# swtpm has few object slots and no resource manager: flush after each use.
flush() {
    tpm2_flushcontext -t >/dev/null 2>&1
    tpm2_flushcontext -s >/dev/null 2>&1
    return 0
}

# check_refused "description" command...: passes only on exit status 1
# (verification refused), not on a usage error (2), an internal error (3) or
# a crash.
check_refused() {
    desc=$1
    shift
    "$@" >"$T/last.out" 2>"$T/last.err"
    rc=$?
    if [ $rc -eq 1 ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want 1)"
        sed 's/^/# /' "$T/last.out" "$T/last.err" | head -20
    fi
}

# flip IN OUT OFFSET: copy IN to OUT with the byte at OFFSET (negative:
# from the end) inverted.
flip() {
    python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0xff
open(sys.argv[2], "wb").write(b)' "$1" "$2" "$3"
}

# json_get FILE KEY: a top-level value of ksctl's JSON, as Python prints it.
json_get() {
    python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else v)' "$1" "$2"
}

hex_of() {
    od -An -tx1 -v "$1" | tr -d ' \n'
}

nonce() {
    tpm2_getrandom --hex 20
}

# ---- the TPM side --------------------------------------------------------
check "create a primary key" tpm2_createprimary -C o -G ecc -c "$T/primary.ctx"
flush

ATTRS='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign'
# name:tpm2_create -G spec:tpm2_quote --scheme:tpm2_quote -g
KEYS="rsassa:rsa2048:rsassa-sha256:null:rsassa:sha256
rsapss:rsa2048:rsapss-sha256:null:rsapss:sha256
ecc256:ecc256:ecdsa-sha256:null:ecdsa:sha256
ecc384:ecc384:ecdsa-sha384:null:ecdsa:sha384"

for spec in $KEYS; do
    k=${spec%%:*}
    g=$(echo "$spec" | cut -d: -f2-4)
    check "$k: create the AK ($g)" tpm2_create -C "$T/primary.ctx" -G "$g" -a "$ATTRS" \
        -u "$T/$k.pub" -r "$T/$k.priv"
    flush
    check "$k: load the AK" tpm2_load -C "$T/primary.ctx" -u "$T/$k.pub" -r "$T/$k.priv" \
        -c "$T/$k.ctx"
    flush
    check "$k: read the AK as PEM, TPMT_PUBLIC and Name" tpm2_readpublic -c "$T/$k.ctx" \
        -f pem -o "$T/$k.pem" -n "$T/$k.name"
    flush
    tpm2_readpublic -c "$T/$k.ctx" -f tpmt -o "$T/$k.tpmt" >/dev/null 2>&1
    flush
done

# A few extended PCRs so that the values differ from the reset state.
check "extend PCRs 0, 7, 10 and 16 in sha1 and sha256" sh -c '
    for p in 0 7 10 16; do
        tpm2_pcrextend "$p:sha1=$(printf "%040d" $p),sha256=$(printf "%064d" $p)" || exit 1
    done'

SEL24="sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23"
SEL2B="sha1:0,7,10,16+sha256:0,1,2,3,4,5,6,7,8,9,10,16"

for spec in $KEYS; do
    k=${spec%%:*}
    scheme=$(echo "$spec" | cut -d: -f5)
    hash=$(echo "$spec" | cut -d: -f6)
    for q in 24 2b vals; do
        case $q in
        24) sel=$SEL24 fmt=serialized ;;
        2b) sel=$SEL2B fmt=serialized ;;
        vals) sel=$SEL2B fmt=values ;;
        esac
        nonce >"$T/$k.$q.nonce"
        check "$k: quote $sel ($fmt PCR file)" tpm2_quote -c "$T/$k.ctx" -l "$sel" \
            -q "$(cat "$T/$k.$q.nonce")" --scheme "$scheme" -g "$hash" \
            -m "$T/$k.$q.attest" -s "$T/$k.$q.sig" -o "$T/$k.$q.pcrs" -F "$fmt"
        flush
    done
done

# ---- ksctl: genuine quotes -------------------------------------------------
for spec in $KEYS; do
    k=${spec%%:*}
    scheme=$(echo "$spec" | cut -d: -f5)
    hash=$(echo "$spec" | cut -d: -f6)
    for q in 24 2b vals; do
        for ak in pub tpmt pem; do
            check "$k: quote $q verifies with the AK as $ak" $KSCTL quote verify \
                --ak-pub "$T/$k.$ak" --attest "$T/$k.$q.attest" --sig "$T/$k.$q.sig" \
                --nonce "$(cat "$T/$k.$q.nonce")" --pcrs "$T/$k.$q.pcrs"
        done
    done

    # The JSON output against what tpm2-tools says.
    $KSCTL quote verify --ak-pub "$T/$k.pub" --attest "$T/$k.2b.attest" --sig "$T/$k.2b.sig" \
        --nonce "$(cat "$T/$k.2b.nonce")" --pcrs "$T/$k.2b.pcrs" --json >"$T/$k.json" 2>&1
    check "$k: --json says verified" test "$(json_get "$T/$k.json" verified)" = True
    check "$k: --json AK name equals tpm2_readpublic -n" \
        test "$(json_get "$T/$k.json" akName)" = "$(hex_of "$T/$k.name")"
    check "$k: --json extraData is the nonce" \
        test "$(json_get "$T/$k.json" extraData)" = "$(cat "$T/$k.2b.nonce")"
    check "$k: --json pcrSelect is the two-bank selection" \
        test "$(json_get "$T/$k.json" pcrSelect)" = \
        '{"sha1":[0,7,10,16],"sha256":[0,1,2,3,4,5,6,7,8,9,10,16]}'
    check "$k: --json signature is $scheme-$hash" \
        test "$(json_get "$T/$k.json" signature)" = "{\"sigAlg\":\"$scheme\",\"hash\":\"$hash\"}"
    check "$k: --json pcrDigestChecked" test "$(json_get "$T/$k.json" pcrDigestChecked)" = True

    # Without PCR values: valid, and the summary says the digest is unchecked.
    check "$k: verifies without --pcrs" sh -c "$KSCTL quote verify --ak-pub '$T/$k.pub' \
        --attest '$T/$k.24.attest' --sig '$T/$k.24.sig' --nonce '$(cat "$T/$k.24.nonce")' \
        | grep -q 'NOT CHECKED'"
done

# ---- ksctl: tampered quotes ------------------------------------------------
for spec in $KEYS; do
    k=${spec%%:*}
    A=$T/$k.2b.attest
    S=$T/$k.2b.sig
    P=$T/$k.2b.pcrs
    N=$(cat "$T/$k.2b.nonce")
    alen=$(wc -c <"$A")
    slen=$(wc -c <"$S")
    for off in 0 4 7 40 $((alen / 2)) $((alen - 33)) $((alen - 1)); do
        flip "$A" "$T/bad.attest" "$off"
        check_refused "$k: attest byte $off flipped is refused" $KSCTL quote verify \
            --ak-pub "$T/$k.pub" --attest "$T/bad.attest" --sig "$S" --nonce "$N" --pcrs "$P"
    done
    for off in 0 1 3 5 6 $((slen / 2)) $((slen - 1)); do
        flip "$S" "$T/bad.sig" "$off"
        check_refused "$k: signature byte $off flipped is refused" $KSCTL quote verify \
            --ak-pub "$T/$k.pub" --attest "$A" --sig "$T/bad.sig" --nonce "$N" --pcrs "$P"
    done
    check_refused "$k: another nonce is refused" $KSCTL quote verify --ak-pub "$T/$k.pub" \
        --attest "$A" --sig "$S" --nonce "$(nonce)" --pcrs "$P"
    check_refused "$k: a prefix of the nonce is refused" $KSCTL quote verify \
        --ak-pub "$T/$k.pub" --attest "$A" --sig "$S" --nonce "${N%??}" --pcrs "$P"
    # first byte of the first digest: u32 count, 132-byte selection, u32 count, u16 size
    flip "$P" "$T/bad.pcrs" 142
    check_refused "$k: a modified serialized PCR file is refused" $KSCTL quote verify \
        --ak-pub "$T/$k.pub" --attest "$A" --sig "$S" --nonce "$N" --pcrs "$T/bad.pcrs"
    flip "$P" "$T/bad.pcrs" -1
    check "$k: a byte past the last digest of the PCR file does not matter" $KSCTL quote \
        verify --ak-pub "$T/$k.pub" --attest "$A" --sig "$S" --nonce "$N" --pcrs "$T/bad.pcrs"
    head -c 1000 "$P" >"$T/bad.pcrs"
    check_refused "$k: a truncated PCR file is refused" $KSCTL quote verify \
        --ak-pub "$T/$k.pub" --attest "$A" --sig "$S" --nonce "$N" --pcrs "$T/bad.pcrs"
    V=$T/$k.vals.pcrs
    for off in 0 25 -1; do
        flip "$V" "$T/bad.vals" "$off"
        check_refused "$k: PCR values file byte $off flipped is refused" $KSCTL quote verify \
            --ak-pub "$T/$k.pub" --attest "$T/$k.vals.attest" --sig "$T/$k.vals.sig" \
            --nonce "$(cat "$T/$k.vals.nonce")" --pcrs "$T/bad.vals"
    done
    check_refused "$k: another quote's PCR file is refused" $KSCTL quote verify \
        --ak-pub "$T/$k.pub" --attest "$A" --sig "$S" --nonce "$N" --pcrs "$T/$k.24.pcrs"
done
check_refused "an RSASSA quote checked with the RSA-PSS AK is refused" $KSCTL quote verify \
    --ak-pub "$T/rsapss.pub" --attest "$T/rsassa.2b.attest" --sig "$T/rsassa.2b.sig" \
    --nonce "$(cat "$T/rsassa.2b.nonce")"
check_refused "an RSASSA quote checked with the RSA-PSS AK's PEM is refused" $KSCTL quote \
    verify --ak-pub "$T/rsapss.pem" --attest "$T/rsassa.2b.attest" --sig "$T/rsassa.2b.sig" \
    --nonce "$(cat "$T/rsassa.2b.nonce")"
check_refused "a P-256 quote checked with the P-384 AK is refused" $KSCTL quote verify \
    --ak-pub "$T/ecc384.pub" --attest "$T/ecc256.2b.attest" --sig "$T/ecc256.2b.sig" \
    --nonce "$(cat "$T/ecc256.2b.nonce")"
check_refused "a quote's signature on another quote is refused" $KSCTL quote verify \
    --ak-pub "$T/ecc256.pub" --attest "$T/ecc256.24.attest" --sig "$T/ecc256.2b.sig" \
    --nonce "$(cat "$T/ecc256.24.nonce")"

# ---- usage ------------------------------------------------------------------
check "quote verify --help" $KSCTL quote verify --help
$KSCTL quote verify --ak-pub "$T/rsassa.pub" --attest "$T/rsassa.2b.attest" \
    --sig "$T/rsassa.2b.sig" >/dev/null 2>&1
check "a missing --nonce is a usage error (2)" test $? -eq 2
$KSCTL quote verify --ak-pub "$T/nonexistent" --attest "$T/rsassa.2b.attest" \
    --sig "$T/rsassa.2b.sig" --nonce 00 >/dev/null 2>&1
check "an unreadable file is exit status 2" test $? -eq 2
$KSCTL quote verify --ak-pub "$T/rsassa.pub" --attest "$T/rsassa.2b.attest" \
    --sig "$T/rsassa.2b.sig" --nonce xyz >/dev/null 2>&1
check "a non-hex nonce is exit status 2" test $? -eq 2

done_testing
exit $?
