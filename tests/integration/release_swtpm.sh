#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The release path end to end (DESIGN "Protocol", POST /v1/release): a real
# swtpm, keyserverd over TLS on 127.0.0.1, ksctl for the admin side and
# ks-attest (or requests built here around `ks-attest quote`) for the loader.
# Grants are opened and compared with the imported keys; every refusal is
# checked for its HTTP status, its error code, that nothing was released and
# that the audit trail (or, for requests too malformed to name anything,
# /metrics) recorded it.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm tpm2_pcrread tpm2_pcrextend openssl curl python3

B=$KS_BUILDDIR
KEYSERVERD="${VALGRIND:+$VALGRIND }$B/keyserverd/keyserverd"
KS_ATTEST="$B/loader-ref/ks-attest"
SLOW=${VALGRIND:+5}
SLOW=${SLOW:-1}
T=$TEST_TMP
SECUREBOOT="$KS_TESTDATA/eventlogs/keylime/binary_bios_measurements-secureboot.bin"
ZERO32=0000000000000000000000000000000000000000000000000000000000000000

# ---- helper: requests built by hand ------------------------------------------
# rq.py build: challenge (or a given nonce), HPKE key pair, quote by
# `ks-attest quote` over SHA-256("ks-release-v1" || 0x00 || nonce || hpke_pk),
# the JSON body of DESIGN's /v1/release, with optional tampering.
# rq.py open: HPKE-open a released key (RFC 9180 base mode, DHKEM(X25519,
# HKDF-SHA256), HKDF-SHA256, AES-256-GCM), checked first against the RFC 9180
# vectors in tests/data/hpke.
cat >"$T/rq.py" <<'PY'
import argparse, base64, hashlib, hmac, json, os, ssl, struct, subprocess, sys, tempfile
import urllib.request

try:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives import serialization
    HAVE_CRYPTO = True
except ImportError:
    HAVE_CRYPTO = False

ALGS = {0x0004: ("sha1", 20), 0x000B: ("sha256", 32), 0x000C: ("sha384", 48),
        0x000D: ("sha512", 64)}

def b64(b):
    return base64.b64encode(b).decode()

