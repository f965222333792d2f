#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The release path under abuse and crashes:
#  1. 200 malformed or truncated bodies and 100 slow (slowloris) connections
#     at once do not stop a well-formed release from succeeding, and the
#     daemon is still up afterwards;
#  2. keyserverd killed with SIGKILL during a burst of releases while ksctl
#     edits and activates a policy in a loop (some ksctl runs killed too):
#     after a restart the database is intact, the audit chain verifies, no
#     policy edit is half-applied and every key a client received has its
#     audit row.
# Honours $VALGRIND for keyserverd (e.g. VALGRIND='valgrind --leak-check=full
# --error-exitcode=99'); every loop is bounded in count and time.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools swtpm tpm2_pcrread openssl curl python3 sqlite3 timeout

B=$KS_BUILDDIR
KEYSERVERD="${VALGRIND:+$VALGRIND }$B/keyserverd/keyserverd"
KS_ATTEST="$B/loader-ref/ks-attest"
SLOW=${VALGRIND:+5}
SLOW=${SLOW:-1}
T=$TEST_TMP
ZERO32=0000000000000000000000000000000000000000000000000000000000000000
CURL="curl -sS --max-time $((10 * SLOW)) --cacert $T/tls.crt"

swtpm_start "$T/tpm" || skip_all "swtpm does not start"
TCTI1=$KS_TCTI
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj /CN=keyserver \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || skip_all "openssl cannot make a certificate"
DB=$T/ks.db
MK=$T/master.key
$B/ksctl init --db "$DB" --master-key "$MK" >"$T/init.out" 2>&1 ||
    { sed 's/^/# /' "$T/init.out"; skip_all "ksctl init failed"; }

# start_server NAME ARGS...: keyserverd on a free port; sets PORT, URL, KSD_PID.
start_server() {
    name=$1
    shift
    rm -f "$T/$name.port"
    $KEYSERVERD --listen 127.0.0.1:0 --port-file "$T/$name.port" --tls-cert "$T/tls.crt" \
        --tls-key "$T/tls.key" --db "$DB" --master-key "$MK" --rate-limit 0 "$@" \
        2>"$T/$name.log" &
    KSD_PID=$!
    at_exit "kill $KSD_PID 2>/dev/null"
    i=0
    while [ ! -s "$T/$name.port" ] && [ $i -lt $((100 * SLOW)) ]; do
        kill -0 $KSD_PID 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    PORT=$(cat "$T/$name.port" 2>/dev/null)
    URL="https://127.0.0.1:$PORT"
    [ -n "$PORT" ]
}

mkdir -p "$T/ak"
$KS_ATTEST ak-create --out-dir "$T/ak" --save-auth >"$T/ak.out" 2>&1 &&
    $B/ksctl ak add --db "$DB" --ak-pub "$T/ak/ak.pub" >>"$T/ak.out" 2>&1 ||
    { sed 's/^/# /' "$T/ak.out"; skip_all "cannot make and register an AK"; }
AK=$(cat "$T/ak/ak.name")
head -c 32 /dev/urandom >"$T/weights.in"
{
    $B/ksctl policy create boot --db "$DB" &&
        $B/ksctl policy pcr boot 0 "$ZERO32" --db "$DB" &&
        $B/ksctl policy activate boot --db "$DB" &&
        $B/ksctl policy create churn --db "$DB" &&
        $B/ksctl policy pcr churn 7 "$ZERO32" --db "$DB" &&
        $B/ksctl policy activate churn --db "$DB" &&
        $B/ksctl key import weights --policy boot --file "$T/weights.in" --db "$DB" --master-key "$MK"
} >"$T/setup.out" 2>&1 || { sed 's/^/# /' "$T/setup.out"; skip_all "setup failed"; }

# release NAME: one release of `weights` with ks-attest, bounded in time.
release() {
    rm -rf "${T:?}/${1:?}"
    mkdir -p "$T/$1"
    timeout $((60 * SLOW)) $KS_ATTEST release --server "$URL" --cacert "$T/tls.crt" \
        --tcti "$TCTI1" --ak-dir "$T/ak" --key weights --pcrs sha256:0,7 --out-dir "$T/$1" \
        >"$T/$1.out" 2>"$T/$1.err" && cmp -s "$T/weights.in" "$T/$1/weights.key"
}

