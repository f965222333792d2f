#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end demo on a software TPM, on a fresh Debian 12 machine:
#   1. installs the dependencies and builds the tree (in _build/);
#   2. starts a swtpm with an EK certificate and replays the measured events
#      of a real Secure Boot firmware log (tests/data) into its PCRs 0-7;
#   3. sets up a keyserver: database, master key, TLS certificate;
#   4. the data owner generates a model and seals it under a fresh
#      data-encryption key (DEK) that goes straight into the keyserver; the
#      CI signs the program that may run on it; a request (HPKE) key is made
#      for the end users;
#   5. a policy learned from the boot log and the launcher's log pins the boot
#      chain (PCRs 0-7) and
#      PCR 15 as the measured launcher (ks-launch) will extend it for this
#      loader binary, configuration and CI key;
#   6. ks-launch measures and starts the trusted loader (ks-loader): it
#      enrolls a fresh attestation key through the TPM's EK, attests (a TPM
#      quote bound to the keyserver's nonce and a one-time HPKE key, with
#      the firmware and application logs), receives the DEK and the request
#      key, and decrypts the weights into locked memory;
#   7. the end user (ks-client) checks the request key's statement against
#      the keyserver's pinned receipt key, encrypts a prompt, sends it
#      through an untrusted relay (ks-relay, which sees sizes only) and
#      decrypts the completion: the bytes the plaintext model produces;
#   8. after a reboot, a modified loader binary (one byte appended, so
#      another PCR 15) is refused its keys; the audit trail records every
#      decision in a verifiable hash chain.
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
L=$B/loader-ref
KSCTL=$B/ksctl
KEYSERVERD=$B/keyserverd/keyserverd
LOG=$top/tests/data/eventlogs/keylime/binary_bios_measurements-secureboot.bin

W=$(mktemp -d "${TMPDIR:-/tmp}/ks-demo.XXXXXX")
cleanup_cmds=""
at_exit() { cleanup_cmds="$1; $cleanup_cmds"; }
trap 'set +e; eval "$cleanup_cmds"; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM
. "$top/contrib/swtpm-lib.sh"

say "Starting a software TPM with an EK certificate (swtpm, state in $W/tpm)"
swtpm_start "$W/tpm" ek
echo "TPM on 127.0.0.1:$SWTPM_PORT; EK certificate issued by: $(openssl x509 -noout -issuer \
    -in "$W/tpm/localca/issuercert.pem" 2>/dev/null | sed 's/^issuer=//')"

# What firmware measures at every boot: the PCR 0-7 events of the log.
replay_boot() {
    xargs -n 16 tpm2_pcrextend <"$W/extends"
}

say "Replaying a real Secure Boot event log into PCRs 0-7 (as firmware would measure)"
"$KSCTL" eventlog show --json "$LOG" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["type"] != "EV_NO_ACTION" and e["pcr"] < 8 and "sha256" in e["digests"]:
        print("%d:sha256=%s" % (e["pcr"], e["digests"]["sha256"]))
