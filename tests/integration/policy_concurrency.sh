#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Policy activation is atomic for the release decision: while ksctl toggles a
# policy between V1 = {PCR0: a, PCR1: b} and V2 = {PCR0: c, PCR1: d} (rollback
# to one, then the other, in a bounded loop), releases keep arriving from a
# TPM in the mixed state (PCR0 = a, PCR1 = d). Each release reads the key's
# policy in one read transaction and ksctl switches versions in one write
# transaction, so no release may ever see a mix of V1 and V2: none is
# granted. A control policy {a, d} on another key shows that the same
# requests are granted when the policy allows them.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm tpm2_pcrextend tpm2_pcrread openssl python3
B=$KS_BUILDDIR
T=$TEST_TMP
KS_ATTEST="$B/loader-ref/ks-attest"
SLOW=${VALGRIND:+5}
SLOW=${SLOW:-1}
TOGGLES=${KS_TOGGLES:-40}  # rollbacks to each version
RELEASES=${KS_RELEASES:-12} # releases during the toggling (bounded)
DB=$T/ks.db

swtpm_start "$T/tpm" || skip_all "swtpm does not start"
$KSCTL init --db "$DB" --master-key "$T/mk" >/dev/null 2>&1 || skip_all "ksctl init failed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=keyserver \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || skip_all "openssl"

# The TPM's state: PCR0 = a, PCR1 = d.
tpm2_pcrextend "0:sha256=$(printf 'a' | sha256sum | cut -c1-64)" >/dev/null &&
    tpm2_pcrextend "1:sha256=$(printf 'd' | sha256sum | cut -c1-64)" >/dev/null ||
    skip_all "tpm2_pcrextend failed"
pcrval() {
    tpm2_pcrread "sha256:$1" | awk -F': *' '/0x/ { v = tolower($2); sub(/^0x/, "", v); print v }'
}
A=$(pcrval 0)
D=$(pcrval 1)
B1=$(printf 'b' | sha256sum | cut -c1-64)
C0=$(printf 'c' | sha256sum | cut -c1-64)
check "the TPM's PCR0 and PCR1 read back (a, d)" test ${#A} -eq 64 -a ${#D} -eq 64

policy_file() { # NAME P0 P1 FILE
    printf '{"format":"ks-policy-v1","name":"%s","rules":[' "$1" >"$4"
    printf '{"kind":"pcr","bank":"sha256","pcr":0,"digest":"%s"},' "$2" >>"$4"
    printf '{"kind":"pcr","bank":"sha256","pcr":1,"digest":"%s"}]}' "$3" >>"$4"
}
policy_file toggled "$A" "$B1" "$T/v1.json"
policy_file toggled "$C0" "$D" "$T/v2.json"
policy_file control "$A" "$D" "$T/ctl.json"
head -c 32 /dev/urandom >"$T/k1"
head -c 32 /dev/urandom >"$T/k2"
check "V1, then V2 active; a control policy {a, d}; a key under each" sh -c "
    $KSCTL policy import '$T/v1.json' --db '$DB' && $KSCTL policy activate toggled --db '$DB' &&
    $KSCTL policy import '$T/v2.json' --db '$DB' && $KSCTL policy activate toggled --db '$DB' &&
    $KSCTL policy import '$T/ctl.json' --db '$DB' && $KSCTL policy activate control --db '$DB' &&
    $KSCTL key import tk --policy toggled --file '$T/k1' --db '$DB' --master-key '$T/mk' &&
    $KSCTL key import ck --policy control --file '$T/k2' --db '$DB' --master-key '$T/mk'
" 
ksd_start --rate-limit 0 || skip_all "keyserverd does not start"
mkdir -p "$T/ak"
$KS_ATTEST ak-create --out-dir "$T/ak" --save-auth >/dev/null 2>&1 &&
    $KSCTL ak add --ak-pub "$T/ak/ak.pub" --db "$DB" >/dev/null 2>&1 || skip_all "no AK"
release() { # release NAME KEY
    rm -rf "$T/$1"
    mkdir -p "$T/$1"
    $KS_ATTEST release --server "$URL" --cacert "$T/tls.crt" --ak-dir "$T/ak" --key "$2" \
        --pcrs sha256:0,1 --out-dir "$T/$1" >"$T/$1.out" 2>&1
}
release ctl ck
check "control: the mixed state is granted by a policy that allows it" cmp "$T/k2" "$T/ctl/ck.key"
release before tk
check "before the toggling: refused by V2" test ! -e "$T/before/tk.key"

# The toggler: bounded, in the background.
(
    n=0
    while [ $n -lt "$TOGGLES" ] && [ ! -e "$T/stop" ]; do
        $KSCTL policy rollback toggled 1 --db "$DB" >/dev/null 2>>"$T/toggle.err" || break
        $KSCTL policy rollback toggled 2 --db "$DB" >/dev/null 2>>"$T/toggle.err" || break
        n=$((n + 1))
    done
    echo "$n" >"$T/toggled"
) &
TOGGLER=$!
at_exit "touch '$T/stop'; kill $TOGGLER 2>/dev/null"

granted=0
sent=0
while [ $sent -lt "$RELEASES" ] && [ ! -e "$T/toggled" ]; do
    release "r$sent" tk
    [ -e "$T/r$sent/tk.key" ] && granted=$((granted + 1))
    sent=$((sent + 1))
done
touch "$T/stop"
wait $TOGGLER
TOGGLED=$(cat "$T/toggled" 2>/dev/null || echo 0)
check "the toggler ran ($TOGGLED round trips, no ksctl error)" \
    sh -c "[ '$TOGGLED' -gt 0 ] && [ ! -s '$T/toggle.err' ]"
check "releases arrived during the toggling ($sent)" test "$sent" -gt 0
check "no release in the mixed state (a, d) was granted" test "$granted" -eq 0
check "the audit trail agrees: every release of tk refused, none granted" sh -c "
    $KSCTL audit show --json --db '$DB' | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r[\"event\"] == \"release\" and r[\"keys\"] == [\"tk\"]]
assert len(rows) == $sent + 1, len(rows)
assert all(r[\"outcome\"] == \"refused\" for r in rows), [r[\"outcome\"] for r in rows]
for r in rows:
    assert \"PCR sha256:0 value not allowed\" in r[\"reason\"] or \\
        \"PCR sha256:1 value not allowed\" in r[\"reason\"], r[\"reason\"]
vs = {d[\"policy_version\"] for r in rows for d in r[\"detail\"][\"keys\"]}
assert vs <= {1, 2}, vs'"
check "the activations are audited (2 per round trip)" sh -c "
    $KSCTL audit show --json --db '$DB' | python3 -c '
import json, sys
n = sum(1 for r in json.load(sys.stdin) if r[\"event\"] == \"policy.activate\")
assert n >= 3 + 2 * $TOGGLED, n'"
check "ksctl audit verify" $KSCTL audit verify --db "$DB"
check "keyserverd still runs" kill -0 $KSD
done_testing