# ---- 1. abuse ---------------------------------------------------------------------------
if start_server a --connection-timeout 10; then
    ok "keyserverd starts"
else
    not_ok "keyserverd did not start"
    sed 's/^/# /' "$T/a.log"
    done_testing
    exit 1
fi
A_PID=$KSD_PID
check "a release succeeds before the abuse" release pre

cat >"$T/abuse.py" <<'PY'
import json, random, socket, ssl, sys, threading, time

mode, port, cacert = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cacert)
rng = random.Random(1)

def tls(timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")

template = json.dumps({
    "ak_id": "000b" + "11" * 32, "nonce": "A" * 43 + "=", "hpke_pk": "Bw" * 21 + "Bw==",
    "keys": ["weights"], "quote": {"attest": "AQ" * 60 + "AQ==", "signature": "Ag" * 35 + "Ag=="},
    "pcrs": {"sha256": {"0": "00" * 32}}, "event_log": "U0VDUkVU" * 40}).encode()
bodies = [b"{", b'{"ak_id":', b"\xff\xfe\x00garbage", b"[]", b"null", b'{"ak_id":"zz"}',
          b"[" * 100000, b'{"a":' * 20000, b'{"nonce":1,"nonce":2}', bytes(range(256)) * 4,
          template.replace(b'"keys"', b'"keys2"'), template.replace(b"AQ==", b"AQ=!")]

def one(i):
    """Returns 'ok' when the server answered as it must (4xx), 'n/a' for
    requests that cannot get an answer (truncated), else a description."""
    kind = i % 4
    if i % 3 == 0:
        body = template[:rng.randrange(1, len(template))]  # cut anywhere
    else:
        body = bodies[i % len(bodies)]
    ctype = b"text/plain" if kind == 2 else b"application/json"
    s = tls()
    try:
        if kind == 1:
            # Truncated: declares more than it sends, then hangs up.
            s.sendall(b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (len(body) + 1000) + body)
            return "n/a"
        if kind == 3:
            # A chunked body with a broken chunk header.
            s.sendall(b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                      b"zz\r\n" + body[:50] + b"\r\n0\r\n\r\n")
        else:
            s.sendall(b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype +
                      b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while len(data) < 12:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if kind == 3 and not data:
            return "ok"  # dropping a broken chunked request is fine
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/1.1 ") else b"none"
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        if kind == 3 and status == b"400":
            return "ok"  # libmicrohttpd's own answer to broken chunking
        if status in (b"400", b"413", b"415") and b"content-type: application/json" in head:
            return "json"  # keyserverd's error document
        return "request %d (kind %d) got %r" % (i, kind, data[:60])
    finally:
        s.close()

def malformed(n, threads=8):
    results, lock = [], threading.Lock()
    def worker(k):
        for i in range(k, n, threads):
            try:
                r = one(i)
            except OSError as e:
                r = "request %d: %s" % (i, e)
            with lock:
                results.append(r)
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    bad = [r for r in results if r not in ("ok", "json", "n/a")]
    print("sent %d: %d answered 4xx, %d truncated, %d wrong" %
          (len(results), results.count("ok") + results.count("json"), results.count("n/a"),
           len(bad)))
    print("json errors: %d" % results.count("json"))
    for b in bad[:10]:
        print(b)
    sys.exit(1 if bad or len(results) != n else 0)

def slow(n, seconds):
    socks = []
    for i in range(n):
        try:
            # Half stall the TLS handshake, half trickle request headers.
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10) if i % 2
                         else tls())
        except OSError as e:
            print("connection %d: %s" % (i, e))
    print("opened %d slow connections" % len(socks), flush=True)
    msg = b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        for s in socks:
            try:
                s.send(msg[i % len(msg):i % len(msg) + 1])
            except OSError:
                pass
        i += 1
        time.sleep(0.5)
    for s in socks:
        s.close()
    sys.exit(0 if len(socks) == n else 1)

