#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# ksctl ima replay / convert on real IMA logs (tests/data/ima). The binary
# form of the ASCII log is made here by an independent Python writer that
# follows Linux ima_measurements_show(); the expected PCR values are
# rust-keylime's (tests/data/README.md).
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools python3

IMA=$KS_TESTDATA/ima
BIG=$IMA/rust-keylime/ascii_runtime_measurements
SHA1=82231c67a69da98dc5b3aa10f6343d33109225fc
SHA256=c4a065637fc6a7c55f2811dd06cb45dd037133be2b3dc5c3e6fbe6bf061db724

# expect_rc CODE "description" command...: exact exit status; the output is
# kept in $OUT and $ERR (check overwrites its own last.out).
OUT=$TEST_TMP/rc.out
ERR=$TEST_TMP/rc.err
expect_rc() {
    want=$1
    desc=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want $want)"
        sed 's/^/# /' "$OUT" "$ERR" | head -20
    fi
}

# json_is FILE PYTHON-EXPR: the expression over the parsed JSON `j` is true.
json_is() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# ASCII ima-ng/ima-sig/ima-buf list -> binary_runtime_measurements.
cat >"$TEST_TMP/to_binary.py" <<'EOF'
import struct, sys
out = bytearray()
for line in open(sys.argv[1], "rb").read().decode().split("\n")[:-1]:
    pcr, th, name, rest = line.lstrip(" ").split(" ", 3)
    digest, tail = rest.split(" ", 1)
    alg, hexd = digest.split(":")
    d = alg.encode() + b":\0" + bytes.fromhex(hexd)
    if name == "ima-ng":
        path, extra = tail, None
    else:
        path, extra = tail.split(" ", 1)
    data = struct.pack("<I", len(d)) + d
    data += struct.pack("<I", len(path) + 1) + path.encode() + b"\0"
    if extra is not None:
        x = bytes.fromhex(extra)
        data += struct.pack("<I", len(x)) + x
    out += struct.pack("<I", int(pcr)) + bytes.fromhex(th)
    out += struct.pack("<I", len(name)) + name.encode()
    out += struct.pack("<I", len(data)) + data
open(sys.argv[2], "wb").write(out)
EOF

# --- the big log: ASCII and binary ----------------------------------------
expect_rc 0 "replay --json (ASCII) exits 0" $KSCTL ima replay --json "$BIG"
cp "$OUT" "$TEST_TMP/ascii.json"
check "ASCII: README PCR 10 values, 826 entries, no bad template hash" \
    json_is "$TEST_TMP/ascii.json" \
    "j['banks']['sha1']['10']=='$SHA1' and j['banks']['sha256']['10']=='$SHA256' and j['entries']==826 and j['bad_template_hashes']==[] and sorted(j['banks'])==['sha1','sha256','sha384','sha512']"

expect_rc 0 "replay text output, one bank" $KSCTL ima replay --bank sha256 "$BIG"
check "text output is 'sha256 10 HEX'" \
    test "$(cat "$OUT")" = "sha256 10 $SHA256"

check "python writes the binary form" python3 "$TEST_TMP/to_binary.py" "$BIG" "$TEST_TMP/py.bin"
expect_rc 0 "replay --json (binary) exits 0" $KSCTL ima replay --json "$TEST_TMP/py.bin"
cp "$OUT" "$TEST_TMP/binary.json"
check "binary: same JSON as the ASCII log" cmp "$TEST_TMP/ascii.json" "$TEST_TMP/binary.json"

expect_rc 0 "convert ASCII -> binary" $KSCTL ima convert "$BIG" -o "$TEST_TMP/ks.bin"
check "convert output is byte-identical to the Python writer's" cmp "$TEST_TMP/ks.bin" "$TEST_TMP/py.bin"
expect_rc 0 "convert binary -> binary on stdout" $KSCTL ima convert "$TEST_TMP/py.bin"
check "binary -> binary is the identity" cmp "$OUT" "$TEST_TMP/py.bin"

