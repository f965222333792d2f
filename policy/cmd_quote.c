/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "encoding.h"
#include "file_util.h"
#include "policy/ksctl.h"
#include "quote.h"
#include "tpm_alg.h"
#include "tpm_attest.h"
#include "tpm_public.h"

/* `ksctl quote verify`: check a TPM2_Quote with the same code the keyserver
 * uses for its release decision (lib/quote). */

/* Inputs are small TPM structures; anything larger is not one. */
#define INPUT_MAX (64 * 1024)

static void usage(FILE *f)
{
    fprintf(f, "Usage: ksctl quote verify --ak-pub FILE --attest FILE --sig FILE --nonce HEX\n"
               "                          [--pcrs FILE] [--json]\n\n"
               "Verify a TPM 2.0 quote. Run 'ksctl quote verify --help' for details.\n");
}

static void usage_verify(FILE *f)
{
    fprintf(f, "Usage: ksctl quote verify --ak-pub FILE --attest FILE --sig FILE --nonce HEX\n"
               "                          [--pcrs FILE] [--json]\n\n"
               "Verify a TPM2_Quote as the keyserver does: the signature (RSASSA or RSA-PSS\n"
               "with RSA 2048/3072 keys, ECDSA with P-256/P-384; SHA-256 or SHA-384), then\n"
               "the attestation's magic and type, extraData against the nonce, and the\n"
               "quoted pcrDigest against the PCR values given with --pcrs.\n\n"
               "  --ak-pub FILE  the attestation key: TPM2B_PUBLIC, bare TPMT_PUBLIC\n"
               "                 (tpm2_readpublic -f tpmt), or a PEM/DER SubjectPublicKeyInfo\n"
               "                 (then the scheme is taken from the signature); detected\n"
               "  --attest FILE  the TPMS_ATTEST the TPM signed (tpm2_quote -m)\n"
               "  --sig FILE     the TPMT_SIGNATURE (tpm2_quote -s, default 'tss' format)\n"
               "  --nonce HEX    the expected extraData (tpm2_quote -q); \"\" for none\n"
               "  --pcrs FILE    the quoted PCR values: tpm2-tools' serialized PCR file\n"
               "                 (tpm2_quote -o) or the selected values concatenated in\n"
               "                 selection order (tpm2_quote -o -F values); detected. Without\n"
               "                 it the PCR digest is NOT checked, and the output says so\n"
               "  --json         print every decoded field, \"verified\" and \"error\" as JSON\n"
               "  --help         this text\n\n"
               "Exit status: 0 the quote verifies, 1 it does not (the reason is printed) or\n"
               "an input is malformed, 2 usage error or unreadable file, 3 internal error.\n");
}

struct verify_opts {
    const char *ak_path;
    const char *attest_path;
    const char *sig_path;
    const char *nonce_hex;
    const char *pcrs_path;
    bool json;
};

struct verify_state {
    uint8_t *ak_buf, *attest, *sig, *nonce, *pcrs_buf;
    size_t ak_len, attest_len, sig_len, nonce_len, pcrs_len;
    TPMT_PUBLIC pub;
    bool have_pub;
    EVP_PKEY *pkey;
    struct ks_quote_ak *ak;
    const char *pcrs_format; /* "serialized", "values" or NULL */
    struct ks_quote_info info;
    const char *stage; /* what failed, for messages */
};

static int read_input(const char *path, const char *what, uint8_t **buf, size_t *len)
{
    int r = ks_file_read(path, INPUT_MAX, buf, len);
    if (r < 0) {
        ksctl_err("quote verify: cannot read %s '%s': %s", what, path, ks_strerror(r));
        return 2;
    }
    return 0;
}

/* --ak-pub content detection: PEM has its armour; a DER SubjectPublicKeyInfo
 * starts with a SEQUENCE tag (0x30); a TPM2B_PUBLIC's size prefix equals the
 * rest of the file; anything else is tried as a bare TPMT_PUBLIC (whose
 * first bytes are the type, 0x0001 or 0x0023). */
