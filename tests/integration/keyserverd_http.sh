#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# keyserverd's HTTPS server: TLS, routing, limits, nonces, metrics, signals.
# Starts the real daemon on 127.0.0.1 with a free port and drives it with
# curl, openssl and small python3 socket scripts.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools openssl curl python3

KEYSERVERD="${VALGRIND:+$VALGRIND }$KS_BUILDDIR/keyserverd/keyserverd"
# Valgrind makes everything slower: give it longer.
SLOW=${VALGRIND:+5}
SLOW=${SLOW:-1}
T=$TEST_TMP

# ---- certificates ------------------------------------------------------------
mkcert() { # mkcert NAME CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$T/$1.key" -out "$T/$1.crt" -subj "/CN=$2" \
        -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
}
mkcert one keyserver-one || skip_all "openssl cannot make certificates"
mkcert two keyserver-two
cp "$T/one.crt" "$T/server.crt"
cp "$T/one.key" "$T/server.key"

# ---- database: the daemon refuses to start without an initialised one ---------
$KS_BUILDDIR/ksctl init --db "$T/ks.db" --master-key "$T/master.key" >"$T/init.out" 2>&1 ||
    { sed 's/^/# /' "$T/init.out"; skip_all "ksctl init failed"; }

# ---- configuration checks ----------------------------------------------------
cat >"$T/ks.conf" <<EOF
# test configuration
db = $T/ks.db
master_key = $T/master.key
listen = 127.0.0.1:0
port_file = $T/port
tls_cert = $T/server.crt
tls_key = $T/server.key
max_body = 4096
rate_limit = 0
connection_timeout = 10
nonce_lifetime = 60
EOF
check "--check-config accepts a good file" $KEYSERVERD --config "$T/ks.conf" --check-config

printf 'listen = 127.0.0.1:0\nthreads = 2\nbogus = 1\n' >"$T/bad.conf"
$KEYSERVERD --config "$T/bad.conf" --check-config >"$T/out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "line 3: unknown key 'bogus'" "$T/out"; then
    ok "--check-config: unknown key refused with its line number (exit 2)"
else
    not_ok "--check-config: unknown key (exit $rc)"
    sed 's/^/# /' "$T/out"
fi
$KEYSERVERD --config "$T/ks.conf" --tls-key "$T/two.key" --check-config >"$T/out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "does not match" "$T/out"; then
    ok "--check-config: a key that does not match the certificate (exit 2)"
else
    not_ok "--check-config: mismatched key (exit $rc)"
    sed 's/^/# /' "$T/out"
fi
check_fails "no TLS certificate and no plain_http is refused" \
    $KEYSERVERD --listen 127.0.0.1:0 --check-config

# ---- start the TLS server -------------------------------------------------------
# start_server LOG PORTFILE ARGS...: sets KSD_PID and PORT.
start_server() {
    log=$1
    pf=$2
    shift 2
    rm -f "$pf"
    $KEYSERVERD "$@" 2>"$log" &
    KSD_PID=$!
    at_exit "kill $KSD_PID 2>/dev/null"
    i=0
    while [ ! -s "$pf" ] && [ $i -lt $((100 * SLOW)) ]; do
        kill -0 $KSD_PID 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    PORT=$(cat "$pf" 2>/dev/null)
    [ -n "$PORT" ]
}

if start_server "$T/a.log" "$T/port" --config "$T/ks.conf"; then
    ok "keyserverd starts on a free port and writes the port file"
else
    not_ok "keyserverd did not start"
    sed 's/^/# /' "$T/a.log"
    done_testing
    exit 1
fi
A_PID=$KSD_PID
URL="https://127.0.0.1:$PORT"
CURL="curl -sS --max-time $((10 * SLOW)) --cacert $T/one.crt"

# req NAME CURL-ARGS...: body in $T/NAME.body, headers in $T/NAME.hdr, status
# in $T/NAME.status.
req() {
    name=$1
    shift
    $CURL -D "$T/$name.hdr" -o "$T/$name.body" -w '%{http_code}' "$@" >"$T/$name.status" \
        2>"$T/$name.err"
}

status_is() { # status_is NAME CODE
    [ "$(cat "$T/$1.status")" = "$2" ]
}

# json_get FILE EXPR: evaluate a python expression on the parsed document d.
json_get() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

