#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `ksctl eventlog`: replay every test log and compare with expected-pcrs.txt,
# `show` output, error reporting, and (where tpm2_eventlog is installed) a
# cross-check of PCR values and event counts against tpm2-tools.
. "$KS_SRCDIR/tests/integration/common.sh"
need_tools python3

D=$KS_TESTDATA/eventlogs
EXPECTED=$D/expected-pcrs.txt
[ -f "$EXPECTED" ] || skip_all "no test data in $D"

# compare_json JSON_FILE LOG: the replay JSON has exactly the expected
# (bank, pcr, value) lines of LOG, and "events" is a positive integer.
compare_json() {
    python3 - "$1" "$EXPECTED" "$2" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 4 and f[0] == sys.argv[3]:
        want.setdefault(f[1], {})[f[2]] = f[3]
ok = got.get("banks") == want and isinstance(got.get("events"), int) and got["events"] > 0
if not ok:
    print("got  %s\nwant %s" % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)))
sys.exit(0 if ok else 1)
PY
}

good_logs=$(awk '$2 ~ /^sha/ {print $1}' "$EXPECTED" | sort -u)
reject_logs=$(awk '$2 == "REJECT-or-EMPTY" {print $1}' "$EXPECTED")

for log in $good_logs; do
    if $KSCTL eventlog replay --json "$D/$log" >"$TEST_TMP/replay.json" 2>"$TEST_TMP/err"; then
        check "replay --json $log matches expected-pcrs.txt" compare_json "$TEST_TMP/replay.json" "$log"
    else
        not_ok "replay --json $log (exit $?)"
        sed 's/^/# /' "$TEST_TMP/err"
    fi
done

# Text output: `BANK PCR HEX` lines, the same set as expected-pcrs.txt, sorted
# by bank then PCR index.
log=keylime/binary_bios_measurements.bin
$KSCTL eventlog replay "$D/$log" >"$TEST_TMP/replay.txt"
awk -v f="$log" '$1 == f {print $2, $3, $4}' "$EXPECTED" | sort -k1,1 -k2,2n >"$TEST_TMP/want.txt"
check "replay text output of $log" cmp "$TEST_TMP/replay.txt" "$TEST_TMP/want.txt"
$KSCTL eventlog replay --bank sha1 "$D/$log" >"$TEST_TMP/sha1.txt"
grep '^sha1 ' "$TEST_TMP/want.txt" >"$TEST_TMP/want1.txt"
check "replay --bank sha1 prints only sha1" cmp "$TEST_TMP/sha1.txt" "$TEST_TMP/want1.txt"
check "replay --json counts every record, the Spec ID header included" \
    sh -c "$KSCTL eventlog replay --json '$D/$log' | grep -q '\"events\":121}'"
check "replay reads standard input" \
    sh -c "$KSCTL eventlog replay - <'$D/$log' | cmp - '$TEST_TMP/want.txt'"
check_fails "replay --bank sha384 of a sha1/sha256 log fails" \
    $KSCTL eventlog replay --bank sha384 "$D/$log"

# show: type names and decoded data.
$KSCTL eventlog show "$D/$log" >"$TEST_TMP/show.txt"
for want in EV_NO_ACTION "StartupLocality 3" EV_S_CRTM_CONTENTS EV_EFI_PLATFORM_FIRMWARE_BLOB \
    EV_EFI_VARIABLE_DRIVER_CONFIG "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c" \
    EV_SEPARATOR EV_EFI_BOOT_SERVICES_APPLICATION 'shimx64.efi' EV_EFI_ACTION \
    "Calling EFI Application from Boot Option" EV_EFI_GPT_EVENT EV_IPL; do
    check "show lists '$want'" grep -q -- "$want" "$TEST_TMP/show.txt"
done
check "show prints one line per record" test "$(wc -l <"$TEST_TMP/show.txt")" -eq 121
check "show shows sha256 digests and data checks" \
    grep -q ' 7 EV_SEPARATOR  *sha256:df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119 match 0x00000000' \
    "$TEST_TMP/show.txt"
check "show of the legacy SHA-1 log" \
    sh -c "$KSCTL eventlog show '$D/tpm2-tools/event-uefi-sha1-log.bin' | grep -q 'EV_S_CRTM_VERSION  *sha1:c42fedad268200cb1d15f97841c344e79dae3320'"