def challenge(url, cacert):
    ctx = ssl.create_default_context(cafile=cacert)
    req = urllib.request.Request(url + "/v1/challenge", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
        return base64.b64decode(json.load(r)["nonce"], validate=True)

def parse_attest(a):
    """TPMS_ATTEST of a quote (TPM 2.0 Part 2, 10.12.12): extraData and the
    PCR selection [(alg, [pcr...])]."""
    off = 6
    n = struct.unpack_from(">H", a, off)[0]; off += 2 + n        # qualifiedSigner
    n = struct.unpack_from(">H", a, off)[0]; extra = a[off + 2:off + 2 + n]; off += 2 + n
    off += 17 + 8                                               # clockInfo, firmwareVersion
    count = struct.unpack_from(">I", a, off)[0]; off += 4
    sel = []
    for _ in range(count):
        alg, size = struct.unpack_from(">HB", a, off); off += 3
        bits = a[off:off + size]; off += size
        sel.append((alg, [i for i in range(8 * size) if bits[i // 8] >> (i % 8) & 1]))
    return extra, sel

def build(o):
    nonce = base64.b64decode(o.nonce) if o.nonce else challenge(o.url, o.cacert)
    if HAVE_CRYPTO:
        sk = X25519PrivateKey.generate()
        pk = sk.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
        if o.sk_out:
            with open(o.sk_out, "wb") as f:
                f.write(sk.private_bytes(serialization.Encoding.Raw,
                                         serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption()))
    else:
        pk = os.urandom(32)
    bound = os.urandom(32) if o.bind_other_pk else pk
    extra = hashlib.sha256(b"ks-release-v1\0" + nonce + bound).digest()
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([o.ks_attest, "quote", "--ak-dir", o.ak_dir, "--nonce", extra.hex(),
                        "--pcrs", o.pcrs, "--out-dir", d], check=True)
        attest = open(d + "/attest", "rb").read()
        sig = open(d + "/sig", "rb").read()
        values = open(d + "/pcrs", "rb").read()
    got_extra, sel = parse_attest(attest)
    assert got_extra == extra, "ks-attest quote did not bind the nonce given"
    pcrs, off = {}, 0
    for alg, idx in sel:
        name, size = ALGS[alg]
        for i in idx:
            pcrs.setdefault(name, {})[str(i)] = values[off:off + size].hex()
            off += size
    assert off == len(values), "PCR values do not match the selection"
    if o.alter_pcr:
        bank, i = o.alter_pcr.split(":")
        v = bytearray(bytes.fromhex(pcrs[bank][i]))
        v[0] ^= 1
        pcrs[bank][i] = v.hex()
    ak_id = o.ak_id or open(o.ak_dir + "/ak.name").read().strip()
    body = {"ak_id": ak_id, "nonce": b64(nonce), "hpke_pk": b64(pk), "keys": o.key,
            "quote": {"attest": b64(attest), "signature": b64(sig)}, "pcrs": pcrs}
    if o.event_log:
        body["event_log"] = b64(open(o.event_log, "rb").read())
    with open(o.out, "w") as f:
        json.dump(body, f)

# RFC 9180 with the suite of DESIGN "Protocol".
def labeled_extract(suite, salt, label, ikm):
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()

def labeled_expand(suite, prk, label, info, n):
    li = struct.pack(">H", n) + b"HPKE-v1" + suite + label + info
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + li + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]

def hpke_open(skr, enc, info, aad, ct):
    kem = b"KEM" + struct.pack(">H", 0x20)
    sk = X25519PrivateKey.from_private_bytes(skr)
    pkr = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    dh = sk.exchange(X25519PublicKey.from_public_bytes(enc))
    prk = labeled_extract(kem, b"", b"eae_prk", dh)
    shared = labeled_expand(kem, prk, b"shared_secret", enc + pkr, 32)
    suite = b"HPKE" + struct.pack(">HHH", 0x20, 1, 2)
    ctx = (b"\0" + labeled_extract(suite, b"", b"psk_id_hash", b"")
           + labeled_extract(suite, b"", b"info_hash", info))
    secret = labeled_extract(suite, shared, b"secret", b"")
    key = labeled_expand(suite, secret, b"key", ctx, 32)
    nonce = labeled_expand(suite, secret, b"base_nonce", ctx, 12)
    return AESGCM(key).decrypt(nonce, ct, aad)

def selftest(vectors):
    for v in json.load(open(vectors)):
        if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (0, 32, 1, 2):
            e = v["encryptions"][0]
            pt = hpke_open(bytes.fromhex(v["skRm"]), bytes.fromhex(v["enc"]),
                           bytes.fromhex(v["info"]), bytes.fromhex(e["aad"]),
                           bytes.fromhex(e["ct"]))
            assert pt == bytes.fromhex(e["pt"])
            return
    raise SystemExit("no base-mode X25519/AES-256-GCM vector")

def open_release(o):
    body = json.load(open(o.body))
    resp = json.load(open(o.resp))
    skr = open(o.sk, "rb").read()
    nonce = base64.b64decode(body["nonce"])
    for k in resp["keys"]:
        if k["name"] == o.name:
            key = hpke_open(skr, base64.b64decode(k["enc"]), b"ks-release-v1\0" + o.name.encode(),
                            nonce, base64.b64decode(k["ciphertext"]))
            open(o.out, "wb").write(key)
            return
    raise SystemExit("key not in the response")

p = argparse.ArgumentParser()
sub = p.add_subparsers(dest="cmd", required=True)
b = sub.add_parser("build")
for a in ("--url", "--cacert", "--ks-attest", "--ak-dir", "--pcrs", "--out", "--ak-id", "--nonce",
          "--sk-out", "--alter-pcr", "--event-log"):
    b.add_argument(a)
b.add_argument("--key", action="append", required=True)
b.add_argument("--bind-other-pk", action="store_true")
s = sub.add_parser("selftest")
s.add_argument("vectors")
op = sub.add_parser("open")
for a in ("--sk", "--body", "--resp", "--name", "--out"):
    op.add_argument(a, required=True)
sub.add_parser("have-crypto")
o = p.parse_args()
if o.cmd == "build":
    build(o)
elif o.cmd == "selftest":
    selftest(o.vectors)
elif o.cmd == "open":
    open_release(o)
else:
    sys.exit(0 if HAVE_CRYPTO else 1)
PY

# ---- keyserver, TPM, AKs, policy, keys -----------------------------------------
swtpm_start "$T/tpm" || skip_all "swtpm does not start"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=keyserver \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || skip_all "openssl cannot make a certificate"
DB=$T/ks.db
MK=$T/master.key
$B/ksctl init --db "$DB" --master-key "$MK" >"$T/init.out" 2>&1 ||
    { sed 's/^/# /' "$T/init.out"; skip_all "ksctl init failed"; }

# start_server NAME ARGS...: a keyserverd on a free port; sets PORT, KSD_PID.
start_server() {
    name=$1
    shift
    rm -f "$T/$name.port"
    $KEYSERVERD --listen 127.0.0.1:0 --port-file "$T/$name.port" --tls-cert "$T/tls.crt" \
        --tls-key "$T/tls.key" --db "$DB" --master-key "$MK" --rate-limit 0 "$@" \
        2>"$T/$name.log" &
    KSD_PID=$!
    at_exit "kill $KSD_PID 2>/dev/null"
    i=0
    while [ ! -s "$T/$name.port" ] && [ $i -lt $((100 * SLOW)) ]; do
        kill -0 $KSD_PID 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    PORT=$(cat "$T/$name.port" 2>/dev/null)
    [ -n "$PORT" ]
}
if start_server a; then
    ok "keyserverd serves HTTPS on a free port"
else
    not_ok "keyserverd did not start"
    sed 's/^/# /' "$T/a.log"
    done_testing
    exit 1
fi
A_PID=$KSD_PID
URL="https://127.0.0.1:$PORT"
CURL="curl -sS --max-time $((20 * SLOW)) --cacert $T/tls.crt"

mkak() { # mkak NAME [--rsa]: a saved AK in $T/NAME
    mkdir -p "$T/$1"
    $KS_ATTEST ak-create --out-dir "$T/$1" --save-auth $2 >"$T/$1.out" 2>&1
}
mkak ak1 && mkak ak2 --rsa && mkak ak3 && mkak ak4 ||
    { sed 's/^/# /' "$T"/ak*.out; skip_all "ks-attest ak-create failed"; }
AK1=$(cat "$T/ak1/ak.name")
AK2=$(cat "$T/ak2/ak.name")
AK3=$(cat "$T/ak3/ak.name")
AK4=$(cat "$T/ak4/ak.name")
check "ksctl ak add prints the AK id of the ECC AK (its Name)" \
    sh -c "[ \"\$($B/ksctl ak add --db '$DB' --ak-pub '$T/ak1/ak.pub')\" = '$AK1' ]"
check "ksctl ak add prints the AK id of the RSA AK" \
    sh -c "[ \"\$($B/ksctl ak add --db '$DB' --ak-pub '$T/ak2/ak.pub')\" = '$AK2' ]"
$B/ksctl ak add --db "$DB" --ak-pub "$T/ak4/ak.pub" >/dev/null 2>&1
# ak3 stays unknown to the keyserver.

# pcrval INDEX: the swtpm's sha256 PCR in lowercase hex.
pcrval() {
    tpm2_pcrread "sha256:$1" | sed -n "s/^ *$1 *: *0x//p" | tr 'A-F' 'a-f'
}
# Policy "boot": PCR 0 and the application PCR 15 at their (swtpm) values.
P0=$(pcrval 0)
P15=$(pcrval 15)
check "swtpm PCRs 0 and 15 start at zero" test "$P0$P15" = "$ZERO32$ZERO32"
{
    $B/ksctl policy create boot --db "$DB" &&
        $B/ksctl policy pcr boot 0 "$P0" --db "$DB" &&
        $B/ksctl policy pcr boot 15 "$P15" --db "$DB" &&
        $B/ksctl policy activate boot --db "$DB"
} >"$T/policy.out" 2>&1
check "policy boot (sha256 PCRs 0 and 15) is active" \
    sh -c "$B/ksctl policy show boot --json --db '$DB' | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"state\"] == \"active\" and d[\"version\"] == 1, d
assert sorted((r[\"bank\"], r[\"pcr\"]) for r in d[\"rules\"]) == [(\"sha256\", 0), (\"sha256\", 15)]'"
head -c 32 /dev/urandom >"$T/weights.in"
head -c 32 /dev/urandom >"$T/reqkey.in"
check "ksctl key import weights (dek) and reqkey (hpke)" sh -c "
    $B/ksctl key import weights --policy boot --file '$T/weights.in' --db '$DB' --master-key '$MK' &&
    $B/ksctl key import reqkey --kind hpke --policy boot --file '$T/reqkey.in' --db '$DB' --master-key '$MK'"

# ---- helpers ------------------------------------------------------------------
# release NAME ARGS...: ks-attest release into $T/NAME/ (exit status kept).
release() {
    name=$1
    shift
    rm -rf "${T:?}/${name:?}"
    mkdir -p "$T/$name"
    $KS_ATTEST release --server "$URL" --cacert "$T/tls.crt" --out-dir "$T/$name" "$@" \
        >"$T/$name.out" 2>"$T/$name.err"
}
# build NAME ARGS...: a hand-made request body in $T/NAME.json (HPKE private
# key in $T/NAME.sk when python3-cryptography is there).
build() {
    name=$1
    shift
    python3 "$T/rq.py" build --url "$URL" --cacert "$T/tls.crt" --ks-attest "$KS_ATTEST" \
        --out "$T/$name.json" --sk-out "$T/$name.sk" "$@" >"$T/$name.build" 2>&1
}
# post NAME [URL]: POST $T/NAME.json; status in $T/NAME.status, body in $T/NAME.body.
post() {
    $CURL -o "$T/$1.body" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$T/$1.json" "${2:-$URL}/v1/release" >"$T/$1.status" 2>"$T/$1.err"
}
# refused NAME STATUS CODE: the error shape of DESIGN, and no key in it.
refused() {
    [ "$(cat "$T/$1.status")" = "$2" ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d) == ["detail", "error"], d
assert d["error"] == sys.argv[2], d' "$T/$1.body" "$3"
}
# audit_seq: the last audit sequence number.
audit_seq() {
    $B/ksctl audit show --json --db "$DB" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(rows[-1]["seq"] if rows else 0)'
}
# audited SINCE OUTCOME AK REASON-SUBSTRING [KEYS]: exactly one audit row
# after SINCE, a release with that outcome, AK id, reason (and key list).
audited() {
    $B/ksctl audit show --json --db "$DB" | python3 -c '
import json, sys
since, outcome, ak, reason = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rows = [r for r in json.load(sys.stdin) if r["seq"] > since]
assert len(rows) == 1, rows
r = rows[0]
assert r["event"] == "release" and r["actor"] == "keyserverd", r
assert r["outcome"] == outcome, r
assert r["ak_id"] == ak, r
assert reason in (r["reason"] or ""), (reason, r["reason"])
if len(sys.argv) > 5:
    assert r["keys"] == sys.argv[5].split(","), r["keys"]' "$@"
}
metric() { # metric NAME-WITH-LABELS
    $CURL "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
# Refusal: STATUS/CODE from the server, the audit row, nothing released.
# expect_refusal NAME DESCRIPTION STATUS CODE SINCE AK REASON [KEYS]
expect_refusal() {
    name=$1 desc=$2 st=$3 code=$4
    shift 4
    if refused "$name" "$st" "$code" >"$T/$name.chk" 2>&1 && audited "$@" >>"$T/$name.chk" 2>&1; then
        ok "$desc: $st $code, nothing released, audited"
    else
        not_ok "$desc: $st $code, nothing released, audited"
        sed 's/^/# /' "$T/$name.status" "$T/$name.body" "$T/$name.chk" "$T/$name.build" \
            2>/dev/null | head -30
        $B/ksctl audit show --db "$DB" | tail -3 | sed 's/^/# /'
    fi
}

# ---- receipts ----------------------------------------------------------------------
$CURL -o "$T/info.json" "$URL/v1/info"
python3 -c 'import base64, json, sys
open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["receipt_key"]))' \
    "$T/info.json" "$T/receipt.der"
openssl pkey -pubin -inform DER -in "$T/receipt.der" -out "$T/receipt.pem" 2>/dev/null
check "/v1/info's receipt_key is an EC P-256 SubjectPublicKeyInfo" \
    sh -c "openssl pkey -pubin -in '$T/receipt.pem' -text -noout | grep -q 'NIST CURVE: P-256'"
KS_ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$T/info.json")

# receipt_ok DIR AK KEYS(name:version:policy:policy_version,...) [BODY PK]:
# the signature verifies with openssl against receipt_key, and the payload
# names this keyserver, the AK, the keys and an audit row that granted them
# and whose hash it carries (and, for a hand-made request, the SHA-256 of
# the exact body and of the HPKE key).
receipt_ok() {
    openssl dgst -sha256 -verify "$T/receipt.pem" -signature "$1/receipt.sig" \
        "$1/receipt.payload" >/dev/null || return 1
    $B/ksctl audit show --json --db "$DB" >"$1/audit.json" || return 1
    python3 -c '
import hashlib, json, sys
d = json.load(open(sys.argv[1] + "/receipt.payload"))
ks, ak, keys = sys.argv[2], sys.argv[3], sys.argv[4]
assert d["v"] == 1 and d["keyserver"] == ks and d["ak_id"] == ak, d
want = [dict(zip(("name", "version", "policy", "policy_version"), k.split(":"))) for k in keys.split(",")]
got = [{k: str(v) for k, v in e.items()} for e in d["keys"]]
assert got == want, (got, want)
rows = {r["seq"]: r for r in json.load(open(sys.argv[1] + "/audit.json"))}
row = rows[d["audit"]["seq"]]
assert row["row_hash"] == d["audit"]["hash"], (row, d)
assert row["event"] == "release" and row["outcome"] == "granted" and row["ak_id"] == ak, row
if len(sys.argv) > 5:
    body = open(sys.argv[5], "rb").read()
    assert d["request_sha256"] == hashlib.sha256(body).hexdigest(), d
    pk = __import__("base64").b64decode(json.loads(body)["hpke_pk"])
    assert d["hpke_pk_sha256"] == hashlib.sha256(pk).hexdigest(), d
' "$@"
}

# ---- grants ----------------------------------------------------------------------------
release g1 --ak-dir "$T/ak1" --key weights --pcrs sha256:0,15
check "release with the ECC AK: granted" grep -qx 'weights 1' "$T/g1.out"
check "the released key equals the imported one" cmp "$T/weights.in" "$T/g1/weights.key"
check "the receipt verifies against receipt_key and names the grant's audit row" \
    receipt_ok "$T/g1" "$KS_ID" "$AK1" "weights:1:boot:1"
cp "$T/g1/receipt.payload" "$T/forged.payload"
printf ' ' >>"$T/forged.payload"
check_fails "control: a receipt payload changed by one byte does not verify" \
    openssl dgst -sha256 -verify "$T/receipt.pem" -signature "$T/g1/receipt.sig" "$T/forged.payload"

release g2 --ak-dir "$T/ak1" --key weights --key reqkey --pcrs sha256:0,15
check "two keys in one request: both released, equal to the imported ones" \
    sh -c "cmp '$T/weights.in' '$T/g2/weights.key' && cmp '$T/reqkey.in' '$T/g2/reqkey.key'"
check "two keys: the receipt names both" \
    receipt_ok "$T/g2" "$KS_ID" "$AK1" "weights:1:boot:1,reqkey:1:boot:1"

release g3 --ak-dir "$T/ak2" --key weights --pcrs sha256:0,15
check "release with the RSA AK: granted, same key" cmp "$T/weights.in" "$T/g3/weights.key"
check "RSA AK: the receipt verifies and names it" \
    receipt_ok "$T/g3" "$KS_ID" "$AK2" "weights:1:boot:1"

release g4 --ak-dir "$T/ak1" --key weights@1 --pcrs sha256:0,15+sha1:0
check "a key named with its version (weights@1), quote over two banks: granted" \
    cmp "$T/weights.in" "$T/g4/weights.key"

release g5 --ak-dir "$T/ak1" --key weights --key reqkey --pcrs sha256:0,15 --encoding cbor
check "the same release as a CBOR body (application/cbor): granted, both keys equal" \
    sh -c "cmp '$T/weights.in' '$T/g5/weights.key' && cmp '$T/reqkey.in' '$T/g5/reqkey.key'"
check "CBOR: the receipt verifies and names the grant" \
    receipt_ok "$T/g5" "$KS_ID" "$AK1" "weights:1:boot:1,reqkey:1:boot:1"

# A hand-made grant, opened here with an independent HPKE implementation.
if python3 "$T/rq.py" have-crypto; then
    check "control: this HPKE-open reproduces the RFC 9180 vector" \
        python3 "$T/rq.py" selftest "$KS_TESTDATA/hpke/rfc9180-test-vectors.base-psk.x25519-p256.hkdf-sha256.aes-gcm.json"
    HAVE_CRYPTO=1
else
    HAVE_CRYPTO=""
fi
build h1 --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights --key reqkey
post h1
check "hand-made request: 200 with both keys" sh -c "[ \"\$(cat '$T/h1.status')\" = 200 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [k[\"name\"] for k in d[\"keys\"]] == [\"weights\", \"reqkey\"], d
assert all(k[\"version\"] == 1 for k in d[\"keys\"])' '$T/h1.body'"
mkdir -p "$T/h1"
python3 -c 'import base64, json, sys
d = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/receipt.payload", "wb").write(base64.b64decode(d["receipt"]["payload"]))
open(sys.argv[2] + "/receipt.sig", "wb").write(base64.b64decode(d["receipt"]["signature"]))' \
    "$T/h1.body" "$T/h1"
check "hand-made grant: the receipt binds the exact body and the HPKE key" \
    receipt_ok "$T/h1" "$KS_ID" "$AK1" "weights:1:boot:1,reqkey:1:boot:1" "$T/h1.json"
if [ -n "$HAVE_CRYPTO" ]; then
    check "hand-made grant: HPKE-opened here, both keys equal the imported ones" sh -c "
        python3 '$T/rq.py' open --sk '$T/h1.sk' --body '$T/h1.json' --resp '$T/h1.body' --name weights --out '$T/h1.weights' &&
        python3 '$T/rq.py' open --sk '$T/h1.sk' --body '$T/h1.json' --resp '$T/h1.body' --name reqkey --out '$T/h1.reqkey' &&
        cmp '$T/weights.in' '$T/h1.weights' && cmp '$T/reqkey.in' '$T/h1.reqkey'"
else
    ok "hand-made grant opened here # SKIP python3-cryptography not installed"
fi

# A k-of-n share (share 2 of a 2-of-3 split): the response and the signed
# receipt say where it lies; whole keys carry no "share" member.
head -c 32 /dev/urandom >"$T/wshare.in"
check "ksctl key import wshare: share 2 of a 2-of-3 split" \
    $B/ksctl key import wshare --policy boot --file "$T/wshare.in" --share-index 2 \
    --share-threshold 2 --share-count 3 --db "$DB" --master-key "$MK"
build h2 --ak-dir "$T/ak1" --pcrs sha256:0,15 --key wshare --key weights
post h2
mkdir -p "$T/h2"
check "share grant: 200; the share's coordinates in the response and in the signed receipt" \
    sh -c "[ \"\$(cat '$T/h2.status')\" = 200 ] && python3 -c '
import base64, json, sys
d = json.load(open(sys.argv[1]))
want = {\"index\": 2, \"threshold\": 2, \"count\": 3}
assert d[\"keys\"][0][\"share\"] == want, d
assert \"share\" not in d[\"keys\"][1], d
p = json.loads(base64.b64decode(d[\"receipt\"][\"payload\"]))
assert p[\"keys\"][0][\"share\"] == want and \"share\" not in p[\"keys\"][1], p
open(sys.argv[2] + \"/receipt.payload\", \"wb\").write(base64.b64decode(d[\"receipt\"][\"payload\"]))
open(sys.argv[2] + \"/receipt.sig\", \"wb\").write(base64.b64decode(d[\"receipt\"][\"signature\"]))
' '$T/h2.body' '$T/h2'"
check "share grant: the receipt's signature verifies" \
    openssl dgst -sha256 -verify "$T/receipt.pem" -signature "$T/h2/receipt.sig" "$T/h2/receipt.payload"
if [ -n "$HAVE_CRYPTO" ]; then
    check "share grant: HPKE-opened here, equal to the imported share" sh -c "
        python3 '$T/rq.py' open --sk '$T/h2.sk' --body '$T/h2.json' --resp '$T/h2.body' --name wshare --out '$T/h2.wshare' &&
        cmp '$T/wshare.in' '$T/h2.wshare'"
else
    ok "share grant opened here # SKIP python3-cryptography not installed"
fi

# ---- refusals: nonces ---------------------------------------------------------------------
S=$(audit_seq)
post h1
expect_refusal h1 "the same body replayed" 409 nonce_used "$S" refused "$AK1" \
    "nonce: nonce already used" "weights,reqkey"

S=$(audit_seq)
build forged --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights \
    --nonce "$(head -c 32 /dev/urandom | base64)"
post forged
expect_refusal forged "a forged nonce" 403 nonce_invalid "$S" refused "$AK1" \
    "nonce: nonce invalid" "weights"

# Expired: a second keyserverd on the same database with 1 s nonces.
if start_server b --nonce-lifetime 1; then
    B_URL="https://127.0.0.1:$PORT"
    B_PID=$KSD_PID
    python3 - "$B_URL" "$T/tls.crt" >"$T/bnonce" <<'PY'
import base64, json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
req = urllib.request.Request(sys.argv[1] + "/v1/challenge", data=b"{}", method="POST",
                             headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, context=ctx, timeout=20))["nonce"])
PY
    build expired --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights --nonce "$(cat "$T/bnonce")"
    sleep 2
    S=$(audit_seq)
    post expired "$B_URL"
    expect_refusal expired "an expired nonce (second keyserverd, --nonce-lifetime 1, 2 s later)" \
        403 nonce_expired "$S" refused "$AK1" \
        "nonce: nonce expired" "weights"
    kill "$B_PID" 2>/dev/null
    wait "$B_PID" 2>/dev/null
else
    not_ok "a second keyserverd with --nonce-lifetime 1 starts"
fi

# ---- refusals: attestation ------------------------------------------------------------------
S=$(audit_seq)
build unknown --ak-dir "$T/ak3" --pcrs sha256:0,15 --key weights
post unknown
expect_refusal unknown "an AK the keyserver does not know" 403 attestation_failed "$S" refused "$AK3" \
    "unknown AK" "weights"

S=$(audit_seq)
build other_ak --ak-dir "$T/ak2" --ak-id "$AK1" --pcrs sha256:0,15 --key weights
post other_ak
expect_refusal other_ak "a quote signed by the RSA AK2 sent as the ECC AK1" 403 attestation_failed \
    "$S" refused "$AK1" "quote: quote signature scheme does not match the key" "weights"
S=$(audit_seq)
build other_ak3 --ak-dir "$T/ak3" --ak-id "$AK1" --pcrs sha256:0,15 --key weights
post other_ak3
expect_refusal other_ak3 "a quote signed by another ECC AK sent as AK1" 403 attestation_failed \
    "$S" refused "$AK1" "quote: quote signature does not verify" "weights"

S=$(audit_seq)
build other_pk --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights --bind-other-pk
post other_pk
expect_refusal other_pk "extraData bound to another HPKE key than the one sent" 403 attestation_failed \
    "$S" refused "$AK1" "quote: quote extraData (nonce binding) mismatch" "weights"

S=$(audit_seq)
build digest --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights --alter-pcr sha256:15
post digest
expect_refusal digest "a submitted PCR value that does not match pcrDigest" 403 attestation_failed \
    "$S" refused "$AK1" "quote: PCR values do not match the quoted pcrDigest" "weights"

# The reasons name the precise failure (the audit trail holds them, the
# client gets the generic text).
check "refusal details do not tell which check failed" sh -c "
    [ \"\$(cat '$T/other_ak.body')\" = \"\$(cat '$T/digest.body')\" ] &&
    [ \"\$(cat '$T/other_ak3.body')\" = \"\$(cat '$T/digest.body')\" ] &&
    [ \"\$(cat '$T/other_pk.body')\" = \"\$(cat '$T/digest.body')\" ]"

# Revocation takes effect on the very next request.
release r4 --ak-dir "$T/ak4" --key weights --pcrs sha256:0,15
check "AK4 is granted before its revocation" cmp "$T/weights.in" "$T/r4/weights.key"
$B/ksctl ak revoke "$AK4" --reason "test" --db "$DB" >"$T/revoke.out" 2>&1
S=$(audit_seq)
build revoked --ak-dir "$T/ak4" --pcrs sha256:0,15 --key weights
post revoked
expect_refusal revoked "the very next request after ksctl ak revoke" 403 attestation_failed "$S" \
    refused "$AK4" "AK is revoked" "weights"
rc_r4b=$(release r4b --ak-dir "$T/ak4" --key weights --pcrs sha256:0,15; echo $?)
check "ks-attest with the revoked AK exits 1 and writes no key" \
    sh -c "[ '$rc_r4b' = 1 ] && ! [ -e '$T/r4b/weights.key' ]"

# Event log that does not replay: the secure-boot log for PCRs 0-7 while
# the swtpm's PCRs are at zero.
S=$(audit_seq)
build evlog --ak-dir "$T/ak1" --pcrs sha256:0-7,15 --key weights --event-log "$SECUREBOOT"
post evlog
expect_refusal evlog "an event log that does not replay (secure-boot log, PCRs at zero)" 403 attestation_failed "$S" refused "$AK1" \
    "event log does not replay to the quoted PCR sha256:0" "weights"

# ---- refusals: keys and policy --------------------------------------------------------------
S=$(audit_seq)
build nokey --ak-dir "$T/ak1" --pcrs sha256:0,15 --key nosuchkey
post nokey
expect_refusal nokey "an unknown key name with a good quote" 403 policy_denied "$S" refused "$AK1" \
    "unknown key" "nosuchkey"
S=$(audit_seq)
build nokey2 --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights --key nosuchkey
post nokey2
expect_refusal nokey2 "an unknown key next to a known one" 403 policy_denied "$S" refused "$AK1" "unknown key" \
    "weights,nosuchkey"
S=$(audit_seq)
build nokey_bad --ak-dir "$T/ak1" --pcrs sha256:0,15 --key nosuchkey --alter-pcr sha256:0
post nokey_bad
expect_refusal nokey_bad "an unknown key with a bad quote" 403 attestation_failed "$S" refused "$AK1" \
    "quote: PCR values do not match the quoted pcrDigest" "nosuchkey"

S=$(audit_seq)
build notsel --ak-dir "$T/ak1" --pcrs sha256:0 --key weights
post notsel
expect_refusal notsel "a quote that does not select a PCR the policy names" 403 policy_denied "$S" refused "$AK1" \
    "key weights: quote does not select PCR sha256:15" "weights"

# A PCR value the policy does not allow: extend PCR 15 after making it.
tpm2_pcrextend "15:sha256=$(printf 'ks-test' | sha256sum | cut -d' ' -f1)" >/dev/null
P15B=$(pcrval 15)
S=$(audit_seq)
build pcrval --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights
post pcrval
expect_refusal pcrval "a PCR extended after the policy was made" 403 policy_denied "$S" refused "$AK1" \
    "key weights: PCR sha256:15 value not allowed by the policy" "weights"
check "an unknown key and a denied policy look the same to the client" \
    test "$(cat "$T/nokey.body")" = "$(cat "$T/pcrval.body")"
rc_pv=$(release pv --ak-dir "$T/ak1" --key weights --pcrs sha256:0,15; echo $?)
check "ks-attest release after the PCR changed: refused (exit 1), no key written" \
    sh -c "[ '$rc_pv' = 1 ] && ! [ -e '$T/pv/weights.key' ]"

# Policy activation applies to the next request, without a restart.
$B/ksctl policy pcr boot 15 "$P15B" --db "$DB" >"$T/pol2.out" 2>&1
S=$(audit_seq)
rc_pd=$(release pd --ak-dir "$T/ak1" --key weights --pcrs sha256:0,15; echo $?)
check "a draft alone changes nothing (still refused)" test "$rc_pd" = 1
$B/ksctl policy activate boot --db "$DB" >>"$T/pol2.out" 2>&1
release pa --ak-dir "$T/ak1" --key weights --pcrs sha256:0,15
check "after 'ksctl policy activate' the next request is granted" \
    cmp "$T/weights.in" "$T/pa/weights.key"
check "its receipt names policy boot version 2" \
    receipt_ok "$T/pa" "$KS_ID" "$AK1" "weights:1:boot:2"
# `policy pcr --remove` needs a draft and does not make one from the active
# version (`policy pcr` without --remove does): make it by adding a value
# that is removed again.
FF32=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
{
    $B/ksctl policy pcr boot 0 "$FF32" --db "$DB" &&
        $B/ksctl policy pcr boot 0 "$FF32" --remove --db "$DB" &&
        $B/ksctl policy pcr boot 15 "$P15B" --remove --db "$DB" &&
        $B/ksctl policy activate boot --db "$DB"
} >>"$T/pol2.out" 2>&1
S=$(audit_seq)
build pcrval3 --ak-dir "$T/ak1" --pcrs sha256:0,15 --key weights
post pcrval3
expect_refusal pcrval3 "policy version 3 (value removed, activated)" 403 policy_denied "$S" refused "$AK1" \
    "PCR sha256:15 value not allowed" "weights"
check "ksctl policy show: version 3 active, PCR 15 back to its old value only" sh -c "
    $B/ksctl policy show boot --json --db '$DB' | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"version\"] == 3 and d[\"state\"] == \"active\", d
assert sorted((r[\"pcr\"], r[\"digest\"]) for r in d[\"rules\"]) == [(0, \"$ZERO32\"), (15, \"$ZERO32\")], d'"

# ---- refusals: malformed requests (counted in /metrics, not audited) ----------------------
M0=$(metric keyserverd_malformed_requests_total)
S=$(audit_seq)
raw() { # raw NAME CONTENT-TYPE FILE
    $CURL -o "$T/$1.body" -w '%{http_code}' -H "Content-Type: $2" --data-binary "@$3" \
        "$URL/v1/release" >"$T/$1.status" 2>"$T/$1.err"
}
printf '{"ak_id": "%s", "nonce": ' "$AK1" >"$T/m1.in"
raw m1 application/json "$T/m1.in"
check "malformed JSON -> 400 bad_request" refused m1 400 bad_request
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["quote"]["attest"] = d["quote"]["attest"][:-2] + "!="
json.dump(d, open(sys.argv[2], "w"))' "$T/pcrval3.json" "$T/m2.in"
raw m2 application/json "$T/m2.in"
check "bad base64 in quote.attest -> 400 bad_request naming the field" \
    sh -c "[ \"\$(cat '$T/m2.status')\" = 400 ] && grep -q 'quote.attest: invalid base64' '$T/m2.body' && grep -q bad_request '$T/m2.body'"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["event_log"] = "A" * (1100 * 1024)
json.dump(d, open(sys.argv[2], "w"))' "$T/pcrval3.json" "$T/m3.in"
raw m3 application/json "$T/m3.in"
check "a body over the limit (1 MiB) -> 413 too_large" refused m3 413 too_large
raw m4 text/plain "$T/pcrval3.json"
check "a release with Content-Type text/plain -> 415 unsupported_media_type" \
    refused m4 415 unsupported_media_type
M1=$(metric keyserverd_malformed_requests_total)
check "/metrics counts the 4 malformed requests" test "$((M1 - M0))" -eq 4
check "malformed requests leave no audit row" test "$(audit_seq)" -eq "$S"

# ---- the event log path, with a TPM in the log's state -----------------------------------
# Extend the swtpm's PCRs 0-9 and 14 with the secure-boot log's events, so
# that the log replays to the quoted values, then check one digest changed.
$B/ksctl eventlog show "$SECUREBOOT" --json | python3 -c '
import json, sys
args = ["%d:sha256=%s" % (e["pcr"], e["digests"]["sha256"]) for e in json.load(sys.stdin)
        if e["type"] != "EV_NO_ACTION" and "sha256" in e["digests"]]
print("\n".join(args))' >"$T/extends"
while read -r a; do tpm2_pcrextend "$a" >/dev/null || break; done <"$T/extends"
check "the swtpm's PCRs 0 and 7 now hold the log's values (expected-pcrs.txt)" \
    test "$(pcrval 0) $(pcrval 7)" = "0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff 2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1"
{
    $B/ksctl policy create fw --db "$DB" &&
        $B/ksctl policy pcr fw 0 0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff --db "$DB" &&
        $B/ksctl policy pcr fw 7 2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1 --db "$DB" &&
        $B/ksctl policy activate fw --db "$DB" &&
        head -c 32 /dev/urandom >"$T/fwkey.in" &&
        $B/ksctl key import fwkey --policy fw --file "$T/fwkey.in" --db "$DB" --master-key "$MK"
} >"$T/fw.out" 2>&1
release fw --ak-dir "$T/ak1" --key fwkey --pcrs sha256:0-7 --eventlog "$SECUREBOOT"
check "with the secure-boot log replaying to PCRs 0-7: granted" cmp "$T/fwkey.in" "$T/fw/fwkey.key"
# One digest of an event on PCR 4 changed.
$B/ksctl eventlog show "$SECUREBOOT" --json | python3 -c '
import json, sys
ev = [e for e in json.load(sys.stdin) if e["pcr"] == 4 and e["type"] != "EV_NO_ACTION"][0]
log = bytearray(open(sys.argv[1], "rb").read())
# TCG_PCR_EVENT2: pcrIndex, eventType, count (4 bytes each), then alg (2) and the digest.
at = ev["offset"] + 12 + 2
assert log[at:at + 32].hex() == ev["digests"]["sha256"]
log[at] ^= 1
open(sys.argv[2], "wb").write(log)' "$SECUREBOOT" "$T/evil.bin"
S=$(audit_seq)
build evil --ak-dir "$T/ak1" --pcrs sha256:0-7 --key fwkey --event-log "$T/evil.bin"
post evil
expect_refusal evil "an event log with one digest changed" 403 attestation_failed "$S" refused "$AK1" \
    "event log does not replay to the quoted PCR sha256:4" "fwkey"

# ---- the end ----------------------------------------------------------------------------------
check "keyserverd is still running" kill -0 "$A_PID"
G=$(metric keyserverd_releases_granted_total)
check "/metrics: grants counted" test "$G" -ge 8
# Each policy version is read and compiled once, then served from the cache;
# the activations above each brought a new version (a miss), not a stale hit.
PH=$(metric keyserverd_policy_cache_hits_total)
PM=$(metric keyserverd_policy_cache_misses_total)
PV=$(metric keyserverd_policy_cache_versions)
check "/metrics: compiled policy versions reused (hits $PH, misses $PM, held $PV)" \
    sh -c "[ '$PH' -ge 8 ] && [ '$PM' -ge 3 ] && [ '$PV' -ge 3 ] && [ '$PM' -lt '$PH' ]"
check "ksctl audit verify passes" $B/ksctl audit verify --db "$DB"
kill -TERM "$A_PID"
wait "$A_PID"
check "keyserverd exits 0 on SIGTERM" test $? -eq 0
check "no key material in the daemon's log" sh -c "
    ! grep -q \"\$(od -An -tx1 '$T/weights.in' | tr -d ' \n')\" '$T/a.log' &&
    ! grep -q \"\$(base64 < '$T/weights.in')\" '$T/a.log'"

done_testing
exit $?
