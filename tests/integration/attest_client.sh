#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The loader's attestation client (ks-attest) against a software TPM:
# - ak-create for ECC P-256 and RSA-2048 AKs: attributes and scheme checked
#   with tpm2_print, the Name against one computed here with Python;
# - quotes over a one-bank and a two-bank selection, checked with
#   `ksctl quote verify` and independently with tpm2_checkquote, the PCR
#   values against tpm2_pcrread;
# - no transient object or session left in the TPM after any command;
# - a TPM that cannot be opened fails cleanly (exit 3);
# - `ks-attest release` against tests/integration/mock_keyserver.py (HTTPS,
#   its own RFC 9180 HPKE, quote checked with ksctl): keys released and
#   compared, the server's refusals and malformed answers, TLS certificate
#   verification and public key pinning. Skipped when Python's
#   `cryptography` package is missing.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm python3 openssl tpm2_checkquote tpm2_print tpm2_getcap tpm2_pcrread \
    tpm2_pcrextend tpm2_getrandom
KS_ATTEST_BIN=$KS_BUILDDIR/loader-ref/ks-attest
[ -x "$KS_ATTEST_BIN" ] || skip_all "ks-attest not built"
[ -x "$KS_BUILDDIR/ksctl" ] || skip_all "ksctl not built"
KSA="${VALGRIND:+$VALGRIND }$KS_ATTEST_BIN"

# tpm2-tss logs every TPM error to stderr; the checks below report their own.
TSS2_LOG=all+none
export TSS2_LOG

T=$TEST_TMP
if ! swtpm_start "$T/tpm"; then
    not_ok "swtpm starts"
    done_testing
    exit 1
fi

skip_test() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $2"
}

# check_exit "description" STATUS command...: passes only on that exit status;
# the command's output stays in $T/cmd.out and $T/cmd.err.
check_exit() {
    desc=$1
    want=$2
    shift 2
    "$@" >"$T/cmd.out" 2>"$T/cmd.err"
    rc=$?
    if [ $rc -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want $want)"
        sed 's/^/# /' "$T/cmd.out" "$T/cmd.err" | head -20
    fi
}

# Nothing may stay loaded: swtpm has three object slots and no resource
# manager, and a real loader must not leave its AK around for others.
tpm_clean() {
    test -z "$(tpm2_getcap handles-transient)" && test -z "$(tpm2_getcap handles-loaded-session)"
}

# json_get FILE KEY: a top-level value of a JSON file, as Python prints it.
json_get() {
    python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(json.dumps(v, separators=(",", ":"), sort_keys=True) if isinstance(v, (dict, list)) else v)' "$1" "$2"
}

# The TPM Name of a TPM2B_PUBLIC with nameAlg SHA-256 (TPM 2.0 Part 1, 16).
py_name() {
    python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read()
print("000b" + hashlib.sha256(d[2:]).hexdigest())' "$1"
}

file_mode() {
    stat -c %a "$1"
}

# tpm2_print's value for a key: print_field FILE FIELD
print_field() {
    tpm2_print -t TPM2B_PUBLIC "$1" | awk -v f="$2:" '
        $1 == f && NF > 1 { print $2; exit }
        $1 == f { getline; sub(/^ *value: */, ""); print; exit }'
}

