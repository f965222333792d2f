#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operations side of ksctl(8) against a real swtpm + keyserverd + ks-attest
# (setup as in release_swtpm.sh): key rotate / retire / attach / delete / show /
# public, ak show / remove, audit export (re-verified here by an independent
# implementation of the chain) / prune, status, backup during a release burst
# and restore of each backup, restore of the live database, master key
# rotation followed by a restart. Every documented error is checked for its
# exit status.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm tpm2_pcrread openssl curl python3

B=$KS_BUILDDIR
KEYSERVERD="${VALGRIND:+$VALGRIND }$B/keyserverd/keyserverd"
KS_ATTEST="$B/loader-ref/ks-attest"
SLOW=${VALGRIND:+5}
SLOW=${SLOW:-1}
T=$TEST_TMP
DB=$T/ks.db
MK=$T/master.key
K="$KSCTL"
KD="--db $DB"
KM="--db $DB --master-key $MK"

# exits STATUS DESCRIPTION COMMAND...: the command exits with exactly STATUS;
# its output is kept in $T/cmd.out and $T/cmd.err.
exits() {
    want=$1 desc=$2
    shift 2
    "$@" >"$T/cmd.out" 2>"$T/cmd.err"
    rc=$?
    if [ "$rc" = "$want" ]; then
        ok "$desc (exit $want)"
    else
        not_ok "$desc (exit $rc, wanted $want)"
        sed 's/^/# /' "$T/cmd.out" "$T/cmd.err" | head -20
    fi
}

# ---- keyserver, TPM, AKs, policy, keys -------------------------------------------
swtpm_start "$T/tpm" || skip_all "swtpm does not start"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=keyserver \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || skip_all "openssl cannot make a certificate"
$K init $KM >"$T/init.out" 2>&1 || { sed 's/^/# /' "$T/init.out"; skip_all "ksctl init failed"; }

# start_server NAME: a keyserverd on a free port; sets URL, KSD_PID.
start_server() {
    rm -f "$T/$1.port"
    $KEYSERVERD --listen 127.0.0.1:0 --port-file "$T/$1.port" --tls-cert "$T/tls.crt" \
        --tls-key "$T/tls.key" --db "$DB" --master-key "$MK" --rate-limit 0 2>"$T/$1.log" &
    KSD_PID=$!
    at_exit "kill $KSD_PID 2>/dev/null"
    i=0
    while [ ! -s "$T/$1.port" ] && [ $i -lt $((100 * SLOW)) ]; do
        kill -0 $KSD_PID 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    URL="https://127.0.0.1:$(cat "$T/$1.port" 2>/dev/null)"
    [ -s "$T/$1.port" ]
}
stop_server() {
    kill -TERM "$KSD_PID" 2>/dev/null
    wait "$KSD_PID" 2>/dev/null
}
if ! start_server a; then
    not_ok "keyserverd did not start"
    sed 's/^/# /' "$T/a.log"
    done_testing
    exit 1
fi
ok "keyserverd serves HTTPS on a free port"

mkak() {
    mkdir -p "$T/$1"
    $KS_ATTEST ak-create --out-dir "$T/$1" --save-auth >"$T/$1.out" 2>&1
}
mkak ak1 && mkak ak2 || { sed 's/^/# /' "$T"/ak*.out; skip_all "ks-attest ak-create failed"; }
AK1=$(cat "$T/ak1/ak.name")
AK2=$(cat "$T/ak2/ak.name")
$K ak add $KD --ak-pub "$T/ak1/ak.pub" >/dev/null 2>&1 && $K ak add $KD --ak-pub "$T/ak2/ak.pub" >/dev/null 2>&1
pcrval() {
    tpm2_pcrread "sha256:$1" | sed -n "s/^ *$1 *: *0x//p" | tr 'A-F' 'a-f'
}
{
    $K policy create boot $KD && $K policy pcr boot 0 "$(pcrval 0)" $KD &&
        $K policy pcr boot 15 "$(pcrval 15)" $KD && $K policy activate boot $KD &&
        $K policy create other $KD
} >"$T/policy.out" 2>&1
head -c 32 /dev/urandom >"$T/w1.in"
head -c 32 /dev/urandom >"$T/w2.in"
head -c 32 /dev/urandom >"$T/req.in"
check "setup: policy boot active, keys weights (dek) and reqkey (hpke) imported" sh -c "
    $K key import weights --policy boot --file '$T/w1.in' $KM &&
    $K key import reqkey --kind hpke --policy boot --file '$T/req.in' $KM"

