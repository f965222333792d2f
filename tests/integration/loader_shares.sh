#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# k-of-n key shares across independent keyservers (DESIGN "Scale and
# independence", ks-loader(8) "KEY SHARES"), on one software TPM (CPU
# backend): the weights DEK is split 2-of-3 with `ks-seal split-key`, share
# i imported into keyserver i (its own directory, database, master key,
# port, TLS certificate and receipt key; each trusts the swtpm's EK CA and
# has a policy pinning the application PCR values of the loader's
# configurations); keyserver 1 is the primary (it alone holds the request
# key), 2 and 3 are [keyserver] sections. A fourth keyserver holds share 3
# of ANOTHER split of the same shape.
#   - all three up: the loader combines shares 1 and 2 and serves; the
#     completion equals the plaintext model's (ks-seal run-plaintext);
#   - a whole DEK from the primary: the sections are not used;
#   - a share keyserver pinned with a wrong receipt key: skipped, served
#     with the other one;
#   - keyserver 2 down: shares 1 and 3, still served;
#   - keyserver 2 down and the other split's share 3: a wrong DEK, refused
#     by the sealed file's authentication (exit 1, nothing served);
#   - keyserver 2 down and keyserver 3 pinned with a wrong receipt key:
#     "obtained 1 of the 2 key shares needed", exit 1, nothing served;
#   - keyservers 2 and 3 down: the same.
# Keyservers are only ever stopped (the configurations pin their URLs), and
# the swtpm is "rebooted" (PCR 15 back to zero) before each loader start.
# No log holds the DEK or a share.
. "$KS_SRCDIR/tests/integration/common.sh"
. "$KS_SRCDIR/tests/integration/loader_lib.sh"

need_tools swtpm python3 openssl curl tpm2_shutdown
L=$KS_BUILDDIR/loader-ref
for p in ks-loader ks-launch ks-client ks-seal; do
    [ -x "$L/$p" ] || skip_all "$p not built"
done
KSD_BIN=$KS_BUILDDIR/keyserverd/keyserverd
[ -x "$KSD_BIN" ] || skip_all "keyserverd not built"
TSS2_LOG=all+none
export TSS2_LOG
T=$TEST_TMP
CLIENT="${VALGRIND:+$VALGRIND }$L/ks-client"
SEAL=$L/ks-seal

if ! swtpm_start "$T/tpm" ek; then
    not_ok "swtpm starts"
    done_testing
    exit 1
fi

# ---- the data owner: model, DEK, two 2-of-3 splits of the same shape --------
$SEAL gen-model --seed 42 --out "$T/w.bin" >/dev/null
$SEAL ci-keygen --out-priv "$T/ci.key" --out-pub "$T/ci.pub" >/dev/null
$SEAL sign-program --ci-key "$T/ci.key" --weights "$T/w.bin" --name good --max-new-tokens 24 \
    --out "$T/good.json" >/dev/null
$SEAL seal --in "$T/w.bin" --out "$T/w.sealed" --key-name weights-dek --key-out "$T/dek" \
    >/dev/null
head -c 32 /dev/urandom >"$T/other.dek"
head -c 32 /dev/urandom >"$T/req.sk"
check "ks-seal split-key: the DEK 2-of-3" $SEAL split-key --key-file "$T/dek" --threshold 2 \
    --count 3 --out-prefix "$T/share" --key-name weights-dek
$SEAL split-key --key-file "$T/other.dek" --threshold 2 --count 3 --out-prefix "$T/other" \
    >/dev/null
check "three 32-byte share files" test "$(wc -c <"$T/share.1")" -eq 32 -a \
    "$(wc -c <"$T/share.3")" -eq 32


# ---- four keyservers: 1 (primary), 2, 3, and 4 (share 3 of the other split) --
for k in 1 2 3 4; do
    d=$T/ks$k
    mkdir -p "$d"
    $KSCTL init --db "$d/ks.db" --master-key "$d/mk" >/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout "$d/tls.key" -out "$d/tls.crt" -subj "/CN=keyserver-$k" \
        -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
    $KSCTL ekca add "$T/tpm/localca/issuercert.pem" --auto-approve --db "$d/ks.db" >/dev/null
done
KSD_PID1="" KSD_PID2="" KSD_PID3="" KSD_PID4=""
start_ks() { # I: start keyserver I on a free port -> KSD_PIDi
    d=$T/ks$1
    rm -f "$d/port"
    $KSD_BIN --listen 127.0.0.1:0 --port-file "$d/port" --tls-cert "$d/tls.crt" \
        --tls-key "$d/tls.key" --db "$d/ks.db" --master-key "$d/mk" 2>>"$d/keyserverd.log" &
    eval "KSD_PID$1=$!"
    at_exit "kill $! 2>/dev/null"
    wait_file "$d/port"
}
stop_ks() { # I
    eval "pid=\$KSD_PID$1"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    eval "KSD_PID$1="
}
for k in 1 2 3 4; do
    check "keyserver $k listens" start_ks $k
    eval "PORT$k=$(cat "$T/ks$k/port")"
    eval "URL$k=https://127.0.0.1:\$PORT$k"
    eval "RK$k=\$(curl -s --cacert '$T/ks$k/tls.crt' \"\$URL$k/v1/info\" | json_field receipt_key)"
