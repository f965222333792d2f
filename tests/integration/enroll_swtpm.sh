#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# AK enrollment end to end (docs/ARCHITECTURE.md "Enrollment"): two software
# TPMs provisioned by swtpm_setup with EK certificates from their own local
# CAs (RSA-2048 and ECC P-384 EKs), a P-256 EK made by tpm2_createek and
# certified by a test CA made here; keyserverd over HTTPS; the loader's
# client (ks-attest enroll) and tpm2-tools (tpm2_activatecredential) on the
# TPM side. Every refusal is checked for its HTTP status, its reason and
# its audit row.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm swtpm_setup swtpm_localca tpm2_createek tpm2_createak tpm2_activatecredential xxd \
    tpm2_makecredential tpm2_nvdefine tpm2_startauthsession tpm2_policysecret openssl curl python3

B=$KS_BUILDDIR
T=$TEST_TMP
KEYSERVERD="${VALGRIND:+$VALGRIND }$B/keyserverd/keyserverd"
KS_ATTEST="${VALGRIND:+$VALGRIND }$B/loader-ref/ks-attest"
DB=$T/ks.db
export TSS2_LOG=all+none

# ---- two TPMs with EK certificates ----------------------------------------------
swtpm_start "$T/tpmb" ek || skip_all "cannot start a provisioned swtpm"
TCTI_B=$TPM2TOOLS_TCTI
swtpm_start "$T/tpma" ek || skip_all "cannot start a provisioned swtpm"
TCTI_A=$TPM2TOOLS_TCTI
export TPM2TOOLS_TCTI=$TCTI_A

# ---- keyserver ------------------------------------------------------------------
$KSCTL init --db "$DB" --master-key "$T/mk" >/dev/null || skip_all "ksctl init failed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj "/CN=ks" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
$KEYSERVERD --listen 127.0.0.1:0 --port-file "$T/port" --tls-cert "$T/tls.crt" \
    --tls-key "$T/tls.key" --db "$DB" --master-key "$T/mk" --rate-limit 0 \
    --enroll-max-pending-per-ek 3 --enroll-lifetime 10 2>"$T/ksd.log" &
KSD=$!
at_exit "kill $KSD 2>/dev/null"
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/port" ] || { sed 's/^/# /' "$T/ksd.log"; skip_all "keyserverd did not start"; }
URL=https://127.0.0.1:$(cat "$T/port")

# A key whose policy any state of PCR 23 (never extended here) satisfies.
$KSCTL policy create p --db "$DB" >/dev/null
$KSCTL policy pcr p 23 0000000000000000000000000000000000000000000000000000000000000000 2>/dev/null \
    --db "$DB" >/dev/null
$KSCTL policy activate p --db "$DB" >/dev/null
head -c 32 /dev/urandom >"$T/dek"
$KSCTL key import k --policy p --file "$T/dek" --db "$DB" --master-key "$T/mk" >/dev/null

# ---- helpers --------------------------------------------------------------------
b64() { base64 -w0 "$1"; }

