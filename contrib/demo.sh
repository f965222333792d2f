#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end demo on a software TPM, on a fresh Debian 12 machine:
#   1. installs the dependencies and builds the tree (in _build/);
#   2. starts a swtpm with an EK certificate and replays the measured events
#      of a real Secure Boot firmware log (tests/data) into its PCRs 0-7;
#   3. sets up a keyserver: database, master key, TLS certificate, a policy
#      pinning the boot chain (PCRs 0-7 as the log replays them), and a
#      data-encryption key;
#   4. the loader side attests: challenge -> TPM quote bound to the nonce and
#      a one-time HPKE key -> release (with the event log) -> the key arrives
#      HPKE-wrapped and is unwrapped; it is the key that was imported;
#   5. a machine whose boot chain differs (one more measurement in PCR 4, as
#      a modified boot loader would make) is refused, and the audit trail
#      records both decisions in a verifiable hash chain.
# Everything it starts runs on 127.0.0.1 and is stopped at the end.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Installing dependencies and building (this takes a few minutes the first time)"
sh contrib/install-deps.sh
[ -x configure ] || ./bootstrap >/dev/null
mkdir -p _build
(cd _build && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" >/dev/null)
B=$top/_build
KSCTL=$B/ksctl
KEYSERVERD=$B/keyserverd/keyserverd
KS_ATTEST=$B/loader-ref/ks-attest
LOG=$top/tests/data/eventlogs/keylime/binary_bios_measurements-secureboot.bin

W=$(mktemp -d "${TMPDIR:-/tmp}/ks-demo.XXXXXX")
cleanup_cmds=""
at_exit() { cleanup_cmds="$1; $cleanup_cmds"; }
trap 'eval "$cleanup_cmds"; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM
. "$top/contrib/swtpm-lib.sh"

say "Starting a software TPM with an EK certificate (swtpm, state in $W/tpm)"
swtpm_start "$W/tpm" ek
echo "TPM on 127.0.0.1:$SWTPM_PORT; EK certificate issued by: $(openssl x509 -noout -issuer \
    -in "$W/tpm/localca/issuercert.pem" 2>/dev/null | sed 's/^issuer=//')"

say "Replaying a real Secure Boot event log into PCRs 0-7 (as firmware would measure)"
"$KSCTL" eventlog show --json "$LOG" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["type"] != "EV_NO_ACTION" and e["pcr"] < 8 and "sha256" in e["digests"]:
        print("%d:sha256=%s" % (e["pcr"], e["digests"]["sha256"]))
' >"$W/extends"
xargs -n 16 tpm2_pcrextend <"$W/extends"
echo "$(wc -l <"$W/extends") events extended"
"$KSCTL" eventlog replay --json --bank sha256 "$LOG" >"$W/replay.json"
python3 - "$W/replay.json" <<'EOF'
import json, subprocess, sys
want = json.load(open(sys.argv[1]))["banks"]["sha256"]
out = subprocess.run(["tpm2_pcrread", "sha256:0,1,2,3,4,5,6,7"], capture_output=True,
                     text=True, check=True).stdout
got = {}
for line in out.splitlines():
    line = line.strip()
    if line[:1].isdigit() and ":" in line:
        i, v = line.split(":", 1)
        got[i.strip()] = v.strip().lower().removeprefix("0x")
for i in map(str, range(8)):
    assert got[i] == want[i], (i, got[i], want[i])
print("the TPM's PCRs 0-7 equal the log's replay (ksctl eventlog replay)")
EOF

say "Setting up the keyserver: database, master key, TLS certificate"
"$KSCTL" init --db "$W/ks.db" --master-key "$W/master.key"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$W/tls.key" -out "$W/tls.crt" -subj "/CN=keyserver-demo" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
"$KEYSERVERD" --listen 127.0.0.1:0 --port-file "$W/port" --tls-cert "$W/tls.crt" \
    --tls-key "$W/tls.key" --db "$W/ks.db" --master-key "$W/master.key" 2>"$W/keyserverd.log" &
KSD=$!
at_exit "kill $KSD 2>/dev/null"
i=0
while [ ! -s "$W/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$W/port")
URL=https://127.0.0.1:$PORT
echo "keyserverd on $URL: $(curl -s --cacert "$W/tls.crt" "$URL/v1/health")"

say "Policy 'boot': PCRs 0-7 must hold the values of the golden boot log"
"$KSCTL" policy create boot --db "$W/ks.db"
for i in 0 1 2 3 4 5 6 7; do
    v=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['banks']['sha256']['$i'])" \
        "$W/replay.json")
    "$KSCTL" policy pcr boot "$i" "$v" --db "$W/ks.db" >/dev/null
done
"$KSCTL" policy activate boot --db "$W/ks.db"

say "A data-encryption key for the model weights, imported under the master key"
head -c 32 /dev/urandom >"$W/dek"
"$KSCTL" key import weights-dek --policy boot --file "$W/dek" --db "$W/ks.db" \
    --master-key "$W/master.key"
echo "DEK fingerprint (SHA-256): $(sha256sum <"$W/dek" | cut -c1-16)..."

say "The loader's attestation key, registered by an admin"
mkdir -p "$W/ak"
# --save-auth keeps the AK across the demo's separate commands; the real
# loader makes its AK at start and it dies with the process.
"$KS_ATTEST" ak-create --tcti "$KS_TCTI" --out-dir "$W/ak" --save-auth
"$KSCTL" ak add --ak-pub "$W/ak/ak.pub" --db "$W/ks.db"

say "Attest and release: challenge -> quote(nonce, HPKE key) -> release with the event log"
mkdir -p "$W/out"
"$KS_ATTEST" release --tcti "$KS_TCTI" --server "$URL" --cacert "$W/tls.crt" \
    --key weights-dek --pcrs sha256:0,1,2,3,4,5,6,7 --ak-dir "$W/ak" --eventlog "$LOG" \
    --out-dir "$W/out"
if cmp -s "$W/dek" "$W/out/weights-dek.key"; then
    echo "released key fingerprint:  $(sha256sum <"$W/out/weights-dek.key" | cut -c1-16)..." \
        "= the imported DEK"
else
    echo "FAILED: the released key differs from the imported one" >&2
    exit 1
fi

say "A modified boot chain: one more measurement in PCR 4 (another boot loader)"
tpm2_pcrextend "4:sha256=$(printf 'evil bootloader' | sha256sum | cut -d' ' -f1)"
set +e
"$KS_ATTEST" release --tcti "$KS_TCTI" --server "$URL" --cacert "$W/tls.crt" \
    --key weights-dek --pcrs sha256:0,1,2,3,4,5,6,7 --ak-dir "$W/ak" --eventlog "$LOG" \
    --out-dir "$W/out2"
rc=$?
set -e
if [ $rc -ne 0 ] && [ ! -e "$W/out2/weights-dek.key" ]; then
    echo "refused, as it must be (exit $rc): nothing was released"
else
    echo "FAILED: a modified boot chain got the key" >&2
    exit 1
fi

say "The audit trail (hash-chained)"
"$KSCTL" audit show --db "$W/ks.db" | tail -n 3
"$KSCTL" audit verify --db "$W/ks.db"

say "Demo complete"