done
check "four distinct receipt keys" python3 -c "
import sys
rk = sys.argv[1:]
sys.exit(0 if len(set(rk)) == 4 and all(rk) else 1)" "$RK1" "$RK2" "$RK3" "$RK4"
BADRK=$(openssl ecparam -name prime256v1 -genkey 2>/dev/null | openssl ec -pubout -outform DER \
    2>/dev/null | base64 -w0)

# ---- the loader's configurations ----------------------------------------------
# section NAME I [RECEIPT_KEY]: a [keyserver NAME] section for keyserver I.
section() {
    eval "url=\$URL$2 rk=\$RK$2"
    printf '\n[keyserver %s]\nurl = %s\ncacert = %s\nreceipt_key = %s\n' "$1" "$url" \
        "$T/ks$2/tls.crt" "${3:-$rk}"
}
write_config() { # FILE SECTIONS...
    f=$1
    shift
    cat >"$f" <<EOF
# ks-loader configuration of the k-of-n integration test
keyserver = $URL1
cacert = $T/ks1/tls.crt
receipt_key = $RK1
request_key = req
sealed = ${SEALED:-$T/w.sealed}
socket = $T/loader.sock
pcrs = sha256:15
backend = cpu
EOF
    [ $UNLOCKED = yes ] && echo "allow_unlocked = yes" >>"$f"
    for s in "$@"; do
        eval "section $s" >>"$f"
    done
}
write_config "$T/a.conf" "ks-b 2" "ks-c 3"
write_config "$T/w.conf" "ks-b 2" "ks-c 4"
# ks-c (keyserver 3, first) pinned with a wrong receipt key.
write_config "$T/r.conf" "ks-c 3 $BADRK" "ks-b 2"
# The same weights sealed under a whole key, with the share sections.
$SEAL seal --in "$T/w.bin" --out "$T/whole.sealed" --key-name whole-dek \
    --key-out "$T/whole.dek" >/dev/null
SEALED=$T/whole.sealed write_config "$T/k.conf" "ks-b 2" "ks-c 3"

# Every keyserver's policy allows the three configurations (ks-launch
# measures the configuration into PCR 15).
PCRS=""
for c in a w r k; do
    $L/ks-launch --measure-only --loader "$L/ks-loader" --config "$T/$c.conf" \
        --ci-key "$T/ci.pub" --log "$T/$c.expected.log" >"$T/$c.expected"
    PCRS="$PCRS $(sed -n 's/^sha256:15=//p' "$T/$c.expected")"
done
for k in 1 2 3 4; do
    d=$T/ks$k
    $KSCTL policy create app --db "$d/ks.db" >/dev/null
    for p in $PCRS; do
        $KSCTL policy pcr app 15 "$p" --db "$d/ks.db" >/dev/null
    done
    $KSCTL policy activate app --db "$d/ks.db" >/dev/null
done
import_share() { # KEYSERVER FILE INDEX
    $KSCTL key import weights-dek --kind dek --policy app --file "$2" --share-index "$3" \
        --share-threshold 2 --share-count 3 --db "$T/ks$1/ks.db" --master-key "$T/ks$1/mk" \
        >/dev/null
}
check "share 1 imported into keyserver 1" import_share 1 "$T/share.1" 1
check "share 2 imported into keyserver 2" import_share 2 "$T/share.2" 2
check "share 3 imported into keyserver 3" import_share 3 "$T/share.3" 3
check "share 3 of the other split imported into keyserver 4" import_share 4 "$T/other.3" 3
$KSCTL key import whole-dek --kind dek --policy app --file "$T/whole.dek" --db "$T/ks1/ks.db" \
    --master-key "$T/ks1/mk" >/dev/null
$KSCTL key import req --kind hpke --policy app --file "$T/req.sk" --db "$T/ks1/ks.db" \
    --master-key "$T/ks1/mk" >/dev/null

# ---- the loader ---------------------------------------------------------------
# A start that must fail: exit status 1, no socket.
refused_start() { # CONFIG
    if start_loader "$1"; then
        stop_loader
        return 1
    fi
    wait "$LOADER_PID"
    rc=$?
    cat "$T/loader.log" >>"$T/all-loader.log"
    [ $rc -eq 1 ] && [ ! -e "$T/loader.sock" ]
}
in_log() {
    grep -q "$1" "$T/loader.log" || {
        sed 's/^/# /' "$T/loader.log"
        return 1
    }
}

REF=$($SEAL run-plaintext --weights "$T/w.bin" --prompt "k of n" --n 16 --allow-unlocked |
    sed 's/^generated //')