# ---- ak-create ---------------------------------------------------------------
ATTRS='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign'
for k in ecc rsa; do
    flag=""
    [ $k = rsa ] && flag=--rsa
    mkdir -p "$T/$k"
    check "$k: ak-create" $KSA ak-create --out-dir "$T/$k" --save-auth $flag
    cp "$T/last.out" "$T/$k.stdout"
    check "$k: no transient object or session left after ak-create" tpm_clean
    check "$k: the AK's attributes are exactly $ATTRS" \
        test "$(print_field "$T/$k/ak.pub" attributes)" = "$ATTRS"
    check "$k: name algorithm sha256" test "$(print_field "$T/$k/ak.pub" name-alg)" = sha256
    check "$k: ak.name is the TPM Name of ak.pub (Python)" \
        test "$(cat "$T/$k/ak.name")" = "$(py_name "$T/$k/ak.pub")"
    check "$k: ak-create prints the Name" test "$(cat "$T/$k.stdout")" = "$(cat "$T/$k/ak.name")"
    check "$k: ak.auth holds 32 bytes, mode 600" \
        test "$(wc -c <"$T/$k/ak.auth")" -eq 32 -a "$(file_mode "$T/$k/ak.auth")" = 600
    check "$k: ak.priv mode 600" test "$(file_mode "$T/$k/ak.priv")" = 600
done
check "ecc: type ecc" test "$(print_field "$T/ecc/ak.pub" type)" = ecc
check "ecc: curve NIST P-256" test "$(print_field "$T/ecc/ak.pub" curve-id)" = "NIST p256"
check "ecc: scheme ecdsa" test "$(print_field "$T/ecc/ak.pub" scheme)" = ecdsa
check "ecc: scheme hash sha256" test "$(print_field "$T/ecc/ak.pub" scheme-halg)" = sha256
check "rsa: type rsa" test "$(print_field "$T/rsa/ak.pub" type)" = rsa
check "rsa: 2048 bits" test "$(print_field "$T/rsa/ak.pub" bits)" = 2048
check "rsa: scheme rsassa" test "$(print_field "$T/rsa/ak.pub" scheme)" = rsassa
check "rsa: scheme hash sha256" test "$(print_field "$T/rsa/ak.pub" scheme-halg)" = sha256
check "two AKs, two Names" test "$(cat "$T/ecc/ak.name")" != "$(cat "$T/rsa/ak.name")"
mkdir -p "$T/plain"
check "ak-create without --save-auth" $KSA ak-create --out-dir "$T/plain"
check "... writes ak.pub and ak.name only" test -s "$T/plain/ak.pub" -a -s "$T/plain/ak.name" \
    -a ! -e "$T/plain/ak.priv" -a ! -e "$T/plain/ak.auth"
check "... and leaves nothing loaded" tpm_clean
check "ak-create --help" $KSA ak-create --help
check_exit "ak-create without --out-dir is a usage error" 2 $KSA ak-create

# ---- quotes -------------------------------------------------------------------
check "extend PCRs 0, 7, 10, 15 and 16 in sha1 and sha256" sh -c '
    for p in 0 7 10 15 16; do
        tpm2_pcrextend "$p:sha1=$(printf "%040d" $p),sha256=$(printf "%064d" $p)" || exit 1
    done'

