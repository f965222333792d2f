#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole confidential-inference path on a software TPM (CPU backend):
# swtpm, keyserverd (HTTPS), a policy pinning the application PCR value that
# ks-launch produces, a sealed model, ks-launch -> ks-loader, ks-client
# through ks-relay; the completion equals the plaintext model's
# (ks-seal run-plaintext) and an independent Python client's
# (infer_client.py, RFC 9180 on the `cryptography` package).
# Refused, each followed by a good request that is still served: INFER
# before LOAD, unsigned / wrongly signed programs, a program for other
# weights, a request to another key, a request encrypted to another key, a
# replayed request, the egress budget (its own boot and configuration);
# a statement that does not verify with the pinned receipt key.
# The loader refuses to start: a tampered, truncated, extended or
# reordered sealed file; a modified loader binary (another application PCR
# value) is refused its keys; ks-launch refuses a PCR it has no log for.
# Secrets: a core of the running loader (gcore) holds neither the DEK, nor
# the request key, nor 64-byte windows of the weights (the socket path is
# found, so the search works); /proc/PID/smaps shows the weights locked and
# excluded from dumps; no log holds key material.
# The loader enrolls a fresh AK at every start (EK certificate from the
# swtpm's local CA). "Reboots" restart the swtpm on its state (PCRs back to
# zero).
. "$KS_SRCDIR/tests/integration/common.sh"
. "$KS_SRCDIR/tests/integration/loader_lib.sh"

need_tools swtpm python3 openssl curl tpm2_pcrread tpm2_getrandom tpm2_shutdown
L=$KS_BUILDDIR/loader-ref
for p in ks-loader ks-launch ks-client ks-relay ks-seal; do
    [ -x "$L/$p" ] || skip_all "$p not built"
done
KSD_BIN=$KS_BUILDDIR/keyserverd/keyserverd
[ -x "$KSD_BIN" ] || skip_all "keyserverd not built"
TSS2_LOG=all+none
export TSS2_LOG
T=$TEST_TMP
CLIENT="${VALGRIND:+$VALGRIND }$L/ks-client"
SEAL=$L/ks-seal
PY_ORACLE=yes
python3 -c 'import cryptography' 2>/dev/null || PY_ORACLE=no

# check_out "desc" WANT command...: the command succeeds and prints WANT.
check_out() {
    desc=$1
    want=$2
    shift 2
    got=$("$@" 2>"$T/co.err")
    rc=$?
    if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc)"
        echo "# want: $want"
        echo "# got:  $got"
        sed 's/^/# /' "$T/co.err" | head -10
    fi
}

# check_refused "desc" CODE command...: exit 1 and "refused: CODE" on stderr.
check_refused() {
    desc=$1
    code=$2
    shift 2
    "$@" >"$T/cr.out" 2>"$T/cr.err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "refused: $code" "$T/cr.err"; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc)"
        sed 's/^/# /' "$T/cr.out" "$T/cr.err" | head -10
    fi
}

if ! swtpm_start "$T/tpm" ek; then
    not_ok "swtpm starts"
    done_testing
    exit 1
fi

# ---- the keyserver ----------------------------------------------------------
$KSCTL init --db "$T/ks.db" --master-key "$T/mk" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=keyserver-test \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
$KSD_BIN --listen 127.0.0.1:0 --port-file "$T/ksd.port" --tls-cert "$T/tls.crt" \
    --tls-key "$T/tls.key" --db "$T/ks.db" --master-key "$T/mk" 2>"$T/keyserverd.log" &
at_exit "kill $! 2>/dev/null"
check "keyserverd listens" wait_file "$T/ksd.port"
URL=https://127.0.0.1:$(cat "$T/ksd.port")
RK=$(curl -s --cacert "$T/tls.crt" "$URL/v1/info" | json_field receipt_key)
check "the receipt key from /v1/info" test -n "$RK"

# ---- the data owner, the CI, the admin ----------------------------------------
$SEAL gen-model --seed 42 --out "$T/w.bin" >/dev/null
$SEAL gen-model --seed 43 --out "$T/other.bin" >/dev/null
$SEAL ci-keygen --out-priv "$T/ci.key" --out-pub "$T/ci.pub" >/dev/null
$SEAL ci-keygen --out-priv "$T/ci2.key" --out-pub "$T/ci2.pub" >/dev/null
$SEAL sign-program --ci-key "$T/ci.key" --weights "$T/w.bin" --name good --max-new-tokens 24 \
    --out "$T/good.json" >/dev/null
