/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "encoding.h"
#include "quote.h"

/*
 * Oracles: the quotes of tests/data/quotes (made by swtpm + tpm2-tools 5.4,
 * keylime's tpm2-tools fixture, rust-keylime's test quote) with their
 * expected.json; tpm2-tools' own calcDigest for the swtpm quote. The
 * synthetic quotes below are signed with OpenSSL to reach the branches real
 * data does not (schemes, curves, malformed but signed structures); the
 * integration test quote_swtpm.sh covers those schemes with a real TPM.
 */

#define SWTPM "quotes/swtpm-rsa-rsassa/"
#define KEYLIME "quotes/keylime-tpm2-tools-fixture/"
#define RUSTKL "quotes/rust-keylime-test-quote/"

/* ---- helpers ------------------------------------------------------------ */

struct blob {
    uint8_t *buf;
    size_t len;
};

static struct blob rd(const char *rel)
{
    struct blob b;
    b.buf = unit_read(rel, &b.len);
    return b;
}

static uint8_t *unhex(const char *hex, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(ks_hex_decode(hex, &buf, len), KS_OK);
    return buf;
}

static char *hexs(const uint8_t *buf, size_t len)
{
    char *h = malloc(2 * len + 1);
    ks_hex_encode(buf, len, h);
    return h;
}

static json_t *expected_json(const char *rel)
{
    json_error_t err;
    json_t *j = json_load_file(unit_data_path(rel), 0, &err);
    if (!j) {
        fail_msg("cannot parse %s: %s", rel, err.text);
    }
    return j;
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2) {
        v = json_object_get(v, path2);
    }
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static struct ks_quote_ak *ak_from_tpm2b(const char *rel)
{
    struct blob b = rd(rel);
    TPMT_PUBLIC pub;
    struct ks_quote_ak *ak = NULL;
    assert_int_equal(ks_tpm_public_decode(b.buf, b.len, &pub), KS_OK);
    assert_int_equal(ks_quote_ak_new(&pub, NULL, &ak), KS_OK);
    free(b.buf);
    return ak;
}

static EVP_PKEY *pem_key(const char *rel)
{
    struct blob b = rd(rel);
    EVP_PKEY *k = NULL;
    assert_int_equal(ks_tpm_public_load_spki(b.buf, b.len, &k), KS_OK);
    free(b.buf);
    return k;
}

/* The swtpm quote with everything needed to verify it. */
struct swtpm_quote {
    struct ks_quote_ak *ak;
    struct blob attest, sig, nonce_file, serialized, values;
    uint8_t *nonce;
    size_t nonce_len;
    struct ks_pcr_set pcrs;
};

static void swtpm_load(struct swtpm_quote *q)
{
    q->ak = ak_from_tpm2b(SWTPM "ak.tpm2b_public.bin");
    q->attest = rd(SWTPM "quote.tpms_attest.bin");
    q->sig = rd(SWTPM "quote.tpmt_signature.bin");
    q->nonce_file = rd(SWTPM "nonce.hex");
    q->nonce_file.buf[strcspn((char *)q->nonce_file.buf, "\n")] = '\0';
    q->nonce = unhex((char *)q->nonce_file.buf, &q->nonce_len);
    q->serialized = rd(SWTPM "pcrs.serialized.bin");
    q->values = rd(SWTPM "pcrs.values.bin");
    assert_int_equal(
        ks_quote_pcrs_parse_tpm2_tools(q->serialized.buf, q->serialized.len, NULL, &q->pcrs),
        KS_OK);
}

static void swtpm_free(struct swtpm_quote *q)
{
    ks_quote_ak_free(q->ak);
    free(q->attest.buf);
    free(q->sig.buf);
    free(q->nonce_file.buf);
    free(q->nonce);
    free(q->serialized.buf);
    free(q->values.buf);
}

static int swtpm_verify(struct swtpm_quote *q, struct ks_quote_info *info)
{
    return ks_quote_verify(q->ak, q->attest.buf, q->attest.len, q->sig.buf, q->sig.len, q->nonce,
                           q->nonce_len, &q->pcrs, info);
}

/* Every decoded field equals expected.json's "quote" object. */
static void check_info_json(const struct ks_quote_info *in, json_t *q)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "0x%08x", in->magic);
    assert_string_equal(tmp, json_string_value(json_object_get(q, "magic")));
    snprintf(tmp, sizeof(tmp), "0x%04x", in->type);
    assert_string_equal(tmp, json_string_value(json_object_get(q, "type")));
    char *h = hexs(in->qualified_signer.name, in->qualified_signer.size);
    assert_string_equal(h, json_string_value(json_object_get(q, "qualifiedSigner")));
    free(h);
    h = hexs(in->extra_data.buffer, in->extra_data.size);
    assert_string_equal(h, json_string_value(json_object_get(q, "extraData")));
    free(h);
    assert_int_equal(in->clock, json_integer_value(json_object_get(q, "clock")));
    assert_int_equal(in->reset_count, json_integer_value(json_object_get(q, "resetCount")));
    assert_int_equal(in->restart_count, json_integer_value(json_object_get(q, "restartCount")));
    assert_int_equal(in->safe ? 1 : 0, json_integer_value(json_object_get(q, "safe")));
    snprintf(tmp, sizeof(tmp), "0x%016llx", (unsigned long long)in->firmware_version);
    assert_string_equal(tmp, json_string_value(json_object_get(q, "firmwareVersion")));
    h = hexs(in->pcr_digest.buffer, in->pcr_digest.size);
    assert_string_equal(h, json_string_value(json_object_get(q, "pcrDigest")));
    free(h);
    json_t *sel = json_object_get(q, "pcrSelect");
    assert_int_equal(in->pcr_select.count, json_array_size(sel));
    for (size_t i = 0; i < json_array_size(sel); i++) {
        json_t *bank = json_array_get(sel, i);
        const TPMS_PCR_SELECTION *s = &in->pcr_select.pcrSelections[i];
        assert_string_equal(ks_alg_name(s->hash), json_string_value(json_object_get(bank, "hash")));
        uint32_t mask = 0;
        json_t *pcrs = json_object_get(bank, "pcrs");
        for (size_t k = 0; k < json_array_size(pcrs); k++) {
            mask |= 1u << json_integer_value(json_array_get(pcrs, k));
        }
        assert_int_equal(ks_pcr_selection_mask(s), mask);
    }
}

/* Synthetic signing keys, made once for the whole program. */
struct keys {
    EVP_PKEY *rsa2048, *rsa3072, *p256, *p384;
};

static int group_setup(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    k->rsa2048 = EVP_RSA_gen(2048);
    k->rsa3072 = EVP_RSA_gen(3072);
    k->p256 = EVP_EC_gen("P-256");
    k->p384 = EVP_EC_gen("P-384");
    if (!k->rsa2048 || !k->rsa3072 || !k->p256 || !k->p384) {
        return -1;
    }
    *state = k;
    return 0;
}

static int group_teardown(void **state)
{
    struct keys *k = *state;
    EVP_PKEY_free(k->rsa2048);
    EVP_PKEY_free(k->rsa3072);
    EVP_PKEY_free(k->p256);
    EVP_PKEY_free(k->p384);
    free(k);
    return 0;
}

static const uint8_t nonce32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static TPMS_PCR_SELECTION bank_sel(uint16_t hash, uint32_t mask)
{
    TPMS_PCR_SELECTION s;
    memset(&s, 0, sizeof(s));
    s.hash = hash;
    s.sizeofSelect = 3;
    s.pcrSelect[0] = (uint8_t)mask;
    s.pcrSelect[1] = (uint8_t)(mask >> 8);
    s.pcrSelect[2] = (uint8_t)(mask >> 16);
    return s;
}

/* A PCR set with a distinct value for every selected PCR. */
static struct ks_pcr_set pcrs_for(const TPML_PCR_SELECTION *sel)
{
    struct ks_pcr_set set;
    ks_pcr_set_init(&set);
    for (uint32_t i = 0; i < sel->count; i++) {
        uint32_t m = ks_pcr_selection_mask(&sel->pcrSelections[i]);
        for (unsigned p = 0; p < 24; p++) {
            if (m & (1u << p)) {
                uint8_t v[64];
                memset(v, (int)(p * 7 + i + 1), sizeof(v));
                assert_int_equal(ks_pcr_set_put(&set, sel->pcrSelections[i].hash, p, v,
                                                ks_alg_digest_size(sel->pcrSelections[i].hash)),
                                 KS_OK);
            }
        }
    }
    return set;
}