# ks-attest's selection|the same for tpm2-tools (which has no ranges)
SELS="sha256:0-7,15|sha256:0,1,2,3,4,5,6,7,15
sha1:0,7,10,16+sha256:0-7,15|sha1:0,7,10,16+sha256:0,1,2,3,4,5,6,7,15"
i=0
for k in ecc rsa; do
    for spec in $SELS; do
        i=$((i + 1))
        sel=${spec%%|*}
        tsel=${spec#*|}
        q=$T/q$i
        mkdir -p "$q"
        n=$(tpm2_getrandom --hex 32)
        check "$k: quote $sel" $KSA quote --ak-dir "$T/$k" --nonce "$n" --pcrs "$sel" --out-dir "$q"
        check "$k: no transient object or session left after the quote" tpm_clean
        check "$k: ksctl quote verify accepts the quote over $sel" $KSCTL quote verify \
            --ak-pub "$T/$k/ak.pub" --attest "$q/attest" --sig "$q/sig" --nonce "$n" \
            --pcrs "$q/pcrs"
        $KSCTL quote verify --ak-pub "$T/$k/ak.pub" --attest "$q/attest" --sig "$q/sig" \
            --nonce "$n" --pcrs "$q/pcrs" --json >"$q/verify.json" 2>&1
        check "$k: ksctl's akName is ak.name" \
            test "$(json_get "$q/verify.json" akName)" = "$(cat "$T/$k/ak.name")"
        check "$k: the quote's selection is $tsel" \
            test "$(python3 -c 'import sys
print("+".join(b + ":" + ",".join(str(i) for i in sorted(v)) for b, v in
      __import__("json").load(open(sys.argv[1]))["pcrSelect"].items()))' "$q/verify.json")" = "$tsel"
        tpm2_pcrread "$tsel" -F values -o "$q/tpm2.values" >/dev/null 2>&1
        check "$k: the PCR values equal tpm2_pcrread's" cmp "$q/pcrs" "$q/tpm2.values"
        tpm2_pcrread "$tsel" -F serialized -o "$q/tpm2.pcrs" >/dev/null 2>&1
        check "$k: tpm2_checkquote accepts the quote over $tsel" tpm2_checkquote \
            -u "$T/$k/ak.pub" -m "$q/attest" -s "$q/sig" -f "$q/tpm2.pcrs" -g sha256 -q "$n"
        check_exit "$k: ksctl refuses the quote with another nonce" 1 $KSCTL quote verify \
            --ak-pub "$T/$k/ak.pub" --attest "$q/attest" --sig "$q/sig" \
            --nonce "$(tpm2_getrandom --hex 32)" --pcrs "$q/pcrs"
        check_fails "$k: tpm2_checkquote refuses it with another nonce" tpm2_checkquote \
            -u "$T/$k/ak.pub" -m "$q/attest" -s "$q/sig" -f "$q/tpm2.pcrs" -g sha256 \
            -q "$(tpm2_getrandom --hex 32)"
    done
done
check_fails "the ECC quote does not verify with the RSA AK" $KSCTL quote verify \
    --ak-pub "$T/rsa/ak.pub" --attest "$T/q1/attest" --sig "$T/q1/sig" \
    --nonce "$(tpm2_getrandom --hex 32)"
mkdir -p "$T/qe"
check "a quote with empty qualifying data" $KSA quote --ak-dir "$T/ecc" --nonce "" \
    --pcrs sha256:0 --out-dir "$T/qe"
check "... verifies with ksctl" $KSCTL quote verify --ak-pub "$T/ecc/ak.pub" \
    --attest "$T/qe/attest" --sig "$T/qe/sig" --nonce "" --pcrs "$T/qe/pcrs"

# ---- failures -----------------------------------------------------------------
check_exit "an unknown TCTI fails with exit 3" 3 $KSA ak-create --tcti "no-such-tcti:x" \
    --out-dir "$T/plain"
check_exit "an unreachable swtpm fails with exit 3" 3 $KSA quote --ak-dir "$T/ecc" \
    --tcti "swtpm:host=127.0.0.1,port=1" --nonce 00 --pcrs sha256:0 --out-dir "$T/qe"
check "... and it says why" grep -q "cannot open the TPM" "$T/cmd.err"
check_exit "a missing AK directory is a usage error" 2 $KSA quote --ak-dir "$T/none" \
    --nonce 00 --pcrs sha256:0 --out-dir "$T/qe"
check_exit "a bad PCR selection is a usage error" 2 $KSA quote --ak-dir "$T/ecc" --nonce 00 \
    --pcrs sha256:0-24 --out-dir "$T/qe"
check_exit "a bad nonce is a usage error" 2 $KSA quote --ak-dir "$T/ecc" --nonce xyz \
    --pcrs sha256:0 --out-dir "$T/qe"
check_exit "a nonce over 64 bytes is a usage error" 2 $KSA quote --ak-dir "$T/ecc" \
    --nonce "$(printf '%0130d' 0)" --pcrs sha256:0 --out-dir "$T/qe"
head -c 20 "$T/ecc/ak.auth" >"$T/bad.auth"
mkdir -p "$T/badak"
cp "$T/ecc/ak.pub" "$T/ecc/ak.priv" "$T/badak/"
cp "$T/bad.auth" "$T/badak/ak.auth"
check_fails "an authValue of the wrong size is refused" $KSA quote --ak-dir "$T/badak" \
    --nonce 00 --pcrs sha256:0 --out-dir "$T/qe"
# The right size but the wrong value: the TPM refuses the quote's HMAC.
head -c 32 /dev/urandom >"$T/badak/ak.auth"
check_exit "a wrong authValue: the TPM refuses the quote (exit 3)" 3 $KSA quote \
    --ak-dir "$T/badak" --nonce 00 --pcrs sha256:0 --out-dir "$T/qe"
check "... and nothing is left loaded" tpm_clean
cp "$T/rsa/ak.pub" "$T/badak/ak.pub"
cp "$T/ecc/ak.auth" "$T/badak/ak.auth"
check_fails "ak.priv of one AK with ak.pub of another is refused" $KSA quote \
    --ak-dir "$T/badak" --nonce 00 --pcrs sha256:0 --out-dir "$T/qe"
check "... and nothing is left loaded" tpm_clean
check_exit "an unknown command is a usage error" 2 $KSA frobnicate
check "ks-attest --help" $KSA --help
check "quote --help" $KSA quote --help

# ---- a PCR bank the TPM does not have ---------------------------------------------
# A TPM leaves unallocated banks out of a quote (TPM 2.0 Part 3, 18.4); the
# client must notice instead of sending an incomplete quote. This resets
# the TPM (PCRs back to their reset values); the saved AKs still load.
if command -v swtpm_ioctl >/dev/null 2>&1 && command -v tpm2_pcrallocate >/dev/null 2>&1 &&
    command -v tpm2_startup >/dev/null 2>&1; then
    check "deallocate the sha512 bank and restart the TPM" sh -c '
        tpm2_pcrallocate sha1:all+sha256:all+sha384:all+sha512:none >/dev/null &&
        swtpm_ioctl --tcp "127.0.0.1:$((SWTPM_PORT + 1))" -i && tpm2_startup -c'
    check_exit "a quote over an unallocated bank is refused (exit 1)" 1 $KSA quote \
        --ak-dir "$T/ecc" --nonce 00 --pcrs sha256:0+sha512:0 --out-dir "$T/qe"
    check "... as such" grep -q "PCR bank" "$T/cmd.err"
    check "... and nothing is left loaded" tpm_clean
    check "the allocated banks still quote" $KSA quote --ak-dir "$T/ecc" --nonce 00 \
        --pcrs sha1:0+sha256:0 --out-dir "$T/qe"
else
    skip_test "a quote over an unallocated bank" "swtpm_ioctl or tpm2_pcrallocate missing"
fi

# ---- release against the mock keyserver ------------------------------------------
if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
    skip_test "release against the mock keyserver" "python3 cryptography not installed"
    done_testing
    exit $?
fi

C=$T/certs
mkdir -p "$C" "$T/keys" "$T/mocklog"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
    -keyout "$C/ca.key" -out "$C/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other-ca \
    -keyout "$C/other.key" -out "$C/other.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$C/server.key" -out "$C/server.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$C/ext"
openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 2 -extfile "$C/ext" -out "$C/server.pem" >/dev/null 2>&1
PIN="sha256//$(openssl pkey -in "$C/server.key" -pubout -outform DER 2>/dev/null |
    openssl dgst -sha256 -binary | openssl base64 -A)"
