#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The admin commands of ksctl (init, policy, key, ak, audit) on a real
# database: every subcommand's success and its documented errors with their
# exit statuses, --json outputs parsed by Python, key material that must never
# appear in any output or in the database file in clear, a tampered audit
# trail, and a database locked by another writer. Oracles: OpenSSL (the
# receipt key fingerprint, X25519 public keys), tpm2-tools' Name files (AK
# ids), the sqlite3 CLI (what is stored).
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools python3 sqlite3 openssl od
[ -x "$KS_BUILDDIR/ksctl" ] || skip_all "ksctl not built"

TSS2_LOG=all+none
export TSS2_LOG
# The actor is this user; SUDO_USER from the caller's environment must not leak in.
unset SUDO_USER

T=$TEST_TMP
DB=$T/ks.db
MK=$T/master.key
Q=$KS_TESTDATA/quotes
D="--db $DB --master-key $MK"

# run CMD...: stdout in $T/out, stderr in $T/err, status in $rc.
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

show_output() {
    sed 's/^/# /' "$T/out" "$T/err" | head -30
}

# check_exit N "description" command...: passes on exit status N exactly.
check_exit() {
    want=$1
    desc=$2
    shift 2
    run "$@"
    if [ "$rc" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want $want)"
        show_output
    fi
}

# check_err "description" REGEX: the last command's stderr is ONE line
# "ksctl: ..." matching REGEX (extended). Lines of a $VALGRIND run's own
# (--NNN-- / ==NNN==) are not counted.
check_err() {
    grep -Ev '^(--|==)[0-9]+(--|==)' "$T/err" >"$T/err.own"
    if [ "$(wc -l <"$T/err.own")" -eq 1 ] && grep -q '^ksctl: ' "$T/err.own" &&
        grep -Eq "$2" "$T/err.own"; then
        ok "$1"
    else
        not_ok "$1"
        show_output
    fi
}

# check_out "description" REGEX: the last command's stdout matches REGEX.
check_out() {
    if grep -Eq "$2" "$T/out"; then
        ok "$1"
    else
        not_ok "$1"
        show_output
    fi
}

# check_json "description" PYTHON-EXPR: the last stdout parses as JSON and the
# expression (over `d`) is true.
check_json() {
    if python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/out" "$2" 2>"$T/pyerr"; then
        ok "$1"
    else
        not_ok "$1"
        sed 's/^/# /' "$T/pyerr"
        show_output
    fi
}

# sql QUERY: run a query on the database with the sqlite3 CLI.
sql() {
    sqlite3 "$DB" "$1"
}

hex_of() {
    od -An -tx1 -v "$1" | tr -d ' \n'
}

# files_lack_bytes FILE-WITH-BYTES FILE...: none of the files contains the
# bytes, raw or as hex (either case) or base64.
files_lack_bytes() {
    python3 - "$@" <<'PY'
import base64, sys
secret = open(sys.argv[1], "rb").read()
needles = [secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]
bad = 0
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        continue
    for n in needles:
        if n in data:
            print("# found in", path)
            bad = 1
sys.exit(bad)
PY
}

now_ms() {
    python3 -c 'import time; print(int(time.monotonic() * 1000))'
}

ME=$(id -un)
ZERO64=$(printf '%064d' 0)
ONE64=$(printf '%063d1' 0)
TWO64=$(printf '%063d2' 0)

# ---- help ------------------------------------------------------------------
for c in "init" "key" "key create" "key import" "key list" "policy" "policy create" \
    "policy pcr" "policy activate" "policy show" "policy list" "ak" "ak add" "ak list" \
    "ak revoke" "audit" "audit show" "audit verify"; do
    # shellcheck disable=SC2086
    run $KSCTL $c --help
    if [ "$rc" -eq 0 ] && grep -q '^Usage: ksctl' "$T/out" && [ ! -s "$T/err" ]; then
        ok "ksctl $c --help"
    else
        not_ok "ksctl $c --help (exit $rc)"
        show_output
    fi
done
check_exit 2 "an unknown subcommand is a usage error" $KSCTL key frobnicate
check_exit 2 "an unknown option is a usage error" $KSCTL policy list --frob --db "$DB"
check_exit 2 "an option of another subcommand is refused" $KSCTL policy create p --remove --db "$DB"

# ---- before init -------------------------------------------------------------
check_exit 2 "a missing database is refused (exit 2)" $KSCTL policy list --db "$DB"
check_err "... with a hint to run init" "policy list: database .* does not exist .*ksctl init"
[ ! -e "$DB" ] && ok "... and not created" || not_ok "... and not created"

