# SPDX-License-Identifier: Apache-2.0
# ks-seal, the data owner's tool: generate a model, seal it (key to a 0600
# file, or piped to a command / `ksctl key import`), inspect, unseal, refuse
# tampered files; make the CI key, sign and verify program manifests.

. "$KS_SRCDIR/tests/integration/common.sh"

SEAL="${VALGRIND:+$VALGRIND }$KS_BUILDDIR/loader-ref/ks-seal"
T=$TEST_TMP

# check_exit CODE "description" command...
check_exit() {
    want=$1 desc=$2
    shift 2
    "$@" >"$T/last.out" 2>"$T/last.err"
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, expected $want)"
        sed 's/^/# /' "$T/last.out" "$T/last.err" | head -20
    fi
}

# check_out "description" REGEX: the last command's stdout matches.
check_out() {
    if grep -q -- "$2" "$T/last.out"; then ok "$1"; else
        not_ok "$1"
        sed 's/^/# /' "$T/last.out" | head -20
    fi
}

check_err() {
    if grep -q -- "$2" "$T/last.err"; then ok "$1"; else
        not_ok "$1"
        sed 's/^/# /' "$T/last.err" | head -20
    fi
}

mode_of() {
    stat -c %a "$1"
}

check_exit 0 "gen-model" $SEAL gen-model --seed 7 --d-model 32 --layers 1 --heads 2 \
    --max-seq 64 --out "$T/w.bin"
check_out "... prints the weights' SHA-256" "^sha256 $(sha256sum "$T/w.bin" | cut -d' ' -f1)$"
check_exit 2 "gen-model does not overwrite" $SEAL gen-model --seed 7 --out "$T/w.bin"
check_exit 2 "gen-model refuses heads that do not divide d_model" \
    $SEAL gen-model --seed 1 --d-model 30 --heads 4 --out "$T/x.bin"
check_exit 2 "gen-model needs --seed" $SEAL gen-model --out "$T/x.bin"

check_exit 0 "seal with --key-out" $SEAL seal --in "$T/w.bin" --out "$T/w.sealed" \
    --key-name weights-dek --chunk-size 4K --key-out "$T/dek"
check "... the key file is 32 bytes, mode 600" \
    sh -c "[ \$(wc -c <'$T/dek') -eq 32 ] && [ \$(stat -c %a '$T/dek') = 600 ]"
cat "$T/last.out" "$T/last.err" >"$T/seal.out"
dekhex=$(od -An -tx1 "$T/dek" | tr -d ' \n')
check "... the key is neither printed nor logged" sh -c "! grep -qi '$dekhex' '$T/seal.out'"
check_exit 0 "info" $SEAL info "$T/w.sealed"
check_out "... key name and version" "^key  *weights-dek version 1$"
check_out "... chunk count" "chunks  *[0-9]* of 4096 bytes"
check_exit 0 "unseal with the key file" $SEAL unseal --in "$T/w.sealed" --key-file "$T/dek" \
    --out "$T/w.out" --threads 2
check "... gives the plaintext back" cmp "$T/w.bin" "$T/w.out"
check "... written with mode 600" test "$(mode_of "$T/w.out")" = 600

# Refusals.
check_exit 2 "seal refuses an existing output" $SEAL seal --in "$T/w.bin" --out "$T/w.sealed" \
    --key-name k --key-out "$T/dek2"
check_exit 2 "seal needs exactly one of --key-out, --ksctl" $SEAL seal --in "$T/w.bin" \
    --out "$T/n.sealed" --key-name k
check_exit 2 "seal refuses a bad key name" $SEAL seal --in "$T/w.bin" --out "$T/n.sealed" \
    --key-name 'a b' --key-out "$T/dek2"
check_exit 2 "seal refuses a chunk size below 4K" $SEAL seal --in "$T/w.bin" \
    --out "$T/n.sealed" --key-name k --chunk-size 1000 --key-out "$T/dek2"
check_exit 3 "seal never overwrites a key file" $SEAL seal --in "$T/w.bin" --out "$T/n.sealed" \
    --key-name k --key-out "$T/dek"
check "... and then leaves no sealed file behind" sh -c "! ls '$T'/n.sealed* 2>/dev/null"

head -c 32 /dev/urandom >"$T/wrong.key"
check_exit 1 "unseal with the wrong key is refused" $SEAL unseal --in "$T/w.sealed" \
    --key-file "$T/wrong.key" --out "$T/bad.out"