' >"$W/extends"
replay_boot
echo "$(wc -l <"$W/extends") events extended"
"$KSCTL" eventlog replay --json --bank sha256 "$LOG" >"$W/replay.json"
python3 - "$W/replay.json" <<'PY'
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
PY

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
RK=$(curl -s --cacert "$W/tls.crt" "$URL/v1/info" | python3 -c 'import json, sys
print(json.load(sys.stdin)["receipt_key"])')
echo "its receipt key (pinned by the loader and by end users): ${RK%"${RK#????????????????????????}"}..."

say "The data owner: a model (seed 2024), sealed under a fresh DEK; the CI signs its program"
"$L/ks-seal" gen-model --seed 2024 --out "$W/model.bin" | sed -n 's/^weights .*: /model: /p'
"$L/ks-seal" ci-keygen --out-priv "$W/ci.key" --out-pub "$W/ci.pub" >/dev/null
"$L/ks-seal" sign-program --ci-key "$W/ci.key" --weights "$W/model.bin" --name demo \
    --max-new-tokens 32 --out "$W/program.json"
"$KSCTL" policy create loader --db "$W/ks.db" >/dev/null
# The DEK goes from ks-seal straight into the keyserver: never into a file.
"$L/ks-seal" seal --in "$W/model.bin" --out "$W/model.sealed" --key-name weights-dek \
    --ksctl "$KSCTL key import weights-dek --policy loader --db $W/ks.db --master-key $W/master.key"
"$KSCTL" key create req --kind hpke --policy loader --db "$W/ks.db" --master-key "$W/master.key"

say "The machine's TPM: its EK certificate's CA is trusted (the loader enrolls its AKs)"
# The loader makes a fresh AK at each start and enrolls it through the EK
# (TPM2_MakeCredential / ActivateCredential); EKs whose certificate chains
# to this CA are approved automatically.
"$KSCTL" ekca add "$W/tpm/localca/issuercert.pem" --auto-approve --db "$W/ks.db"

cat >"$W/loader.conf" <<EOF
# ks-loader configuration: measured into PCR 15 by ks-launch
keyserver = $URL
cacert = $W/tls.crt
receipt_key = $RK
request_key = req
sealed = $W/model.sealed
socket = $W/loader.sock
pcrs = sha256:0-7,15
event_log = $LOG
backend = cpu
EOF

say "Policy 'loader': learned from the golden boot log and the launcher's application log"
"$L/ks-launch" --measure-only --loader "$L/ks-loader" --config "$W/loader.conf" \
    --ci-key "$W/ci.pub" --log "$W/expected.log" >"$W/expected"
PCR15=$(sed -n 's/^sha256:15=//p' "$W/expected")
echo "ks-launch --measure-only predicts PCR 15 = $PCR15"
echo "ksctl eventlog replay of its log gives $("$KSCTL" eventlog replay --json --bank sha256 \
    "$W/expected.log" | python3 -c 'import json, sys; print(json.load(sys.stdin)["banks"]["sha256"]["15"])')"
# Every event digest of PCRs 0-7 in order, the Secure Boot state, the
# separators, and the loader's executable, config and CI-key digests.
"$KSCTL" policy learn loader --eventlog "$LOG" --app-log "$W/expected.log" --pcrs 0-7 \
    --db "$W/ks.db"
"$KSCTL" policy activate loader --db "$W/ks.db"

# launch LOADER_BINARY: ks-launch -> ks-loader in the background; true once
# it serves.
launch() {
    rm -f "$W/loader.sock"
    "$L/ks-launch" --loader "$1" --config "$W/loader.conf" --ci-key "$W/ci.pub" \
        --log "$W/app.log" --tcti "$KS_TCTI" 2>"$W/loader.log" &
    LOADER=$!
    at_exit "kill $LOADER 2>/dev/null"
    i=0
    while [ ! -S "$W/loader.sock" ] && [ $i -lt 300 ] && kill -0 "$LOADER" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    sed 's/^/    /' "$W/loader.log"
    [ -S "$W/loader.sock" ]
}

say "ks-launch measures the loader into PCR 15 and starts it: fresh AK enrolled, attest, unseal, serve"
launch "$L/ks-loader"
echo "the TPM's PCR 15 is now $(tpm2_pcrread sha256:15 | sed -n 's/^ *15 *: *0x//p' |
    tr 'A-F' 'a-f')"

say "The untrusted relay (it stands for the API and inference servers)"
"$L/ks-relay" --listen 127.0.0.1:0 --socket "$W/loader.sock" --port-file "$W/relay.port" \
    2>"$W/relay.log" &
at_exit "kill $! 2>/dev/null"
i=0
while [ ! -s "$W/relay.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
RELAY=127.0.0.1:$(cat "$W/relay.port")
echo "ks-relay on $RELAY; the inference server loads the CI-signed program through it:"
"$L/ks-client" load --connect "$RELAY" --program "$W/program.json"

PROMPT="Confidential inference: "
say "The end user: the request key's statement checked, the prompt encrypted, sent via the relay"
"$L/ks-client" pubkey --server "$URL" --cacert "$W/tls.crt" --receipt-key "$RK" --key req |
    sed 's/^/request key (statement verified with the receipt key): /'
"$L/ks-client" infer --server "$URL" --cacert "$W/tls.crt" --receipt-key "$RK" --key req \
    --connect "$RELAY" --prompt "$PROMPT" --max-new 32 --output hex >"$W/completion.hex"
"$L/ks-seal" run-plaintext --weights "$W/model.bin" --prompt "$PROMPT" --n 32 |
    sed 's/^generated //' >"$W/reference.hex"
python3 - "$W/completion.hex" "$PROMPT" <<'PY'
import sys
b = bytes.fromhex(open(sys.argv[1]).read().strip())
print("prompt:     %r" % sys.argv[2])
print("completion: %s" % b.hex())
print("as text:    %r (a random model's bytes)" %
      "".join(chr(c) if 32 <= c < 127 else "." for c in b))
PY
if cmp -s "$W/completion.hex" "$W/reference.hex"; then
    echo "= what the plaintext model computes on the plaintext weights (ks-seal run-plaintext)"
else
    echo "FAILED: the completion differs from the plaintext model's" >&2
    exit 1
fi
echo "all the relay saw:"
sed 's/^/    /' "$W/relay.log"
"$L/ks-client" stats --socket "$W/loader.sock" | python3 -c 'import json, sys
s = json.load(sys.stdin)["stats"]
print("loader STATS: served %s, refused %d, egress %d of %d bytes in this window" % (
    s["served"], s["refused_total"], s["egress"]["used"], s["egress"]["budget"]))'
kill "$LOADER"
wait "$LOADER" 2>/dev/null || true

say "A reboot, then a modified loader binary (one byte appended): another PCR 15, no keys"
tpm2_shutdown -c >/dev/null 2>&1 || true # orderly: no dictionary-attack count
kill "$(cat "$W/tpm/swtpm.pid")"
i=0
while [ -e "$W/tpm/swtpm.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
swtpm_start "$W/tpm"
replay_boot
rm -f "$W/app.log" # /run is empty after a reboot
cp "$L/ks-loader" "$W/ks-loader-modified"
printf 'x' >>"$W/ks-loader-modified"
if launch "$W/ks-loader-modified"; then
    echo "FAILED: a modified loader got its keys" >&2
    exit 1
fi
rc=0
wait "$LOADER" 2>/dev/null || rc=$?
echo "refused, as it must be (exit $rc): nothing was released, the loader serves nothing"

say "The audit trail (hash-chained)"
"$KSCTL" audit show --db "$W/ks.db" | tail -n 4
"$KSCTL" audit verify --db "$W/ks.db"

say "Demo complete"