# release NAME [--ak-dir DIR] ARGS...: ks-attest release (AK1 unless another
# --ak-dir comes first) into $T/NAME/ (exit status kept).
release() {
    name=$1
    shift
    akdir=$T/ak1
    if [ "$1" = --ak-dir ]; then
        akdir=$2
        shift 2
    fi
    rm -rf "${T:?}/${name:?}"
    mkdir -p "$T/$name"
    $KS_ATTEST release --server "$URL" --cacert "$T/tls.crt" --out-dir "$T/$name" \
        --ak-dir "$akdir" --pcrs sha256:0,15 "$@" >"$T/$name.out" 2>"$T/$name.err"
}
# last_release_reason: the reason of the newest audit row of a release.
last_reason() {
    $K audit show --json --event release $KD | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(rows[-1]["outcome"], rows[-1]["reason"])'
}

# ---- --help of every new subcommand ---------------------------------------------------
for c in "key rotate" "key retire" "key delete" "key show" "key public" "key attach" \
    "ak show" "ak remove" "audit export" "audit prune" "status" "backup" "restore" \
    "master rotate" "master check" "master"; do
    exits 0 "ksctl $c --help" sh -c "$K $c --help | grep -q Usage"
done
exits 2 "ksctl master (no subcommand)" $K master
exits 2 "ksctl master frobnicate" $K master frobnicate

# ---- rotate --------------------------------------------------------------------------------
release r1 --key weights
check "before rotation 'weights' releases version 1" \
    sh -c "cmp '$T/w1.in' '$T/r1/weights.key' && grep -qx 'weights 1' '$T/r1.out'"
exits 0 "key rotate weights --file (new material)" $K key rotate weights --file "$T/w2.in" $KM
check "key rotate names the versions" grep -q "version 2 is active; version 1 is previous" "$T/cmd.out"
release r2 --key weights
check "after rotation 'weights' releases version 2 (the new material)" \
    sh -c "cmp '$T/w2.in' '$T/r2/weights.key' && grep -qx 'weights 2' '$T/r2.out'"
release r3 --key weights@1
check "'weights@1' still releases version 1 (previous)" \
    sh -c "cmp '$T/w1.in' '$T/r3/weights.key' && grep -qx 'weights 1' '$T/r3.out'"