check_err "... as an authentication failure" "fails authentication"
check "... and writes nothing" test ! -e "$T/bad.out"
size=$(wc -c <"$T/w.sealed")
head -c $((size - 1)) "$T/w.sealed" >"$T/trunc.sealed"
check_exit 1 "info: truncated file" $SEAL info "$T/trunc.sealed"
check_err "... reported as truncated" "sealed file truncated"
check_exit 1 "unseal: truncated file refused" $SEAL unseal --in "$T/trunc.sealed" \
    --key-file "$T/dek" --out "$T/bad.out"
cp "$T/w.sealed" "$T/ext.sealed"
printf 'x' >>"$T/ext.sealed"
check_exit 1 "unseal: extended file refused" $SEAL unseal --in "$T/ext.sealed" \
    --key-file "$T/dek" --out "$T/bad.out"
check_err "... as trailing bytes" "bytes after the last chunk"
cp "$T/w.sealed" "$T/flip.sealed"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[5000] ^= 0xff
open(sys.argv[1], "wb").write(b)' "$T/flip.sealed"
check_exit 1 "unseal: a flipped ciphertext byte is refused" $SEAL unseal --in "$T/flip.sealed" \
    --key-file "$T/dek" --out "$T/bad.out"
check_exit 1 "info: not a sealed file" $SEAL info "$T/w.bin"
check_err "... bad magic" "bad magic"

# The key piped to a command's standard input.
check_exit 0 "seal --ksctl pipes the key to the command" $SEAL seal --in "$T/w.bin" \
    --out "$T/p.sealed" --key-name piped --ksctl "cat > '$T/piped.key'"
check_exit 0 "... which unseals the file" $SEAL unseal --in "$T/p.sealed" \
    --key-file "$T/piped.key" --out "$T/p.out"
check "... to the plaintext" cmp "$T/w.bin" "$T/p.out"
check_exit 3 "seal --ksctl: a failing command is reported" $SEAL seal --in "$T/w.bin" \
    --out "$T/f.sealed" --key-name failing --ksctl "cat >/dev/null; exit 4"
check "... and no sealed file is left" sh -c "! ls '$T'/f.sealed* 2>/dev/null"

# ... to the real `ksctl key import`.
DB=$T/ks.db MK=$T/master.key
if $KSCTL init --db "$DB" --master-key "$MK" >/dev/null 2>&1 &&
    $KSCTL policy create weights --db "$DB" >/dev/null 2>&1; then
    check_exit 0 "seal --ksctl 'ksctl key import'" $SEAL seal --in "$T/w.bin" \
        --out "$T/k.sealed" --key-name model-dek \
        --ksctl "$KSCTL key import model-dek --policy weights --db '$DB' --master-key '$MK'"
    check_out "... ksctl reports the import" "key model-dek version 1 imported"
    check_exit 0 "... the key is in the keyserver's database" \
        $KSCTL key list --db "$DB"
    check_out "... listed" "model-dek"
else
    not_ok "ksctl init / policy create for the import test"
fi

# CI key and program manifests.
check_exit 0 "ci-keygen" $SEAL ci-keygen --out-priv "$T/ci.pem" --out-pub "$T/ci.pub"
check_out "... prints the public key file's SHA-256" \
    "sha256 $(sha256sum "$T/ci.pub" | cut -d' ' -f1)"
check "... private key mode 600" test "$(mode_of "$T/ci.pem")" = 600
check_exit 2 "ci-keygen does not overwrite" $SEAL ci-keygen --out-priv "$T/ci.pem" \
    --out-pub "$T/ci2.pub"
check_exit 0 "sign-program" $SEAL sign-program --ci-key "$T/ci.pem" --weights "$T/w.bin" \
    --name demo --max-new-tokens 32 --out "$T/program.json"
check_exit 0 "verify-program" $SEAL verify-program --ci-pub "$T/ci.pub" "$T/program.json"
check_out "... the weights digest" "weights sha256 $(sha256sum "$T/w.bin" | cut -d' ' -f1)"
check_out "... the dims" "d_model 32, layers 1, heads 2, d_ff 128, max_seq 64"
check_out "... max_new_tokens" "^max_new_tokens 32$"
$SEAL ci-keygen --out-priv "$T/other.pem" --out-pub "$T/other.pub" >/dev/null
check_exit 1 "verify-program with another CI key is refused" $SEAL verify-program \
    --ci-pub "$T/other.pub" "$T/program.json"