OTHER_PIN="sha256//$(openssl pkey -in "$C/other.key" -pubout -outform DER 2>/dev/null |
    openssl dgst -sha256 -binary | openssl base64 -A)"
check "test certificates made" test -s "$C/server.pem" -a -s "$C/other.pem"

head -c 32 /dev/urandom >"$T/keys/dek.key"
head -c 48 /dev/urandom >"$T/keys/req.key"
for k in deny-me tamper-me extra-me wrong-info; do
    head -c 32 /dev/urandom >"$T/keys/$k.key"
done
python3 "$KS_SRCDIR/tests/integration/mock_keyserver.py" --cert "$C/server.pem" \
    --key "$C/server.key" --ak-pub "$T/ecc/ak.pub" --ak-pub "$T/rsa/ak.pub" \
    --ksctl "$KS_BUILDDIR/ksctl" --keys-dir "$T/keys" --log-dir "$T/mocklog" \
    --port-file "$T/mock.port" \
    --hpke-vectors "$KS_TESTDATA/hpke/rfc9180-test-vectors.base-psk.x25519-p256.hkdf-sha256.aes-gcm.json" \
    2>"$T/mock.log" &
MOCK_PID=$!
at_exit "kill $MOCK_PID 2>/dev/null"
for _ in $(seq 1 100); do
    [ -s "$T/mock.port" ] && break
    kill -0 $MOCK_PID 2>/dev/null || break
    sleep 0.1