/* pcrDigest computed here independently: concatenate, then one EVP_Digest. */
static TPM2B_DIGEST digest_for(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *set,
                               uint16_t alg)
{
    uint8_t cat[4 * 24 * 64];
    size_t n = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        uint32_t m = ks_pcr_selection_mask(&sel->pcrSelections[i]);
        size_t d = ks_alg_digest_size(sel->pcrSelections[i].hash);
        for (unsigned p = 0; p < 24; p++) {
            const uint8_t *v;
            if ((m & (1u << p)) && ks_pcr_set_get(set, sel->pcrSelections[i].hash, p, &v) == 0) {
                memcpy(cat + n, v, d);
                n += d;
            }
        }
    }
    TPM2B_DIGEST out;
    unsigned int olen = 0;
    assert_int_equal(EVP_Digest(cat, n, out.buffer, &olen, ks_alg_md(alg), NULL), 1);
    out.size = (uint16_t)olen;
    return out;
}

struct att_spec {
    uint32_t magic;
    uint16_t type;
    const uint8_t *extra;
    size_t extra_len;
    TPML_PCR_SELECTION sel;
    TPM2B_DIGEST digest;
};

static struct att_spec spec_default(const TPML_PCR_SELECTION *sel, uint16_t hash)
{
    struct att_spec s;
    memset(&s, 0, sizeof(s));
    s.magic = TPM2_GENERATED_VALUE;
    s.type = TPM2_ST_ATTEST_QUOTE;
    s.extra = nonce32;
    s.extra_len = sizeof(nonce32);
    s.sel = *sel;
    struct ks_pcr_set set = pcrs_for(sel);
    s.digest = digest_for(sel, &set, hash);
    return s;
}

static size_t make_attest(const struct att_spec *sp, uint8_t *out, size_t cap)
{
    TPMS_ATTEST a;
    memset(&a, 0, sizeof(a));
    a.magic = sp->magic;
    a.type = sp->type;
    a.qualifiedSigner.size = 34;
    memset(a.qualifiedSigner.name, 0xab, 34);
    a.qualifiedSigner.name[1] = 0x0b;
    a.extraData.size = (uint16_t)sp->extra_len;
    if (sp->extra_len) {
        memcpy(a.extraData.buffer, sp->extra, sp->extra_len);
    }
    a.clockInfo.clock = 123456789;
    a.clockInfo.resetCount = 7;
    a.clockInfo.restartCount = 3;
    a.clockInfo.safe = TPM2_YES;
    a.firmwareVersion = 0x0102030405060708ULL;
    if (sp->type == TPM2_ST_ATTEST_QUOTE) {
        a.attested.quote.pcrSelect = sp->sel;
        a.attested.quote.pcrDigest = sp->digest;
    }
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&a, out, cap, &off), TSS2_RC_SUCCESS);
    return off;
}

enum ecc_enc { ENC_PADDED, ENC_MINIMAL, ENC_EXTRA_ZERO };

static void put_param(TPM2B_ECC_PARAMETER *p, const BIGNUM *bn, size_t fsize, enum ecc_enc enc)
{
    switch (enc) {
    case ENC_PADDED:
        p->size = (uint16_t)fsize;
        assert_int_equal(BN_bn2binpad(bn, p->buffer, (int)fsize), (int)fsize);
        break;
    case ENC_MINIMAL:
        p->size = (uint16_t)BN_bn2bin(bn, p->buffer);
        break;
    case ENC_EXTRA_ZERO:
        p->size = (uint16_t)(fsize + 1);
        assert_int_equal(BN_bn2binpad(bn, p->buffer, (int)fsize + 1), (int)fsize + 1);
        break;
    }
}

/* Sign msg as a TPM would and marshal the TPMT_SIGNATURE. For RSA-PSS,
 * salt is the salt length (RSA_PSS_SALTLEN_DIGEST / _MAX). */
static size_t make_sig(EVP_PKEY *key, uint16_t sig_alg, uint16_t hash, int salt, enum ecc_enc enc,
                       const uint8_t *msg, size_t mlen, uint8_t *out, size_t cap)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestSignInit_ex(mctx, &pctx, EVP_MD_get0_name(ks_alg_md(hash)), NULL,
                                           NULL, key, NULL),
                     1);
    if (sig_alg == TPM2_ALG_RSAPSS) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 1);
    }
    uint8_t raw[1024];
    size_t rlen = sizeof(raw);
    assert_int_equal(EVP_DigestSign(mctx, raw, &rlen, msg, mlen), 1);
    EVP_MD_CTX_free(mctx);

    TPMT_SIGNATURE s;
    memset(&s, 0, sizeof(s));
    s.sigAlg = sig_alg;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        s.signature.rsassa.hash = hash;
        s.signature.rsassa.sig.size = (uint16_t)rlen;
        memcpy(s.signature.rsassa.sig.buffer, raw, rlen);
    } else {
        const unsigned char *p = raw;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)rlen);
        assert_non_null(es);
        size_t fsize = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
        s.signature.ecdsa.hash = hash;
        put_param(&s.signature.ecdsa.signatureR, ECDSA_SIG_get0_r(es), fsize, enc);
        put_param(&s.signature.ecdsa.signatureS, ECDSA_SIG_get0_s(es), fsize, enc);
        ECDSA_SIG_free(es);
    }
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, out, cap, &off), TSS2_RC_SUCCESS);
    return off;
}

static TPML_PCR_SELECTION sel_sha256(uint32_t mask)
{
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    sel.count = 1;
    sel.pcrSelections[0] = bank_sel(TPM2_ALG_SHA256, mask);
    return sel;
}

/* Make, sign and verify one synthetic quote; returns the verify result. */
static int synth(EVP_PKEY *key, const TPMT_PUBLIC *pub, uint16_t sig_alg, uint16_t hash, int salt,
                 enum ecc_enc enc, const struct att_spec *sp, const struct ks_pcr_set *pcrs,
                 struct ks_quote_info *info)
{
    uint8_t att[2048], sig[1024];
    size_t alen = make_attest(sp, att, sizeof(att));
    size_t slen = make_sig(key, sig_alg, hash, salt, enc, att, alen, sig, sizeof(sig));
    struct ks_quote_ak *ak = NULL;
    assert_int_equal(ks_quote_ak_new(pub, pub ? NULL : key, &ak), KS_OK);
    int r = ks_quote_verify(ak, att, alen, sig, slen, nonce32, sizeof(nonce32), pcrs, info);
    ks_quote_ak_free(ak);
    return r;
}

/* A TPMT_PUBLIC for a synthetic key, with the given scheme. */
static TPMT_PUBLIC pub_for(EVP_PKEY *key, uint16_t scheme, uint16_t hash)
{
    TPMT_PUBLIC pub;
    memset(&pub, 0, sizeof(pub));
    pub.nameAlg = TPM2_ALG_SHA256;
    pub.objectAttributes = KS_AK_ATTRS_REQUIRED | TPMA_OBJECT_USERWITHAUTH;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        BIGNUM *n = NULL;
        int bytes = EVP_PKEY_get_size(key);
        pub.type = TPM2_ALG_RSA;
        pub.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.parameters.rsaDetail.scheme.scheme = scheme;
        pub.parameters.rsaDetail.scheme.details.anySig.hashAlg = hash;
        pub.parameters.rsaDetail.keyBits = (uint16_t)(bytes * 8);
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        pub.unique.rsa.size = (uint16_t)bytes;
        BN_bn2binpad(n, pub.unique.rsa.buffer, bytes);
        BN_free(n);
    } else {
        uint8_t pt[1 + 2 * 48];
        size_t ptlen = 0;
        pub.type = TPM2_ALG_ECC;
        pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.parameters.eccDetail.scheme.scheme = scheme;
        pub.parameters.eccDetail.scheme.details.anySig.hashAlg = hash;
        pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        pub.parameters.eccDetail.curveID =
            EVP_PKEY_get_bits(key) == 256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
        assert_int_equal(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                         pt, sizeof(pt), &ptlen),
                         1);
        size_t f = (ptlen - 1) / 2;
        pub.unique.ecc.x.size = pub.unique.ecc.y.size = (uint16_t)f;
        memcpy(pub.unique.ecc.x.buffer, pt + 1, f);
        memcpy(pub.unique.ecc.y.buffer, pt + 1 + f, f);
    }
    return pub;
}

/* ---- real quotes ----------------------------------------------------------- */