check_err "... signature" "signature does not verify"
sed 's/"signature":"./"signature":"A/' "$T/program.json" >"$T/bad.json"
check_exit 1 "a changed signature is refused" $SEAL verify-program --ci-pub "$T/ci.pub" \
    "$T/bad.json"
check_exit 2 "sign-program refuses max-new-tokens above max_seq" $SEAL sign-program \
    --ci-key "$T/ci.pem" --weights "$T/w.bin" --name demo --max-new-tokens 65 \
    --out "$T/p2.json"
check_exit 1 "sign-program refuses a file that is no weights file" $SEAL sign-program \
    --ci-key "$T/ci.pem" --weights "$T/w.sealed" --name demo --out "$T/p3.json"
check_exit 1 "sign-program refuses a key that is not Ed25519" $SEAL sign-program \
    --ci-key "$KS_TESTDATA/quotes/swtpm-rsa-rsassa/ak.pem" --weights "$T/w.bin" --name demo \
    --out "$T/p4.json"

for c in gen-model seal info unseal run-plaintext ci-keygen sign-program verify-program; do
    check_exit 0 "$c --help" $SEAL $c --help
done
check_exit 2 "an unknown command" $SEAL frobnicate

# ---- split-key: k-of-n shares, combined here by an independent GF(2^8) Lagrange ----
head -c 32 /dev/urandom >"$T/split.key"
check_exit 0 "split-key: a 2-of-3 split" \
    $SEAL split-key --key-file "$T/split.key" --threshold 2 --count 3 --out-prefix "$T/sh" \
    --key-name weights
check_out "split-key: prints the ksctl import of share 3" \
    "^ksctl key import weights --policy POLICY --file $T/sh.3 --share-index 3 --share-threshold 2 --share-count 3\$"
check "split-key: three 32-byte share files of mode 0600" sh -c "
    for i in 1 2 3; do [ \"\$(stat -c %a:%s '$T/sh.'\$i)\" = 600:32 ] || exit 1; done"
cat >"$T/combine.py" <<'PY'
import sys
def mul(a, b):
    p = 0
    while b:
        if b & 1:
            p ^= a
        a = ((a << 1) ^ (0x11b if a & 0x80 else 0)) & 0xff
        b >>= 1
    return p
def inv(a):
    return next(x for x in range(1, 256) if mul(a, x) == 1)
key = open(sys.argv[1], "rb").read()
pts = [(int(a.rsplit(".", 1)[1]), open(a, "rb").read()) for a in sys.argv[2:]]
out = bytearray(len(key))
for j, (xj, yj) in enumerate(pts):
    l = 1
    for m, (xm, _) in enumerate(pts):
        if m != j:
            l = mul(l, mul(xm, inv(xm ^ xj)))
    for b in range(len(key)):
        out[b] ^= mul(yj[b], l)
sys.exit(0 if bytes(out) == key else 1)
PY
check "split-key: shares 1+2, 1+3 and 2+3 each give the key back (independent combiner)" sh -c "
    python3 '$T/combine.py' '$T/split.key' '$T/sh.1' '$T/sh.2' &&
    python3 '$T/combine.py' '$T/split.key' '$T/sh.1' '$T/sh.3' &&
    python3 '$T/combine.py' '$T/split.key' '$T/sh.3' '$T/sh.2'"
check_fails "control: one share alone is not the key" \
    python3 "$T/combine.py" "$T/split.key" "$T/sh.2"
check_exit 2 "split-key: existing share files are never overwritten" \
    $SEAL split-key --key-file "$T/split.key" --threshold 2 --count 3 --out-prefix "$T/sh"
check_exit 2 "split-key: threshold above count refused" \
    $SEAL split-key --key-file "$T/split.key" --threshold 4 --count 3 --out-prefix "$T/x"
check_exit 2 "split-key: count 256 refused" \
    $SEAL split-key --key-file "$T/split.key" --threshold 2 --count 256 --out-prefix "$T/x"
head -c 65 /dev/urandom >"$T/split.big"
check_exit 1 "split-key: a 65-byte key refused" \
    $SEAL split-key --key-file "$T/split.big" --threshold 2 --count 3 --out-prefix "$T/x"
check "split-key: nothing written by the refused runs" sh -c "! ls '$T'/x.* 2>/dev/null"

done_testing
exit $?