done
if ! [ -s "$T/mock.port" ]; then
    not_ok "the mock keyserver starts (and passes its RFC 9180 self-test)"
    sed 's/^/# /' "$T/mock.log"
    done_testing
    exit 1
fi
ok "the mock keyserver starts (and passes its RFC 9180 self-test)"
URL=https://127.0.0.1:$(cat "$T/mock.port")

printf 'firmware event log bytes' >"$T/evlog"
printf 'application log bytes' >"$T/applog"
SEL=sha256:0-7,15
for k in ecc rsa; do
    out=$T/out-$k
    mkdir -p "$out"
    rm -f "$T/mocklog/request.json"
    check "$k: release dek and req@2" $KSA release --server "$URL" --cacert "$C/ca.pem" \
        --key dek --key req@2 --pcrs "$SEL" --ak-dir "$T/$k" --eventlog "$T/evlog" \
        --app-log "$T/applog" --out-dir "$out"
    check "$k: it prints each key's name and version" \
        test "$(cat "$T/last.out")" = "$(printf 'dek 1\nreq 2')"
    check "$k: no transient object or session left after the release" tpm_clean
    check "$k: the released dek is the mock's" cmp "$out/dek.key" "$T/keys/dek.key"
    check "$k: the released req is the mock's" cmp "$out/req.key" "$T/keys/req.key"
    check "$k: key files have mode 600" \
        test "$(file_mode "$out/dek.key")" = 600 -a "$(file_mode "$out/req.key")" = 600
    check "$k: the receipt payload is kept as sent" \
        cmp "$out/receipt.payload" "$T/mocklog/receipt.payload"
    R=$T/mocklog/request.json
    check "$k: the request's ak_id is ak.name" test "$(json_get "$R" ak_id)" = "$(cat "$T/$k/ak.name")"
    check "$k: the request's keys" test "$(json_get "$R" keys)" = '["dek","req@2"]'
    check "$k: the request's PCR map is exactly sha256 0-7 and 15" \
        test "$(python3 -c 'import json, sys
print(sorted(int(i) for i in json.load(open(sys.argv[1]))["pcrs"]["sha256"]))' "$R")" = \
        "[0, 1, 2, 3, 4, 5, 6, 7, 15]"
    check "$k: the request carries the event log" \
        test "$(json_get "$R" event_log | openssl base64 -d -A)" = "$(cat "$T/evlog")"
    check "$k: the request carries the application log" \
        test "$(json_get "$R" app_log | openssl base64 -d -A)" = "$(cat "$T/applog")"
    check "$k: the request has no IMA log" \
        python3 -c 'import json, sys; sys.exit("ima_log" in json.load(open(sys.argv[1])))' "$R"
done