static void test_swtpm_verifies(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    struct ks_quote_info info;
    assert_int_equal(swtpm_verify(&q, &info), KS_OK);
    json_t *exp = expected_json(SWTPM "expected.json");
    check_info_json(&info, json_object_get(exp, "quote"));
    assert_int_equal(info.sig_alg, TPM2_ALG_RSASSA);
    assert_int_equal(info.sig_hash, TPM2_ALG_SHA256);
    assert_true(info.pcr_digest_checked);
    /* tpm2-tools' calcDigest in tpm2_quote.yaml */
    char *h = hexs(info.pcr_digest.buffer, info.pcr_digest.size);
    assert_string_equal(h, jstr(exp, "pcr_digest_recomputed", NULL));
    free(h);
    /* the nonce file equals expected.json's */
    assert_string_equal((char *)q.nonce_file.buf, jstr(exp, "nonce_hex", NULL));
    json_decref(exp);

    /* the same with the values file instead of the serialized one */
    struct ks_pcr_set set;
    assert_int_equal(ks_quote_pcrs_from_values(&info.pcr_select, q.values.buf, q.values.len, &set),
                     KS_OK);
    assert_memory_equal(&set, &q.pcrs, sizeof(set));
    /* ret_info is optional */
    assert_int_equal(swtpm_verify(&q, NULL), KS_OK);
    swtpm_free(&q);
}

static void test_swtpm_pem_and_both(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    EVP_PKEY *pem = pem_key(SWTPM "ak.pem");
    struct ks_quote_ak *ak = NULL;
    /* the PEM alone (scheme then comes from the signature) */
    assert_int_equal(ks_quote_ak_new(NULL, pem, &ak), KS_OK);
    assert_null(ks_quote_ak_public(ak));
    ks_quote_ak_free(q.ak);
    q.ak = ak;
    assert_int_equal(swtpm_verify(&q, NULL), KS_OK);
    /* the public area with a cached key */
    struct blob b = rd(SWTPM "ak.tpm2b_public.bin");
    TPMT_PUBLIC pub;
    assert_int_equal(ks_tpm_public_decode(b.buf, b.len, &pub), KS_OK);
    assert_int_equal(ks_quote_ak_new(&pub, pem, &ak), KS_OK);
    assert_memory_equal(ks_quote_ak_public(ak), &pub, sizeof(pub));
    ks_quote_ak_free(q.ak);
    q.ak = ak;
    assert_int_equal(swtpm_verify(&q, NULL), KS_OK);
    /* the key is referenced, not owned */
    EVP_PKEY_free(pem);
    assert_int_equal(swtpm_verify(&q, NULL), KS_OK);
    free(b.buf);
    swtpm_free(&q);
}

static void test_ak_new_errors(void **state)
{
    struct keys *k = *state;
    struct blob b = rd(SWTPM "ak.tpm2b_public.bin");
    TPMT_PUBLIC pub;
    assert_int_equal(ks_tpm_public_decode(b.buf, b.len, &pub), KS_OK);
    struct ks_quote_ak *ak = NULL;
    EVP_PKEY *other = pem_key(KEYLIME "akpub.pem");
    assert_int_equal(ks_quote_ak_new(&pub, other, &ak), KS_ERR_QUOTE_KEY_MISMATCH);
    assert_int_equal(ks_quote_ak_new(&pub, k->p256, &ak), KS_ERR_QUOTE_KEY_MISMATCH);
    assert_int_equal(ks_quote_ak_new(NULL, NULL, &ak), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_ak_new(&pub, NULL, NULL), KS_ERR_INVALID_ARG);
    EVP_PKEY *small = EVP_RSA_gen(1024);
    assert_int_equal(ks_quote_ak_new(NULL, small, &ak), KS_ERR_TPM_KEY);
    TPMT_PUBLIC bad = pub;
    bad.parameters.rsaDetail.keyBits = 1024;
    assert_int_equal(ks_quote_ak_new(&bad, NULL, &ak), KS_ERR_TPM_KEY);
    assert_int_equal(ks_quote_ak_new(&bad, other, &ak), KS_ERR_TPM_KEY);
    assert_null(ak);
    assert_null(ks_quote_ak_public(NULL));
    ks_quote_ak_free(NULL);
    EVP_PKEY_free(small);
    EVP_PKEY_free(other);
    free(b.buf);
}

static void test_swtpm_tampered(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    struct ks_quote_info info;
    memset(&info, 0x5a, sizeof(info));
    struct ks_quote_info before = info;

    /* TAMPERED_notes.txt: attest byte 131 flipped -> signature */
    struct blob t = rd(SWTPM "TAMPERED_quote.tpms_attest.flipbyte.bin");
    assert_int_equal(t.len, q.attest.len);
    assert_int_equal(ks_quote_verify(q.ak, t.buf, t.len, q.sig.buf, q.sig.len, q.nonce, q.nonce_len,
                                     &q.pcrs, &info),
                     KS_ERR_QUOTE_SIG_INVALID);
    free(t.buf);
    /* signature byte flipped */
    t = rd(SWTPM "TAMPERED_quote.tpmt_signature.flipbyte.bin");
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, t.buf, t.len, q.nonce,
                                     q.nonce_len, &q.pcrs, &info),
                     KS_ERR_QUOTE_SIG_INVALID);
    free(t.buf);
    /* the genuine quote against another nonce */
    t = rd(SWTPM "TAMPERED_wrong_nonce.hex");
    t.buf[strcspn((char *)t.buf, "\n")] = '\0';
    size_t wlen;
    uint8_t *wrong = unhex((char *)t.buf, &wlen);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len, wrong,
                                     wlen, &q.pcrs, &info),
                     KS_ERR_QUOTE_EXTRADATA);
    /* a prefix of the right nonce is no match either */
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len - 1, &q.pcrs, &info),
                     KS_ERR_QUOTE_EXTRADATA);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len, NULL,
                                     0, &q.pcrs, &info),
                     KS_ERR_QUOTE_EXTRADATA);
    free(wrong);
    free(t.buf);
    /* first PCR value flipped, values format */
    t = rd(SWTPM "TAMPERED_pcrs.values.bin");
    struct ks_pcr_set set;
    TPML_PCR_SELECTION sel;
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(q.serialized.buf, q.serialized.len, &sel, &set),
                     KS_OK);
    assert_int_equal(ks_quote_pcrs_from_values(&sel, t.buf, t.len, &set), KS_OK);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_ERR_QUOTE_PCR_DIGEST);
    free(t.buf);
    /* first PCR value flipped, serialized format (byte 142) */
    t = rd(SWTPM "TAMPERED_pcrs.serialized.bin");
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(t.buf, t.len, NULL, &set), KS_OK);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_ERR_QUOTE_PCR_DIGEST);
    free(t.buf);
    /* the keylime fixture's PCRs are for another selection */
    t = rd(KEYLIME "quotepcr.out");
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(t.buf, t.len, NULL, &set), KS_OK);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_ERR_QUOTE_PCR_MISSING);
    free(t.buf);
    /* the keylime AK did not sign it */
    struct ks_quote_ak *kak = ak_from_tpm2b(KEYLIME "ak.pub");
    assert_int_equal(ks_quote_verify(kak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len, q.nonce,
                                     q.nonce_len, &q.pcrs, &info),
                     KS_ERR_QUOTE_SIG_INVALID);
    ks_quote_ak_free(kak);
    /* ret_info untouched by every failure */
    assert_memory_equal(&info, &before, sizeof(info));
    swtpm_free(&q);
}

static void test_swtpm_pcr_sets(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    struct ks_quote_info info;
    /* a selected value missing */
    struct ks_pcr_set set = q.pcrs;
    set.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].present &= ~(1u << 23);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_ERR_QUOTE_PCR_MISSING);
    /* a value the quote does not cover (PCR 8) */
    set = q.pcrs;
    uint8_t v[32] = {0};
    assert_int_equal(ks_pcr_set_put(&set, TPM2_ALG_SHA256, 8, v, 32), KS_OK);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_ERR_QUOTE_PCR_MISSING);
    /* a whole bank the quote does not cover */
    set = q.pcrs;
    assert_int_equal(ks_pcr_set_put(&set, TPM2_ALG_SHA1, 0, v, 20), KS_OK);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_ERR_QUOTE_PCR_MISSING);
    /* an enabled but empty extra bank is no value */
    set = q.pcrs;
    assert_int_equal(ks_pcr_bank_enable(&set, TPM2_ALG_SHA384), KS_OK);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, &set, &info),
                     KS_OK);
    /* no PCR values: verified, digest not checked; then checked separately */
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, q.sig.len,
                                     q.nonce, q.nonce_len, NULL, &info),
                     KS_OK);
    assert_false(info.pcr_digest_checked);
    struct ks_quote_info copy = info;
    set = q.pcrs;
    set.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].value[5][0] ^= 1;
    assert_int_equal(ks_quote_check_pcrs(&copy, &set), KS_ERR_QUOTE_PCR_DIGEST);
    assert_false(copy.pcr_digest_checked);
    assert_int_equal(ks_quote_check_pcrs(&info, &q.pcrs), KS_OK);
    assert_true(info.pcr_digest_checked);
    assert_int_equal(ks_quote_check_pcrs(NULL, &q.pcrs), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_check_pcrs(&info, NULL), KS_ERR_INVALID_ARG);
    swtpm_free(&q);
}