static int load_ak(struct verify_state *st)
{
    const uint8_t *b = st->ak_buf;
    size_t n = st->ak_len;
    int r;
    if (n > 0 && (b[0] == 0x30 || memmem(b, n, "-----BEGIN", 10))) {
        st->stage = "AK public key (PEM/DER)";
        r = ks_tpm_public_load_spki(b, n, &st->pkey);
    } else if (n >= 2 && ((size_t)b[0] << 8 | b[1]) == n - 2) {
        st->stage = "AK public area (TPM2B_PUBLIC)";
        r = ks_tpm_public_decode(b, n, &st->pub);
        st->have_pub = r == KS_OK;
    } else {
        st->stage = "AK public area (TPMT_PUBLIC)";
        r = ks_tpm_public_decode_tpmt(b, n, &st->pub);
        st->have_pub = r == KS_OK;
    }
    if (r < 0) {
        return r;
    }
    st->stage = "attestation key";
    return ks_quote_ak_new(st->have_pub ? &st->pub : NULL, st->pkey, &st->ak);
}

static int verify(struct verify_state *st)
{
    struct ks_pcr_set set;
    bool serialized = false;
    int r = load_ak(st);
    if (r < 0) {
        return r;
    }
    if (st->pcrs_buf) {
        /* The serialized format is checked strictly (sizes, counts,
         * digest lengths), so a file of raw values does not pass as one. */
        r = ks_quote_pcrs_parse_tpm2_tools(st->pcrs_buf, st->pcrs_len, NULL, &set);
        serialized = r == KS_OK;
        st->pcrs_format = serialized ? "serialized" : "values";
    }
    st->stage = "quote";
    r = ks_quote_verify(st->ak, st->attest, st->attest_len, st->sig, st->sig_len, st->nonce,
                        st->nonce_len, serialized ? &set : NULL, &st->info);
    if (r < 0 || !st->pcrs_buf || serialized) {
        return r;
    }
    /* Raw values need the (now verified) selection to be laid out. */
    st->stage = "PCR values (--pcrs)";
    r = ks_quote_pcrs_from_values(&st->info.pcr_select, st->pcrs_buf, st->pcrs_len, &set);
    if (r < 0) {
        return r;
    }
    st->stage = "quote";
    return ks_quote_check_pcrs(&st->info, &set);
}

static char *hex_of(const uint8_t *buf, size_t len)
{
    char *h = malloc(2 * len + 1);
    if (h) {
        ks_hex_encode(buf, len, h);
    }
    return h;
}

static void json_set_hex(json_t *o, const char *key, const uint8_t *buf, size_t len)
{
    char *h = hex_of(buf, len);
    json_object_set_new(o, key, h ? json_string(h) : json_null());
    free(h);
}

/* "0x" and the value in lowercase hex, zero-padded to `digits`. */
static void json_set_hexnum(json_t *o, const char *key, uint64_t v, int digits)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "0x%0*" PRIx64, digits, v);
    json_object_set_new(o, key, json_string(tmp));
}

static json_t *json_selection(const TPML_PCR_SELECTION *sel)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o && i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
        const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
        char alt[16];
        const char *name = ks_alg_name(s->hash);
        if (!name) {
            snprintf(alt, sizeof(alt), "0x%04x", s->hash);
            name = alt;
        }
        json_t *a = json_array();
        uint32_t m = ks_pcr_selection_mask(s);
        for (unsigned p = 0; a && p < 32; p++) {
            if (m & (1u << p)) {
                json_array_append_new(a, json_integer(p));
            }
        }
        json_object_set_new(o, name, a ? a : json_null());
    }
    return o;
}