exits 2 "key rotate of an unknown key" $K key rotate nosuch $KM
head -c 31 /dev/urandom >"$T/short.in"
exits 2 "key rotate --file with 31 bytes" $K key rotate weights --file "$T/short.in" $KM
exits 2 "key rotate --file that does not exist" $K key rotate weights --file "$T/none.in" $KM
exits 2 "key rotate with a bad name" $K key rotate 'bad/name' $KM
exits 2 "key rotate without a master key file" $K key rotate weights $KD --master-key "$T/nokey"
check "a failed rotation made no version" sh -c "$K key show weights --json $KD | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [(v[\"version\"], v[\"state\"]) for v in d[\"versions\"]] == [(1, \"previous\"), (2, \"active\")], d
assert d[\"last_released_seq\"] and d[\"active_version\"] == 2 and d[\"policy\"] == \"boot\", d'"

# ---- show, public ----------------------------------------------------------------------------
exits 0 "key show weights (text)" $K key show weights $KD
check "key show text lists both versions and their states" \
    sh -c "grep -Eq '^ +1 +previous' '$T/cmd.out' && grep -Eq '^ +2 +active' '$T/cmd.out'"
check "key show never prints key material" sh -c "
    ! $K key show weights --json $KD | grep -q \"\$(od -An -tx1 '$T/w1.in' | tr -d ' \n')\""
exits 2 "key show of an unknown key" $K key show nosuch $KD
# The public key derived by openssl from the imported private key (RFC 8410 PKCS#8).
{ printf '302e020100300506032b656e04220420' | xxd -r -p; cat "$T/req.in"; } >"$T/req.p8"
openssl pkey -inform DER -in "$T/req.p8" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 >"$T/req.pub.b64"
exits 0 "key public reqkey" $K key public reqkey $KD
check "key public: base64 equals the X25519 public key openssl derives from the private key" \
    sh -c "[ -s '$T/req.pub.b64' ] && [ \"\$($K key public reqkey --base64 $KD)\" = \"\$(cat '$T/req.pub.b64')\" ]"
check "key public --pem is a SubjectPublicKeyInfo openssl reads as the same key" \
    sh -c "$K key public reqkey@1 --pem $KD | openssl pkey -pubin -outform DER | tail -c 32 | base64 | cmp - '$T/req.pub.b64'"
check "key public --json names key, version, state and policy" sh -c "$K key public reqkey --json $KD | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert (d[\"name\"], d[\"version\"], d[\"state\"], d[\"policy\"], d[\"policy_version\"]) == (\"reqkey\", 1, \"active\", \"boot\", 1), d
assert d[\"pem\"].startswith(\"-----BEGIN PUBLIC KEY-----\")'"
exits 2 "key public of a dek" $K key public weights $KD
exits 2 "key public of an unknown version" $K key public reqkey@9 $KD
exits 2 "key public of an unknown key" $K key public nosuch $KD
exits 2 "key public with a malformed reference" $K key public reqkey@01 $KD
exits 2 "key public --pem --json together" $K key public reqkey --pem --json $KD

# ---- retire ---------------------------------------------------------------------------------
exits 0 "key retire weights@1" $K key retire weights@1 $KD
rc=$(release r4 --key weights@1; echo $?)
check "a retired version is refused (ks-attest exit 1, no key written)" \
    sh -c "[ '$rc' = 1 ] && ! [ -e '$T/r4/weights.key' ]"
check "the refusal is audited as retired" test "$(last_reason)" = "refused key weights@1 is retired"
release r5 --key weights
check "'weights' (version 2) is still granted" cmp "$T/w2.in" "$T/r5/weights.key"
exits 2 "key retire of an already retired version" $K key retire weights@1 $KD
exits 2 "key retire of the active version" $K key retire weights@2 $KD
exits 2 "key retire without @VERSION" $K key retire weights $KD
exits 2 "key retire of an unknown version" $K key retire weights@9 $KD
exits 2 "key retire of an unknown key" $K key retire nosuch@1 $KD
check "key show: version 1 retired" sh -c "$K key show weights --json $KD | python3 -c '
import json, sys
v = json.load(sys.stdin)[\"versions\"][0]
assert v[\"state\"] == \"retired\" and v[\"retired_by\"] and v[\"retired_at\"], v'"

# ---- attach ---------------------------------------------------------------------------------
exits 0 "key attach weights --policy other" $K key attach weights --policy other $KD
rc=$(release r6 --key weights; echo $?)
check "under a policy without an active version the key is refused" \
    test "$rc $(last_reason)" = "1 refused key weights: policy 'other' has no active rules"
exits 0 "key attach weights --policy boot (back)" $K key attach weights --policy boot $KD
release r7 --key weights
check "back under boot it is granted again" cmp "$T/w2.in" "$T/r7/weights.key"
exits 2 "key attach to the policy it already has" $K key attach weights --policy boot $KD
exits 2 "key attach to an unknown policy" $K key attach weights --policy nosuch $KD
exits 2 "key attach of an unknown key" $K key attach nosuch --policy boot $KD
exits 2 "key attach without --policy" $K key attach weights $KD

# ---- AKs ------------------------------------------------------------------------------------
exits 0 "ak show AK1" $K ak show "$AK1" $KD
check "ak show --json: state, last attestation and TPM clock of the last quote" sh -c "$K ak show $AK1 --json $KD | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"id\"] == \"$AK1\" and d[\"state\"] == \"active\" and d[\"vouched_by\"], d
assert d[\"last_attested_at\"] and d[\"last_clock\"][\"clock\"] > 0, d'"
exits 2 "ak show of an unknown AK" $K ak show "000b$(printf '%064d' 0)" $KD
exits 2 "ak show of a malformed id" $K ak show xyz $KD
release a2 --ak-dir "$T/ak2" --key weights
check "AK2 is granted before its removal" cmp "$T/w2.in" "$T/a2/weights.key"
exits 0 "ak remove AK2" $K ak remove "$AK2" $KD
rc=$(release a2b --ak-dir "$T/ak2" --key weights; echo $?)
check "a removed AK is refused as unknown" test "$rc $(last_reason)" = "1 refused unknown AK"
exits 2 "ak remove again" $K ak remove "$AK2" $KD

# ---- status -------------------------------------------------------------------------------
exits 0 "status" $K status $KD
check "status text names the schema version and the AK's last attestation" \
    sh -c "grep -q 'schema version 5' '$T/cmd.out' && grep -q '$AK1 active  20' '$T/cmd.out'"
check "status --json: counts, releases and attestations" sh -c "$K status --json --recent 3 $KD | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"schema_version\"] == 5 and d[\"db\"] == \"$DB\", d
assert d[\"keys\"] == {\"total\": 2, \"versions\": 3, \"active\": 2, \"previous\": 0, \"retired\": 1}, d[\"keys\"]
assert d[\"aks\"] == {\"pending\": 0, \"active\": 1, \"revoked\": 0}, d[\"aks\"]
assert d[\"policies\"] == {\"total\": 2, \"active\": 1}, d[\"policies\"]
assert d[\"releases\"][\"granted\"] == 6 and d[\"releases\"][\"refused\"] == 3, d[\"releases\"]
assert [r[\"outcome\"] for r in d[\"releases\"][\"recent\"]] == [\"refused\", \"granted\", \"granted\"], d
assert [a[\"id\"] for a in d[\"ak_attestations\"]] == [\"$AK1\"] and d[\"ak_attestations\"][0][\"last_attested\"], d'"
exits 2 "status --recent -1" $K status --recent -1 $KD
exits 2 "status on a database that does not exist" $K status --db "$T/nosuch.db"

# ---- delete ---------------------------------------------------------------------------------
exits 2 "key delete without --yes" $K key delete reqkey $KD
check "... which names what would be lost and deletes nothing" \
    sh -c "grep -q 'reqkey has 1 version' '$T/cmd.err' && $K key show reqkey $KD"
exits 0 "key delete reqkey --yes" $K key delete reqkey --yes $KD
rc=$(release d1 --key reqkey; echo $?)
check "a deleted key is refused" sh -c "[ '$rc' = 1 ] && ! [ -e '$T/d1/reqkey.key' ]"
exits 2 "key show of the deleted key" $K key show reqkey $KD
exits 2 "key delete of an unknown key" $K key delete reqkey --yes $KD

# ---- audit export: an independent check of the chain ---------------------------------------
cat >"$T/chain.py" <<'PY'
import hashlib, json, struct, sys

def F(v):
    if v is None:
        return b"\0"
    if isinstance(v, dict):
        import base64
        b = base64.b64decode(v["base64"])
    else:
        b = v.encode()
    return b"\1" + struct.pack(">I", len(b)) + b

prev, prev_seq, n = None, None, 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = hashlib.sha256(b"ks-audit-v1\0" + struct.pack(">QQ", r["seq"], r["time"]) +
                       F(r["actor"]) + F(r["event"]) + F(r["ak_id"]) + F(r["keys"]) +
                       F(r["outcome"]) + F(r["reason"]) + F(r["detail"]) +
                       bytes.fromhex(r["prev_hash"])).hexdigest()
    assert h == r["row_hash"], ("row_hash", r["seq"])
    if prev is not None:
        assert r["seq"] == prev_seq + 1 and r["prev_hash"] == prev, ("link", r["seq"])
    elif len(sys.argv) > 2:
        assert r["prev_hash"] == sys.argv[2], ("anchor", r["seq"])
    prev, prev_seq, n = r["row_hash"], r["seq"], n + 1
print(n, prev_seq, prev)
PY
$K audit export $KD >"$T/export1.jsonl" 2>"$T/export1.err"
check "audit export: every row_hash recomputes and links (python, from the documented encoding)" \
    python3 "$T/chain.py" "$T/export1.jsonl"
E1=$(python3 "$T/chain.py" "$T/export1.jsonl" | cut -d' ' -f2)
check "audit export covers every row and is recorded" sh -c "
    [ \"\$(wc -l < '$T/export1.jsonl')\" = '$E1' ] &&
    $K status --json $KD | python3 -c 'import json, sys; assert json.load(sys.stdin)[\"audit\"][\"exported_seq\"] == $E1'"
check "audit export --since N starts at N" sh -c "
    [ \"\$($K audit export --since 3 --no-mark $KD | head -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"seq\"])')\" = 3 ]"
exits 2 "audit export --format csv" $K audit export --format csv $KD
exits 2 "audit export --since 0" $K audit export --since 0 $KD
exits 2 "audit export --since x" $K audit export --since x $KD

# ---- audit prune ------------------------------------------------------------------------------
$K policy create p2 $KD >/dev/null 2>&1 # rows after the export
$K policy create p3 $KD >/dev/null 2>&1
LAST=$($K status --json $KD | python3 -c 'import json, sys; print(json.load(sys.stdin)["audit"]["last_seq"])')
exits 2 "audit prune of rows never exported, without --yes" $K audit prune --before "$LAST" $KD
check "... refused with the reason and nothing deleted" sh -c "
    grep -q 'ksctl audit export' '$T/cmd.err' &&
    [ \"\$($K audit export --no-mark $KD | head -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"seq\"])')\" = 1 ]"
# E1 + 1 is the export's own row: the export reached E1, so rows < E1 + 1 were exported.
exits 0 "audit prune --before (the first row after the export)" $K audit prune --before $((E1 + 1)) --json $KD
ANCHOR=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["anchor_seq"], d["anchor_hash"], d["deleted"])' "$T/cmd.out")
check "the prune anchors the chain to the last exported row's hash" \
    test "$ANCHOR" = "$E1 $(python3 "$T/chain.py" "$T/export1.jsonl" | cut -d' ' -f3) $E1"
exits 0 "audit verify after the prune" $K audit verify $KD
check "... starting at the kept row" grep -q "seq $((E1 + 1))\.\." "$T/cmd.out"
$K audit export --no-mark $KD >"$T/export2.jsonl"
check "the export after the prune links to the anchor (external verifier)" \
    python3 "$T/chain.py" "$T/export2.jsonl" "$(echo "$ANCHOR" | cut -d' ' -f2)"
exits 2 "audit prune --before a row that does not exist" $K audit prune --before 999999 --yes $KD
exits 2 "audit prune --before a time after every row" $K audit prune --before @99999999999 --yes $KD
exits 2 "audit prune --before garbage" $K audit prune --before yesterday $KD
exits 2 "audit prune without --before" $K audit prune $KD
exits 0 "audit prune --before 2000-01-01 (deletes nothing)" $K audit prune --before 2000-01-01 $KD
check "... and says so" grep -q "pruned 0 audit rows" "$T/cmd.out"

# ---- backups during a release burst -------------------------------------------------------
# A bounded burst of releases in the background while three backups run.
(
    i=0
    while [ $i -lt 12 ]; do
        release burst$i --key weights
        echo $? >>"$T/burst.rc"
        i=$((i + 1))
    done
) &
BURST=$!
sleep 1
for n in 1 2 3; do
    $K backup "$T/backup$n.db" $KD >"$T/backup$n.out" 2>&1
    echo $? >"$T/backup$n.rc"
    sleep 1
done
wait $BURST
check "the release burst was granted throughout (12 grants)" \
    sh -c "[ \"\$(grep -c '^0\$' '$T/burst.rc')\" = 12 ]"
for n in 1 2 3; do
    check "backup $n during the burst: exit 0, file mode 0600" \
        sh -c "[ \"\$(cat '$T/backup$n.rc')\" = 0 ] && [ \"\$(stat -c %a '$T/backup$n.db')\" = 600 ]"
    check "backup $n restores to a database that passes PRAGMA integrity_check and audit verify" \
        sh -c "$K restore '$T/backup$n.db' --yes --db '$T/restored$n.db' --master-key '$MK' &&
        python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); assert c.execute(\"PRAGMA integrity_check\").fetchone()[0] == \"ok\"' '$T/restored$n.db' &&
        $K audit verify --db '$T/restored$n.db'"
done
check "the backups are audited in the live trail" sh -c "
    [ \"\$($K audit show --event db.backup --json $KD | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')\" = 3 ]"
exits 2 "backup to a file that exists" $K backup "$T/backup1.db" $KD
exits 2 "backup into a directory that does not exist" $K backup "$T/nodir/b.db" $KD

# ---- restore of the live database ---------------------------------------------------------------
exits 3 "restore while keyserverd has the database open" $K restore "$T/backup3.db" --yes $KM
check "... names the reason" grep -q "another process has" "$T/cmd.err"
exits 2 "restore without --yes" $K restore "$T/backup3.db" $KM
echo "not a database, just some text" >"$T/notdb"
exits 1 "restore of a file that is not a database" $K restore "$T/notdb" --yes --db "$T/x.db" --master-key "$MK"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.commit()' "$T/other.db"
exits 1 "restore of another program's SQLite database" $K restore "$T/other.db" --yes --db "$T/x.db" --master-key "$MK"
cp "$T/backup1.db" "$T/tampered.db"
python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DROP TRIGGER audit_no_update")
c.execute("UPDATE audit SET actor = ? WHERE seq = (SELECT max(seq) FROM audit)", ("mallory",))
c.commit()' "$T/tampered.db"
exits 1 "restore of a backup whose audit chain was edited" $K restore "$T/tampered.db" --yes --db "$T/x.db" --master-key "$MK"
cp "$T/backup1.db" "$T/newer.db"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' "$T/newer.db"
exits 1 "restore of a database of a newer schema" $K restore "$T/newer.db" --yes --db "$T/x.db" --master-key "$MK"
exits 2 "restore of a file that does not exist" $K restore "$T/nosuch.db" --yes $KM
check "no refused restore left a database behind" sh -c "! [ -e '$T/x.db' ] && ! ls '$T'/x.db.restore-* 2>/dev/null"
stop_server
$K key rotate weights --file "$T/w1.in" $KM >/dev/null 2>&1 # a change the restore undoes
exits 0 "restore backup 3 with keyserverd stopped" $K restore "$T/backup3.db" --yes $KM
check "the previous database is kept as .pre-restore" \
    sh -c "$K key show weights --json --db '$DB.pre-restore' | grep -q '\"version\": 3'"
exits 0 "audit verify of the restored database" $K audit verify $KD
check "the restore is the last audit row" sh -c "
    $K audit show --json $KD | python3 -c 'import json, sys; r = json.load(sys.stdin)[-1]; assert r[\"event\"] == \"db.restore\", r'"
start_server b || not_ok "keyserverd restarts on the restored database"
release rr --key weights
check "after the restore 'weights' is version 2 again, and granted" \
    sh -c "cmp '$T/w2.in' '$T/rr/weights.key' && grep -qx 'weights 2' '$T/rr.out'"

# ---- master key rotation ------------------------------------------------------------------------
cp -p "$MK" "$T/old.key"
exits 2 "master rotate --new-key that does not exist" $K master rotate --new-key "$T/nokey" $KM
exits 2 "master rotate --new-key with the current key" $K master rotate --new-key "$T/old.key" $KM
check "failed rotations left no MK.new / MK.old" sh -c "! [ -e '$MK.new' ] && ! [ -e '$MK.old' ]"
exits 0 "master check with the current key" $K master check $KM
exits 0 "master rotate (generated key)" $K master rotate $KM
check "the new master key replaced the file (mode 0600), no .new or .old left" sh -c "
    [ \"\$(stat -c %a '$MK')\" = 600 ] && ! cmp -s '$MK' '$T/old.key' &&
    ! [ -e '$MK.new' ] && ! [ -e '$MK.old' ]"
exits 0 "master check with the new key" $K master check $KM
exits 1 "master check with the old key: nothing unwraps" $K master check $KD --master-key "$T/old.key"
check "... every item counted as failed" grep -q "0 key versions and 0 secrets unwrap" "$T/cmd.out"
rc=$(release m1 --key weights; echo $?)
check "the running keyserverd (old key in memory) can no longer release" \
    sh -c "[ '$rc' != 0 ] && ! [ -e '$T/m1/weights.key' ]"
stop_server
start_server c || not_ok "keyserverd restarts with the new master key"
release m2 --key weights
check "after the restart releases work with the new key" cmp "$T/w2.in" "$T/m2/weights.key"
exits 0 "audit verify after the rotation" $K audit verify $KD
touch "$MK.new"
exits 2 "master rotate refuses while MK.new is left over" $K master rotate $KM
rm -f "$MK.new"
exits 0 "master rotate --keep-old" $K master rotate --keep-old --json $KM
check "... keeps the previous key as MK.old (mode 0600), which the database no longer needs" sh -c "
    [ \"\$(stat -c %a '$MK.old')\" = 600 ] && ! $K master check $KD --master-key '$MK.old' >/dev/null"

check "keyserverd is still running" kill -0 "$KSD_PID"
stop_server
check "no key material in the daemon's logs" sh -c "
    ! grep -q \"\$(od -An -tx1 '$T/w2.in' | tr -d ' \n')\" '$T'/*.log"

done_testing
exit $?
