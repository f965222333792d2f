# SPDX-License-Identifier: Apache-2.0
# Shell functions to run a software TPM (swtpm) on 127.0.0.1 for the demo and
# the integration tests. Sourced; needs at_exit "CMD" from the caller (run
# CMD when the caller exits), python3, swtpm, swtpm-tools and tpm2-tools.

# A TCP port that is free now on 127.0.0.1 (and, for swtpm, the next one too).
free_port_pair() {
    python3 - <<'PY'
import socket, random
for _ in range(200):
    p = random.randint(20000, 60000)
    ss = []
    try:
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            ss.append(s)
        print(p)
        break
    except OSError:
        pass
    finally:
        for s in ss:
            s.close()
PY
}

# swtpm_start DIR: start a fresh swtpm (TPM 2.0, state in DIR) on a free port;
# sets SWTPM_PORT and TPM2TOOLS_TCTI / KS_TCTI for the caller. Optional
# second argument "ek" provisions EKs and certificates with swtpm_setup.
swtpm_start() {
    dir=$1
    mkdir -p "$dir/state"
    if [ "${2:-}" = ek ]; then
        swtpm_provision_ek "$dir" || return 1
    fi
    for attempt in 1 2 3 4 5; do
        SWTPM_PORT=$(free_port_pair)
        swtpm socket --tpm2 --tpmstate dir="$dir/state" \
            --server type=tcp,port=$SWTPM_PORT,bindaddr=127.0.0.1 \
            --ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 \
            --flags not-need-init,startup-clear --pid file="$dir/swtpm.pid" \
            --log file="$dir/swtpm.log" --daemon 2>"$dir/swtpm.err" && break
        SWTPM_PORT=""
    done
    [ -n "$SWTPM_PORT" ] || return 1
    at_exit "kill \$(cat '$dir/swtpm.pid' 2>/dev/null) 2>/dev/null"
    TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
    KS_TCTI=$TPM2TOOLS_TCTI
    export TPM2TOOLS_TCTI KS_TCTI SWTPM_PORT
    # Wait until it answers.
    for i in $(seq 1 50); do
        tpm2_getrandom 4 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# Provision EKs (RSA-2048 and ECC P-384 on Debian's swtpm 0.7.1) and their
# certificates, signed by a private local CA under DIR/localca.
swtpm_provision_ek() {
    dir=$1
    mkdir -p "$dir/localca"
    printf 'statedir = %s\nsigningkey = %s\nissuercert = %s\ncertserial = %s\n' \
        "$dir/localca" "$dir/localca/signkey.pem" "$dir/localca/issuercert.pem" \
        "$dir/localca/certserial" >"$dir/localca.conf"
    printf -- '--platform-manufacturer Test\n--platform-version 2.1\n--platform-model swtpm\n' \
        >"$dir/localca.options"
    printf 'create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha1,sha256\n' \
        "$dir/localca.conf" "$dir/localca.options" >"$dir/swtpm_setup.conf"
    swtpm_setup --tpm2 --tpmstate "$dir/state" --config "$dir/swtpm_setup.conf" \
        --createek --create-ek-cert --create-platform-cert --pcr-banks sha1,sha256 \
        ${SWTPM_ECC:+--ecc} >"$dir/swtpm_setup.log" 2>&1
}