static void test_swtpm_flip_every_byte(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t m = 0; m < sizeof(masks); m++) {
        for (size_t i = 0; i < q.attest.len; i++) {
            q.attest.buf[i] ^= masks[m];
            int r = swtpm_verify(&q, NULL);
            if (r == KS_OK) {
                fail_msg("attest byte %zu ^ 0x%02x verified", i, masks[m]);
            }
            assert_int_equal(r, KS_ERR_QUOTE_SIG_INVALID);
            q.attest.buf[i] ^= masks[m];
        }
        for (size_t i = 0; i < q.sig.len; i++) {
            q.sig.buf[i] ^= masks[m];
            int r = swtpm_verify(&q, NULL);
            if (r == KS_OK) {
                fail_msg("signature byte %zu ^ 0x%02x verified", i, masks[m]);
            }
            /* the header bytes change the structure or the scheme */
            assert_true(r == KS_ERR_QUOTE_SIG_INVALID || r == KS_ERR_QUOTE_SIG_MALFORMED ||
                        r == KS_ERR_QUOTE_SIG_SCHEME);
            if (i >= 6) {
                assert_int_equal(r, KS_ERR_QUOTE_SIG_INVALID);
            }
            q.sig.buf[i] ^= masks[m];
        }
    }
    /* truncated and extended inputs */
    for (size_t n = 0; n < q.attest.len; n++) {
        assert_int_not_equal(ks_quote_verify(q.ak, q.attest.buf, n, q.sig.buf, q.sig.len, q.nonce,
                                             q.nonce_len, &q.pcrs, NULL),
                             KS_OK);
    }
    for (size_t n = 0; n < q.sig.len; n++) {
        assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, q.sig.buf, n, q.nonce,
                                         q.nonce_len, &q.pcrs, NULL),
                         KS_ERR_QUOTE_SIG_MALFORMED);
    }
    uint8_t *big = calloc(1, q.sig.len + 1);
    memcpy(big, q.sig.buf, q.sig.len);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, big, q.sig.len + 1, q.nonce,
                                     q.nonce_len, &q.pcrs, NULL),
                     KS_ERR_QUOTE_SIG_MALFORMED);
    free(big);
    assert_int_equal(swtpm_verify(&q, NULL), KS_OK);
    swtpm_free(&q);
}

static void test_swtpm_rsa_sig_length(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    TPMT_SIGNATURE s;
    assert_int_equal(ks_tpm_signature_decode(q.sig.buf, q.sig.len, &s), KS_OK);
    /* 255 bytes: shorter than the modulus (a leading zero dropped) */
    memmove(s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.buffer + 1, 255);
    s.signature.rsassa.sig.size = 255;
    uint8_t buf[600];
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, buf, sizeof(buf), &off), 0);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, buf, off, q.nonce,
                                     q.nonce_len, &q.pcrs, NULL),
                     KS_ERR_QUOTE_SIG_INVALID);
    /* the same signature claimed as RSA-PSS: the AK's scheme is RSASSA */
    assert_int_equal(ks_tpm_signature_decode(q.sig.buf, q.sig.len, &s), KS_OK);
    s.sigAlg = TPM2_ALG_RSAPSS;
    off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, buf, sizeof(buf), &off), 0);
    assert_int_equal(ks_quote_verify(q.ak, q.attest.buf, q.attest.len, buf, off, q.nonce,
                                     q.nonce_len, &q.pcrs, NULL),
                     KS_ERR_QUOTE_SIG_SCHEME);
    /* ... and with the PEM alone (no scheme known): the padding is wrong */
    struct ks_quote_ak *ak = NULL;
    EVP_PKEY *pem = pem_key(SWTPM "ak.pem");
    assert_int_equal(ks_quote_ak_new(NULL, pem, &ak), KS_OK);
    assert_int_equal(ks_quote_verify(ak, q.attest.buf, q.attest.len, buf, off, q.nonce, q.nonce_len,
                                     &q.pcrs, NULL),
                     KS_ERR_QUOTE_SIG_INVALID);
    ks_quote_ak_free(ak);
    EVP_PKEY_free(pem);
    swtpm_free(&q);
}

static void test_keylime_verifies(void **state)
{
    json_t *exp = expected_json(KEYLIME "expected.json");
    size_t nlen;
    uint8_t *nonce = unhex(jstr(exp, "nonce_hex", NULL), &nlen);
    struct ks_quote_ak *ak = ak_from_tpm2b(KEYLIME "ak.pub");
    struct blob att = rd(KEYLIME "quote.out");
    struct blob sig = rd(KEYLIME "quotesig.out");
    struct blob pf = rd(KEYLIME "quotepcr.out");
    struct ks_pcr_set set;
    TPML_PCR_SELECTION sel;
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(pf.buf, pf.len, &sel, &set), KS_OK);
    /* the file's values are expected.json's */
    json_t *vals = json_object_get(json_object_get(exp, "pcr_values"), "sha256");
    const char *key;
    json_t *v;
    unsigned n = 0;
    json_object_foreach(vals, key, v)
    {
        const uint8_t *val;
        assert_int_equal(ks_pcr_set_get(&set, TPM2_ALG_SHA256, (unsigned)atoi(key), &val), KS_OK);
        char *h = hexs(val, 32);
        assert_string_equal(h, json_string_value(v));
        free(h);
        n++;
    }
    assert_int_equal(n, 3);
    struct ks_quote_info info;
    assert_int_equal(
        ks_quote_verify(ak, att.buf, att.len, sig.buf, sig.len, nonce, nlen, &set, &info), KS_OK);
    check_info_json(&info, json_object_get(exp, "quote"));
    assert_memory_equal(&sel, &info.pcr_select, sizeof(sel));
    /* and with the PEM */
    ks_quote_ak_free(ak);
    ak = NULL;
    EVP_PKEY *pem = pem_key(KEYLIME "akpub.pem");
    assert_int_equal(ks_quote_ak_new(NULL, pem, &ak), KS_OK);
    assert_int_equal(
        ks_quote_verify(ak, att.buf, att.len, sig.buf, sig.len, nonce, nlen, &set, &info), KS_OK);
    EVP_PKEY_free(pem);
    ks_quote_ak_free(ak);
    free(att.buf);
    free(sig.buf);
    free(pf.buf);
    free(nonce);
    json_decref(exp);
}

static void test_rust_keylime_digest(void **state)
{
    json_t *exp = expected_json(RUSTKL "expected.json");
    struct blob att = rd(RUSTKL "quote.tpms_attest.bin");
    struct blob pf = rd(RUSTKL "pcrs.serialized.bin");
    struct ks_quote_info info;
    assert_int_equal(ks_quote_info_decode(att.buf, att.len, &info), KS_OK);
    check_info_json(&info, json_object_get(exp, "quote"));
    struct ks_pcr_set set;
    TPML_PCR_SELECTION sel;
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(pf.buf, pf.len, &sel, &set), KS_OK);
    assert_int_equal(sel.count, 1);
    assert_int_equal(sel.pcrSelections[0].hash, TPM2_ALG_SHA1);
    assert_int_equal(ks_pcr_selection_mask(&sel.pcrSelections[0]), 1u << 16);
    const uint8_t *v;
    assert_int_equal(ks_pcr_set_get(&set, TPM2_ALG_SHA1, 16, &v), KS_OK);
    char *h = hexs(v, 20);
    assert_string_equal(
        h, json_string_value(json_array_get(json_object_get(exp, "pcr_file_values"), 0)));
    free(h);
    /* PCR16 reproduces the pcrDigest with the signature's hash (SHA-1) */
    uint8_t d[64];
    size_t dlen = 0;
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, &set, TPM2_ALG_SHA1, d, &dlen), KS_OK);
    assert_int_equal(dlen, 20);
    assert_memory_equal(d, info.pcr_digest.buffer, 20);
    h = hexs(d, dlen);
    assert_string_equal(h, jstr(exp, "pcr_digest_recomputed", NULL));
    free(h);
    /* Its signature is RSASSA-SHA1: refused whatever the key. */
    struct blob sig = rd(RUSTKL "quote.tpmt_signature.bin");
    EVP_PKEY *pem = pem_key(SWTPM "ak.pem");
    struct ks_quote_ak *ak = NULL;
    assert_int_equal(ks_quote_ak_new(NULL, pem, &ak), KS_OK);
    assert_int_equal(ks_quote_verify(ak, att.buf, att.len, sig.buf, sig.len,
                                     (const uint8_t *)"TEST", 4, &set, NULL),
                     KS_ERR_QUOTE_SIG_SCHEME);
    ks_quote_ak_free(ak);
    EVP_PKEY_free(pem);
    free(sig.buf);
    free(att.buf);
    free(pf.buf);
    json_decref(exp);
}