served() { # the CI-signed program loads and a completion equals the plaintext model's
    $CLIENT load --socket "$T/loader.sock" --program "$T/good.json" >/dev/null 2>&1 || return 1
    got=$($CLIENT infer --server "$URL1" --cacert "$T/ks1/tls.crt" --receipt-key "$RK1" \
        --key req --socket "$T/loader.sock" --prompt "k of n" --max-new 16 --output hex 2>&1)
    [ -n "$REF" ] && [ "$got" = "$REF" ] || {
        echo "# want: $REF"
        echo "# got:  $got"
        return 1
    }
}

# 1. all three up: the first two shares suffice (keyserver 3 is not asked).
check "all three keyservers up: the loader serves" start_loader "$T/a.conf"
check "... with the DEK combined from shares 1 and 2" \
    in_log "the DEK weights-dek@1 was combined from 2 of 3 key shares (primary: 1, ks-b: 2)"
check "... share 2's receipt verified with ks-b's pinned key" \
    in_log "key share 2 of weights-dek@1 from keyserver ks-b; receipt verified"
check "... ks-c not asked" sh -c "! grep -q 'ks-c' '$T/loader.log'"
check "... and a completion equals the plaintext model's" served
stop_loader

# 2. A whole DEK from the primary: the sections are not used.
check "reboot" reboot
check "a whole DEK with [keyserver] sections: the loader serves" start_loader "$T/k.conf"
check "... saying the sections are not used" \
    in_log "whole-dek@1 is a whole key: the 2 \\[keyserver\\] section(s) are not used"
check "... no share keyserver asked" sh -c "! grep -Eq 'ks-b|ks-c|key share' '$T/loader.log'"
check "... and a completion equals the plaintext model's" served
stop_loader

# 3. ks-c (asked first) pinned with a wrong receipt key: skipped (after its
# release: the receipt is checked on what it released), ks-b serves.
check "reboot" reboot
check "a wrong receipt key for ks-c: the loader serves with ks-b" start_loader "$T/r.conf"
check "... ks-c skipped: its receipt does not verify" \
    in_log "keyserver ks-c skipped: the release receipt does not verify with its pinned receipt key"
check "... the DEK combined from shares 1 and 2" \
    in_log "combined from 2 of 3 key shares (primary: 1, ks-b: 2)"
check "... and a completion equals the plaintext model's" served
stop_loader

# 4. keyserver 2 down: shares 1 and 3.
stop_ks 2
check "reboot" reboot
check "keyserver 2 down: the loader still serves" start_loader "$T/a.conf"
check "... ks-b skipped, with the reason" in_log "keyserver ks-b skipped: enrollment failed: "
check "... the DEK combined from shares 1 and 3" \
    in_log "combined from 2 of 3 key shares (primary: 1, ks-c: 3)"
check "... and a completion equals the plaintext model's" served
stop_loader

# 5. keyserver 2 down, ks-c is keyserver 4 (share 3 of another split): the
# combined key is wrong, and the sealed file says so.
check "reboot" reboot
check "a share of another split: the loader refuses to start (exit 1)" refused_start "$T/w.conf"
check "... the shares combined (nothing can tell a wrong share before)" \
    in_log "combined from 2 of 3 key shares (primary: 1, ks-c: 3)"
check "... refused by the sealed file's authentication" \
    in_log "cannot unseal the weights '$T/w.sealed': "

# 6. a wrong receipt key for ks-c and keyserver 2 down: fail closed.
check "reboot" reboot
check "a wrong receipt key for ks-c and keyserver 2 down: the loader refuses (exit 1)" \
    refused_start "$T/r.conf"
check "... obtained 1 of the 2 key shares needed" \
    in_log "obtained 1 of the 2 key shares needed: ks-c: the release receipt does not verify .*; ks-b: enrollment failed: "

# 7. keyservers 2 and 3 down: fail closed.
stop_ks 3
check "reboot" reboot
check "keyservers 2 and 3 down: the loader refuses to start (exit 1)" refused_start "$T/a.conf"
check "... obtained 1 of the 2 key shares needed, naming both" \
    in_log "obtained 1 of the 2 key shares needed: ks-b: enrollment failed: .*; ks-c: enrollment failed: "
check "... nothing unsealed" sh -c "! grep -q 'weights unsealed' '$T/loader.log'"

# ---- no log holds key material -------------------------------------------------
check "no log holds the DEK, a share or the request key (hex or base64)" python3 -c "
import base64, glob, sys
keys = [open(f, 'rb').read() for f in ['$T/dek', '$T/req.sk', '$T/other.dek', '$T/whole.dek'] +
        ['$T/share.%d' % i for i in (1, 2, 3)] + ['$T/other.%d' % i for i in (1, 2, 3)]]
pats = []
for k in keys:
    pats += [k.hex().encode(), k.hex().upper().encode(), base64.b64encode(k)[:40]]
for f in ['$T/all-loader.log'] + glob.glob('$T/ks*/keyserverd.log') + glob.glob('$T/*.out'):
    data = open(f, 'rb').read()
    for p in pats:
        if p in data:
            sys.exit('key material in ' + f)
"

done_testing
exit $?