$KSCTL eventlog show --json "$D/$log" >"$TEST_TMP/show.json"
check "show --json is an array of every event" python3 -c '
import json, sys
ev = json.load(open(sys.argv[1]))
assert len(ev) == 121
assert ev[0]["type"] == "EV_NO_ACTION" and ev[0]["index"] == 0 and ev[0]["offset"] == 0
assert ev[1]["description"] == "StartupLocality 3" and ev[1]["offset"] == 69
sep = ev[17]
assert sep["type"] == "EV_SEPARATOR" and sep["pcr"] == 7 and sep["data_check"] == "match"
assert set(sep["digests"]) == {"sha1", "sha256"}
assert sep["digests"]["sha1"] == "9069ca78e7450a285173431b3e52c5c25299e473"
assert all(e["index"] == i for i, e in enumerate(ev))
' "$TEST_TMP/show.json"

# Malformed logs: exit 1, the error and the byte offset of the failing record.
for log in $reject_logs; do
    $KSCTL eventlog replay "$D/$log" >/dev/null 2>"$TEST_TMP/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "^ksctl: .*$log: .* at byte offset [0-9]" "$TEST_TMP/err"; then
        ok "replay $log: exit 1 with the offset ($(cat "$TEST_TMP/err"))"
    else
        not_ok "replay $log: exit $rc"
        sed 's/^/# /' "$TEST_TMP/err"
    fi
    check_fails "show $log fails" $KSCTL eventlog show "$D/$log"
done
# A log cut in the middle of a record: the offset is that record's.
dd if="$D/keylime/binary_bios_measurements.bin" of="$TEST_TMP/cut.bin" bs=100 count=1 2>/dev/null
$KSCTL eventlog replay "$TEST_TMP/cut.bin" 2>"$TEST_TMP/err"
rc=$?
check "truncated log: exit 1" test $rc -eq 1
check "truncated log: 'event log truncated at byte offset 69'" \
    grep -q 'cut.bin: event log truncated at byte offset 69$' "$TEST_TMP/err"

# Usage and file errors: exit 2.
$KSCTL eventlog replay "$TEST_TMP/does-not-exist.bin" 2>"$TEST_TMP/err"
check "missing file: exit 2" test $? -eq 2
check "missing file: message names the file" grep -q 'does-not-exist.bin' "$TEST_TMP/err"
$KSCTL eventlog replay --bank md5 "$D/tpm2-tools/event.bin" 2>/dev/null
check "unknown bank: exit 2" test $? -eq 2
$KSCTL eventlog frobnicate 2>/dev/null
check "unknown subcommand: exit 2" test $? -eq 2
$KSCTL eventlog replay 2>/dev/null
check "missing FILE: exit 2" test $? -eq 2
check "eventlog --help" $KSCTL eventlog --help
check "eventlog replay --help documents the event count" \
    sh -c "$KSCTL eventlog replay --help | grep -q 'Spec ID header'"
check "eventlog show --help" $KSCTL eventlog show --help

# Cross-check with tpm2-tools' tpm2_eventlog (Debian 5.4) on the logs it
# handles: not those with a StartupLocality event (it leaves PCR 0 at zero)
# nor the malformed ones (it crashes on some).
if command -v tpm2_eventlog >/dev/null 2>&1; then
    for log in $good_logs; do
        if grep -q StartupLocality "$D/$log"; then
            continue
        fi
        if ! tpm2_eventlog "$D/$log" >"$TEST_TMP/t2.yaml" 2>/dev/null; then
            not_ok "tpm2_eventlog $log failed"
            continue
        fi
        $KSCTL eventlog replay --json "$D/$log" >"$TEST_TMP/ours.json"
        check "tpm2_eventlog agrees on $log (PCRs and event count)" python3 - \
            "$TEST_TMP/t2.yaml" "$TEST_TMP/ours.json" <<'PY'
import json, re, sys
theirs, bank, events = {}, None, 0
for line in open(sys.argv[1]):
    if re.match(r"^\s*-?\s*PCRIndex:", line):
        events += 1
    m = re.match(r"^  (sha\d+):\s*$", line)
    if m:
        bank = m.group(1)
        continue
    m = re.match(r"^    (\d+)\s*: 0x([0-9a-fA-F]+)\s*$", line)
    if m and bank:
        theirs.setdefault(bank, {})[m.group(1)] = m.group(2).lower()
ours = json.load(open(sys.argv[2]))
ok = ours["banks"] == theirs and ours["events"] == events
if not ok:
    print("tpm2_eventlog %s (%d events)\nksctl %s" % (theirs, events, ours))
sys.exit(0 if ok else 1)
PY
    done
else
    ok "# SKIP tpm2_eventlog not installed"
fi

done_testing
exit $?