$SEAL sign-program --ci-key "$T/ci2.key" --weights "$T/w.bin" --name rogue \
    --out "$T/wrong-signer.json" >/dev/null
$SEAL sign-program --ci-key "$T/ci.key" --weights "$T/other.bin" --name other \
    --out "$T/other-weights.json" >/dev/null
# The good program with its manifest edited (max_new_tokens) and the
# signature kept.
python3 - "$T/good.json" "$T/tampered.json" <<'EOF'
import base64, json, sys
p = json.load(open(sys.argv[1]))
m = json.loads(base64.b64decode(p["manifest"]))
m["max_new_tokens"] = 128
p["manifest"] = base64.b64encode(json.dumps(m, separators=(",", ":")).encode()).decode()
json.dump(p, open(sys.argv[2], "w"))
EOF
# 4 KiB chunks: the file has ~120 of them, enough to reorder.
$SEAL seal --in "$T/w.bin" --out "$T/w.sealed" --key-name weights-dek --chunk-size 4K \
    --key-out "$T/dek" >/dev/null
cp "$T/w.sealed" "$T/good.sealed"
head -c 32 /dev/urandom >"$T/req.sk"
# The loader enrolls a fresh AK at each start: its EK certificate chains to
# the swtpm's local CA, trusted with auto-approval.
$KSCTL ekca add "$T/tpm/localca/issuercert.pem" --auto-approve --db "$T/ks.db" >/dev/null


write_config() {
    cat >"$1" <<EOF
# ks-loader configuration of the integration test
keyserver = $URL
cacert = $T/tls.crt
receipt_key = $RK
request_key = req
sealed = $T/w.sealed
socket = $T/loader.sock
pcrs = sha256:15
backend = cpu
unseal_threads = 2
EOF
    if [ $UNLOCKED = yes ]; then
        echo "allow_unlocked = yes" >>"$1"
    fi
}
write_config "$T/a.conf"
write_config "$T/b.conf"
printf 'egress_bytes = 2000\negress_window = 3\n' >>"$T/b.conf"

# ---- the application PCR values, predicted --------------------------------------
for c in a b; do
    $L/ks-launch --measure-only --loader "$L/ks-loader" --config "$T/$c.conf" \
        --ci-key "$T/ci.pub" --log "$T/$c.expected.log" >"$T/$c.expected"