if mode == "malformed":
    malformed(int(sys.argv[4]))
else:
    slow(int(sys.argv[4]), float(sys.argv[5]))
PY

python3 "$T/abuse.py" slow "$PORT" "$T/tls.crt" 100 $((15 * SLOW)) >"$T/slow.out" 2>&1 &
SLOW_PID=$!
at_exit "kill $SLOW_PID 2>/dev/null"
timeout $((120 * SLOW)) python3 "$T/abuse.py" malformed "$PORT" "$T/tls.crt" 200 \
    >"$T/malformed.out" 2>&1 &
MAL_PID=$!
at_exit "kill $MAL_PID 2>/dev/null"
sleep 1
n_ok=0
for i in 1 2 3; do
    release "during$i" && n_ok=$((n_ok + 1))
done
check "3 of 3 releases succeed during 100 slow connections and 200 malformed bodies" \
    test "$n_ok" -eq 3
wait $MAL_PID
rc=$?
if [ $rc -eq 0 ]; then
    ok "200 malformed/truncated bodies: every complete one answered 400/413/415"
else
    not_ok "malformed bodies (exit $rc)"
    sed 's/^/# /' "$T/malformed.out"
fi
check "the slow connections were all opened" grep -q 'opened 100 slow' "$T/slow.out"
check "while they are open, /v1/health answers" $CURL -o /dev/null "$URL/v1/health"
wait $SLOW_PID
check "a release succeeds after the abuse" release post
check "keyserverd is still up" kill -0 "$A_PID"
$CURL -o "$T/met" "$URL/metrics"
NJSON=$(sed -n 's/^json errors: //p' "$T/malformed.out")
check "/metrics counts the ${NJSON:-?} malformed requests keyserverd answered" \
    awk -v n="${NJSON:-1000}" \
    '$1 == "keyserverd_malformed_requests_total" { exit !($2 >= n && n >= 100) }' "$T/met"
kill -TERM "$A_PID"
wait "$A_PID"
rc=$?
check "keyserverd exits cleanly on SIGTERM after the abuse (exit $rc)" test $rc -eq 0
if [ -n "${VALGRIND:-}" ]; then
    check "valgrind reports no errors" sh -c "! grep -q 'ERROR SUMMARY: [1-9]' '$T/a.log'"
fi

# ---- 2. kill -9 during releases and policy edits ----------------------------------------------
# Two release loops, each with its own swtpm and AK: swtpm has no resource
# manager, and two clients at once run it out of transient object slots.
swtpm_start "$T/tpm2" || skip_all "a second swtpm does not start"
TCTI2=$KS_TCTI
mkdir -p "$T/ak2"
$KS_ATTEST ak-create --tcti "$TCTI2" --out-dir "$T/ak2" --save-auth >"$T/ak2.out" 2>&1 &&
    $B/ksctl ak add --db "$DB" --ak-pub "$T/ak2/ak.pub" >>"$T/ak2.out" 2>&1 ||
    { sed 's/^/# /' "$T/ak2.out"; not_ok "a second AK"; }
AK2=$(cat "$T/ak2/ak.name")
start_server c || { not_ok "keyserverd restarts"; done_testing; exit 1; }
C_PID=$KSD_PID
echo "$URL" >"$T/url.new" && mv "$T/url.new" "$T/url"

# The loops run until $T/stop exists, and at most 300 rounds or 90 s.
# Release loop: each result line "granted" or "failed RC".
cat >"$T/release_loop.sh" <<EOF
end=\$((\$(date +%s) + $((90 * SLOW))))
i=0
while [ ! -e "$T/stop" ] && [ \$i -lt 300 ] && [ \$(date +%s) -lt \$end ]; do
    i=\$((i + 1))
    d="$T/burst\$1.\$i"
    mkdir -p "\$d"
    timeout $((20 * SLOW)) "$KS_ATTEST" release --server "\$(cat "$T/url")" --cacert "$T/tls.crt" \\
        --tcti "\$2" --ak-dir "\$3" --key weights --pcrs sha256:0,7 --out-dir "\$d" >"\$d.out" 2>&1
    rc=\$?
    if [ \$rc -eq 0 ] && cmp -s "$T/weights.in" "\$d/weights.key"; then echo granted; else echo "failed \$rc"; fi