# post NAME PATH JSON-FILE: the answer in $T/NAME.body, the status in $T/NAME.status.
post() {
    curl -sS --max-time 30 --cacert "$T/tls.crt" -H 'Content-Type: application/json' \
        --data-binary "@$3" -o "$T/$1.body" -w '%{http_code}' "$URL$2" >"$T/$1.status" \
        2>"$T/$1.err"
}
status_is() { [ "$(cat "$T/$1.status")" = "$2" ]; }
json_stdin() {
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
json_get() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# refused NAME STATUS CODE DETAIL-PATTERN
refused() {
    status_is "$1" "$2" && [ "$(json_get "$T/$1.body" 'd["error"]')" = "$3" ] &&
        json_get "$T/$1.body" 'd["detail"]' | grep -qi "$4"
}
# audited EVENT OUTCOME PATTERN: a row of that event and outcome whose text matches.
audited() {
    $KSCTL audit show --db "$DB" --event "$1" --outcome "$2" | grep -qi "$3"
}
# enroll_body OUT EK_PUB [EK_CERT] AK_PUB (EK_CERT "-" for none)
enroll_body() {
    if [ "$3" = - ]; then
        printf '{"ek_pub":"%s","ak_pub":"%s"}' "$(b64 "$2")" "$(b64 "$4")" >"$1"
    else
        printf '{"ek_pub":"%s","ek_cert":"%s","ak_pub":"%s"}' "$(b64 "$2")" "$(b64 "$3")" \
            "$(b64 "$4")" >"$1"
    fi
}
# cred_file NAME: the tpm2-tools credential file of an /v1/enroll answer.
cred_file() {
    python3 - "$T/$1.body" "$T/$1.cred" <<'EOF'
import base64, json, struct, sys
d = json.load(open(sys.argv[1]))
blob = base64.b64decode(d["credential_blob"], validate=True)
enc = base64.b64decode(d["encrypted_secret"], validate=True)
open(sys.argv[2], "wb").write(struct.pack(">II", 0xBADCC0DE, 1) + blob + enc)
EOF
}
# activate_tools TCTI EK_CTX AK_CTX CRED OUT: tpm2_activatecredential with the EK policy.
activate_tools() {
    TPM2TOOLS_TCTI=$1 sh -c '
        tpm2_startauthsession --policy-session -S "$5.session" >/dev/null &&
        tpm2_policysecret -S "$5.session" -c e >/dev/null &&
        tpm2_activatecredential -c "$3" -C "$2" -i "$4" -o "$5" -P "session:$5.session" \
            >/dev/null 2>&1; rc=$?
        tpm2_flushcontext "$5.session" >/dev/null 2>&1; tpm2_flushcontext -t >/dev/null 2>&1
        exit $rc' sh "$@"
}
release() { # release AK_DIR OUT_DIR: ks-attest release of key k
    mkdir -p "$2" && $KS_ATTEST release --tcti "$TPM2TOOLS_TCTI" --server "$URL" \
        --cacert "$T/tls.crt" --key k --pcrs sha256:23 --ak-dir "$1" --out-dir "$2"
}
activate_body() { # activate_body OUT SECRET-FILE
    printf '{"secret":"%s"}' "$(b64 "$2")" >"$1"
}

# ---- trusted EK CAs ----------------------------------------------------------------
check "ksctl ekca add: TPM A's local CA, auto-approve" \
    $KSCTL ekca add "$T/tpma/localca/issuercert.pem" --auto-approve --db "$DB"
CA_A=$(sed -n 's/^\([0-9]*\) .*/\1/p' "$TEST_TMP/last.out")
tpm2_nvread 0x01c00002 -o "$T/ekrsa.der" >/dev/null 2>&1
$KSCTL ekca add "$T/ekrsa.der" --db "$DB" 2>"$T/notca.err"
rc=$?
check "ksctl ekca add refuses a certificate that is not a CA (an EK certificate; exit 1)" \
    sh -c "[ $rc = 1 ] && grep -q 'not a CA certificate' '$T/notca.err'"

# ---- RSA-2048 EK: ks-attest enroll, then the AK releases a key ------------------
mkdir -p "$T/ak_rsa"
check "ks-attest enroll (RSA-2048 EK, certificate in NV 0x01c00002): active" \
    sh -c "$KS_ATTEST enroll --tcti '$TCTI_A' --server '$URL' --cacert '$T/tls.crt' \
        --out-dir '$T/ak_rsa' --save-auth | grep -q ' active$'"
check "the enrolled AK releases the key" release "$T/ak_rsa" "$T/out_rsa"
check "... and it is the imported key" cmp "$T/dek" "$T/out_rsa/k.key"
EKRSA=$($KSCTL ek list --json --db "$DB" | json_stdin 'd[0]["name"]')
check "enrollment and activation are audited" \
    sh -c "$KSCTL audit show --db '$DB' --event enroll.activate --outcome ok | grep -q '\"ek_approved\":true'"

# ---- ECC P-384 EK (high-range template, PolicyOR) ---------------------------------
mkdir -p "$T/ak_384"
check "ks-attest enroll --ek ecc (P-384 EK, certificate in NV 0x01c00016): active" \
    sh -c "$KS_ATTEST enroll --tcti '$TCTI_A' --server '$URL' --cacert '$T/tls.crt' --ek ecc \
        --out-dir '$T/ak_384' --save-auth | grep -q ' active$'"
check "the P-384-enrolled AK releases the key" release "$T/ak_384" "$T/out_384"
check "... the same key" cmp "$T/dek" "$T/out_384/k.key"
EK384=$($KSCTL ek list --json --db "$DB" | python3 -c '
import json, sys
print([e["name"] for e in json.load(sys.stdin) if e["name"].startswith("000c")][0])')

# ---- ECC P-256 EK made by tpm2_createek, certified by a test CA ------------------
mkdir -p "$T/ca"
tpm2_createek -G ecc256 -c "$T/ek256.ctx" -u "$T/ek256.pub" >/dev/null
tpm2_readpublic -c "$T/ek256.ctx" -f pem -o "$T/ek256.pem" >/dev/null
tpm2_flushcontext -t >/dev/null
(
    cd "$T/ca" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -keyout ca.key -out ca.pem -subj "/CN=Test EK CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    touch index.txt
    echo 1000 >crlnumber
    cat >ca.cnf <<'EOF'
[ca]
default_ca = testca
[testca]
dir = .
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = anything
default_crl_days = 30
[anything]
commonName = optional
[ek_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
extendedKeyUsage = 2.23.133.8.1
EOF
    openssl req -new -key ca.key -subj "/CN=unused" -out any.csr 2>/dev/null
    # The EK cannot sign a request: its key is forced in (-force_pubkey).
    openssl x509 -req -in any.csr -CA ca.pem -CAkey ca.key -force_pubkey ../ek256.pem \
        -set_serial 0x1001 -days 30 -extfile ca.cnf -extensions ek_ext -outform der \
        -out ek256.der 2>/dev/null
    # Expired yesterday.
    openssl x509 -req -in any.csr -CA ca.pem -CAkey ca.key -force_pubkey ../ek256.pem \
        -set_serial 0x1002 -days -1 -extfile ca.cnf -extensions ek_ext -outform der \
        -out expired.der 2>/dev/null
)
sz=$(stat -c %s "$T/ca/ek256.der")
tpm2_nvdefine 0x01c0000a -C p -s "$sz" -a "ppwrite|ppread|ownerread|authread|no_da|platformcreate" \
    >/dev/null && tpm2_nvwrite 0x01c0000a -C p -i "$T/ca/ek256.der" >/dev/null
check "ksctl ekca add: the test CA, without auto-approve" \
    $KSCTL ekca add "$T/ca/ca.pem" --db "$DB"
mkdir -p "$T/ak_256"
check "ks-attest enroll --ek ecc256: the AK is active but its EK waits for approval" \
    sh -c "$KS_ATTEST enroll --tcti '$TCTI_A' --server '$URL' --cacert '$T/tls.crt' \
        --ek ecc256 --out-dir '$T/ak_256' --save-auth | grep -q ' pending_ek_approval$'"
EK256=$($KSCTL ek list --json --db "$DB" | python3 -c '
import json, sys
print([e["name"] for e in json.load(sys.stdin) if not e["approved"]][0])')
check_fails "refused: an AK of an unapproved EK releases nothing" release "$T/ak_256" "$T/out_256a"
check "... audited with the reason" audited release refused "EK $EK256 is not approved"
check "ksctl ek approve" $KSCTL ek approve "$EK256" --db "$DB"
check "after approval the AK releases the key" release "$T/ak_256" "$T/out_256"
check "... the same key" cmp "$T/dek" "$T/out_256/k.key"

# ---- tpm2-tools' TPM2_ActivateCredential accepts the keyserver's credential -----
tpm2_createek -G rsa -c "$T/ekrsa.ctx" -u "$T/ekrsa.pub" >/dev/null
tpm2_createak -C "$T/ekrsa.ctx" -c "$T/akt.ctx" -u "$T/akt.pub" -n "$T/akt.name" \
    -G ecc -g sha256 -s ecdsa >/dev/null
# Without a resource manager, transient objects stay loaded: flush them
# (the tools reload their context files).
tpm2_flushcontext -t >/dev/null
tpm2_nvread 0x01c00016 -o "$T/ek384.der" >/dev/null 2>&1
enroll_body "$T/t1.json" "$T/ekrsa.pub" "$T/ekrsa.der" "$T/akt.pub"
post t1 /v1/enroll "$T/t1.json"
check "POST /v1/enroll (tpm2_createak AK, RSA EK): 200" status_is t1 200
cred_file t1
check "tpm2_activatecredential recovers the secret" \
    activate_tools "$TCTI_A" "$T/ekrsa.ctx" "$T/akt.ctx" "$T/t1.cred" "$T/t1.secret"
ID1=$(json_get "$T/t1.body" 'd["enrollment_id"]')
# Flip a bit (setting the first byte to a constant left the secret right one
# time in 256).
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[0] ^= 1
open(sys.argv[2], "wb").write(b)' "$T/t1.secret" "$T/wrong.secret"
activate_body "$T/w.json" "$T/wrong.secret"
post w "/v1/enroll/$ID1/activate" "$T/w.json"
check "refused: a wrong activation secret (403)" refused w 403 attestation_failed "secret"
check "... audited" audited enroll.activate refused "does not match"
activate_body "$T/a1.json" "$T/t1.secret"
post a1 "/v1/enroll/$ID1/activate" "$T/a1.json"
check "refused: the enrollment id was consumed by the failed attempt (409)" \
    refused a1 409 nonce_used "already used"
check "... audited" audited enroll.activate refused "already used"
post t2 /v1/enroll "$T/t1.json"
cred_file t2
activate_tools "$TCTI_A" "$T/ekrsa.ctx" "$T/akt.ctx" "$T/t2.cred" "$T/t2.secret"
activate_body "$T/a2.json" "$T/t2.secret"
post a2 "/v1/enroll/$(json_get "$T/t2.body" 'd["enrollment_id"]')/activate" "$T/a2.json"
check "with the right secret the tpm2-tools AK is enrolled and active" \
    sh -c "[ \"\$(cat '$T/a2.status')\" = 200 ] && grep -q '\"status\":\"active\"' '$T/a2.body'"
post a2again "/v1/enroll/$(json_get "$T/t2.body" 'd["enrollment_id"]')/activate" "$T/a2.json"
check "refused: a reused enrollment id (409)" refused a2again 409 nonce_used "already used"
activate_body "$T/u.json" "$T/t2.secret"
post u "/v1/enroll/00000000000000000000000000000000/activate" "$T/u.json"
check "refused: an unknown enrollment id (404), audited" \
    sh -c "[ \"\$(cat '$T/u.status')\" = 404 ] && $KSCTL audit show --db '$DB' \
        --event enroll.activate --outcome refused | grep -q 'unknown enrollment'"

# ksctl ek makecredential (the same code) and tpm2_activatecredential, P-384 EK too.
head -c 32 /dev/urandom >"$T/s.bin"
check "ksctl ek makecredential -> tpm2_activatecredential (RSA EK)" sh -c "
    $KSCTL ek makecredential --ek-pub '$T/ekrsa.pub' --name \$(xxd -p -c 256 '$T/akt.name') \
        --secret '$T/s.bin' --out '$T/mk.cred' &&
    TPM2TOOLS_TCTI='$TCTI_A' tpm2_startauthsession --policy-session -S '$T/mk.session' >/dev/null &&
    TPM2TOOLS_TCTI='$TCTI_A' tpm2_policysecret -S '$T/mk.session' -c e >/dev/null &&
    TPM2TOOLS_TCTI='$TCTI_A' tpm2_activatecredential -c '$T/akt.ctx' -C '$T/ekrsa.ctx' \
        -i '$T/mk.cred' -o '$T/mk.out' -P 'session:$T/mk.session' >/dev/null 2>&1 &&
    cmp '$T/s.bin' '$T/mk.out'"
tpm2_flushcontext -l >/dev/null 2>&1
tpm2_flushcontext -t >/dev/null 2>&1
# tpm2_makecredential for the same EK and Name: swtpm opens it too, and our file
# has exactly its layout (the contents differ: the seed is random).
tpm2_makecredential -T none -u "$T/ekrsa.pub" -s "$T/s.bin" -n "$(xxd -p -c 256 "$T/akt.name")" \
    -o "$T/tools.cred" >/dev/null 2>&1
check "tpm2_makecredential's credential activates on swtpm to the same secret" sh -c "
    TPM2TOOLS_TCTI='$TCTI_A' tpm2_startauthsession --policy-session -S '$T/tc.session' >/dev/null &&
    TPM2TOOLS_TCTI='$TCTI_A' tpm2_policysecret -S '$T/tc.session' -c e >/dev/null &&
    TPM2TOOLS_TCTI='$TCTI_A' tpm2_activatecredential -c '$T/akt.ctx' -C '$T/ekrsa.ctx' \
        -i '$T/tools.cred' -o '$T/tc.out' -P 'session:$T/tc.session' >/dev/null 2>&1 &&
    cmp '$T/s.bin' '$T/tc.out'"
tpm2_flushcontext -l >/dev/null 2>&1
tpm2_flushcontext -t >/dev/null 2>&1
check "... and ksctl ek makecredential's file has its size (same layout)" \
    sh -c "[ \$(stat -c %s '$T/tools.cred') = \$(stat -c %s '$T/mk.cred') ]"

# ---- refusals, each with its reason and its audit row ------------------------------
# A credential made for another AK's Name: enroll AK "aky" but activate with AK "akx".
for a in akx aky akc; do
    tpm2_createak -C "$T/ekrsa.ctx" -c "$T/$a.ctx" -u "$T/$a.pub" -n "$T/$a.name" \
        -G ecc -g sha256 -s ecdsa >/dev/null
    tpm2_flushcontext -t >/dev/null
done
enroll_body "$T/t3.json" "$T/ekrsa.pub" "$T/ekrsa.der" "$T/aky.pub"
post t3 /v1/enroll "$T/t3.json"
check "POST /v1/enroll for AK aky: 200" status_is t3 200
cred_file t3
check_fails "refused by the TPM: a credential made for another AK's Name" \
    activate_tools "$TCTI_A" "$T/ekrsa.ctx" "$T/akx.ctx" "$T/t3.cred" "$T/t3.secret"
check "... while it activates for the AK whose Name it names" \
    activate_tools "$TCTI_A" "$T/ekrsa.ctx" "$T/aky.ctx" "$T/t3.cred" "$T/t3.secret"

# An AK created in TPM A presented with TPM B's EK (certified by B's CA).
check "ksctl ekca add: TPM B's local CA" \
    $KSCTL ekca add "$T/tpmb/localca/issuercert.pem" --db "$DB"
CA_B=$(sed -n 's/^\([0-9]*\) .*/\1/p' "$TEST_TMP/last.out")
TPM2TOOLS_TCTI=$TCTI_B tpm2_createek -G rsa -c "$T/ekb.ctx" -u "$T/ekb.pub" >/dev/null
TPM2TOOLS_TCTI=$TCTI_B tpm2_flushcontext -t >/dev/null
TPM2TOOLS_TCTI=$TCTI_B tpm2_nvread 0x01c00002 -o "$T/ekb.der" >/dev/null 2>&1
enroll_body "$T/x.json" "$T/ekb.pub" "$T/ekb.der" "$T/akx.pub"
post x /v1/enroll "$T/x.json"
check "POST /v1/enroll with TPM A's AK and TPM B's EK is answered (B's EK is certified)" \
    status_is x 200
cred_file x
check_fails "refused by TPM A: the credential is for TPM B's EK" \
    activate_tools "$TCTI_A" "$T/ekrsa.ctx" "$T/akx.ctx" "$T/x.cred" "$T/x.secret"
check_fails "... and TPM B does not hold that AK" \
    activate_tools "$TCTI_B" "$T/ekb.ctx" "$T/akx.ctx" "$T/x.cred" "$T/x.secret"
check "ksctl ekca remove: TPM B's CA" $KSCTL ekca remove "$CA_B" --db "$DB"

# EK certificate from an untrusted CA (TPM B's, now removed).
mkdir -p "$T/ak_b"
TPM2TOOLS_TCTI=$TCTI_B $KS_ATTEST enroll --tcti "$TCTI_B" --server "$URL" --cacert "$T/tls.crt" \
    --out-dir "$T/ak_b" >"$T/b.out" 2>&1
check "refused: an EK certificate from an untrusted CA (ks-attest exit 1)" \
    sh -c "grep -q 'HTTP 403' '$T/b.out' && grep -q 'does not chain' '$T/b.out'"
check "... audited" audited enroll refused "does not chain to a trusted EK CA"
# An EK without a certificate that no admin approved.
TPM2TOOLS_TCTI=$TCTI_B $KS_ATTEST enroll --tcti "$TCTI_B" --server "$URL" --cacert "$T/tls.crt" \
    --no-ek-cert --out-dir "$T/ak_b" >"$T/b2.out" 2>&1
check "refused: an EK without a certificate, not approved" grep -q "not approved\|unknown" "$T/b2.out"
check "... audited" audited enroll refused "no trusted certificate"
check "ksctl ek add --approve: an admin vouches for TPM B's EK" \
    $KSCTL ek add --ek-pub "$T/ekb.pub" --approve --db "$DB"
check "then TPM B enrolls without a certificate" \
    sh -c "$KS_ATTEST enroll --tcti '$TCTI_B' --server '$URL' --cacert '$T/tls.crt' \
        --no-ek-cert --out-dir '$T/ak_b' | grep -q ' active$'"

# Expired certificate; certificate of another key.
enroll_body "$T/e.json" "$T/ek256.pub" "$T/ca/expired.der" "$T/akt.pub"
post e /v1/enroll "$T/e.json"
check "refused: an expired EK certificate (403)" refused e 403 attestation_failed "expired"
check "... audited" audited enroll refused "expired"
enroll_body "$T/m.json" "$T/ekrsa.pub" "$T/ek384.der" "$T/akt.pub"
post m /v1/enroll "$T/m.json"
check "refused: a certificate whose key is not the presented EK's (403)" \
    refused m 403 attestation_failed "key differs"
check "... audited" audited enroll refused "key differs"

# AKs with the wrong attributes.
tpm2_createprimary -C o -c "$T/srk.ctx" >/dev/null
tpm2_flushcontext -t >/dev/null
tpm2_create -C "$T/srk.ctx" -G ecc -u "$T/unr.pub" -r "$T/unr.priv" \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" >/dev/null
tpm2_flushcontext -t >/dev/null
tpm2_create -C "$T/srk.ctx" -G rsa -u "$T/dec.pub" -r "$T/dec.priv" \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt" >/dev/null
tpm2_flushcontext -t >/dev/null
enroll_body "$T/n.json" "$T/ekrsa.pub" "$T/ekrsa.der" "$T/unr.pub"
post n /v1/enroll "$T/n.json"
check "refused: a non-restricted AK (403, names the attribute)" \
    refused n 403 attestation_failed "missing restricted"
check "... audited" audited enroll refused "missing restricted"
enroll_body "$T/d.json" "$T/ekrsa.pub" "$T/ekrsa.der" "$T/dec.pub"
post d /v1/enroll "$T/d.json"
check "refused: a decryption key as AK (403)" refused d 403 attestation_failed "forbidden decrypt"

# A ROCA-weak RSA AK: a restricted signing public area around the published
# fingerprinted modulus (tests/data/roca/mod03.txt).
python3 - "$KS_TESTDATA/roca/mod03.txt" "$T/roca.pub" <<'EOF'
import struct, sys
n = bytes.fromhex(open(sys.argv[1]).read().strip()[2:])
attrs = 0x00050072  # fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign
t = struct.pack(">HHI", 0x0001, 0x000B, attrs) + struct.pack(">H", 0)
t += struct.pack(">HHHHI", 0x0010, 0x0014, 0x000B, 2048, 0) + struct.pack(">H", len(n)) + n
open(sys.argv[2], "wb").write(struct.pack(">H", len(t)) + t)
EOF
enroll_body "$T/r.json" "$T/ekrsa.pub" "$T/ekrsa.der" "$T/roca.pub"
post r /v1/enroll "$T/r.json"
check "refused: a ROCA-weak RSA AK (403)" refused r 403 attestation_failed "ROCA"
check "... audited" audited enroll refused "ROCA"

# An expired enrollment (lifetime 10 s here).
enroll_body "$T/c.json" "$T/ekrsa.pub" "$T/ekrsa.der" "$T/akc.pub"
post late /v1/enroll "$T/c.json"
cred_file late
activate_tools "$TCTI_A" "$T/ekrsa.ctx" "$T/akc.ctx" "$T/late.cred" "$T/late.secret"
sleep 11
activate_body "$T/l.json" "$T/late.secret"
post latea "/v1/enroll/$(json_get "$T/late.body" 'd["enrollment_id"]')/activate" "$T/l.json"
check "refused: an expired enrollment, although the secret is right (403)" \
    refused latea 403 attestation_failed "expired"
check "... audited" audited enroll.activate refused "expired"

# Too many pending enrollments for one EK (the cap is 3 here).
for n in 1 2 3 4; do post cap$n /v1/enroll "$T/c.json"; done
check "the pending enrollments of one EK are capped (429)" \
    sh -c "[ \"\$(cat '$T/cap3.status')\" = 200 ] && [ \"\$(cat '$T/cap4.status')\" = 429 ]"
check "... audited" audited enroll refused "too many pending"

# ---- revocation, removal: AKs stop at once --------------------------------------------
check "ksctl ekca crl add: the test CA revokes the P-256 EK's certificate" sh -c "
    cd '$T/ca' && printf 'R\t301231000000Z\t%s\t1001\tunknown\t/CN=unused\n' \
        \$(date -u +%y%m%d%H%M%SZ) >index.txt &&
    openssl ca -config ca.cnf -gencrl -out crl.pem >/dev/null 2>&1 &&
    $KSCTL ekca crl add crl.pem --db '$DB' | grep -q 'EK $EK256 revoked'"
check_fails "refused: the AK of the revoked EK" release "$T/ak_256" "$T/out_256r"
enroll_body "$T/rv.json" "$T/ek256.pub" "$T/ca/ek256.der" "$T/akt.pub"
post rv /v1/enroll "$T/rv.json"
check "refused: a revoked EK certificate (403)" refused rv 403 attestation_failed "revoked"
check "... audited" audited enroll refused "revoked"
check "ksctl ek revoke the P-384 EK" $KSCTL ek revoke "$EK384" --reason test --db "$DB"
check_fails "refused: the AK of a revoked EK" release "$T/ak_384" "$T/out_384r"
check_fails "a revoked EK cannot be approved again" $KSCTL ek approve "$EK384" --db "$DB"
check "ksctl ekca remove: TPM A's CA; the approval it granted goes" \
    sh -c "$KSCTL ekca remove '$CA_A' --db '$DB' | grep -q '1 EK approval'"
check_fails "refused: the AK of an EK approved only by the removed CA" \
    release "$T/ak_rsa" "$T/out_rsar"
check "ksctl ek approve: the admin approves the machine" $KSCTL ek approve "$EKRSA" --db "$DB"
check "... and its AK releases again" release "$T/ak_rsa" "$T/out_rsa2"
check "ksctl ek remove revokes its AKs" \
    sh -c "$KSCTL ek remove '$EKRSA' --db '$DB' | grep -q 'AK(s) revoked'"
check_fails "refused: the AK of a removed EK" release "$T/ak_rsa" "$T/out_rsa3"
check "ksctl audit verify: the hash chain holds" $KSCTL audit verify --db "$DB"

done_testing
exit $?