error_is() { # error_is NAME STATUS CODE
    status_is "$1" "$2" && [ "$(json_get "$T/$1.body" 'd["error"]')" = "$3" ] &&
        [ "$(json_get "$T/$1.body" 'sorted(d.keys())')" = "['detail', 'error']" ] &&
        grep -qi '^content-type: application/json' "$T/$1.hdr"
}

req health "$URL/v1/health"
check "GET /v1/health -> 200 {\"status\":\"ok\"}" \
    sh -c "[ \"\$(cat '$T/health.status')\" = 200 ] && [ \"\$(cat '$T/health.body')\" = '{\"status\":\"ok\"}' ]"
check "responses carry Cache-Control: no-store and application/json" \
    sh -c "grep -qi '^cache-control: no-store' '$T/health.hdr' && grep -qi '^content-type: application/json' '$T/health.hdr'"

req info "$URL/v1/info"
check "GET /v1/info has id, version and suites" \
    sh -c "[ \"\$(cat '$T/info.status')\" = 200 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[\"version\"] and d[\"id\"]; assert d[\"suites\"][0][\"kem_id\"] == 32 and d[\"suites\"][0][\"aead_id\"] == 2' '$T/info.body'"

# ---- challenge -------------------------------------------------------------------
now=$(date +%s)
req chal -X POST -H 'Content-Type: application/json' -d '{}' "$URL/v1/challenge"
check "POST /v1/challenge {}: nonce of 32 bytes, expires about now + 60" \
    python3 -c '
import base64, json, sys
d = json.load(open(sys.argv[1]))
n = base64.b64decode(d["nonce"], validate=True)
assert len(n) == 32, len(n)
now = int(sys.argv[2])
assert now + 55 <= d["expires"] <= now + 65, (d["expires"], now)
assert int.from_bytes(n[:8], "big") == d["expires"]
' "$T/chal.body" "$now"
NONCE=$(json_get "$T/chal.body" 'd["nonce"]')
req chal2 -X POST "$URL/v1/challenge"
check "POST /v1/challenge with an empty body and no Content-Type -> 200" status_is chal2 200
req chal3 -X POST -H 'Content-Type: application/json' -d '{"a":1}' "$URL/v1/challenge"
check "POST /v1/challenge with a non-empty object -> 400 bad_request" error_is chal3 400 bad_request

# ---- keep-alive ----------------------------------------------------------------------
$CURL -v -o /dev/null -o /dev/null -o /dev/null "$URL/v1/health" "$URL/v1/nope" "$URL/v1/info" \
    2>"$T/ka.err"
check "HTTP keep-alive: three requests (one a 404) on one connection" \
    test "$(grep -c 'Re-using existing connection' "$T/ka.err")" -eq 2

# ---- routing and request checks ---------------------------------------------------
req nf "$URL/v1/nope"
check "unknown path -> 404 not_found" error_is nf 404 not_found
req nf2 "$URL/v1/health/"
check "trailing slash -> 404 not_found" error_is nf2 404 not_found
req m405 "$URL/v1/challenge"
check "GET /v1/challenge -> 405 method_not_allowed with Allow: POST" \
    sh -c "[ \"\$(cat '$T/m405.status')\" = 405 ] && grep -qi '^allow: POST' '$T/m405.hdr' && grep -q method_not_allowed '$T/m405.body'"
req m405b -X DELETE "$URL/v1/health"
check "DELETE /v1/health -> 405 with Allow: GET, HEAD" \
    sh -c "[ \"\$(cat '$T/m405b.status')\" = 405 ] && grep -qi '^allow: GET, HEAD' '$T/m405b.hdr'"
req mt -X POST -H 'Content-Type: text/plain' -d '{}' "$URL/v1/release"
check "POST text/plain -> 415 unsupported_media_type" error_is mt 415 unsupported_media_type
req mt2 -X POST -d 'x=1' "$URL/v1/release"
check "POST form data -> 415 unsupported_media_type" error_is mt2 415 unsupported_media_type
req mt3 -X POST -H 'Content-Type: application/json; charset=utf-8' -d '{}' "$URL/v1/challenge"
check "Content-Type parameters are accepted" status_is mt3 200

python3 -c 'print("{\"pad\":\"" + "A" * 5000 + "\"}")' >"$T/big.json"
req big -X POST -H 'Content-Type: application/json' --data-binary "@$T/big.json" "$URL/v1/release"
check "body over max_body (Content-Length) -> 413 too_large" error_is big 413 too_large
req bigc -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$T/big.json" "$URL/v1/release"
check "chunked body over max_body -> 413 too_large" error_is bigc 413 too_large