/* ---- synthetic quotes: schemes ----------------------------------------- */

static void test_synth_rsa(void **state)
{
    struct keys *k = *state;
    TPML_PCR_SELECTION sel = sel_sha256(0xffffff); /* 24 PCRs, more than 8 */
    struct att_spec sp = spec_default(&sel, TPM2_ALG_SHA256);
    struct ks_pcr_set pcrs = pcrs_for(&sel);
    struct ks_quote_info info;
    assert_int_equal(
        synth(k->rsa2048, NULL, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, ENC_PADDED, &sp, &pcrs, &info),
        KS_OK);
    assert_int_equal(info.sig_alg, TPM2_ALG_RSASSA);
    assert_int_equal(info.clock, 123456789);
    assert_int_equal(info.reset_count, 7);
    assert_int_equal(info.restart_count, 3);
    assert_true(info.safe);
    assert_int_equal(info.firmware_version, 0x0102030405060708ULL);
    /* RSA-PSS, salt = digest length and salt = maximum: TPMs use either */
    assert_int_equal(synth(k->rsa2048, NULL, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256,
                           RSA_PSS_SALTLEN_DIGEST, ENC_PADDED, &sp, &pcrs, &info),
                     KS_OK);
    assert_int_equal(info.sig_alg, TPM2_ALG_RSAPSS);
    assert_int_equal(synth(k->rsa2048, NULL, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256, RSA_PSS_SALTLEN_MAX,
                           ENC_PADDED, &sp, &pcrs, &info),
                     KS_OK);
    /* RSA-3072 with SHA-384: pcrDigest is SHA-384 too */
    struct att_spec sp384 = spec_default(&sel, TPM2_ALG_SHA384);
    assert_int_equal(synth(k->rsa3072, NULL, TPM2_ALG_RSASSA, TPM2_ALG_SHA384, 0, ENC_PADDED,
                           &sp384, &pcrs, &info),
                     KS_OK);
    assert_int_equal(info.sig_hash, TPM2_ALG_SHA384);
    assert_int_equal(info.pcr_digest.size, 48);
    TPMT_PUBLIC pub = pub_for(k->rsa3072, TPM2_ALG_RSAPSS, TPM2_ALG_SHA384);
    assert_int_equal(synth(k->rsa3072, &pub, TPM2_ALG_RSAPSS, TPM2_ALG_SHA384,
                           RSA_PSS_SALTLEN_DIGEST, ENC_PADDED, &sp384, &pcrs, &info),
                     KS_OK);
    /* a SHA-256 pcrDigest under a SHA-384 signature is wrong */
    assert_int_equal(
        synth(k->rsa3072, NULL, TPM2_ALG_RSASSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sp, &pcrs, &info),
        KS_ERR_QUOTE_PCR_DIGEST);
}

static void test_synth_ecdsa(void **state)
{
    struct keys *k = *state;
    TPML_PCR_SELECTION sel = sel_sha256(0x0000ff);
    struct ks_pcr_set pcrs = pcrs_for(&sel);
    struct att_spec sp = spec_default(&sel, TPM2_ALG_SHA256);
    struct att_spec sp384 = spec_default(&sel, TPM2_ALG_SHA384);
    struct ks_quote_info info;
    static const enum ecc_enc encs[] = {ENC_PADDED, ENC_MINIMAL, ENC_EXTRA_ZERO};
    for (size_t e = 0; e < 3; e++) {
        assert_int_equal(
            synth(k->p256, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, encs[e], &sp, &pcrs, &info),
            KS_OK);
        assert_int_equal(
            synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, encs[e], &sp384, &pcrs, &info),
            KS_OK);
    }
    assert_int_equal(info.sig_alg, TPM2_ALG_ECDSA);
    /* with the public area and its scheme */
    TPMT_PUBLIC pub = pub_for(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256);
    assert_int_equal(
        synth(k->p256, &pub, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, &sp, &pcrs, &info),
        KS_OK);
    /* P-256 key, SHA-384 hash: allowed when the key names no scheme */
    assert_int_equal(
        synth(k->p256, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sp384, &pcrs, &info),
        KS_OK);
    /* ... refused when it names ECDSA-SHA256 */
    assert_int_equal(
        synth(k->p256, &pub, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sp384, &pcrs, &info),
        KS_ERR_QUOTE_SIG_SCHEME);

    /* tampered r, zero-length s */
    uint8_t att[1024], sig[512];
    size_t alen = make_attest(&sp, att, sizeof(att));
    size_t slen = make_sig(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen, sig,
                           sizeof(sig));
    TPMT_SIGNATURE s;
    assert_int_equal(ks_tpm_signature_decode(sig, slen, &s), KS_OK);
    struct ks_quote_ak *ak = NULL;
    assert_int_equal(ks_quote_ak_new(&pub, NULL, &ak), KS_OK);
    TPMT_SIGNATURE t = s;
    t.signature.ecdsa.signatureR.buffer[5] ^= 1;
    uint8_t buf[512];
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&t, buf, sizeof(buf), &off), 0);
    assert_int_equal(
        ks_quote_verify(ak, att, alen, buf, off, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_INVALID);
    t = s;
    t.signature.ecdsa.signatureS.size = 0;
    off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&t, buf, sizeof(buf), &off), 0);
    assert_int_equal(
        ks_quote_verify(ak, att, alen, buf, off, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_INVALID);
    /* (r, s) swapped */
    t = s;
    t.signature.ecdsa.signatureR = s.signature.ecdsa.signatureS;
    t.signature.ecdsa.signatureS = s.signature.ecdsa.signatureR;
    off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&t, buf, sizeof(buf), &off), 0);
    assert_int_equal(
        ks_quote_verify(ak, att, alen, buf, off, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_INVALID);
    assert_int_equal(
        ks_quote_verify(ak, att, alen, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL), KS_OK);
    ks_quote_ak_free(ak);
}