done >"$T/release_loop.\$1.out"
EOF
# Policy loop, on "boot" (PCR 0 gains allowed values, the real one stays) and
# "churn"; every fourth round's ksctl runs are killed with SIGKILL after a few
# milliseconds.
cat >"$T/policy_loop.py" <<EOF
import os, random, signal, subprocess, sys, time
rng = random.Random(7)
ksctl, db = "$B/ksctl", "$DB"
end = time.time() + $((90 * SLOW))
tried = open("$T/policy_loop.values", "w")
for i in range(300):
    if time.time() > end or os.path.exists("$T/stop"):
        break
    policy, pcr = ("boot", "0") if i % 2 else ("churn", "7")
    value = os.urandom(32).hex()
    tried.write("%s %s %s\\n" % (policy, pcr, value))
    tried.flush()
    for args in (["policy", "pcr", policy, pcr, value], ["policy", "activate", policy]):
        p = subprocess.Popen([ksctl] + args + ["--db", db], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        if i % 4 == 3:
            time.sleep(rng.uniform(0, 0.03))
            p.send_signal(signal.SIGKILL)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    time.sleep(0.02)
EOF
sh "$T/release_loop.sh" 1 "$TCTI1" "$T/ak" &
L1=$!
sh "$T/release_loop.sh" 2 "$TCTI2" "$T/ak2" &
L2=$!
python3 "$T/policy_loop.py" >"$T/policy_loop.out" 2>&1 &
L3=$!
at_exit "kill $L1 $L2 $L3 2>/dev/null"

# Three crashes: SIGKILL while releases are in flight, restart on the same
# database, go on.
for round in 1 2 3; do
    sleep $((2 * SLOW))
    kill -KILL "$C_PID" 2>/dev/null
    wait "$C_PID" 2>/dev/null
    sleep 0.5
    start_server "c$round" || break
    C_PID=$KSD_PID
    echo "$URL" >"$T/url.new" && mv "$T/url.new" "$T/url"
done
check "keyserverd restarts after each SIGKILL" kill -0 "$C_PID"
sleep $((2 * SLOW))
touch "$T/stop"
wait $L1 $L2 $L3
GRANTED=$(cat "$T"/release_loop.*.out | grep -c '^granted')
TRIED=$(cat "$T"/release_loop.*.out | wc -l)
echo "# releases during the crashes: $GRANTED granted of $TRIED;" \
    "$(wc -l <"$T/policy_loop.values") policy edits"
check "releases were granted during the crash rounds" test "$GRANTED" -ge 1
check "some releases failed while the daemon was down (the crashes hit the burst)" \
    test "$GRANTED" -lt "$TRIED"
check "every failed release failed to reach the keyserver (none refused or broken)" sh -c "
    for f in '$T'/burst*.out; do
        grep -q '^weights 1' \"\$f\" && continue
        grep -q 'cannot reach the keyserver' \"\$f\" || { cat \"\$f\"; exit 1; }
    done"

check "PRAGMA integrity_check says ok" \
    sh -c "[ \"\$(sqlite3 '$DB' 'PRAGMA integrity_check')\" = ok ]"
check "PRAGMA foreign_key_check finds nothing" \
    sh -c "[ -z \"\$(sqlite3 '$DB' 'PRAGMA foreign_key_check')\" ]"
check "ksctl audit verify passes" $B/ksctl audit verify --db "$DB"
# Per AK: loop 1's AK also had the 5 grants of part 1.
G1=$(grep -c '^granted' "$T/release_loop.1.out")
G2=$(grep -c '^granted' "$T/release_loop.2.out")
granted_rows() {
    $B/ksctl audit show --json --event release --outcome granted --ak "$1" --db "$DB" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
check "every key a client received has its granted audit row" \
    test "$(granted_rows "$AK")" -ge $((G1 + 5)) -a "$(granted_rows "$AK2")" -ge "$G2"

# No half-applied policy edit: per policy, versions 1..n; one active, at
# most one draft (the newest); every version has the rules of the one before
# plus values the loop added; every activated version has an activation audit
# row and every activation row an activated version; every rule added by the
# loop has its audit row.
for p in boot churn; do
    v=1
    n=$($B/ksctl policy list --json --db "$DB" |
        python3 -c "import json, sys; print([x['versions'] for x in json.load(sys.stdin) if x['name'] == '$p'][0])")
    : >"$T/$p.versions"
    while [ "$v" -le "$n" ]; do
        $B/ksctl policy show "$p" --version "$v" --json --db "$DB" >>"$T/$p.versions" || break
        echo >>"$T/$p.versions"
        v=$((v + 1))
    done
done
$B/ksctl audit show --json --db "$DB" >"$T/audit.json"
$B/ksctl policy list --json --db "$DB" >"$T/plist.json"
check "no policy version is half-applied (rules, states, audit rows agree)" python3 - "$T" <<'PY'
import json, sys
T = sys.argv[1]
plist = {p["name"]: p for p in json.load(open(T + "/plist.json"))}
audit = json.load(open(T + "/audit.json"))
tried = {}
for line in open(T + "/policy_loop.values"):
    pol, pcr, val = line.split()
    tried.setdefault(pol, set()).add((int(pcr), val))
base = {"boot": {(0, "0" * 64)}, "churn": {(7, "0" * 64)}}
for pol in ("boot", "churn"):
    dec = json.JSONDecoder()
    text, vs, pos = open(T + "/%s.versions" % pol).read(), [], 0
    while text[pos:].strip():
        while text[pos].isspace():
            pos += 1
        v, pos = dec.raw_decode(text, pos)
        vs.append(v)
    info = plist[pol]
    assert [v["version"] for v in vs] == list(range(1, info["versions"] + 1)), (pol, vs)
    states = [v["state"] for v in vs]
    assert states.count("active") == 1, (pol, states)
    assert states.count("draft") <= 1, (pol, states)
    if "draft" in states:
        assert states[-1] == "draft" and info["draft_version"] == len(vs), (pol, states, info)
    active = states.index("active") + 1
    assert info["active_version"] == active, (pol, info, states)
    assert all(s == "retired" for s in states[:active - 1]), (pol, states)
    prev = set()
    for v in vs:
        rules = [(r["pcr"], r["digest"]) for r in v["rules"]]
        assert all(r["kind"] == "pcr" and r["bank"] == "sha256" for r in v["rules"]), v
        assert len(rules) == len(set(rules)), ("duplicate rule", v)
        rules = set(rules)
        assert prev <= rules, ("a version lost rules of the one before", pol, v["version"])
        assert rules <= base[pol] | tried.get(pol, set()), ("unknown rule", pol, v["version"])
        if v["state"] != "draft" and v["version"] > 1:
            assert rules != prev, ("activated without its new rule", pol, v["version"])
        prev = rules
    activated = {r["detail"]["version"] for r in audit
                 if r["event"] == "policy.activate" and r["detail"]["policy"] == pol}
    want = {v["version"] for v in vs if v["state"] != "draft"}
    assert activated == want, ("activation audit rows vs versions", pol, activated, want)
    added = {(r["detail"]["version"], r["detail"]["pcr"], r["detail"]["digest"]) for r in audit
             if r["event"] == "policy.rule.add" and r["detail"]["policy"] == pol}
    for i, v in enumerate(vs):
        before = {(r["pcr"], r["digest"]) for r in vs[i - 1]["rules"]} if i else set()
        for r in v["rules"]:
            if (r["pcr"], r["digest"]) not in before:
                assert (v["version"], r["pcr"], r["digest"]) in added, ("rule without audit", pol, v["version"], r)
    print(pol, "versions", len(vs), "states", states)
PY
check "after the crashes a release is granted" release final
kill -TERM "$C_PID"
wait "$C_PID"
check "keyserverd exits cleanly on SIGTERM" test $? -eq 0

done_testing
exit $?