req bad -X POST -H 'Content-Type: application/json' -d '{"ak_id": ' "$URL/v1/release"
check "malformed JSON on /v1/release -> 400 bad_request" error_is bad 400 bad_request
req bad2 -X POST -H 'Content-Type: application/json' -d '{"ak_id":"x","ak_id":"y"}' \
    "$URL/v1/release"
check "duplicate JSON keys -> 400 bad_request" error_is bad2 400 bad_request

# A syntactically valid release request.
release_body() { # release_body NONCE-B64
    python3 -c '
import base64, json, sys
b = lambda n, c: base64.b64encode(bytes([c]) * n).decode()
print(json.dumps({
    "ak_id": "000b" + "11" * 32,
    "nonce": sys.argv[1],
    "hpke_pk": b(32, 7),
    "keys": ["weights", "request-key@2"],
    "quote": {"attest": b(120, 1), "signature": b(70, 2)},
    "pcrs": {"sha256": {"0": "00" * 32, "7": "ab" * 32}},
    "event_log": base64.b64encode(b"SECRETMARKER" * 8).decode(),
}))' "$1"
}
release_body "$(python3 -c 'import base64; print(base64.b64encode(bytes(32)).decode())')" \
    >"$T/rel0.json"
req rel0 -X POST -H 'Content-Type: application/json' --data-binary "@$T/rel0.json" "$URL/v1/release"
check "valid release with a forged nonce -> 403 nonce_invalid" error_is rel0 403 nonce_invalid
# The same route in CBOR (RFC 8949): tests/data/cbor/release-request.cbor is a
# well-formed request whose nonce this server never issued.
req cb0 -X POST -H 'Content-Type: application/cbor' \
    --data-binary "@$KS_TESTDATA/cbor/release-request.cbor" "$URL/v1/release"
check "CBOR release with a forged nonce -> 403 nonce_invalid (parsed as CBOR)" \
    error_is cb0 403 nonce_invalid
printf '\241\142\141' >"$T/bad.cbor"
req cb1 -X POST -H 'Content-Type: application/cbor' --data-binary "@$T/bad.cbor" "$URL/v1/release"
check "truncated CBOR on /v1/release -> 400 bad_request" error_is cb1 400 bad_request
check "... naming the byte" grep -q 'invalid CBOR at byte' "$T/cb1.body"
req cb2 -X POST -H 'Content-Type: application/cbor' --data-binary "@$T/rel0.json" "$URL/v1/release"
check "a JSON body sent as application/cbor -> 400 bad_request" error_is cb2 400 bad_request
req cb3 -X POST -H 'Content-Type: application/cbor' -d '{}' "$URL/v1/challenge"
check "application/cbor on /v1/challenge -> 415 (only /v1/release takes CBOR)" \
    error_is cb3 415 unsupported_media_type
release_body "$NONCE" >"$T/rel1.json"
req rel1 -X POST -H 'Content-Type: application/json' --data-binary "@$T/rel1.json" "$URL/v1/release"
check "valid release with a fresh nonce is refused (403 attestation_failed), nothing released" \
    sh -c "[ \"\$(cat '$T/rel1.status')\" = 403 ] && grep -q attestation_failed '$T/rel1.body' && ! grep -q ciphertext '$T/rel1.body'"
req rel2 -X POST -H 'Content-Type: application/json' --data-binary "@$T/rel1.json" "$URL/v1/release"
check "the same nonce again -> 409 nonce_used" error_is rel2 409 nonce_used
req kp "$URL/v1/keys/weights/public"
check "GET /v1/keys/{name}/public -> 404 not_found (no store yet)" error_is kp 404 not_found
req kp2 "$URL/v1/keys/bad%20name/public"
check "GET /v1/keys/{bad name}/public -> 400 bad_request" error_is kp2 400 bad_request

# ---- TLS versions -----------------------------------------------------------------
# The client is told to allow TLS 1.1 (OpenSSL's security level 0); a control
# server proves it can, so a refusal is the keyserver's.
TLS11="curl -sS -k --max-time 5 --tlsv1.1 --tls-max 1.1 --ciphers DEFAULT:@SECLEVEL=0"
CPORT=$(free_port_pair)
openssl s_server -accept "127.0.0.1:$CPORT" -cert "$T/one.crt" -key "$T/one.key" -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' -www >/dev/null 2>&1 &
CTRL_PID=$!
at_exit "kill $CTRL_PID 2>/dev/null"
i=0
until $TLS11 -o /dev/null "https://127.0.0.1:$CPORT/" 2>/dev/null || [ $i -ge 30 ]; do
    sleep 0.1
    i=$((i + 1))
