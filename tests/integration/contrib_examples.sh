#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# contrib/: the example configurations parse and run, and the systemd units
# are valid (systemd-analyze verify) and keep keyserverd's exposure low.
. "$KS_SRCDIR/tests/integration/common.sh"

need_tools openssl curl
T=$TEST_TMP
EX=$KS_SRCDIR/contrib/examples
SD=$KS_SRCDIR/contrib/systemd
KEYSERVERD="${VALGRIND:+$VALGRIND }$KS_BUILDDIR/keyserverd/keyserverd"
LOADER="${VALGRIND:+$VALGRIND }$KS_BUILDDIR/loader-ref/ks-loader"

# ---- ks-loader.conf ------------------------------------------------------------
$LOADER --check-config --config "$EX/ks-loader.conf" >"$T/loader.out" 2>&1
rc=$?
check "ks-loader --check-config accepts contrib/examples/ks-loader.conf" test $rc -eq 0
check "... and names the primary and its two share keyservers" \
    grep -q "keyserver https://keys-a.example.net:8443, 2 share keyserver(s)" "$T/loader.out"
sed 's/^request_key = .*//' "$EX/ks-loader.conf" >"$T/broken.conf"
$LOADER --check-config --config "$T/broken.conf" >"$T/broken.out" 2>&1
rc=$?
check "control: the example without request_key is refused (exit 2), saying why" \
    sh -c "[ $rc -eq 2 ] && grep -q \"'request_key' is required\" '$T/broken.out'"

# ---- keyserverd.conf: runs as given, with paths of this test -------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.crt" -subj "/CN=keyserver" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || skip_all "openssl cannot make certificates"
$KS_BUILDDIR/ksctl init --db "$T/ks.db" --master-key "$T/master.key" >/dev/null 2>&1 ||
    skip_all "ksctl init failed"
$KEYSERVERD --check-config -c "$EX/keyserverd.conf" >"$T/nocert.out" 2>&1
rc=$?
check "keyserverd --check-config on the example as shipped: the missing certificate named (exit 2)" \
    sh -c "[ $rc -eq 2 ] && grep -q 'TLS: /etc/keyserver/tls.crt: No such file' '$T/nocert.out'"
OVR="--tls-cert $T/tls.crt --tls-key $T/tls.key --db $T/ks.db --master-key $T/master.key"
check "keyserverd --check-config accepts the example with this test's files" \
    $KEYSERVERD --check-config -c "$EX/keyserverd.conf" $OVR
$KEYSERVERD -c "$EX/keyserverd.conf" $OVR --listen 127.0.0.1:0 --port-file "$T/port" \
    2>"$T/ksd.log" &
KSD_PID=$!
at_exit "kill $KSD_PID 2>/dev/null"
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ] && kill -0 $KSD_PID 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
check "keyserverd runs from the example configuration and answers /v1/health over TLS" \
    sh -c "curl -sS --max-time 10 --cacert '$T/tls.crt' https://127.0.0.1:\$(cat '$T/port')/v1/health |
        grep -q ok"
kill $KSD_PID 2>/dev/null
wait $KSD_PID 2>/dev/null
check "... and stops cleanly on SIGTERM" test $? -eq 0

# ---- systemd units ---------------------------------------------------------------
printf '[Service]\nExecStart=/bin/true\n' >"$T/control.service"
if command -v systemd-analyze >/dev/null 2>&1 &&
    systemd-analyze verify --man=no "$T/control.service" >/dev/null 2>&1; then
    # The units name installed paths; point them at this build.
    sed "s|/usr/local/sbin/keyserverd|$KS_BUILDDIR/keyserverd/keyserverd|g" \
        "$SD/keyserverd.service" >"$T/keyserverd.service"
    sed "s|/usr/local/bin/|$KS_BUILDDIR/loader-ref/|g" "$SD/ks-loader.service" \
        >"$T/ks-loader.service"
    check "systemd-analyze verify: keyserverd.service" \
        systemd-analyze verify --man=no "$T/keyserverd.service"
    check "systemd-analyze verify: ks-loader.service" \
        systemd-analyze verify --man=no "$T/ks-loader.service"
    printf '[Service]\nExecStart=/bin/true\nExecStartx=/bin/true\n' >"$T/bad.service"
    check "control: systemd-analyze verify refuses a unit with an unknown key" \
        sh -c "systemd-analyze verify --man=no '$T/bad.service' 2>&1 | grep -q 'Unknown key'"
    if systemd-analyze security --offline=yes "$T/keyserverd.service" >"$T/sec.out" 2>&1; then
        level=$(sed -n 's/.*Overall exposure level for keyserverd.service: \([0-9.]*\).*/\1/p' \
            "$T/sec.out")
        check "keyserverd.service: systemd's exposure level at most 2.0 (got ${level:-?})" \
            awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.0) }'
    else
        ok "keyserverd.service exposure level # SKIP systemd-analyze security --offline unsupported"
    fi
else
    for d in "verify: keyserverd.service" "verify: ks-loader.service" "verify: control" \
        "exposure level"; do
        ok "systemd-analyze $d # SKIP systemd-analyze verify unavailable here"
    done
fi

done_testing
exit $?