done
PCR_A=$(sed -n 's/^sha256:15=//p' "$T/a.expected")
PCR_B=$(sed -n 's/^sha256:15=//p' "$T/b.expected")
check "ks-launch --measure-only predicts a PCR 15 value" test ${#PCR_A} -eq 64
check "another configuration, another value" test "$PCR_A" != "$PCR_B"
replayed() {
    $KSCTL eventlog replay --json --bank sha256 "$1" | json_field banks.sha256.15
}
check_out "ksctl eventlog replay of the predicted log gives it" "$PCR_A" \
    replayed "$T/a.expected.log"
check "the predicted log: a Spec ID header, then the three EV_EVENT_TAG events" sh -c "
    $KSCTL eventlog show --json '$T/a.expected.log' | python3 -c '
import json, sys
ev = json.load(sys.stdin)
assert [e[\"type\"] for e in ev] == [\"EV_NO_ACTION\"] + [\"EV_EVENT_TAG\"] * 3, ev
assert [e[\"pcr\"] for e in ev[1:]] == [15] * 3
assert [e[\"data_check\"] for e in ev[1:]] == [\"match\"] * 3
d = [e[\"description\"] for e in ev[1:]]
for e, tag in zip(d, (\"ks-loader-exe\", \"ks-loader-config\", \"ks-ci-key\")):
    assert e.startswith(chr(34) + tag), d
'"

# ---- the policy and the keys ------------------------------------------------------
$KSCTL policy create app --db "$T/ks.db" >/dev/null
$KSCTL policy pcr app 15 "$PCR_A" --db "$T/ks.db" >/dev/null
$KSCTL policy pcr app 15 "$PCR_B" --db "$T/ks.db" >/dev/null
$KSCTL policy activate app --db "$T/ks.db" >/dev/null
$KSCTL key import weights-dek --policy app --file "$T/dek" --db "$T/ks.db" \
    --master-key "$T/mk" >/dev/null
$KSCTL key import req --kind hpke --policy app --file "$T/req.sk" --db "$T/ks.db" \
    --master-key "$T/mk" >"$T/req.import"
REQ_PK=$(sed -n 's/^public key (X25519): //p' "$T/req.import")
$KSCTL key create other --kind hpke --policy app --db "$T/ks.db" --master-key "$T/mk" \
    >/dev/null


# ---- boot 1: the good loader -----------------------------------------------------------
check "ks-launch -> ks-loader: enrolled a fresh AK, attested, unsealed, serving" \
    start_loader "$T/a.conf"
AK1=$(sed -n 's/^ks-loader: attestation key //p' "$T/loader.log")
sed 's/^/# /' "$T/loader.log"
cat "$T/loader.log" >>"$T/all-loader.log"
TPM15=$(tpm2_pcrread sha256:15 | sed -n 's/^ *15 *: *0x//p' | tr 'A-F' 'a-f')
check "the TPM's PCR 15 is the predicted value" test "$TPM15" = "$PCR_A"
check_out "ksctl eventlog replay of the application log gives the TPM's PCR 15" "$TPM15" \
    replayed "$T/app.log"
check "the application log replays to the TPM's PCR 15 in every bank it allocates" python3 -c "
import json, subprocess
banks = json.loads(subprocess.run(['$KSCTL', 'eventlog', 'replay', '--json', '$T/app.log'],
                                  capture_output=True, check=True).stdout)['banks']
assert len(banks) >= 2, banks
for bank, pcrs in banks.items():
    out = subprocess.run(['tpm2_pcrread', bank + ':15'], capture_output=True, text=True,
                         check=True).stdout
    tpm = out.split('0x')[1].strip().lower()
    assert pcrs['15'] == tpm, (bank, pcrs['15'], tpm)
"
if command -v tpm2_eventlog >/dev/null 2>&1; then
    check "tpm2_eventlog replays the application log to the same PCR 15" sh -c "
        tpm2_eventlog '$T/app.log' | tr 'A-F' 'a-f' | grep -q '15 *: *0x$TPM15'"
fi

$L/ks-relay --listen 127.0.0.1:0 --socket "$T/loader.sock" --port-file "$T/relay.port" \
    2>"$T/relay.log" &
at_exit "kill $! 2>/dev/null"
check "ks-relay listens" wait_file "$T/relay.port"
RELAY=127.0.0.1:$(cat "$T/relay.port")

KEYOPTS="--server $URL --cacert $T/tls.crt --receipt-key $RK"
infer() { # PROMPT N [more ks-client options]
    p=$1
    n=$2
    shift 2
    $CLIENT infer $KEYOPTS --key req --connect "$RELAY" --prompt "$p" --max-new "$n" \
        --output hex "$@"
}
reference() { # PROMPT N
    $SEAL run-plaintext --weights "$T/w.bin" --prompt "$1" --n "$2" --allow-unlocked | sed 's/^generated //'
}
GOOD_REF=$(reference "still serving?" 8)
still_serving() {
    check_out "... and a good request is still served" "$GOOD_REF" infer "still serving?" 8
}

check_refused "INFER before any LOAD is refused" no_program infer "hello" 4
check_refused "LOAD of a program whose manifest was edited is refused" program_signature \
    $CLIENT load --connect "$RELAY" --program "$T/tampered.json"
check_refused "LOAD of a program signed by another key is refused" program_signature \
    $CLIENT load --connect "$RELAY" --program "$T/wrong-signer.json"
check_refused "LOAD of a program for other weights is refused" program_weights \
    $CLIENT load --connect "$RELAY" --program "$T/other-weights.json"
check "LOAD of the CI-signed program" $CLIENT load --connect "$RELAY" --program "$T/good.json"
still_serving

for spec in "hello world|16" "The quick brown fox|24" "x|1" "a longer prompt, with punctuation: 1, 2, 3.|5"; do
    p=${spec%|*}
    n=${spec##*|}
    check_out "completion of '$p' ($n bytes) through the relay = the plaintext model's" \
        "$(reference "$p" "$n")" infer "$p" "$n"
done
check_out "max_new 0 means the program's max_new_tokens (24)" "$(reference "zero" 24)" \
    infer "zero" 0
check_out "more than the program allows is capped at 24" "$(reference "cap" 24)" infer "cap" 100
check_out "directly on the socket, the same" "$(reference "hello world" 16)" \
    $CLIENT infer $KEYOPTS --key req --socket "$T/loader.sock" --prompt "hello world" \
    --max-new 16 --output hex
$CLIENT pubkey $KEYOPTS --key req --out "$T/statement.json" >"$T/pubkey.out" 2>&1
check "ks-client pubkey verifies the statement: req 1 and the imported key's public half" \
    grep -q "^req 1 $REQ_PK\$" "$T/pubkey.out"
PK_HEX=$(cut -d' ' -f3 "$T/pubkey.out")
check_out "a saved statement (verified again) works as well" "$(reference "saved" 8)" \
    $CLIENT infer --statement "$T/statement.json" --receipt-key "$RK" --key req \
    --connect "$RELAY" --prompt saved --max-new 8 --output hex
if [ $PY_ORACLE = yes ]; then
    check_out "an independent Python INFER client (RFC 9180 self-tested) gets the same" \
        "$(reference "hello world" 16)" python3 "$KS_SRCDIR/tests/integration/infer_client.py" \
        --hpke-vectors "$KS_TESTDATA/hpke/rfc9180-test-vectors.base-psk.x25519-p256.hkdf-sha256.aes-gcm.json" \
        --public-key "$PK_HEX" --key req --version 1 --prompt "hello world" --max-new 16 \
        --connect "$RELAY"
else
    ok "an independent Python INFER client # SKIP python3 cryptography missing"
fi

# The end user pins the receipt key: another key, or a statement changed on
# the way, is refused before anything is sent.
BADRK=$(openssl ecparam -name prime256v1 -genkey 2>/dev/null | openssl ec -pubout -outform DER \
    2>/dev/null | base64 -w0)
check_fails "a statement checked against another receipt key is refused" \
    $CLIENT infer --server "$URL" --cacert "$T/tls.crt" --receipt-key "$BADRK" --key req \
    --connect "$RELAY" --prompt x
python3 - "$T/statement.json" "$T/statement-subst.json" <<'EOF'
import base64, json, os, sys
s = json.load(open(sys.argv[1]))
p = json.loads(base64.b64decode(s["statement"]["payload"]))
p["public_key"] = base64.b64encode(os.urandom(32)).decode()
s["statement"]["payload"] = base64.b64encode(json.dumps(p).encode()).decode()
json.dump(s, open(sys.argv[2], "w"))
EOF
check_fails "a statement with a substituted public key is refused" \
    $CLIENT infer --statement "$T/statement-subst.json" --receipt-key "$RK" --key req \
    --connect "$RELAY" --prompt x

check_refused "a request to another key (name) is refused" wrong_key \
    $CLIENT infer $KEYOPTS --key other --connect "$RELAY" --prompt "hello" --max-new 4
still_serving
OTHER_PK=$($CLIENT pubkey $KEYOPTS --key other | cut -d' ' -f3)
check_refused "a request encrypted to another key is refused" decrypt_failed \
    infer "hello" 4 --unverified-public-key "$OTHER_PK"
still_serving
check "a request, saved as sent" infer "replay me" 4 --save-request "$T/replayed.req"
check_refused "the same request again (same enc) is refused" replay \
    $CLIENT send --connect "$RELAY" --request "$T/replayed.req"
still_serving
printf '{"op": "infer", "key": "req"' >"$T/short.req"
check_refused "a request that is not JSON is refused" bad_request \
    $CLIENT send --connect "$RELAY" --request "$T/short.req"
still_serving

$CLIENT stats --connect "$RELAY" >"$T/stats.json" 2>&1
check "STATS counts each refusal by its code" python3 -c "
import json, sys
s = json.load(open('$T/stats.json'))['stats']
want = {'no_program': 1, 'program_signature': 2, 'program_weights': 1, 'wrong_key': 1,
        'decrypt_failed': 1, 'replay': 1, 'bad_request': 1}
assert s['refused'] == want, s['refused']
assert s['served']['load'] == 1 and s['served']['infer'] >= 14, s['served']
assert s['program']['name'] == 'good', s
"

# ---- secrets ----------------------------------------------------------------------------
if ! command -v gcore >/dev/null 2>&1 || [ "${ASAN_BUILD:-}" = yes ]; then
    # (an ASan process maps terabytes of shadow memory: no core to search)
    why="gdb (gcore) not installed"
    [ "${ASAN_BUILD:-}" = yes ] && why="ASan build"
    for d in "the core holds the socket path" "the core holds neither the DEK nor the request key" \
        "the core holds no window of the weights"; do
        ok "$d # SKIP $why"
    done
elif gcore -o "$T/core" "$LOADER_PID" >"$T/gcore.log" 2>&1 && [ -s "$T/core.$LOADER_PID" ]; then
    check "the core holds the socket path (the search finds what is there)" python3 -c "
import sys
sys.exit(0 if b'$T/loader.sock' in open('$T/core.$LOADER_PID', 'rb').read() else 1)"
    check "the core holds neither the DEK nor the request key" python3 -c "
import sys
core = open('$T/core.$LOADER_PID', 'rb').read()
for f in ('$T/dek', '$T/req.sk'):
    k = open(f, 'rb').read()
    assert len(k) == 32
    if k in core:
        sys.exit(f + ' found in the core')
"
    check "the core holds none of 16 64-byte windows of the weights" python3 -c "
import sys
core = open('$T/core.$LOADER_PID', 'rb').read()
w = open('$T/w.bin', 'rb').read()
found = [o for o in range(64, len(w) - 64, (len(w) - 128) // 16) if w[o:o + 64] in core]
sys.exit('windows found at %s' % found if found else 0)
"
    rm -f "$T/core.$LOADER_PID"
else
    sed 's/^/# /' "$T/gcore.log" | tail -5
    not_ok "gcore of the running loader"
fi
WLEN=$(wc -c <"$T/w.bin")
LOCKED_WANT=1
[ $UNLOCKED = yes ] && LOCKED_WANT=0
check "smaps: the weights' mapping is locked whole and excluded from dumps" python3 -c "
import sys
want_kb = ($WLEN + 4095) // 4096 * 4
maps, cur = [], None
for line in open('/proc/$LOADER_PID/smaps'):
    f = line.split()
    if '-' in f[0] and len(f) >= 5 and ':' not in f[0]:
        cur = {'range': f[0]}
        maps.append(cur)
    elif f[0] in ('Size:', 'Locked:'):
        cur[f[0]] = int(f[1])
    elif f[0] == 'VmFlags:':
        cur['flags'] = f[1:]
hits = [m for m in maps if m.get('Size:') == want_kb]
good = [m for m in hits if (m['Locked:'] == want_kb or not $LOCKED_WANT) and 'dd' in m['flags']]
sys.exit(0 if good else 'no locked dd mapping of %d kB: %s' % (want_kb, hits))
"
stop_loader
check "SIGTERM: the loader stops cleanly and removes its socket" test $? -eq 0 -a ! -e "$T/loader.sock"

# Fail closed: with a 64 KiB memlock limit and no CAP_IPC_LOCK (a user
# namespace), a loader without allow_unlocked refuses to start (exit 3),
# before it opens anything else.
if [ $UNLOCKED = no ] && unshare -U true 2>/dev/null; then
    unshare -U sh -c "ulimit -l 64 && exec '$L/ks-loader' --config '$T/a.conf' \
        --ci-key '$T/ci.pub'" >"$T/locked.out" 2>&1
    rc=$?
    check "memory that cannot be locked: the loader refuses to start (exit 3)" \
        test $rc -eq 3 -a ! -e "$T/loader.sock"
    check "... saying why" grep -q "secure memory: .*cannot be locked" "$T/locked.out"
else
    ok "memory that cannot be locked: the loader refuses to start # SKIP no user namespaces"
    ok "... saying why # SKIP no user namespaces"
fi
cat "$T/loader.log" >>"$T/all-loader.log"

# ---- boot 2: the egress budget (2000 bytes per 3 s) ---------------------------------
reboot
check "boot 2: the loader with a 2000-byte egress budget" start_loader "$T/b.conf"
AK2=$(sed -n 's/^ks-loader: attestation key //p' "$T/loader.log")
check "... with another fresh AK" test -n "$AK1" -a -n "$AK2" -a "$AK1" != "$AK2"
cat "$T/loader.log" >>"$T/all-loader.log"
$CLIENT load --socket "$T/loader.sock" --program "$T/good.json" >/dev/null 2>&1
$CLIENT infer $KEYOPTS --key req --socket "$T/loader.sock" --prompt burst --max-new 16 \
    --count 40 >"$T/burst.out" 2>&1
check "40 requests at once: some served, the rest refused for the budget" sh -c "
    grep -Eq '^ok [1-9][0-9]* refused [1-9][0-9]* last egress_budget\$' '$T/burst.out'"
sed 's/^/# /' "$T/burst.out"
sleep 4
$CLIENT stats --socket "$T/loader.sock" >"$T/stats2.json" 2>&1
check "STATS (a new window) counts the egress refusals" python3 -c "
import json, re
s = json.load(open('$T/stats2.json'))['stats']
n = int(re.search(r'refused (\d+)', open('$T/burst.out').read()).group(1))
assert s['refused']['egress_budget'] == n, (s, n)
assert s['egress']['budget'] == 2000 and s['egress']['window'] == 3, s
"
check_out "... and a good request is served again" "$(reference "after" 8)" \
    $CLIENT infer $KEYOPTS --key req --socket "$T/loader.sock" --prompt after --max-new 8 \
    --output hex
stop_loader
cat "$T/loader.log" >>"$T/all-loader.log"

# ---- the loader refuses to start on a damaged sealed file -------------------------------
HLEN=$((73 + 11)) # the header with the key name "weights-dek"
CHUNK=$((4096 + 16))
python3 - "$T/good.sealed" "$T" $HLEN $CHUNK <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
t, h, c = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
flip = bytearray(d)
flip[h + 5 * c + 100] ^= 1
open(t + "/bad-flipped", "wb").write(flip)
open(t + "/bad-truncated", "wb").write(d[:-100])
open(t + "/bad-extended", "wb").write(d + b"\0")
open(t + "/bad-reordered", "wb").write(d[:h + 2 * c] + d[h + 3 * c:h + 4 * c] +
                                       d[h + 2 * c:h + 3 * c] + d[h + 4 * c:])
hdr = bytearray(d)
hdr[20] ^= 1  # the plaintext length
open(t + "/bad-header", "wb").write(hdr)
EOF
for bad in flipped truncated extended reordered header; do
    reboot
    cp "$T/bad-$bad" "$T/w.sealed"
    start_loader "$T/a.conf"
    wait "$LOADER_PID"
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ ! -e "$T/loader.sock" ] &&
        grep -Eq 'sealed weights|cannot unseal' "$T/loader.log"; then
        ok "a $bad sealed file: the loader refuses to start (exit $rc)"
    else
        not_ok "a $bad sealed file: the loader refuses to start (exit $rc)"
        sed 's/^/# /' "$T/loader.log"
    fi
    cat "$T/loader.log" >>"$T/all-loader.log"
done
cp "$T/good.sealed" "$T/w.sealed"

# ---- a modified loader binary: another PCR value, no keys --------------------------------
reboot
cp "$L/ks-loader" "$T/ks-loader-modified"
printf 'x' >>"$T/ks-loader-modified"
start_loader "$T/a.conf" "$T/ks-loader-modified"
wait "$LOADER_PID"
rc=$?
check "a modified loader binary (one byte appended) is refused its keys (exit 1)" \
    test $rc -eq 1 -a ! -e "$T/loader.sock"
check "... by the keyserver's policy (403 policy_denied)" \
    grep -q "release refused: HTTP 403 policy_denied" "$T/loader.log"
cat "$T/loader.log" >>"$T/all-loader.log"
TPM15=$(tpm2_pcrread sha256:15 | sed -n 's/^ *15 *: *0x//p' | tr 'A-F' 'a-f')
check "... its application log replays to the TPM's PCR 15 all the same" \
    test "$(replayed "$T/app.log")" = "$TPM15" -a "$TPM15" != "$PCR_A"
rm -f "$T/app.log"
check_fails "ks-launch refuses a PCR 15 that holds measurements it has no log for" \
    $L/ks-launch --loader "$L/ks-loader" --config "$T/a.conf" --ci-key "$T/ci.pub" \
    --log "$T/app.log" --tcti "$KS_TCTI"
check "... and extends nothing" test "$(tpm2_pcrread sha256:15 | sed -n 's/^ *15 *: *0x//p' |
    tr 'A-F' 'a-f')" = "$TPM15"

# ---- no log holds key material ------------------------------------------------------------
check "no log holds the DEK or the request key (hex or base64)" python3 -c "
import base64, glob, sys
keys = [open(f, 'rb').read() for f in ('$T/dek', '$T/req.sk')]
pats = []
for k in keys:
    pats += [k.hex().encode(), k.hex().upper().encode(), base64.b64encode(k)[:40]]
for f in ['$T/all-loader.log', '$T/relay.log', '$T/keyserverd.log'] + glob.glob('$T/*.out'):
    data = open(f, 'rb').read()
    for p in pats:
        if p in data:
            sys.exit('key material in ' + f)
"
check "the relay saw sizes only (it logged a line per request)" \
    grep -q "request [0-9]* bytes -> response [0-9]* bytes" "$T/relay.log"

done_testing
exit $?