done
check "control: this curl can speak TLS 1.1 to a server that allows it" \
    $TLS11 -o /dev/null "https://127.0.0.1:$CPORT/"
kill $CTRL_PID 2>/dev/null
check_fails "TLS 1.1 is refused (curl --tls-max 1.1)" $TLS11 -o /dev/null "$URL/v1/health"
check "TLS 1.2 works" $CURL --tlsv1.2 --tls-max 1.2 -o /dev/null "$URL/v1/health"
check "TLS 1.3 works" $CURL --tlsv1.3 -o /dev/null "$URL/v1/health"

# ---- abuse: malformed and truncated bodies, slow connections ------------------------
cat >"$T/abuse.py" <<'PY'
import socket, ssl, sys, time, threading
port = int(sys.argv[2])
ctx = ssl.create_default_context(cafile=sys.argv[3])

def tls():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")

def malformed(n):
    bodies = [b'{', b'{"ak_id":', b'\xff\xfe', b'[]', b'{"nonce":1}', b'null', b'{"a":"\\u0000"}']
    for i in range(n):
        body = bodies[i % len(bodies)]
        s = tls()
        if i % 2:
            # Truncated: declares more than it sends, then hangs up.
            s.sendall(b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 500\r\n\r\n" + body)
        else:
            s.sendall(b"POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            s.recv(4096)
        s.close()

def slow(n, seconds):
    socks = []
    for i in range(n):
        if i % 2:
            # Raw TCP trickling bytes into the TLS port (a stalled handshake).
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        else:
            # TLS done, then the request headers one byte at a time.
            s = tls()
        socks.append(s)
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

if sys.argv[1] == "malformed":
    malformed(200)
else:
    slow(50, float(sys.argv[4]))
PY
check "200 malformed and truncated bodies are handled" \
    python3 "$T/abuse.py" malformed "$PORT" "$T/one.crt"
check "after them, /v1/health answers within 2 s" \
    $CURL --max-time $((2 * SLOW)) -o /dev/null "$URL/v1/health"
python3 "$T/abuse.py" slow "$PORT" "$T/one.crt" $((8 * SLOW)) >"$T/slow.out" 2>&1 &
SLOW_PID=$!
at_exit "kill $SLOW_PID 2>/dev/null"
sleep 2
check "with 50 slow connections open, /v1/health answers within 2 s" \
    $CURL --max-time $((2 * SLOW)) -o /dev/null "$URL/v1/health"
req conn "$URL/metrics"
check "the slow connections are counted as open" \
    sh -c "awk '/^keyserverd_connections / { exit !(\$2 >= 50) }' '$T/conn.body'"
kill $SLOW_PID 2>/dev/null
wait $SLOW_PID 2>/dev/null

# ---- metrics -------------------------------------------------------------------------
req met "$URL/metrics"
metric() { # metric NAME-WITH-LABELS: its value
    awk -v m="$1" '$1 == m { print $2 }' "$T/met.body"
}
check "/metrics is Prometheus text format 0.0.4" \
    sh -c "[ \"\$(cat '$T/met.status')\" = 200 ] && grep -qi '^content-type: text/plain; version=0.0.4' '$T/met.hdr'"
check "/metrics counts health requests" \
    test "$(metric 'keyserverd_requests_total{endpoint="health",code="2xx"}')" -ge 4
refused() {
    metric "keyserverd_releases_refused_total{reason=\"$1\"}"
}
check "/metrics counts the refusals by reason" \
    test "$(refused nonce_used) $(refused nonce_invalid) $(refused attestation_failed)" = "1 2 1"
check "/metrics: nothing was released" test "$(metric keyserverd_releases_granted_total)" = 0
check "/metrics counts malformed requests (400/413/415 and the abuse run)" \
    test "$(metric keyserverd_malformed_requests_total)" -ge 100
INF=$(metric 'keyserverd_request_duration_seconds_bucket{le="+Inf"}')
check "/metrics has the latency histogram" \
    test -n "$INF" -a "$INF" = "$(metric keyserverd_request_duration_seconds_count)"
check "/metrics counts 404s under endpoint=other" \
    test "$(metric 'keyserverd_requests_total{endpoint="other",code="4xx"}')" -ge 2

# ---- the access log ------------------------------------------------------------------
check "one access line per request, with status and latency" \
    grep -q 'access client=127.0.0.1 method="GET" path="/v1/health" status=200 bytes=15 us=' \
    "$T/a.log"
check "refusals are logged with their reason" \
    grep -q 'path="/v1/release" status=403 .*error=attestation_failed reason="unknown AK"' \
    "$T/a.log"
check_fails "request bodies never reach the log" grep -q 'SECRETMARKER\|U0VDUkVUTUFSS0VS' "$T/a.log"

# ---- SIGHUP reloads the certificate ----------------------------------------------------
cp "$T/two.crt" "$T/server.crt"
cp "$T/two.key" "$T/server.key"
kill -HUP $A_PID
i=0
until grep -q 'TLS certificate reloaded' "$T/a.log" || [ $i -ge $((50 * SLOW)) ]; do
    sleep 0.1
    i=$((i + 1))
done
check "after SIGHUP new connections see the new certificate" \
    curl -sS --max-time 5 --cacert "$T/two.crt" -o /dev/null "$URL/v1/health"
check_fails "after SIGHUP the old certificate is gone" \
    curl -sS --max-time 5 --cacert "$T/one.crt" -o /dev/null "$URL/v1/health"
echo "not a certificate" >"$T/server.crt"
kill -HUP $A_PID
i=0
until grep -q 'TLS reload failed' "$T/a.log" || [ $i -ge $((50 * SLOW)) ]; do
    sleep 0.1
    i=$((i + 1))
done
check "a broken certificate on SIGHUP keeps the old one serving" \
    curl -sS --max-time 5 --cacert "$T/two.crt" -o /dev/null "$URL/v1/health"
CURL="curl -sS --max-time $((10 * SLOW)) --cacert $T/two.crt"

# ---- SIGTERM: the request in flight finishes, then exit 0 ---------------------------------
cat >"$T/inflight.py" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20),
                    server_hostname="127.0.0.1")