static int print_json(struct verify_state *st, int r)
{
    struct ks_quote_info shown;
    const struct ks_quote_info *info = NULL;
    if (r == KS_OK) {
        info = &st->info;
    } else if (st->attest && ks_quote_info_decode(st->attest, st->attest_len, &shown) == KS_OK) {
        /* Shown for debugging only: nothing of it is verified. */
        info = &shown;
    }
    json_t *o = json_object();
    if (!o) {
        return 3;
    }
    json_object_set_new(o, "verified", json_boolean(r == KS_OK));
    json_object_set_new(o, "error", r == KS_OK ? json_null() : json_string(ks_strerror(r)));
    if (r != KS_OK && st->stage) {
        json_object_set_new(o, "stage", json_string(st->stage));
    }
    if (st->have_pub) {
        char name[KS_TPM_NAME_HEX_MAX];
        char attrs[256];
        if (ks_tpm_public_name_hex(&st->pub, name) == KS_OK) {
            json_object_set_new(o, "akName", json_string(name));
        }
        ks_tpm_attr_names(st->pub.objectAttributes, attrs, sizeof(attrs));
        json_object_set_new(o, "akAttributes", json_string(attrs));
        json_object_set_new(o, "akAttributesOk",
                            json_boolean(ks_tpm_public_ak_attr_problems(&st->pub) == 0));
    }
    if (info) {
        json_set_hexnum(o, "magic", info->magic, 8);
        json_set_hexnum(o, "type", info->type, 4);
        json_set_hex(o, "qualifiedSigner", info->qualified_signer.name,
                     info->qualified_signer.size);
        json_set_hex(o, "extraData", info->extra_data.buffer, info->extra_data.size);
        json_object_set_new(o, "clock", json_integer((json_int_t)info->clock));
        json_object_set_new(o, "resetCount", json_integer(info->reset_count));
        json_object_set_new(o, "restartCount", json_integer(info->restart_count));
        json_object_set_new(o, "safe", json_boolean(info->safe));
        json_set_hexnum(o, "firmwareVersion", info->firmware_version, 16);
        if (info->type == TPM2_ST_ATTEST_QUOTE) {
            json_object_set_new(o, "pcrSelect", json_selection(&info->pcr_select));
            json_set_hex(o, "pcrDigest", info->pcr_digest.buffer, info->pcr_digest.size);
        }
    }
    if (r == KS_OK) {
        json_t *s = json_object();
        if (s) {
            json_object_set_new(s, "sigAlg", json_string(ks_quote_sig_alg_name(info->sig_alg)));
            json_object_set_new(s, "hash", json_string(ks_alg_name(info->sig_hash)));
        }
        json_object_set_new(o, "signature", s ? s : json_null());
    }
    json_object_set_new(o, "pcrDigestChecked",
                        json_boolean(r == KS_OK && info->pcr_digest_checked));
    if (st->pcrs_format) {
        json_object_set_new(o, "pcrsFormat", json_string(st->pcrs_format));
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) {
        return 3;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_summary(const struct verify_state *st)
{
    const struct ks_quote_info *in = &st->info;
    char name[KS_TPM_NAME_HEX_MAX];
    char sel[1024];
    char *dig = hex_of(in->pcr_digest.buffer, in->pcr_digest.size);
    if (!st->have_pub || ks_tpm_public_name_hex(&st->pub, name) < 0) {
        snprintf(name, sizeof(name), "%s", "(public key given, TPM Name unknown)");
    }
    ks_pcr_selection_format(&in->pcr_select, sel, sizeof(sel));
    printf("quote verified: %s-%s signature by AK %s\n", ks_quote_sig_alg_name(in->sig_alg),
           ks_alg_name(in->sig_hash), name);
    printf("  extraData:     matches the nonce (%u bytes)\n", (unsigned)in->extra_data.size);
    printf("  clock:         %" PRIu64 " ms, resetCount %" PRIu32 ", restartCount %" PRIu32
           ", safe %s\n",
           in->clock, in->reset_count, in->restart_count, in->safe ? "yes" : "no");
    printf("  firmware:      0x%016" PRIx64 "\n", in->firmware_version);
    printf("  PCR selection: %s\n", sel[0] ? sel : "(none)");
    if (in->pcr_digest_checked) {
        printf("  pcrDigest:     %s matches the PCR values given (%s format)\n", dig ? dig : "?",
               st->pcrs_format);
    } else {
        printf("  pcrDigest:     %s NOT CHECKED: no --pcrs given, the PCR values are\n"
               "                 unverified\n",
               dig ? dig : "?");
    }
    if (st->have_pub && ks_tpm_public_ak_attr_problems(&st->pub)) {
        char bad[256];
        ks_tpm_attr_names(ks_tpm_public_ak_attr_problems(&st->pub), bad, sizeof(bad));
        printf("  warning:       the key is not a proper attestation key (attributes wrong: "
               "%s)\n",
               bad);
    }
    free(dig);
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ak-pub", required_argument, NULL, 'k'}, {"attest", required_argument, NULL, 'a'},
        {"sig", required_argument, NULL, 's'},    {"nonce", required_argument, NULL, 'n'},
        {"pcrs", required_argument, NULL, 'p'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct verify_opts o;
    memset(&o, 0, sizeof(o));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o.ak_path = optarg;
            break;
        case 'a':
            o.attest_path = optarg;
            break;
        case 's':
            o.sig_path = optarg;
            break;
        case 'n':
            o.nonce_hex = optarg;
            break;
        case 'p':
            o.pcrs_path = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'h':
            usage_verify(stdout);
            return 0;
        default:
            usage_verify(stderr);
            return 2;
        }
    }
    if (optind != argc || !o.ak_path || !o.attest_path || !o.sig_path || !o.nonce_hex) {
        ksctl_err("quote verify: --ak-pub, --attest, --sig and --nonce are required");
        usage_verify(stderr);
        return 2;
    }

    struct verify_state st;
    memset(&st, 0, sizeof(st));
    int ret = 2;
    if (ks_hex_decode(o.nonce_hex, &st.nonce, &st.nonce_len) < 0) {
        ksctl_err("quote verify: --nonce is not hex: '%s'", o.nonce_hex);
        goto out;
    }
    if (read_input(o.ak_path, "AK public key", &st.ak_buf, &st.ak_len) ||
        read_input(o.attest_path, "attestation", &st.attest, &st.attest_len) ||
        read_input(o.sig_path, "signature", &st.sig, &st.sig_len) ||
        (o.pcrs_path && read_input(o.pcrs_path, "PCR file", &st.pcrs_buf, &st.pcrs_len))) {
        goto out;
    }

    int r = verify(&st);
    if (o.json) {
        ret = print_json(&st, r);
        if (ret == 0 && r < 0) {
            ret = ks_error_exit_code(r);
        }
    } else if (r == KS_OK) {
        print_summary(&st);
        ret = 0;
    } else {
        ret = ks_error_exit_code(r);
    }
    if (r < 0) {
        ksctl_err("quote verify: REFUSED: %s: %s%s", st.stage ? st.stage : "input", ks_strerror(r),
                  r == KS_ERR_QUOTE_PCR_MISSING && st.pcrs_format &&
                          strcmp(st.pcrs_format, "values") == 0
                      ? " (--pcrs is neither a tpm2-tools serialized PCR file nor the "
                        "selected values in selection order)"
                      : "");
    }
out:
    ks_quote_ak_free(st.ak);
    EVP_PKEY_free(st.pkey);
    free(st.ak_buf);
    free(st.attest);
    free(st.sig);
    free(st.nonce);
    free(st.pcrs_buf);
    return ret;
}

int ksctl_quote(int argc, char **argv)
{
    /* tpm2-tss logs malformed input to stderr at its default level; the
     * reason is reported here once, so keep it quiet unless asked. */
    setenv("TSS2_LOG", "all+none", 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "verify") == 0) {
        return cmd_verify(argc - 1, argv + 1);
    }
    ksctl_err("quote: unknown subcommand '%s'", argv[1]);
    usage(stderr);
    return 2;
}