static void test_synth_scheme_refused(void **state)
{
    struct keys *k = *state;
    TPML_PCR_SELECTION sel = sel_sha256(0x3);
    struct ks_pcr_set pcrs = pcrs_for(&sel);
    struct ks_quote_info info;
    struct att_spec sp1 = spec_default(&sel, TPM2_ALG_SHA1);
    struct att_spec sp256 = spec_default(&sel, TPM2_ALG_SHA256);
    struct att_spec sp384 = spec_default(&sel, TPM2_ALG_SHA384);
    struct att_spec sp512 = spec_default(&sel, TPM2_ALG_SHA512);
    /* SHA-1 and SHA-512 signatures, validly made */
    assert_int_equal(
        synth(k->rsa2048, NULL, TPM2_ALG_RSASSA, TPM2_ALG_SHA1, 0, ENC_PADDED, &sp1, &pcrs, &info),
        KS_ERR_QUOTE_SIG_SCHEME);
    assert_int_equal(synth(k->rsa2048, NULL, TPM2_ALG_RSASSA, TPM2_ALG_SHA512, 0, ENC_PADDED,
                           &sp512, &pcrs, &info),
                     KS_ERR_QUOTE_SIG_SCHEME);
    assert_int_equal(
        synth(k->p256, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA1, 0, ENC_PADDED, &sp1, &pcrs, &info),
        KS_ERR_QUOTE_SIG_SCHEME);
    /* the key's scheme is RSASSA-SHA256: PSS and RSASSA-SHA384 are refused */
    TPMT_PUBLIC pub = pub_for(k->rsa2048, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
    assert_int_equal(synth(k->rsa2048, &pub, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256,
                           RSA_PSS_SALTLEN_DIGEST, ENC_PADDED, &sp256, &pcrs, &info),
                     KS_ERR_QUOTE_SIG_SCHEME);
    assert_int_equal(synth(k->rsa2048, &pub, TPM2_ALG_RSASSA, TPM2_ALG_SHA384, 0, ENC_PADDED,
                           &sp384, &pcrs, &info),
                     KS_ERR_QUOTE_SIG_SCHEME);
    assert_int_equal(synth(k->rsa2048, &pub, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, ENC_PADDED,
                           &sp256, &pcrs, &info),
                     KS_OK);
    /* no scheme in the key: any allowed one */
    pub = pub_for(k->rsa2048, TPM2_ALG_NULL, TPM2_ALG_NULL);
    assert_int_equal(synth(k->rsa2048, &pub, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256,
                           RSA_PSS_SALTLEN_DIGEST, ENC_PADDED, &sp256, &pcrs, &info),
                     KS_OK);

    /* signature algorithm and key type disagree */
    uint8_t att[1024], sig[1024];
    size_t alen = make_attest(&sp256, att, sizeof(att));
    size_t slen = make_sig(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen, sig,
                           sizeof(sig));
    struct ks_quote_ak *rsa = NULL, *ec = NULL;
    assert_int_equal(ks_quote_ak_new(NULL, k->rsa2048, &rsa), KS_OK);
    assert_int_equal(ks_quote_ak_new(NULL, k->p256, &ec), KS_OK);
    assert_int_equal(
        ks_quote_verify(rsa, att, alen, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_SCHEME);
    slen = make_sig(k->rsa2048, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen, sig,
                    sizeof(sig));
    assert_int_equal(
        ks_quote_verify(ec, att, alen, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_SCHEME);
    /* other signature algorithms: ECSCHNORR, SM2, HMAC, NULL */
    static const uint16_t others[] = {TPM2_ALG_ECSCHNORR, TPM2_ALG_SM2, TPM2_ALG_ECDAA};
    for (size_t i = 0; i < 3; i++) {
        TPMT_SIGNATURE s;
        memset(&s, 0, sizeof(s));
        s.sigAlg = others[i];
        s.signature.ecdsa.hash = TPM2_ALG_SHA256;
        s.signature.ecdsa.signatureR.size = 32;
        s.signature.ecdsa.signatureS.size = 32;
        size_t off = 0;
        assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &off), 0);
        assert_int_equal(
            ks_quote_verify(ec, att, alen, sig, off, nonce32, sizeof(nonce32), &pcrs, NULL),
            KS_ERR_QUOTE_SIG_SCHEME);
    }
    TPMT_SIGNATURE s;
    memset(&s, 0, sizeof(s));
    s.sigAlg = TPM2_ALG_HMAC;
    s.signature.hmac.hashAlg = TPM2_ALG_SHA256;
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &off), 0);
    assert_int_equal(
        ks_quote_verify(rsa, att, alen, sig, off, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_SCHEME);
    s.sigAlg = TPM2_ALG_NULL;
    off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &off), 0);
    assert_int_equal(
        ks_quote_verify(rsa, att, alen, sig, off, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_QUOTE_SIG_SCHEME);
    ks_quote_ak_free(rsa);
    ks_quote_ak_free(ec);
}

/* ---- synthetic quotes: attest contents ------------------------------------- */

static void test_synth_magic_type(void **state)
{
    struct keys *k = *state;
    TPML_PCR_SELECTION sel = sel_sha256(0x1);
    struct ks_pcr_set pcrs = pcrs_for(&sel);
    struct att_spec sp = spec_default(&sel, TPM2_ALG_SHA256);
    sp.magic = 0xff544348;
    assert_int_equal(
        synth(k->p256, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, &sp, &pcrs, NULL),
        KS_ERR_QUOTE_MAGIC);
    sp = spec_default(&sel, TPM2_ALG_SHA256);
    sp.type = TPM2_ST_ATTEST_CERTIFY;
    assert_int_equal(
        synth(k->p256, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, &sp, &pcrs, NULL),
        KS_ERR_QUOTE_TYPE);
    sp.type = TPM2_ST_ATTEST_TIME;
    assert_int_equal(
        synth(k->p256, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, &sp, &pcrs, NULL),
        KS_ERR_QUOTE_TYPE);

    /* signed, but not a well-formed TPMS_ATTEST */
    struct ks_quote_ak *ak = NULL;
    assert_int_equal(ks_quote_ak_new(NULL, k->p256, &ak), KS_OK);
    uint8_t att[1024], sig[512];
    sp = spec_default(&sel, TPM2_ALG_SHA256);
    size_t alen = make_attest(&sp, att, sizeof(att));
    att[alen] = 0;
    size_t slen = make_sig(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen + 1,
                           sig, sizeof(sig));
    assert_int_equal(
        ks_quote_verify(ak, att, alen + 1, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_TPM_TRAILING);
    slen = make_sig(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen - 1, sig,
                    sizeof(sig));
    assert_int_equal(
        ks_quote_verify(ak, att, alen - 1, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_TPM_UNMARSHAL);
    /* too large inputs are refused before any work */
    uint8_t *huge = calloc(1, KS_QUOTE_ATTEST_MAX + 1);
    assert_int_equal(ks_quote_verify(ak, huge, KS_QUOTE_ATTEST_MAX + 1, sig, slen, nonce32,
                                     sizeof(nonce32), &pcrs, NULL),
                     KS_ERR_TOO_LARGE);
    assert_int_equal(ks_quote_verify(ak, att, alen, huge, KS_QUOTE_SIG_MAX + 1, nonce32,
                                     sizeof(nonce32), &pcrs, NULL),
                     KS_ERR_TOO_LARGE);
    free(huge);
    assert_int_equal(
        ks_quote_verify(NULL, att, alen, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_quote_verify(ak, NULL, alen, sig, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_INVALID_ARG);
    assert_int_equal(
        ks_quote_verify(ak, att, alen, NULL, slen, nonce32, sizeof(nonce32), &pcrs, NULL),
        KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_verify(ak, att, alen, sig, slen, NULL, 3, &pcrs, NULL),
                     KS_ERR_INVALID_ARG);
    ks_quote_ak_free(ak);
}

static void test_synth_extradata(void **state)
{
    struct keys *k = *state;
    TPML_PCR_SELECTION sel = sel_sha256(0x1);
    struct ks_pcr_set pcrs = pcrs_for(&sel);
    struct att_spec sp = spec_default(&sel, TPM2_ALG_SHA256);
    /* empty extraData, expected empty */
    sp.extra = NULL;
    sp.extra_len = 0;
    uint8_t att[1024], sig[512];
    size_t alen = make_attest(&sp, att, sizeof(att));
    size_t slen = make_sig(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen, sig,
                           sizeof(sig));
    struct ks_quote_ak *ak = NULL;
    assert_int_equal(ks_quote_ak_new(NULL, k->p256, &ak), KS_OK);
    struct ks_quote_info info;
    assert_int_equal(ks_quote_verify(ak, att, alen, sig, slen, NULL, 0, &pcrs, &info), KS_OK);
    assert_int_equal(info.extra_data.size, 0);
    assert_int_equal(ks_quote_verify(ak, att, alen, sig, slen, nonce32, 1, &pcrs, &info),
                     KS_ERR_QUOTE_EXTRADATA);
    /* 64-byte extraData (the TPM2B_DATA maximum used by SHA-512 bindings) */
    uint8_t big[64];
    memset(big, 0xee, sizeof(big));
    sp.extra = big;
    sp.extra_len = sizeof(big);
    alen = make_attest(&sp, att, sizeof(att));
    slen = make_sig(k->p256, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, ENC_PADDED, att, alen, sig,
                    sizeof(sig));
    assert_int_equal(ks_quote_verify(ak, att, alen, sig, slen, big, sizeof(big), &pcrs, &info),
                     KS_OK);
    big[63] ^= 1;
    assert_int_equal(ks_quote_verify(ak, att, alen, sig, slen, big, sizeof(big), &pcrs, &info),
                     KS_ERR_QUOTE_EXTRADATA);
    ks_quote_ak_free(ak);
}

static void test_synth_pcrs(void **state)
{
    struct keys *k = *state;
    /* two banks, 8 + 24 PCRs, digest with SHA-384 */
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    sel.count = 2;
    sel.pcrSelections[0] = bank_sel(TPM2_ALG_SHA1, 0x0000ff);
    sel.pcrSelections[1] = bank_sel(TPM2_ALG_SHA256, 0xffffff);
    struct ks_pcr_set pcrs = pcrs_for(&sel);
    struct att_spec sp = spec_default(&sel, TPM2_ALG_SHA384);
    struct ks_quote_info info;
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sp, &pcrs, &info),
        KS_OK);
    assert_true(info.pcr_digest_checked);
    assert_int_equal(ks_pcr_selection_count(&info.pcr_select), 32);
    /* the bank order matters: the same banks listed the other way round */
    TPML_PCR_SELECTION rev = sel;
    rev.pcrSelections[0] = sel.pcrSelections[1];
    rev.pcrSelections[1] = sel.pcrSelections[0];
    struct att_spec sprev = sp;
    sprev.sel = rev;
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sprev, &pcrs, &info),
        KS_ERR_QUOTE_PCR_DIGEST);
    /* one value changed */
    struct ks_pcr_set bad = pcrs;
    bad.bank[ks_alg_bank_index(TPM2_ALG_SHA1)].value[3][19] ^= 0x40;
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sp, &bad, &info),
        KS_ERR_QUOTE_PCR_DIGEST);
    /* pcrDigest of the wrong size for the signature hash */
    struct att_spec sps = sp;
    sps.digest.size = 20;
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &sps, &pcrs, &info),
        KS_ERR_QUOTE_PCR_DIGEST);
    /* a signed but invalid selection (a bank twice): refused with or
     * without values */
    TPML_PCR_SELECTION dup = sel;
    dup.pcrSelections[0] = bank_sel(TPM2_ALG_SHA256, 0x1);
    struct att_spec spd = sp;
    spd.sel = dup;
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &spd, &pcrs, &info),
        KS_ERR_QUOTE_PCR_SELECTION);
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &spd, NULL, &info),
        KS_ERR_QUOTE_PCR_SELECTION);
    /* an empty selection: H(empty) */
    TPML_PCR_SELECTION none;
    memset(&none, 0, sizeof(none));
    struct att_spec spn = spec_default(&none, TPM2_ALG_SHA384);
    struct ks_pcr_set empty;
    ks_pcr_set_init(&empty);
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &spn, &empty, &info),
        KS_OK);
    assert_int_equal(
        synth(k->p384, NULL, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, ENC_PADDED, &spn, &pcrs, &info),
        KS_ERR_QUOTE_PCR_MISSING);
}