s.sendall(b"POST /v1/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 2\r\n\r\n{")
open(sys.argv[3], "w").close()  # headers sent: the request is in flight
time.sleep(float(sys.argv[4]))
s.sendall(b"}")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n")[0].decode())
PY
python3 "$T/inflight.py" "$PORT" "$T/two.crt" "$T/inflight.started" $((2 * SLOW)) \
    >"$T/inflight.out" 2>&1 &
IF_PID=$!
i=0
until [ -e "$T/inflight.started" ] || [ $i -ge 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.5
kill -TERM $A_PID
wait $A_PID
rc=$?
wait $IF_PID
check "SIGTERM exits 0" test $rc -eq 0
check "the request in flight at SIGTERM got its answer" grep -q '^HTTP/1.1 200' "$T/inflight.out"
check "shutdown is logged" grep -q 'SIGTERM: finishing requests in flight' "$T/a.log"

# ---- plain HTTP (tests only) and the rate limit ----------------------------------------------
if start_server "$T/b.log" "$T/portb" --listen 127.0.0.1:0 --port-file "$T/portb" --plain-http \
    --db "$T/ks.db" --master-key "$T/master.key" \
    --rate-limit 1 --rate-burst 3 --threads 1; then
    ok "plain HTTP server starts"
else
    not_ok "plain HTTP server did not start"
    sed 's/^/# /' "$T/b.log"
fi
B_PID=$KSD_PID
check "plain HTTP logs a loud warning" grep -q 'plain_http is set: serving WITHOUT TLS' "$T/b.log"
CURL="curl -sS --max-time $((10 * SLOW))"
BURL="http://127.0.0.1:$PORT"
for i in 1 2 3; do
    req rl$i "$BURL/v1/info"
done
req rl4 "$BURL/v1/info"
check "within the burst: 200" sh -c "grep -qx 200 '$T/rl1.status' && grep -qx 200 '$T/rl3.status'"
check "past the burst: 429 rate_limited with Retry-After" \
    sh -c "python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"error\"] == \"rate_limited\"' '$T/rl4.body' && grep -qx 429 '$T/rl4.status' && grep -qi '^retry-after: 1' '$T/rl4.hdr'"
req rl5 "$BURL/v1/health"
check "/v1/health is not rate limited" status_is rl5 200
req rlm "$BURL/metrics"
check "/metrics counts the 429" \
    grep -qx 'keyserverd_requests_total{endpoint="info",code="4xx"} 1' "$T/rlm.body"
kill -TERM $B_PID
wait $B_PID
check "SIGTERM exits 0 (plain HTTP)" test $? -eq 0

done_testing
exit $?
