#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An IMA allow-list of Keylime's size, end to end: a swtpm whose PCR 10 is
# extended entry by entry from the rust-keylime IMA list (template data
# hashed here in Python, independently of lib/ima.c), a policy of that
# list's files plus 100,000 others (past the old cap of 4096 rules)
# imported with ksctl, releases with the binary log through ks-attest.
# Granted twice (the second from the compiled-policy cache); a new version
# without one measured file is refused at once (no stale cache); rolling
# back grants again.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm tpm2_pcrextend openssl python3 curl
B=$KS_BUILDDIR
T=$TEST_TMP
DB=$T/ks.db
KS_ATTEST="$B/loader-ref/ks-attest"
SLOW=${VALGRIND:+5}
SLOW=${SLOW:-1}
EXTRA=100000
$KSCTL init --db "$DB" --master-key "$T/mk" >/dev/null 2>&1 || skip_all "ksctl init failed"
swtpm_start "$T/tpm" || skip_all "swtpm does not start"

# The binary log, PCR 10's extends (sha256 bank: SHA-256 of each entry's
# template data), and the policy: every measured file, then EXTRA others.
python3 - "$KS_TESTDATA/ima/rust-keylime/ascii_runtime_measurements" "$T" "$EXTRA" <<'PY'
import hashlib, json, struct, sys
src, out, extra = sys.argv[1], sys.argv[2], int(sys.argv[3])
log, ext, rules, seen = bytearray(), [], [], set()
for line in open(src).read().splitlines():
    pcr, th, name, digest, path = line.split(" ", 4)
    assert name == "ima-ng", name
    alg, hexd = digest.split(":")
    d = alg.encode() + b":\0" + bytes.fromhex(hexd)
    data = struct.pack("<I", len(d)) + d + struct.pack("<I", len(path) + 1) + path.encode() + b"\0"
    assert hashlib.sha1(data).hexdigest() == th or th == "0" * 40, line
    log += struct.pack("<I", int(pcr)) + bytes.fromhex(th) + struct.pack("<I", len(name))
    log += name.encode() + struct.pack("<I", len(data)) + data
    ext.append("10:sha256=" + hashlib.sha256(data).hexdigest())
    if (path, hexd) not in seen:
        seen.add((path, hexd))
        rules.append({"kind": "ima_file", "pcr": 10, "digest": hexd, "alg": alg, "path": path})
measured = len(rules)
for i in range(extra):
    rules.append({"kind": "ima_file", "pcr": 10, "alg": "sha256",
                  "digest": hashlib.sha256(b"%d" % i).hexdigest(),
                  "path": "/usr/lib/synthetic/%06d.so" % i})
open(out + "/ima.bin", "wb").write(log)
open(out + "/extends", "w").write("\n".join(ext) + "\n")
open(out + "/big.json", "w").write(json.dumps({"format": "ks-policy-v1", "name": "big",
                                                "rules": rules}))
# A measured file's rule (not boot_aggregate), to remove in version 2.
victim = [r for r in rules[:measured] if r["path"] != "boot_aggregate"][measured // 2]
open(out + "/victim.json", "w").write(json.dumps(victim))
open(out + "/count", "w").write("%d %d\n" % (measured, len(rules)))
PY
read MEASURED TOTAL <"$T/count"
xargs -n 16 tpm2_pcrextend <"$T/extends" >/dev/null 2>&1 || skip_all "tpm2_pcrextend failed"

check "ksctl imports a policy of $TOTAL ima_file rules ($MEASURED measured files) and activates it" \
    sh -c "$KSCTL policy import '$T/big.json' --db '$DB' >/dev/null &&
        $KSCTL policy activate big --db '$DB' >/dev/null"
check "... and shows all of them" sh -c "
    [ \$($KSCTL policy export big --db '$DB' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"rules\"]))') -eq $TOTAL ]"

ksd_start --rate-limit 0 || skip_all "keyserverd does not start"
mkdir -p "$T/ak"
$KS_ATTEST ak-create --out-dir "$T/ak" --save-auth >/dev/null 2>&1 &&
    $KSCTL ak add --ak-pub "$T/ak/ak.pub" --db "$DB" >/dev/null 2>&1 || skip_all "no AK"
head -c 32 /dev/urandom >"$T/dek"
$KSCTL key import imakey --policy big --file "$T/dek" --db "$DB" --master-key "$T/mk" \
    >/dev/null 2>&1 || skip_all "key import failed"

release() { # release NAME
    rm -rf "$T/$1"
    mkdir -p "$T/$1"
    $KS_ATTEST release --server "$URL" --cacert "$T/tls.crt" --ak-dir "$T/ak" --key imakey \
        --pcrs sha256:10 --ima-log "$T/ima.bin" --out-dir "$T/$1" >"$T/$1.out" 2>&1
}
metric() { # metric NAME
    curl -s --cacert "$T/tls.crt" "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
release r1
check "release with the IMA log against $TOTAL rules: granted, the imported key" \
    cmp "$T/dek" "$T/r1/imakey.key"
release r2
check "a second release: granted" cmp "$T/dek" "$T/r2/imakey.key"
check "the second used the compiled version (cache: 1 miss, 1 hit, all rules held)" sh -c "
    [ '$(metric keyserverd_policy_cache_misses_total)' = 1 ] &&
    [ '$(metric keyserverd_policy_cache_hits_total)' = 1 ] &&
    [ '$(metric keyserverd_policy_cache_rules)' = $TOTAL ]"

# (--remove needs a draft; adding a rule makes one from the active version)
check "version 2: one measured file's rule removed, activated" sh -c "
    $KSCTL policy rule big '{\"kind\":\"ima_exclude\",\"pcr\":10,\"prefix\":\"/nonexistent/\"}' \
        --db '$DB' >/dev/null &&
    $KSCTL policy rule big \"\$(cat '$T/victim.json')\" --remove --db '$DB' >/dev/null &&
    $KSCTL policy activate big --db '$DB' >/dev/null"
release r3
check "the next release is judged by version 2: refused (403 policy_denied), nothing released" \
    sh -c "! [ -e '$T/r3/imakey.key' ] && grep -q 'policy_denied' '$T/r3.out'"
check "... and the audit row says which file (rule ima_file, digest not allowed)" sh -c "
    $KSCTL audit show --json --db '$DB' | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin) if r[\"event\"] == \"release\"][-1]
assert r[\"outcome\"] == \"refused\", r
assert \"rule ima_file\" in r[\"reason\"] and \"digest not allowed\" in r[\"reason\"], r'"
check "rollback to version 1" $KSCTL policy rollback big 1 --db "$DB"
release r4
check "granted again (version 1 from the cache)" cmp "$T/dek" "$T/r4/imakey.key"
check "versions 1 and 2 each compiled once" sh -c "
    [ '$(metric keyserverd_policy_cache_misses_total)' = 2 ] &&
    [ '$(metric keyserverd_policy_cache_versions)' = 2 ]"
check "ksctl audit verify" $KSCTL audit verify --db "$DB"
check "keyserverd still runs" kill -0 $KSD
done_testing
exit $?