expect_rc 0 "replay reads standard input" sh -c "cat '$BIG' | $KSCTL ima replay --bank sha1 -"
check "stdin: sha1 value" test "$(cat "$OUT")" = "sha1 10 $SHA1"

# --- ima-sig / ima-buf, template hash checks --------------------------------
for f in signatures measurements keyrings; do
    expect_rc 0 "test_ima_verification.$f.txt replays, template hashes match" \
        $KSCTL ima replay "$IMA/keylime/test_ima_verification.$f.txt"
    python3 "$TEST_TMP/to_binary.py" "$IMA/keylime/test_ima_verification.$f.txt" "$TEST_TMP/$f.bin"
    expect_rc 0 "test_ima_verification.$f.txt: converts like the Python writer" \
        $KSCTL ima convert "$IMA/keylime/test_ima_verification.$f.txt" -o "$TEST_TMP/$f.ks.bin"
    check "test_ima_verification.$f.txt: identical binary" cmp "$TEST_TMP/$f.bin" "$TEST_TMP/$f.ks.bin"
done

expect_rc 1 "bad template hash: exit 1" \
    $KSCTL ima replay --json "$IMA/keylime/test_ima_verification.bad_signatures.txt"
check "bad template hash: listed with index and path" \
    json_is "$OUT" \
    "j['bad_template_hashes']==[{'index':0,'path':'/usr/bin/zmore'}] and j['entries']==1"
check "bad template hash: reported on stderr" grep -q "entry 0 (/usr/bin/zmore)" "$ERR"

expect_rc 0 "sm3_256 log with --template-hash sm3_256" \
    $KSCTL ima replay --template-hash sm3_256 "$IMA/keylime/ima-log-sm3_256"
for alg in sha1 sha256 sha384 sha512; do
    expect_rc 0 "ima-log-$alg replays" $KSCTL ima replay "$IMA/keylime/ima-log-$alg"
done

# --- malformed input: exit 1 --------------------------------------------------
expect_rc 1 "invalid_ima_log.txt: exit 1" $KSCTL ima replay "$IMA/rust-keylime/invalid_ima_log.txt"
check "invalid_ima_log.txt: error names line 1" grep -q "line 1:" "$ERR"
expect_rc 1 "empty log: exit 1" $KSCTL ima replay "$IMA/rust-keylime/empty_ima_log.txt"
expect_rc 1 "unknown file digest algorithm: exit 1" \
    $KSCTL ima replay --template-hash sm3_256 "$IMA/keylime/ima-log-unknown"
check "unknown algorithm named in the error" grep -q "digest algorithm" "$ERR"
head -c 1000 "$TEST_TMP/py.bin" >"$TEST_TMP/trunc.bin"
expect_rc 1 "truncated binary log: exit 1" $KSCTL ima replay "$TEST_TMP/trunc.bin"
check "truncated binary log: error gives an offset" grep -q "offset" "$ERR"
expect_rc 1 "convert of a malformed log: exit 1" \
    $KSCTL ima convert "$IMA/rust-keylime/invalid_ima_log.txt" -o "$TEST_TMP/x.bin"

# --- usage and unreadable files: exit 2 ---------------------------------------
expect_rc 0 "ima replay --help" $KSCTL ima replay --help
check "--help documents the exit status" grep -q "template hash does not match" "$OUT"
expect_rc 0 "ima --help" $KSCTL ima --help
expect_rc 0 "ima convert --help" $KSCTL ima convert --help
expect_rc 2 "no file" $KSCTL ima replay
expect_rc 2 "missing file" $KSCTL ima replay "$TEST_TMP/does-not-exist"
expect_rc 2 "unknown bank" $KSCTL ima replay --bank md5 "$BIG"
expect_rc 2 "unknown template hash" $KSCTL ima replay --template-hash md5 "$BIG"
expect_rc 2 "unknown option" $KSCTL ima replay --frobnicate "$BIG"
expect_rc 2 "unknown subcommand" $KSCTL ima frobnicate
expect_rc 2 "convert to an unwritable path" $KSCTL ima convert "$BIG" -o "$TEST_TMP/no/such/dir"

done_testing
exit $?