# ---- init --------------------------------------------------------------------
check_exit 2 "init refuses a malformed --id" $KSCTL init $D --id 'bad id'
check_exit 0 "init creates the database and the master key" $KSCTL init $D --id ks-test.1
cp "$T/out" "$T/init.out"
check_out "init prints the keyserver id" '^keyserver id: ks-test\.1$'
FP=$(sed -n 's/^receipt key SHA-256: \([0-9a-f]\{64\}\)$/\1/p' "$T/init.out")
SPKI_FP=$(sql "SELECT hex(value) FROM meta WHERE key = 'receipt_pub'" | python3 -c '
import hashlib, sys
print(hashlib.sha256(bytes.fromhex(sys.stdin.read().strip())).hexdigest())')
[ -n "$FP" ] && [ "$FP" = "$SPKI_FP" ] && ok "init prints SHA-256 of the stored receipt SPKI" ||
    not_ok "init prints SHA-256 of the stored receipt SPKI ($FP vs $SPKI_FP)"
sql "SELECT hex(value) FROM meta WHERE key = 'receipt_pub'" |
    python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' \
        >"$T/receipt.der"
check "the receipt key is an EC P-256 SubjectPublicKeyInfo (openssl)" sh -c \
    "openssl pkey -pubin -inform DER -in '$T/receipt.der' -text -noout | grep -q 'prime256v1\|P-256'"
[ "$(stat -c %a "$MK")" = 600 ] && [ "$(stat -c %s "$MK")" = 32 ] &&
    ok "the master key file is 32 bytes, mode 0600" || not_ok "the master key file is 32 bytes, mode 0600"
[ "$(stat -c %a "$DB")" = 600 ] && ok "the database file is mode 0600" ||
    not_ok "the database file is mode 0600 ($(stat -c %a "$DB"))"
[ "$(sql "SELECT count(*) FROM meta WHERE key IN ('keyserver_id','receipt_key','nonce_key')")" = 3 ] &&
    ok "id, receipt key and nonce key are stored" || not_ok "id, receipt key and nonce key are stored"
cp "$MK" "$T/mk.orig"

check_exit 2 "init twice is refused" $KSCTL init $D
check_err "... as already initialised" "database .* is already initialised \(keyserver id ks-test\.1\)"
check_exit 2 "init --use-existing-master-key of an initialised database is refused" \
    $KSCTL init $D --use-existing-master-key
check_err "... as already initialised" "database .* is already initialised \(keyserver id ks-test\.1\)"
check_exit 2 "init of an initialised database with a new master key path is refused" \
    $KSCTL init --db "$DB" --master-key "$T/other.key"
[ ! -e "$T/other.key" ] && ok "... and makes no master key" || not_ok "... and makes no master key"
cmp -s "$MK" "$T/mk.orig" && ok "the master key is unchanged" || not_ok "the master key is unchanged"
check_exit 2 "init refuses an existing master key file for a new database" \
    $KSCTL init --db "$T/second.db" --master-key "$MK"
check_err "... naming --use-existing-master-key" "master key .* already exists.*--use-existing-master-key"
[ ! -e "$T/second.db" ] && ok "... and leaves no database behind" || not_ok "... and leaves no database behind"
check_exit 0 "init --use-existing-master-key initialises a second database with it" \
    $KSCTL init --db "$T/second.db" --master-key "$MK" --use-existing-master-key
check_out "... with a random 32-hex-digit id" '^keyserver id: [0-9a-f]{32}$'
check_exit 2 "init with a master key in a missing directory fails" \
    $KSCTL init --db "$T/third.db" --master-key "$T/nodir/mk"
[ ! -e "$T/third.db" ] && ok "... and removes the database it made" || not_ok "... and removes the database it made"

printf 'not a database, just some text that is long enough to be looked at\n' >"$T/junk.db"
cp "$T/junk.db" "$T/junk.orig"
check_exit 3 "init refuses a file that is not a database" $KSCTL init --db "$T/junk.db" --master-key "$T/junk.key"
cmp -s "$T/junk.db" "$T/junk.orig" && [ ! -e "$T/junk.key" ] && ok "... leaving it alone and making no key" ||
    not_ok "... leaving it alone and making no key"

# --config: db and master_key from keyserverd.conf(5).
printf 'db = %s\nmaster_key = %s\nlisten = 127.0.0.1:0\n' "$DB" "$MK" >"$T/ks.conf"
check_exit 0 "--config supplies db and master_key" $KSCTL key list --config "$T/ks.conf"
printf 'db = %s\nbogus = 1\n' "$DB" >"$T/bad.conf"
check_exit 2 "a malformed config file is refused" $KSCTL key list --config "$T/bad.conf"
check_err "... naming the line" "config file .*bad.conf: .*line 2"

# A master key readable by others is refused by every command that needs it.
chmod 0644 "$MK"
check_exit 2 "a master key file of mode 0644 is refused" $KSCTL key create k0 --policy p $D
check_err "... with a clear reason" "key create: master key .*: .*0600"
chmod 0600 "$MK"

# ---- policies --------------------------------------------------------------
check_exit 0 "policy create" $KSCTL policy create web --db "$DB"
check_exit 2 "policy create of an existing name is refused" $KSCTL policy create web --db "$DB"
check_err "... as existing" "policy create: policy web already exists"
check_exit 2 "policy create refuses an invalid name" $KSCTL policy create 'a/b' --db "$DB"
check_exit 0 "policy pcr adds two digests" $KSCTL policy pcr web 7 "$ZERO64" "0x$ONE64" --db "$DB"
check_out "... to draft version 1" "^policy web draft version 1: sha256 PCR 7 allows $ONE64\$"
check_exit 0 "policy pcr --bank sha1 with a 40-digit digest" \
    $KSCTL policy pcr web 0 "$(printf '%040d' 5)" --bank sha1 --db "$DB"
check_exit 2 "policy pcr refuses a digest of the wrong length for the bank" \
    $KSCTL policy pcr web 0 "$ZERO64" --bank sha1 --db "$DB"
check_err "... naming the lengths" "has 64 hex digits; a sha1 digest has 40"
check_exit 2 "policy pcr refuses a short sha256 digest" $KSCTL policy pcr web 1 abcd --db "$DB"
check_exit 2 "policy pcr refuses non-hex" $KSCTL policy pcr web 1 "$(printf 'g%063d' 0)" --db "$DB"
check_err "... as not hex" "is not hex"
check_exit 2 "policy pcr refuses PCR index 24" $KSCTL policy pcr web 24 "$ZERO64" --db "$DB"
check_err "... naming the range" "PCR index must be a number in 0\.\.23"
check_exit 2 "policy pcr refuses index -1" $KSCTL policy pcr --db "$DB" web -- -1 "$ZERO64"
check_exit 2 "policy pcr refuses an unknown bank" $KSCTL policy pcr web 1 "$ZERO64" --bank md5 --db "$DB"
check_exit 2 "policy pcr on an unknown policy" $KSCTL policy pcr nosuch 7 "$ZERO64" --db "$DB"
check_err "... is refused by name" "unknown policy nosuch"
check_exit 2 "policy pcr refuses a digest already allowed" $KSCTL policy pcr web 7 "$ZERO64" --db "$DB"
check_exit 2 "one bad digest among good ones writes nothing" \
    $KSCTL policy pcr web 3 "$TWO64" "xyz" --db "$DB"
[ "$(sql "SELECT count(*) FROM policy_rules WHERE pcr = 3")" = 0 ] && ok "... (no PCR 3 rule stored)" ||
    not_ok "... (no PCR 3 rule stored)"
check_exit 0 "policy pcr on PCR 16 works" $KSCTL policy pcr web 16 "$TWO64" --db "$DB"
check_err "... with a warning that PCR 16 is resettable" "warning: PCR 16 can be reset"
check_exit 0 "policy pcr on PCR 23 works" $KSCTL policy pcr web 23 "$TWO64" --db "$DB"
check_err "... with a warning that PCR 23 is resettable" "warning: PCR 23 can be reset"
check_exit 0 "policy pcr --remove takes a value out of the draft" \
    $KSCTL policy pcr web 23 "$TWO64" --remove --db "$DB"
check_exit 2 "policy pcr --remove of a value the draft lacks" \
    $KSCTL policy pcr web 23 "$TWO64" --remove --db "$DB"
check_err "... is refused" "has no rule sha256 PCR 23"

check_exit 2 "policy show without an active version" $KSCTL policy show web --db "$DB"
check_err "... says so" "policy web has no active version"
check_exit 0 "policy show --draft --json" $KSCTL policy show web --draft --json --db "$DB"
check_json "... lists the draft's rules" "d['name'] == 'web' and d['version'] == 1 and \
d['state'] == 'draft' and sorted((r['bank'], r['pcr'], r['digest']) for r in d['rules']) == \
sorted([('sha1', 0, '$(printf '%040d' 5)'), ('sha256', 7, '$ZERO64'), ('sha256', 7, '$ONE64'), \
('sha256', 16, '$TWO64')])"
check_exit 0 "policy activate" $KSCTL policy activate web --db "$DB"
check_out "... prints the version" "^policy web version 1 is active$"
check_exit 2 "policy activate without a draft is refused" $KSCTL policy activate web --db "$DB"
check_err "... as having no draft" "policy web has no draft to activate"
check_exit 2 "policy activate of an unknown policy" $KSCTL policy activate nosuch --db "$DB"
check_err "... is refused by name" "unknown policy nosuch"
check_exit 0 "policy show (active) text" $KSCTL policy show web --db "$DB"
check_out "... names version 1 active" "^policy web version 1 \(active\)$"
check_out "... and a rule" "pcr sha256:7 +$ONE64"
# An edit after activation makes draft version 2 from version 1.
check_exit 0 "policy pcr after activation" $KSCTL policy pcr web 7 "$TWO64" --db "$DB"
check_out "... goes to draft version 2" "^policy web draft version 2: "
check_exit 0 "policy pcr --remove in the new draft" $KSCTL policy pcr web 16 "$TWO64" --remove --db "$DB"
check_exit 0 "policy show --version 1 --json" $KSCTL policy show web --version 1 --json --db "$DB"
check_json "... still has 4 rules (the active version is never edited)" \
    "d['version'] == 1 and d['state'] == 'active' and len(d['rules']) == 4"
check_exit 0 "policy show --draft --json" $KSCTL policy show web --draft --json --db "$DB"
check_json "... draft 2 copies version 1 with the edits" "d['version'] == 2 and \
len(d['rules']) == 4 and {'pcr': 7, 'bank': 'sha256', 'digest': '$TWO64', 'kind': 'pcr'} in d['rules'] \
and not any(r['pcr'] == 16 for r in d['rules'])"
check_exit 2 "policy show --version 9 (unknown)" $KSCTL policy show web --version 9 --db "$DB"
check_exit 2 "policy show --version and --draft together" $KSCTL policy show web --version 1 --draft --db "$DB"
check_exit 2 "policy show of an unknown policy" $KSCTL policy show nosuch --db "$DB"
check_err "... is refused by name" "unknown policy nosuch"
check_exit 0 "policy activate makes version 2 active" $KSCTL policy activate web --db "$DB"
check_out "... and prints it" "^policy web version 2 is active$"
check_exit 0 "policy activate --version 1 rolls back" $KSCTL policy activate web --version 1 --db "$DB"
check_out "... and prints it" "^policy web version 1 is active$"
check_exit 2 "policy activate --version of the active version is refused" \
    $KSCTL policy activate web --version 1 --db "$DB"
check_exit 0 "policy create a second policy" $KSCTL policy create empty --db "$DB"
check_exit 0 "policy list --json" $KSCTL policy list --json --db "$DB"
check_json "... lists both with their versions" "d == [{'name': 'empty', 'active_version': None, \
'draft_version': 1, 'versions': 1}, {'name': 'web', 'active_version': 1, 'draft_version': None, \
'versions': 2}]"
check_exit 0 "policy list (text)" $KSCTL policy list --db "$DB"
check_out "... has one line per policy" "^web +1 +- +2$"

# ---- keys --------------------------------------------------------------------
check_exit 0 "key create (dek)" $KSCTL key create model-dek --policy web $D
check_out "... reports version 1" "^key model-dek version 1 created: kind dek, policy web$"
check_exit 2 "key create of an existing name is refused" $KSCTL key create model-dek --policy web $D
check_err "... as existing" "key create: key model-dek already exists"
check_exit 2 "key create with an unknown policy is refused" $KSCTL key create k2 --policy nosuch $D
check_err "... naming the policy" "key create: unknown policy nosuch"
check_exit 2 "key create refuses an invalid key name" $KSCTL key create 'a b' --policy web $D
check_exit 2 "key create refuses an unknown kind" $KSCTL key create k3 --kind rsa --policy web $D
check_exit 2 "key create without --policy" $KSCTL key create k3 $D
check_exit 2 "key create takes no --file" $KSCTL key create k3 --policy web --file /dev/null $D
check_exit 0 "key create --kind hpke" $KSCTL key create req --kind hpke --policy web $D
check_out "... prints the X25519 public key" "^public key \(X25519\): [0-9a-f]{64}$"
check_exit 2 "key create with a missing master key file" \
    $KSCTL key create k4 --policy web --db "$DB" --master-key "$T/nosuch.key"

head -c 32 /dev/urandom >"$T/dek.bin"
head -c 32 /dev/urandom >"$T/share.bin"
head -c 32 /dev/urandom >"$T/x25519.bin"
check_exit 0 "key import (dek) from standard input" $KSCTL key import imported --policy web $D <"$T/dek.bin"
cat "$T/out" "$T/err" >"$T/all-output"
check_out "... reports version 1" "^key imported version 1 imported: kind dek, policy web$"
check_exit 0 "key import from --file, as share 2 of 3 (k = 2)" $KSCTL key import shard --policy web \
    --file "$T/share.bin" --share-index 2 --share-threshold 2 --share-count 3 $D
cat "$T/out" "$T/err" >>"$T/all-output"
check_exit 2 "key import refuses an inconsistent share (k > n)" $KSCTL key import s2 --policy web \
    --file "$T/share.bin" --share-index 1 --share-threshold 4 --share-count 3 $D
check_exit 0 "key import --kind hpke (raw X25519 private key)" \
    $KSCTL key import req2 --kind hpke --policy web --file "$T/x25519.bin" $D
cat "$T/out" "$T/err" >>"$T/all-output"
# Oracle: OpenSSL derives the public key from the same private key (PKCS#8
# wrapping of RFC 8410).
python3 -c 'import sys
sys.stdout.buffer.write(bytes.fromhex("302e020100300506032b656e04220420") + open(sys.argv[1], "rb").read())' \
    "$T/x25519.bin" >"$T/x25519.p8"
WANT_PUB=$(openssl pkey -inform DER -in "$T/x25519.p8" -pubout -outform DER 2>/dev/null | tail -c 32 | od -An -tx1 -v | tr -d ' \n')
GOT_PUB=$(sed -n 's/^public key (X25519): //p' "$T/out")
[ -n "$WANT_PUB" ] && [ "$WANT_PUB" = "$GOT_PUB" ] && ok "... its public key is OpenSSL's X25519(priv)" ||
    not_ok "... its public key is OpenSSL's X25519(priv) ($GOT_PUB vs $WANT_PUB)"
head -c 31 /dev/urandom >"$T/short.bin"
head -c 33 /dev/urandom >"$T/long.bin"
check_exit 2 "key import refuses 31 bytes" $KSCTL key import short --policy web $D <"$T/short.bin"
check_err "... saying 32 are needed" "exactly 32 raw bytes; got 31"
check_exit 2 "key import refuses 33 bytes" $KSCTL key import long --policy web --file "$T/long.bin" $D
check_err "... saying 32 are needed" "exactly 32 raw bytes; got more than 32"
check_exit 2 "key import refuses empty input" $KSCTL key import empty --policy web $D </dev/null
check_exit 2 "key import refuses material on the command line" \
    $KSCTL key import argv --policy web $D "$(hex_of "$T/dek.bin")"
check_exit 2 "key import --kind hpke refuses 33 bytes" \
    $KSCTL key import req3 --kind hpke --policy web --file "$T/long.bin" $D
check_exit 2 "key import of an unreadable file" $KSCTL key import nf --policy web --file "$T/nosuch" $D
check_exit 2 "key import with an unknown policy" $KSCTL key import k5 --policy nosuch $D <"$T/dek.bin"
[ "$(sql "SELECT count(*) FROM keys WHERE name IN ('short','long','empty','argv','req3','nf','k5')")" = 0 ] &&
    ok "refused imports stored nothing" || not_ok "refused imports stored nothing"

check_exit 0 "key list --json" $KSCTL key list --json --db "$DB"
cp "$T/out" "$T/keys.json"
check_json "... has every key with kind, policy and version" "[(k['name'], k['kind'], k['policy'], \
k['active_version'], k['versions']) for k in d] == [('imported', 'dek', 'web', 1, 1), \
('model-dek', 'dek', 'web', 1, 1), ('req', 'hpke', 'web', 1, 1), ('req2', 'hpke', 'web', 1, 1), \
('shard', 'dek', 'web', 1, 1)]"
check_json "... and the share metadata" "[k['share'] for k in d if k['name'] == 'shard'] == \
[{'index': 2, 'threshold': 2, 'count': 3}] and all(k['share'] is None for k in d if k['name'] != 'shard')"
check_exit 0 "key list (text)" $KSCTL key list --db "$DB"
cat "$T/out" >>"$T/all-output"
check_out "... shows the share as i/k/n" "^shard +dek +web +1 +1 +2/2/3 "

# Key material in clear: nowhere in the outputs, the database or its WAL.
for f in dek share x25519; do
    check "the imported $f bytes appear in no output" files_lack_bytes "$T/$f.bin" "$T/all-output" "$T/keys.json"
    check "the imported $f bytes are not in the database or WAL in clear" \
        files_lack_bytes "$T/$f.bin" "$DB" "$DB-wal" "$DB-shm"
done
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
check "... nor after a WAL checkpoint" files_lack_bytes "$T/dek.bin" "$DB" "$DB-wal"
[ "$(sql "SELECT length(wrapped) FROM key_versions kv JOIN keys k ON k.id = kv.key_id WHERE k.name = 'imported'")" = 48 ] &&
    ok "the imported key is stored wrapped (32 + 16-byte tag)" || not_ok "the imported key is stored wrapped"

# ---- attestation keys ----------------------------------------------------------
check_exit 1 "ak add refuses an EK (a decryption key)" $KSCTL ak add --db "$DB" \
    --ak-pub "$Q/keylime-tpm2-tools-fixture/ek.pub"
check_err "... naming the wrong attributes" "not a restricted signing key .*missing sign.*forbidden decrypt"
head -c 100 /dev/urandom >"$T/garbage.bin"
check_exit 1 "ak add refuses a file that is not a TPM2B_PUBLIC" $KSCTL ak add --db "$DB" --ak-pub "$T/garbage.bin"
check_err "... saying so" "is not a TPM2B_PUBLIC"
check_exit 2 "ak add of a missing file" $KSCTL ak add --db "$DB" --ak-pub "$T/nosuch"
check_exit 2 "ak add without --ak-pub" $KSCTL ak add --db "$DB"
check_exit 0 "ak add accepts the swtpm RSASSA AK" $KSCTL ak add --db "$DB" \
    --ak-pub "$Q/swtpm-rsa-rsassa/ak.tpm2b_public.bin"
AK1=$(cat "$T/out")
[ "$AK1" = "$(hex_of "$Q/swtpm-rsa-rsassa/ak.name")" ] && ok "... and prints its id = the TPM Name in ak.name" ||
    not_ok "... and prints its id = the TPM Name in ak.name ($AK1)"
check_exit 2 "ak add of the same AK again is refused" $KSCTL ak add --db "$DB" \
    --ak-pub "$Q/swtpm-rsa-rsassa/ak.tpm2b_public.bin"
check_err "... as registered" "AK $AK1 is already registered"
check_exit 1 "ak add refuses an AK given as --ek-pub" $KSCTL ak add --db "$DB" \
    --ak-pub "$Q/keylime-tpm2-tools-fixture/ak.pub" --ek-pub "$Q/keylime-tpm2-tools-fixture/ak.pub"
check_exit 0 "ak add with --ek-pub binds the EK" $KSCTL ak add --db "$DB" \
    --ak-pub "$Q/keylime-tpm2-tools-fixture/ak.pub" --ek-pub "$Q/keylime-tpm2-tools-fixture/ek.pub"
AK2=$(cat "$T/out")
[ "$AK2" = "$(hex_of "$Q/keylime-tpm2-tools-fixture/ak.name")" ] && ok "... its id is tpm2-tools' Name" ||
    not_ok "... its id is tpm2-tools' Name ($AK2)"
check_exit 0 "ak list --json" $KSCTL ak list --json --db "$DB"
check_json "... has both AKs active, vouched for by $ME" "sorted(a['id'] for a in d) == sorted(['$AK1', '$AK2']) \
and all(a['state'] == 'active' and a['vouched_by'] == '$ME' and a['last_attested_at'] is None for a in d)"
check_json "... with the EK bound to the second only" "{a['id']: a['ek'] for a in d}['$AK1'] is None and \
len({a['id']: a['ek'] for a in d}['$AK2']) == 68"
[ "$(sql "SELECT approved FROM eks")" = 0 ] && ok "the EK is recorded, not approved" ||
    not_ok "the EK is recorded, not approved"
check_exit 0 "ak revoke" $KSCTL ak revoke "$AK1" --reason "machine retired" --db "$DB"
check_out "... confirms" "^AK $AK1 revoked$"
check_exit 2 "ak revoke twice is refused" $KSCTL ak revoke "$AK1" --db "$DB"
check_err "... as already revoked" "already revoked"
check_exit 2 "ak revoke of an unknown AK" $KSCTL ak revoke "000b$ZERO64" --db "$DB"
check_err "... is refused by id" "unknown AK 000b$ZERO64"
check_exit 2 "ak revoke of a malformed id" $KSCTL ak revoke "not-hex" --db "$DB"
check_exit 0 "ak list (text)" $KSCTL ak list --db "$DB"
check_out "... shows the revoked AK" "^$AK1 revoked$"

# ---- a real TPM: a non-restricted key is refused, a tpm2_createak AK taken -----
if command -v swtpm >/dev/null 2>&1 && command -v tpm2_createak >/dev/null 2>&1 &&
    swtpm_start "$T/tpm"; then
    flush() {
        tpm2_flushcontext -t >/dev/null 2>&1
        tpm2_flushcontext -s >/dev/null 2>&1
        return 0
    }
    check "tpm: create a primary key" tpm2_createprimary -C o -G ecc -c "$T/primary.ctx"
    flush
    check "tpm: create a signing key that is not restricted" tpm2_create -C "$T/primary.ctx" \
        -G rsa2048 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
        -u "$T/plain.pub" -r "$T/plain.priv"
    flush
    check_exit 1 "ak add refuses the non-restricted signing key" $KSCTL ak add --db "$DB" --ak-pub "$T/plain.pub"
    check_err "... as missing restricted" "missing restricted"
    check "tpm: create an EK" tpm2_createek -c "$T/ek.ctx" -G rsa -u "$T/tpm-ek.pub"
    check "tpm: create an AK (tpm2_createak, ECC P-256)" tpm2_createak -C "$T/ek.ctx" -c "$T/ak.ctx" \
        -G ecc -g sha256 -s ecdsa -u "$T/tpm-ak.pub" -n "$T/tpm-ak.name"
    flush
    check_exit 0 "ak add accepts the tpm2_createak AK with its EK" $KSCTL ak add --db "$DB" \
        --ak-pub "$T/tpm-ak.pub" --ek-pub "$T/tpm-ek.pub"
    [ "$(cat "$T/out")" = "$(hex_of "$T/tpm-ak.name")" ] && ok "... its id is tpm2_createak's Name" ||
        not_ok "... its id is tpm2_createak's Name"
    # The EXAMPLES of ksctl(8): a policy from the current PCRs.
    tpm2_pcrextend "7:sha256=$ONE64" >/dev/null 2>&1
    check_exit 0 "policy create for the TPM's PCRs" $KSCTL policy create tpm --db "$DB"
    check "the ksctl(8) example adds PCRs 0 and 7 from tpm2_pcrread" sh -c \
        "tpm2_pcrread sha256:0,7 | awk '/^ +[0-9]+ *:/ {print \$1, \$3}' |
         while read i d; do $KSCTL policy pcr tpm \$i \$d --db '$DB' >/dev/null || exit 1; done"
    tpm2_pcrread sha256:7 -o "$T/pcr7.bin" >/dev/null 2>&1
    check_exit 0 "policy show --draft --json of it" $KSCTL policy show tpm --draft --json --db "$DB"
    check_json "... holds the TPM's PCR 7" "[r['digest'] for r in d['rules'] if r['pcr'] == 7] == \
['$(hex_of "$T/pcr7.bin")'] and len(d['rules']) == 2"
else
    ok "# SKIP swtpm or tpm2-tools not available"
fi

# ---- audit -------------------------------------------------------------------
check_exit 0 "audit show --json" $KSCTL audit show --json --db "$DB"
check_json "... rows are contiguous from seq 1 and chained" "[r['seq'] for r in d] == \
list(range(1, len(d) + 1)) and all(d[i]['prev_hash'] == d[i - 1]['row_hash'] for i in range(1, len(d))) \
and d[0]['prev_hash'] == '0' * 64"
check_json "... first row is init by $ME" "d[0]['event'] == 'init' and d[0]['actor'] == '$ME' \
and d[0]['outcome'] == 'ok' and d[0]['detail'] == {'id': 'ks-test.1'}"
check_json "... records the key imports, AK additions and the revocation" "{'key.import', 'ak.add', \
'ak.revoke', 'policy.activate', 'ek.add'} <= {r['event'] for r in d} and \
[r['reason'] for r in d if r['event'] == 'ak.revoke'] == ['machine retired']"
ROWS=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$T/out")
check_exit 0 "audit show --key imported --json" $KSCTL audit show --key imported --json --db "$DB"
check_json "... only that key's rows" "len(d) == 1 and d[0]['keys'] == ['imported@1'] and \
d[0]['event'] == 'key.import'"
check_exit 0 "audit show --outcome ok --limit 2 --json" $KSCTL audit show --outcome ok --limit 2 --json --db "$DB"
check_json "... the first two rows" "[r['seq'] for r in d] == [1, 2]"
check_exit 0 "audit show --outcome granted --json" $KSCTL audit show --outcome granted --json --db "$DB"
check_json "... none yet" "d == []"
check_exit 0 "audit show --since a future date" $KSCTL audit show --since 2999-01-01 --json --db "$DB"
check_json "... is empty" "d == []"
check_exit 0 "audit show --since 0 (Unix seconds)" $KSCTL audit show --since 0 --json --db "$DB"
check_json "... is everything" "len(d) == $ROWS"
check_exit 2 "audit show --since with a malformed time" $KSCTL audit show --since yesterday --db "$DB"
check_exit 2 "audit show --outcome with an unknown outcome" $KSCTL audit show --outcome maybe --db "$DB"
check_exit 2 "audit show --limit 0" $KSCTL audit show --limit 0 --db "$DB"
check_exit 0 "audit show (text)" $KSCTL audit show --db "$DB"
[ "$(wc -l <"$T/out")" -eq "$ROWS" ] && ok "... one line per row" || not_ok "... one line per row"
check_out "... names event, actor and reason" "ak\.revoke by $ME ak=$AK1 reason=\"machine retired\""

check_exit 0 "audit verify" $KSCTL audit verify --db "$DB"
check_out "... says OK with the row count" "^audit chain OK: $ROWS rows$"

# The actor of a change made through sudo names the person.
SUDO_USER=alice $KSCTL policy create via-sudo --db "$DB" >/dev/null 2>&1
[ "$(sql "SELECT actor FROM audit ORDER BY seq DESC LIMIT 1")" = "$ME (sudo: alice)" ] &&
    ok "the audit actor records SUDO_USER" || not_ok "the audit actor records SUDO_USER"

# Tampering: the trigger refuses an UPDATE; dropping it and editing row 3 is
# caught by the chain.
cp "$DB" "$T/tampered.db"
[ -e "$DB-wal" ] && cp "$DB-wal" "$T/tampered.db-wal"
sqlite3 "$T/tampered.db" "UPDATE audit SET actor = 'mallory' WHERE seq = 3" >/dev/null 2>&1 &&
    not_ok "the audit trigger refuses an UPDATE" || ok "the audit trigger refuses an UPDATE"
sqlite3 "$T/tampered.db" "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE seq = 3"
check_exit 1 "audit verify fails on an edited row" $KSCTL audit verify --db "$T/tampered.db"
check_err "... naming its seq" "audit verify: audit chain BROKEN at seq 3 "
cp "$DB" "$T/tampered2.db"
[ -e "$DB-wal" ] && cp "$DB-wal" "$T/tampered2.db-wal"
sqlite3 "$T/tampered2.db" "DELETE FROM audit WHERE seq = 5"
check_exit 1 "audit verify fails on a deleted row" $KSCTL audit verify --db "$T/tampered2.db"
check_err "... naming the row after the gap" "BROKEN at seq 6 "
check_exit 0 "the original still verifies" $KSCTL audit verify --db "$DB"

# ---- a database locked by another writer ---------------------------------------
# sqlite3 holds BEGIN IMMEDIATE (the write lock) for a few seconds.
(
    echo 'BEGIN IMMEDIATE;'
    sleep 4
    echo 'ROLLBACK;'
) | sqlite3 "$DB" &
LOCKER=$!
at_exit "kill $LOCKER 2>/dev/null"
locked=no
for i in $(seq 1 50); do
    if ! sqlite3 "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1; then
        locked=yes
        break
    fi
    sleep 0.05
done
[ $locked = yes ] && ok "a background sqlite3 holds the write lock" || not_ok "a background sqlite3 holds the write lock"
t0=$(now_ms)
check_exit 3 "a write command fails while another process holds the lock" \
    $KSCTL policy create busy1 --db "$DB" --busy-timeout 400
t1=$(now_ms)
check_err "... with 'database is busy'" "policy create: database is busy: .*400 ms"
[ $((t1 - t0)) -ge 350 ] && ok "... after waiting the busy timeout ($((t1 - t0)) ms)" ||
    not_ok "... after waiting the busy timeout ($((t1 - t0)) ms)"
check_exit 3 "key create fails the same way" $KSCTL key create busy2 --policy web $D --busy-timeout 100
check_err "... with 'database is busy'" "key create: database is busy"
check_exit 0 "reads still work (WAL): policy list" $KSCTL policy list --db "$DB" --busy-timeout 100
check_exit 0 "... audit verify" $KSCTL audit verify --db "$DB" --busy-timeout 100
check_exit 2 "--busy-timeout refuses a non-number" $KSCTL policy list --db "$DB" --busy-timeout soon
wait $LOCKER
check_exit 0 "the write succeeds once the lock is gone" $KSCTL policy create busy1 --db "$DB" --busy-timeout 400
[ "$(sql "SELECT count(*) FROM policies WHERE name = 'busy1'")" = 1 ] && ok "... and is stored" ||
    not_ok "... and is stored"
check_exit 0 "the audit chain is intact at the end" $KSCTL audit verify --db "$DB"

# ---- ekca show ---------------------------------------------------------------
CA=$KS_TESTDATA/certs/swtpm-localca/localca-root.pem
check_exit 0 "ekca add a CA" $KSCTL ekca add "$CA" --db "$DB"
CAID=$(sed -n 's/^\([0-9][0-9]*\) .*/\1/p' "$T/out" | head -n 1)
check_exit 0 "ekca show ID" $KSCTL ekca show "$CAID" --db "$DB"
grep -q 'BEGIN CERTIFICATE' "$T/out" && grep -q 'swtpm-localca-rootca' "$T/out" &&
    ok "... prints the subject and the certificate" || not_ok "... prints the subject and the certificate"
check_exit 0 "ekca show --json" $KSCTL ekca show "$CAID" --json --db "$DB"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["id"]==int(sys.argv[2]); assert d["pem"].startswith("-----BEGIN CERTIFICATE-----")' \
    "$T/out" "$CAID" && ok "... JSON with id and pem" || not_ok "... JSON with id and pem"
check_exit 2 "ekca show of an unknown id" $KSCTL ekca show 999 --db "$DB"
check_err "... says so" "no EK CA with id 999"
check_exit 2 "ekca show of a malformed id" $KSCTL ekca show x --db "$DB"

done_testing
exit $?