check "release without --out-dir writes nothing" sh -c "cd '$T' && $KSA release \
    --server '$URL' --cacert '$C/ca.pem' --key dek --pcrs sha1:0+sha256:0,7 --ak-dir '$T/ecc' \
    && test ! -e dek.key"
check "release with the right public key pinned" $KSA release --server "$URL" \
    --cacert "$C/ca.pem" --pin "$PIN" --key dek --pcrs "$SEL" --ak-dir "$T/ecc"
check_exit "release with another public key pinned is refused (exit 1)" 1 $KSA release \
    --server "$URL" --cacert "$C/ca.pem" --pin "$OTHER_PIN" --key dek --pcrs "$SEL" \
    --ak-dir "$T/ecc"
check_exit "release against a server the CA file does not vouch for is refused (exit 1)" 1 \
    $KSA release --server "$URL" --cacert "$C/other.pem" --key dek --pcrs "$SEL" \
    --ak-dir "$T/ecc"
check "... and it says why" grep -q "TLS certificate" "$T/cmd.err"
check_exit "a fresh AK the server does not know: attestation_failed (exit 1)" 1 $KSA release \
    --server "$URL" --cacert "$C/ca.pem" --key dek --pcrs "$SEL"
check "... the server's error code is printed" grep -q "403 attestation_failed" "$T/cmd.err"
check "... and nothing is left loaded" tpm_clean
check_exit "a key the policy denies: policy_denied (exit 1)" 1 $KSA release --server "$URL" \
    --cacert "$C/ca.pem" --key dek --key deny-me --pcrs "$SEL" --ak-dir "$T/ecc"
check "... the server's error code is printed" grep -q "403 policy_denied" "$T/cmd.err"
mkdir -p "$T/out-bad"
check_exit "a tampered ciphertext is refused (exit 1)" 1 $KSA release --server "$URL" \
    --cacert "$C/ca.pem" --key dek --key tamper-me --pcrs "$SEL" --ak-dir "$T/ecc" \
    --out-dir "$T/out-bad"
check "... as an HPKE failure" grep -q "HPKE decryption failed" "$T/cmd.err"
check "... and no key is written" test -z "$(ls "$T/out-bad")"
check_exit "a key sealed under another key's info is refused (exit 1)" 1 $KSA release \
    --server "$URL" --cacert "$C/ca.pem" --key wrong-info --pcrs "$SEL" --ak-dir "$T/ecc"
check_exit "an unrequested key in the answer is refused (exit 1)" 1 $KSA release \
    --server "$URL" --cacert "$C/ca.pem" --key extra-me --pcrs "$SEL" --ak-dir "$T/ecc"
check "... as such" grep -q "not requested" "$T/cmd.err"
check_exit "http:// without --insecure-http is a usage error" 2 $KSA release \
    --server "http://127.0.0.1:1" --key dek --pcrs "$SEL" --ak-dir "$T/ecc"
check_exit "an unreadable CA file is a usage error" 2 $KSA release --server "$URL" \
    --cacert "$T/none.pem" --key dek --pcrs "$SEL" --ak-dir "$T/ecc"
check_exit "a bad key name is a usage error" 2 $KSA release --server "$URL" \
    --cacert "$C/ca.pem" --key "a/b" --pcrs "$SEL" --ak-dir "$T/ecc"
check_exit "an unreadable event log fails before the TPM is used" 2 $KSA release --server "$URL" \
    --cacert "$C/ca.pem" --key dek --pcrs "$SEL" --ak-dir "$T/ecc" --eventlog "$T/none"
check_exit "a keyserver that is not there: exit 3" 3 $KSA release \
    --server "https://127.0.0.1:1" --cacert "$C/ca.pem" --key dek --pcrs "$SEL" --ak-dir "$T/ecc"
check "release --help" $KSA release --help
check "nothing is left loaded at the end" tpm_clean

done_testing
exit $?