/* ---- PCR helpers ---------------------------------------------------------- */

static void test_pcr_digest(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    struct ks_quote_info info;
    assert_int_equal(ks_quote_info_decode(q.attest.buf, q.attest.len, &info), KS_OK);
    uint8_t d[64];
    size_t dlen = 0;
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, &q.pcrs, TPM2_ALG_SHA256, d, &dlen),
                     KS_OK);
    assert_int_equal(dlen, 32);
    char *h = hexs(d, dlen);
    assert_string_equal(h, "83a816aae22fef2ec41d283a5d37f5e574b3b70b50e1ca9fb9a700b107a261e9");
    free(h);
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, &q.pcrs, TPM2_ALG_SM3_256, d, &dlen),
                     KS_ERR_TPM_ALG);
    struct ks_pcr_set miss = q.pcrs;
    miss.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].present &= ~1u;
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, &miss, TPM2_ALG_SHA256, d, &dlen),
                     KS_ERR_QUOTE_PCR_MISSING);
    TPML_PCR_SELECTION bad = info.pcr_select;
    bad.pcrSelections[0].hash = TPM2_ALG_SM3_256;
    assert_int_equal(ks_quote_pcr_digest(&bad, &q.pcrs, TPM2_ALG_SHA256, d, &dlen),
                     KS_ERR_QUOTE_PCR_SELECTION);
    assert_int_equal(ks_quote_pcr_digest(NULL, &q.pcrs, TPM2_ALG_SHA256, d, &dlen),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, NULL, TPM2_ALG_SHA256, d, &dlen),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, &q.pcrs, TPM2_ALG_SHA256, NULL, &dlen),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_pcr_digest(&info.pcr_select, &q.pcrs, TPM2_ALG_SHA256, d, NULL),
                     KS_ERR_INVALID_ARG);
    swtpm_free(&q);
}

static void test_pcrs_from_values(void **state)
{
    struct swtpm_quote q;
    swtpm_load(&q);
    struct ks_quote_info info;
    assert_int_equal(ks_quote_info_decode(q.attest.buf, q.attest.len, &info), KS_OK);
    struct ks_pcr_set set;
    assert_int_equal(ks_quote_pcrs_from_values(&info.pcr_select, q.values.buf, q.values.len, &set),
                     KS_OK);
    /* pcrs.values.bin and pcrs.serialized.bin hold the same values */
    assert_memory_equal(&set, &q.pcrs, sizeof(set));
    /* expected.json's PCR 23 */
    const uint8_t *v;
    assert_int_equal(ks_pcr_set_get(&set, TPM2_ALG_SHA256, 23, &v), KS_OK);
    char *h = hexs(v, 32);
    assert_string_equal(h, "bbcd8acb6c1b115e49d9ead23bff268b5273b9e9feef5b62d7cfd027c73b0265");
    free(h);

    struct ks_pcr_set untouched;
    memset(&untouched, 0x77, sizeof(untouched));
    struct ks_pcr_set out = untouched;
    assert_int_equal(
        ks_quote_pcrs_from_values(&info.pcr_select, q.values.buf, q.values.len - 1, &out),
        KS_ERR_QUOTE_PCR_MISSING);
    assert_int_equal(ks_quote_pcrs_from_values(&info.pcr_select, q.values.buf, 32, &out),
                     KS_ERR_QUOTE_PCR_MISSING);
    uint8_t *big = calloc(1, q.values.len + 32);
    memcpy(big, q.values.buf, q.values.len);
    assert_int_equal(ks_quote_pcrs_from_values(&info.pcr_select, big, q.values.len + 32, &out),
                     KS_ERR_QUOTE_PCR_MISSING);
    free(big);
    TPML_PCR_SELECTION bad = info.pcr_select;
    bad.pcrSelections[0].sizeofSelect = 1;
    assert_int_equal(ks_quote_pcrs_from_values(&bad, q.values.buf, q.values.len, &out),
                     KS_ERR_QUOTE_PCR_SELECTION);
    assert_memory_equal(&out, &untouched, sizeof(out));
    /* empty selection, no bytes */
    TPML_PCR_SELECTION none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(ks_quote_pcrs_from_values(&none, NULL, 0, &out), KS_OK);
    assert_int_equal(ks_quote_pcrs_from_values(NULL, q.values.buf, q.values.len, &out),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_pcrs_from_values(&info.pcr_select, NULL, 5, &out),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_pcrs_from_values(&info.pcr_select, q.values.buf, q.values.len, NULL),
                     KS_ERR_INVALID_ARG);
    swtpm_free(&q);
}

/* Build a serialized PCR file the way tpm2-tools 5.x writes one
 * (lib/pcr.c pcr_fwrite_serialized): values split in TPM2_PCR_Read-sized
 * lists of at most 8. */
static size_t ser_build(const TPML_PCR_SELECTION *sel, const struct ks_pcr_set *set, uint8_t *out,
                        size_t cap)
{
    memset(out, 0, cap);
    out[0] = (uint8_t)sel->count;
    for (uint32_t i = 0; i < sel->count; i++) {
        uint8_t *p = out + 4 + 8 * i;
        p[0] = (uint8_t)sel->pcrSelections[i].hash;
        p[1] = (uint8_t)(sel->pcrSelections[i].hash >> 8);
        p[2] = sel->pcrSelections[i].sizeofSelect;
        memcpy(p + 3, sel->pcrSelections[i].pcrSelect, 4);
        p[7] = 0xcc; /* padding is whatever was in memory */
    }
    uint8_t *lists = out + 136;
    unsigned total = 0;
    for (uint32_t i = 0; i < sel->count; i++) {
        uint32_t m = ks_pcr_selection_mask(&sel->pcrSelections[i]);
        size_t d = ks_alg_digest_size(sel->pcrSelections[i].hash);
        for (unsigned p = 0; p < 24; p++) {
            const uint8_t *v;
            if (!(m & (1u << p))) {
                continue;
            }
            assert_int_equal(ks_pcr_set_get(set, sel->pcrSelections[i].hash, p, &v), KS_OK);
            uint8_t *l = lists + (total / 8) * 532;
            uint8_t *dg = l + 4 + (total % 8) * 66;
            l[0]++;
            dg[0] = (uint8_t)d;
            memcpy(dg + 2, v, d);
            total++;
        }
    }
    unsigned nlists = total ? (total + 7) / 8 : 1;
    out[132] = (uint8_t)nlists;
    size_t len = 136 + nlists * 532;
    assert_true(len <= cap);
    return len;
}

static void test_pcr_file(void **state)
{
    /* swtpm: the file's selection is the quote's, its values pcrs.values.bin */
    struct swtpm_quote q;
    swtpm_load(&q);
    struct ks_quote_info info;
    assert_int_equal(ks_quote_info_decode(q.attest.buf, q.attest.len, &info), KS_OK);
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set set, fromvals;
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(q.serialized.buf, q.serialized.len, &sel, &set),
                     KS_OK);
    assert_int_equal(sel.count, info.pcr_select.count);
    assert_int_equal(sel.pcrSelections[0].hash, info.pcr_select.pcrSelections[0].hash);
    assert_int_equal(ks_pcr_selection_mask(&sel.pcrSelections[0]),
                     ks_pcr_selection_mask(&info.pcr_select.pcrSelections[0]));
    assert_int_equal(ks_quote_pcrs_from_values(&sel, q.values.buf, q.values.len, &fromvals), KS_OK);
    assert_memory_equal(&set, &fromvals, sizeof(set));

    /* round trip through the writer above (9 values: two lists) */
    uint8_t buf[136 + 8 * 532];
    size_t len = ser_build(&sel, &set, buf, sizeof(buf));
    assert_int_equal(len, q.serialized.len);
    struct ks_pcr_set again;
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(buf, len, NULL, &again), KS_OK);
    assert_memory_equal(&again, &set, sizeof(set));

    /* two banks, 10 + 24 values: five lists */
    TPML_PCR_SELECTION two;
    memset(&two, 0, sizeof(two));
    two.count = 2;
    two.pcrSelections[0] = bank_sel(TPM2_ALG_SHA1, 0x0003ff);
    two.pcrSelections[1] = bank_sel(TPM2_ALG_SHA384, 0xffffff);
    struct ks_pcr_set tv = pcrs_for(&two);
    len = ser_build(&two, &tv, buf, sizeof(buf));
    assert_int_equal(len, 136 + 5 * 532);
    TPML_PCR_SELECTION got;
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(buf, len, &got, &again), KS_OK);
    assert_memory_equal(&again, &tv, sizeof(tv));
    assert_int_equal(got.count, 2);
    assert_int_equal(got.pcrSelections[1].hash, TPM2_ALG_SHA384);
    swtpm_free(&q);
}

static void test_pcr_file_malformed(void **state)
{
    struct blob f = rd(SWTPM "pcrs.serialized.bin");
    uint8_t *b = malloc(f.len + 532);
    struct ks_pcr_set set, untouched;
    memset(&untouched, 0x33, sizeof(untouched));
    set = untouched;
#define RESET() memcpy(b, f.buf, f.len)
#define BAD(len)                                                                                   \
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(b, (len), NULL, &set), KS_ERR_QUOTE_PCR_FILE)
    RESET();
    for (size_t n = 0; n < f.len; n++) {
        BAD(n); /* every truncation */
    }
    memset(b + f.len, 0, 532);
    BAD(f.len + 1);
    BAD(f.len + 532); /* a list more than its count says */
    RESET();
    b[0] = 17; /* more banks than TPML_PCR_SELECTION holds */
    BAD(f.len);
    RESET();
    b[0] = 2; /* second bank: hash 0 */
    BAD(f.len);
    RESET();
    b[4] = 0x12; /* bank hash SM3 */
    b[5] = 0x00;
    BAD(f.len);
    RESET();
    b[6] = 2; /* sizeofSelect 2 */
    BAD(f.len);
    RESET();
    b[132] = 3; /* three lists announced, two present */
    BAD(f.len);
    RESET();
    b[132] = 33; /* more lists than tpm2-tools ever writes */
    BAD(f.len);
    RESET();
    b[136] = 9; /* a list of 9 digests */
    BAD(f.len);
    RESET();
    b[136] = 7; /* first list one short: values run out */
    BAD(f.len);
    RESET();
    b[136 + 532] = 2; /* second list one more than selected */
    BAD(f.len);
    RESET();
    b[140] = 20; /* a digest of the wrong size for sha256 */
    BAD(f.len);
    RESET();
    b[141] = 1; /* size 0x0120 */
    BAD(f.len);
    RESET();
    b[4 + 2 + 1 + 2] = 0x81; /* PCRs 16 and 23 selected: one value missing */
    BAD(f.len);
    assert_memory_equal(&set, &untouched, sizeof(set));
#undef BAD
#undef RESET
    /* a values file is not a serialized file */
    struct blob v = rd(SWTPM "pcrs.values.bin");
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(v.buf, v.len, NULL, &set),
                     KS_ERR_QUOTE_PCR_FILE);
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(NULL, f.len, NULL, &set), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_pcrs_parse_tpm2_tools(f.buf, f.len, NULL, NULL), KS_ERR_INVALID_ARG);
    free(v.buf);
    free(b);
    free(f.buf);
}

static void test_info_decode(void **state)
{
    struct blob a = rd(SWTPM "quote.tpms_attest.bin");
    struct ks_quote_info info;
    assert_int_equal(ks_quote_info_decode(a.buf, a.len, &info), KS_OK);
    json_t *exp = expected_json(SWTPM "expected.json");
    check_info_json(&info, json_object_get(exp, "quote"));
    json_decref(exp);
    assert_int_equal(info.sig_alg, 0);
    assert_false(info.pcr_digest_checked);
    struct ks_quote_info untouched;
    memset(&untouched, 0x44, sizeof(untouched));
    info = untouched;
    assert_int_equal(ks_quote_info_decode(a.buf, a.len - 1, &info), KS_ERR_TPM_UNMARSHAL);
    assert_memory_equal(&info, &untouched, sizeof(info));
    assert_int_equal(ks_quote_info_decode(NULL, a.len, &info), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_quote_info_decode(a.buf, a.len, NULL), KS_ERR_INVALID_ARG);
    free(a.buf);

    /* a non-quote attestation: no PCR fields */
    TPML_PCR_SELECTION sel = sel_sha256(1);
    struct att_spec sp = spec_default(&sel, TPM2_ALG_SHA256);
    sp.type = TPM2_ST_ATTEST_CERTIFY;
    uint8_t att[1024];
    size_t alen = make_attest(&sp, att, sizeof(att));
    assert_int_equal(ks_quote_info_decode(att, alen, &info), KS_OK);
    assert_int_equal(info.type, TPM2_ST_ATTEST_CERTIFY);
    assert_int_equal(info.pcr_select.count, 0);
    assert_int_equal(info.pcr_digest.size, 0);
    assert_int_equal(info.clock, 123456789);
}

static void test_sig_alg_name(void **state)
{
    assert_string_equal(ks_quote_sig_alg_name(TPM2_ALG_RSASSA), "rsassa");
    assert_string_equal(ks_quote_sig_alg_name(TPM2_ALG_RSAPSS), "rsapss");
    assert_string_equal(ks_quote_sig_alg_name(TPM2_ALG_ECDSA), "ecdsa");
    assert_null(ks_quote_sig_alg_name(TPM2_ALG_HMAC));
    assert_null(ks_quote_sig_alg_name(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swtpm_verifies),       cmocka_unit_test(test_swtpm_pem_and_both),
        cmocka_unit_test(test_ak_new_errors),        cmocka_unit_test(test_swtpm_tampered),
        cmocka_unit_test(test_swtpm_pcr_sets),       cmocka_unit_test(test_swtpm_flip_every_byte),
        cmocka_unit_test(test_swtpm_rsa_sig_length), cmocka_unit_test(test_keylime_verifies),
        cmocka_unit_test(test_rust_keylime_digest),  cmocka_unit_test(test_synth_rsa),
        cmocka_unit_test(test_synth_ecdsa),          cmocka_unit_test(test_synth_scheme_refused),
        cmocka_unit_test(test_synth_magic_type),     cmocka_unit_test(test_synth_extradata),
        cmocka_unit_test(test_synth_pcrs),           cmocka_unit_test(test_pcr_digest),
        cmocka_unit_test(test_pcrs_from_values),     cmocka_unit_test(test_pcr_file),
        cmocka_unit_test(test_pcr_file_malformed),   cmocka_unit_test(test_info_decode),
        cmocka_unit_test(test_sig_alg_name),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
