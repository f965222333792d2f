/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "unit.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "eventlog.h"
#include "keyserverd/evidence.h"
#include "quote.h"
#include "tests/bench/bench_eventlog.h"
#include "tests/bench/bench_floor.h"
#include "tests/bench/soft_ak.h"
#include "tpm_public.h"

/*
 * The benchmark's SOFTWARE attestation key and event log (tests/bench/):
 * its quotes must pass the real verification path, so that the benchmark
 * measures what a TPM's quote costs the server. Oracles: lib/quote's
 * ks_quote_verify and lib/eventlog's replay (both checked against
 * tpm2-tools' output in their own tests), plain OpenSSL for the signature
 * and SHA-256 for the pcrDigest, and keyserverd's own log check.
 */

static const uint8_t extra32[32] = {
    0x6b, 0x73, 0x2d, 0x72, 0x65, 0x6c, 0x65, 0x61, 0x73, 0x65, 0x2d, 0x76, 0x31, 0x00, 0x01, 0x02,
    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
};

static TPML_PCR_SELECTION sel_0_7(void)
{
    TPML_PCR_SELECTION sel;
    memset(&sel, 0, sizeof(sel));
    sel.count = 1;
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[0] = 0xff;
    return sel;
}

/* The PCRs of a 100-event log, checked against the builder's claim. */
static struct ks_pcr_set log_pcrs(uint8_t **ret_log, size_t *ret_len)
{
    struct ks_pcr_set pcrs;
    assert_int_equal(ks_bench_eventlog_make(100, ret_log, ret_len, &pcrs), KS_OK);
    return pcrs;
}

static struct ks_quote_ak *verifier_for(const struct ks_soft_ak *ak)
{
    uint8_t blob[KS_SOFT_AK_PUBLIC_MAX];
    size_t len = 0;
    TPMT_PUBLIC pub;
    struct ks_quote_ak *qak = NULL;
    assert_int_equal(ks_soft_ak_public_blob(ak, blob, sizeof(blob), &len), KS_OK);
    assert_int_equal(ks_tpm_public_decode(blob, len, &pub), KS_OK);
    assert_int_equal(ks_quote_ak_new(&pub, NULL, &qak), KS_OK);
    return qak;
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(ks_soft_ak_kind_name(KS_SOFT_AK_ECDSA_P256), "ecdsa-p256");
    assert_string_equal(ks_soft_ak_kind_name(KS_SOFT_AK_RSA_2048), "rsa-2048");
    assert_null(ks_soft_ak_kind_name((enum ks_soft_ak_kind)0));
    assert_null(ks_soft_ak_kind_name((enum ks_soft_ak_kind)3));
}

static void test_new_rejects(void **state)
{
    (void)state;
    struct ks_soft_ak *ak = (struct ks_soft_ak *)0x1;
    assert_int_equal(ks_soft_ak_new((enum ks_soft_ak_kind)0, &ak), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_new((enum ks_soft_ak_kind)9, &ak), KS_ERR_INVALID_ARG);
    assert_ptr_equal(ak, (struct ks_soft_ak *)0x1); /* not written */
    assert_int_equal(ks_soft_ak_new(KS_SOFT_AK_ECDSA_P256, NULL), KS_ERR_INVALID_ARG);
    ks_soft_ak_free(NULL);
}

/* The public area decodes with the verifier's strict decoder and is an
 * acceptable AK, with exactly the attributes tpm2_createak gives. */
static void check_public(enum ks_soft_ak_kind kind)
{
    struct ks_soft_ak *ak = NULL;
    uint8_t blob[KS_SOFT_AK_PUBLIC_MAX];
    size_t len = 0;
    TPMT_PUBLIC pub;
    char hex[KS_TPM_NAME_HEX_MAX], hex2[KS_TPM_NAME_HEX_MAX];
    assert_int_equal(ks_soft_ak_new(kind, &ak), KS_OK);
    assert_int_equal(ks_soft_ak_kind(ak), kind);
    assert_int_equal(ks_soft_ak_public_blob(ak, blob, sizeof(blob), &len), KS_OK);
    /* TPM2B: a big-endian size covering the rest */
    assert_int_equal(((size_t)blob[0] << 8 | blob[1]) + 2, len);
    assert_int_equal(ks_tpm_public_decode(blob, len, &pub), KS_OK);
    assert_memory_equal(&pub, ks_soft_ak_public(ak), sizeof(pub));
    assert_int_equal(ks_tpm_public_check_ak(&pub), KS_OK);
    assert_int_equal(pub.objectAttributes, TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                               TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                               TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                               TPMA_OBJECT_USERWITHAUTH);
    assert_int_equal(pub.nameAlg, TPM2_ALG_SHA256);
    if (kind == KS_SOFT_AK_ECDSA_P256) {
        assert_int_equal(len, 2 + 2 + 2 + 4 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 32 + 2 + 32);
        assert_int_equal(pub.type, TPM2_ALG_ECC);
        assert_int_equal(pub.parameters.eccDetail.scheme.scheme, TPM2_ALG_ECDSA);
        assert_int_equal(pub.parameters.eccDetail.scheme.details.ecdsa.hashAlg, TPM2_ALG_SHA256);
        assert_int_equal(pub.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
    } else {
        assert_int_equal(len, 2 + 2 + 2 + 4 + 2 + 2 + 2 + 2 + 2 + 4 + 2 + 256);
        assert_int_equal(pub.type, TPM2_ALG_RSA);
        assert_int_equal(pub.parameters.rsaDetail.scheme.scheme, TPM2_ALG_RSASSA);
        assert_int_equal(pub.parameters.rsaDetail.scheme.details.rsassa.hashAlg, TPM2_ALG_SHA256);
        assert_int_equal(pub.parameters.rsaDetail.keyBits, 2048);
    }
    EVP_PKEY *pkey = NULL;
    assert_int_equal(ks_tpm_public_to_evp(&pub, &pkey), KS_OK);
    EVP_PKEY_free(pkey);
    /* The id is the Name of the decoded area: nameAlg sha256 (000b) + 32 bytes */
    assert_int_equal(ks_soft_ak_name_hex(ak, hex), KS_OK);
    assert_int_equal(ks_tpm_public_name_hex(&pub, hex2), KS_OK);
    assert_string_equal(hex, hex2);
    assert_int_equal(strlen(hex), 68);
    assert_memory_equal(hex, "000b", 4);
    /* negative */
    size_t keep = 77;
    assert_int_equal(ks_soft_ak_public_blob(ak, blob, len - 1, &keep), KS_ERR_TOO_LARGE);
    assert_int_equal(keep, 77);
    assert_int_equal(ks_soft_ak_public_blob(NULL, blob, sizeof(blob), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_public_blob(ak, NULL, sizeof(blob), &len), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_public_blob(ak, blob, sizeof(blob), NULL), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_name_hex(NULL, hex), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_name_hex(ak, NULL), KS_ERR_INVALID_ARG);
    ks_soft_ak_free(ak);
}

static void test_public_ecdsa(void **state)
{
    (void)state;
    check_public(KS_SOFT_AK_ECDSA_P256);
}

static void test_public_rsa(void **state)
{
    (void)state;
    check_public(KS_SOFT_AK_RSA_2048);
}

/* The signature checked with plain OpenSSL, apart from lib/quote. */
static void check_sig_openssl(const struct ks_soft_ak *ak, const struct ks_soft_quote *q)
{
    TPMT_SIGNATURE s;
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Unmarshal(q->sig, q->sig_len, &off, &s), 0);
    assert_int_equal(off, q->sig_len);
    EVP_PKEY *pkey = NULL;
    assert_int_equal(ks_tpm_public_to_evp(ks_soft_ak_public(ak), &pkey), KS_OK);
    uint8_t der[128];
    const uint8_t *sig;
    size_t sig_len;
    if (ks_soft_ak_kind(ak) == KS_SOFT_AK_ECDSA_P256) {
        assert_int_equal(s.sigAlg, TPM2_ALG_ECDSA);
        assert_int_equal(s.signature.ecdsa.hash, TPM2_ALG_SHA256);
        assert_int_equal(s.signature.ecdsa.signatureR.size, 32);
        assert_int_equal(s.signature.ecdsa.signatureS.size, 32);
        ECDSA_SIG *es = ECDSA_SIG_new();
        assert_non_null(es);
        assert_int_equal(ECDSA_SIG_set0(es,
                                        BN_bin2bn(s.signature.ecdsa.signatureR.buffer, 32, NULL),
                                        BN_bin2bn(s.signature.ecdsa.signatureS.buffer, 32, NULL)),
                         1);
        uint8_t *p = der;
        int n = i2d_ECDSA_SIG(es, &p);
        assert_true(n > 0);
        ECDSA_SIG_free(es);
        sig = der;
        sig_len = (size_t)n;
    } else {
        assert_int_equal(s.sigAlg, TPM2_ALG_RSASSA);
        assert_int_equal(s.signature.rsassa.hash, TPM2_ALG_SHA256);
        assert_int_equal(s.signature.rsassa.sig.size, 256);
        sig = s.signature.rsassa.sig.buffer;
        sig_len = s.signature.rsassa.sig.size;
    }
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_equal(EVP_DigestVerify(m, sig, sig_len, q->attest, q->attest_len), 1);
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(pkey);
}

static void check_quote(enum ks_soft_ak_kind kind)
{
    struct ks_soft_ak *ak = NULL, *other = NULL;
    uint8_t *log = NULL;
    size_t log_len = 0;
    struct ks_pcr_set pcrs = log_pcrs(&log, &log_len);
    TPML_PCR_SELECTION sel = sel_0_7();
    struct ks_soft_quote q, q2;
    struct ks_quote_info info;
    assert_int_equal(ks_soft_ak_new(kind, &ak), KS_OK);
    assert_int_equal(ks_soft_ak_quote(ak, extra32, sizeof(extra32), &sel, &pcrs, &q), KS_OK);
    check_sig_openssl(ak, &q);

    struct ks_quote_ak *qak = verifier_for(ak);
    assert_int_equal(ks_quote_verify(qak, q.attest, q.attest_len, q.sig, q.sig_len, extra32,
                                     sizeof(extra32), &pcrs, &info),
                     KS_OK);
    assert_int_equal(info.magic, TPM2_GENERATED_VALUE);
    assert_int_equal(info.type, TPM2_ST_ATTEST_QUOTE);
    assert_int_equal(info.extra_data.size, 32);
    assert_memory_equal(info.extra_data.buffer, extra32, 32);
    assert_int_equal(info.sig_alg,
                     kind == KS_SOFT_AK_ECDSA_P256 ? TPM2_ALG_ECDSA : TPM2_ALG_RSASSA);
    assert_int_equal(info.sig_hash, TPM2_ALG_SHA256);
    assert_true(info.pcr_digest_checked);
    assert_true(info.safe);
    assert_int_equal(info.reset_count, 0);
    assert_int_equal(info.restart_count, 0);
    assert_int_equal(info.pcr_select.count, 1);
    assert_memory_equal(&info.pcr_select.pcrSelections[0], &sel.pcrSelections[0],
                        sizeof(sel.pcrSelections[0]));
    /* qualifiedSigner: the AK's Name */
    TPMT_PUBLIC pub = *ks_soft_ak_public(ak);
    assert_int_equal(
        ks_tpm_public_check_name(&pub, info.qualified_signer.name, info.qualified_signer.size),
        KS_OK);
    /* pcrDigest = SHA-256(PCR0 || ... || PCR7), computed here apart */
    uint8_t cat[8 * 32], digest[32];
    for (unsigned i = 0; i < 8; i++) {
        const uint8_t *v;
        assert_int_equal(ks_pcr_set_get(&pcrs, TPM2_ALG_SHA256, i, &v), KS_OK);
        memcpy(cat + 32 * i, v, 32);
    }
    assert_int_equal(EVP_Digest(cat, sizeof(cat), digest, NULL, EVP_sha256(), NULL), 1);
    assert_int_equal(info.pcr_digest.size, 32);
    assert_memory_equal(info.pcr_digest.buffer, digest, 32);

    /* A second quote: fresh signature, clock not going back. */
    assert_int_equal(ks_soft_ak_quote(ak, extra32, sizeof(extra32), &sel, &pcrs, &q2), KS_OK);
    struct ks_quote_info info2;
    assert_int_equal(ks_quote_verify(qak, q2.attest, q2.attest_len, q2.sig, q2.sig_len, extra32,
                                     sizeof(extra32), &pcrs, &info2),
                     KS_OK);
    assert_true(info2.clock >= info.clock);

    /* What the verifier must refuse. */
    uint8_t wrong[32];
    memcpy(wrong, extra32, sizeof(wrong));
    wrong[31] ^= 1;
    assert_int_equal(ks_quote_verify(qak, q.attest, q.attest_len, q.sig, q.sig_len, wrong,
                                     sizeof(wrong), &pcrs, NULL),
                     KS_ERR_QUOTE_EXTRADATA);
    struct ks_soft_quote t = q;
    t.attest[t.attest_len - 1] ^= 1;
    assert_int_equal(ks_quote_verify(qak, t.attest, t.attest_len, t.sig, t.sig_len, extra32,
                                     sizeof(extra32), &pcrs, NULL),
                     KS_ERR_QUOTE_SIG_INVALID);
    struct ks_pcr_set bad = pcrs;
    bad.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].value[3][0] ^= 1;
    assert_int_equal(ks_quote_verify(qak, q.attest, q.attest_len, q.sig, q.sig_len, extra32,
                                     sizeof(extra32), &bad, NULL),
                     KS_ERR_QUOTE_PCR_DIGEST);
    assert_int_equal(ks_soft_ak_new(kind, &other), KS_OK);
    struct ks_quote_ak *oqak = verifier_for(other);
    assert_int_equal(ks_quote_verify(oqak, q.attest, q.attest_len, q.sig, q.sig_len, extra32,
                                     sizeof(extra32), &pcrs, NULL),
                     KS_ERR_QUOTE_SIG_INVALID);

    ks_quote_ak_free(oqak);
    ks_quote_ak_free(qak);
    ks_soft_ak_free(other);
    ks_soft_ak_free(ak);
    free(log);
}

static void test_quote_ecdsa(void **state)
{
    (void)state;
    check_quote(KS_SOFT_AK_ECDSA_P256);
}

static void test_quote_rsa(void **state)
{
    (void)state;
    check_quote(KS_SOFT_AK_RSA_2048);
}

/* Every error code ks_soft_ak_quote can return without a fault in OpenSSL
 * (KS_ERR_CRYPTO needs one), and ret untouched on failure. */
static void test_quote_rejects(void **state)
{
    (void)state;
    struct ks_soft_ak *ak = NULL;
    uint8_t *log = NULL;
    size_t log_len = 0;
    struct ks_pcr_set pcrs = log_pcrs(&log, &log_len);
    TPML_PCR_SELECTION sel = sel_0_7();
    struct ks_soft_quote q;
    uint8_t big[65] = {0};
    assert_int_equal(ks_soft_ak_new(KS_SOFT_AK_ECDSA_P256, &ak), KS_OK);
    memset(&q, 0xa5, sizeof(q));
    assert_int_equal(ks_soft_ak_quote(NULL, extra32, 32, &sel, &pcrs, &q), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_quote(ak, NULL, 32, &sel, &pcrs, &q), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_quote(ak, extra32, 32, NULL, &pcrs, &q), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_quote(ak, extra32, 32, &sel, NULL, &q), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_soft_ak_quote(ak, extra32, 32, &sel, &pcrs, NULL), KS_ERR_INVALID_ARG);
    /* TPM2B_DATA holds at most 64 bytes (sizeof(TPMU_HA)) */
    assert_int_equal(ks_soft_ak_quote(ak, big, sizeof(big), &sel, &pcrs, &q), KS_ERR_TOO_LARGE);
    assert_int_equal(ks_soft_ak_quote(ak, big, 64, &sel, &pcrs, &q), KS_OK);
    memset(&q, 0xa5, sizeof(q));
    /* PCR 8 selected but not in the set */
    TPML_PCR_SELECTION sel8 = sel;
    sel8.pcrSelections[0].pcrSelect[1] = 0x01;
    assert_int_equal(ks_soft_ak_quote(ak, extra32, 32, &sel8, &pcrs, &q), KS_ERR_QUOTE_PCR_MISSING);
    /* a bank that is not a hash */
    TPML_PCR_SELECTION badsel = sel;
    badsel.pcrSelections[0].hash = TPM2_ALG_NULL;
    assert_int_equal(ks_soft_ak_quote(ak, extra32, 32, &badsel, &pcrs, &q),
                     KS_ERR_QUOTE_PCR_SELECTION);
    uint8_t untouched[sizeof(q)];
    memset(untouched, 0xa5, sizeof(untouched));
    assert_memory_equal(&q, untouched, sizeof(q));
    /* empty extraData is a valid quote */
    assert_int_equal(ks_soft_ak_quote(ak, NULL, 0, &sel, &pcrs, &q), KS_OK);
    struct ks_quote_ak *qak = verifier_for(ak);
    assert_int_equal(
        ks_quote_verify(qak, q.attest, q.attest_len, q.sig, q.sig_len, NULL, 0, &pcrs, NULL),
        KS_OK);
    ks_quote_ak_free(qak);
    ks_soft_ak_free(ak);
    free(log);
}

/* The log: the verifier's parser reads it, its replay gives the builder's
 * PCRs, every event's data verifies against its digest. */
static void test_eventlog(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct ks_pcr_set pcrs, replayed;
    struct ks_eventlog *log = NULL;
    assert_int_equal(ks_bench_eventlog_make(100, &buf, &len, &pcrs), KS_OK);
    assert_int_equal(ks_eventlog_parse(buf, len, &log, NULL), KS_OK);
    assert_int_equal(ks_eventlog_format(log), KS_EVENTLOG_FORMAT_CRYPTO_AGILE);
    assert_int_equal(ks_eventlog_count(log), 101);
    const struct ks_eventlog_alg *algs;
    assert_int_equal(ks_eventlog_algs(log, &algs), 1);
    assert_int_equal(algs[0].alg, TPM2_ALG_SHA256);
    assert_int_equal(algs[0].size, 32);
    unsigned per_pcr[8] = {0};
    for (size_t i = 1; i < ks_eventlog_count(log); i++) {
        const struct ks_eventlog_event *ev = ks_eventlog_event(log, i);
        enum ks_eventlog_data_check res;
        assert_true(ev->pcr < 8);
        per_pcr[ev->pcr]++;
        assert_int_equal(ev->type, i % 2 ? KS_EV_IPL : KS_EV_EVENT_TAG);
        assert_int_equal(ks_eventlog_event_check_data(ev, TPM2_ALG_SHA256, &res), KS_OK);
        assert_int_equal(res, KS_EVENTLOG_DATA_MATCH);
    }
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(per_pcr[i], i < 4 ? 13 : 12); /* 100 events round-robin */
    }
    assert_int_equal(ks_eventlog_replay(log, &replayed, NULL), KS_OK);
    for (unsigned i = 0; i < KS_PCR_COUNT; i++) {
        const uint8_t *a, *b;
        if (i < 8) {
            assert_int_equal(ks_pcr_set_get(&pcrs, TPM2_ALG_SHA256, i, &a), KS_OK);
            assert_int_equal(ks_pcr_set_get(&replayed, TPM2_ALG_SHA256, i, &b), KS_OK);
            assert_memory_equal(a, b, 32);
        } else {
            assert_false(ks_pcr_set_has(&pcrs, TPM2_ALG_SHA256, i));
            assert_false(ks_pcr_set_has(&replayed, TPM2_ALG_SHA256, i));
        }
    }
    ks_eventlog_free(log);

    /* keyserverd's check of the log against the quoted PCRs 0-7 */
    TPML_PCR_SELECTION sel = sel_0_7();
    struct ks_evidence_logs logs = {.event_log = buf, .event_log_len = len, .app_pcr = 15};
    char why[KS_EVIDENCE_REASON_MAX] = "";
    assert_int_equal(ks_evidence_check_logs(&logs, &sel, &pcrs, why, sizeof(why)), KS_OK);
    struct ks_pcr_set bad = pcrs;
    bad.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].value[5][31] ^= 1;
    assert_int_equal(ks_evidence_check_logs(&logs, &sel, &bad, why, sizeof(why)),
                     KS_ERR_ATTESTATION);
    free(buf);

    /* Fewer events than PCRs: only those PCRs are present. */
    assert_int_equal(ks_bench_eventlog_make(3, &buf, &len, &pcrs), KS_OK);
    assert_int_equal(ks_eventlog_parse(buf, len, &log, NULL), KS_OK);
    assert_int_equal(ks_eventlog_replay(log, &replayed, NULL), KS_OK);
    assert_int_equal(pcrs.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].present, 0x7);
    assert_int_equal(replayed.bank[ks_alg_bank_index(TPM2_ALG_SHA256)].present, 0x7);
    ks_eventlog_free(log);
    free(buf);
}

static void test_eventlog_rejects(void **state)
{
    (void)state;
    uint8_t *buf = (uint8_t *)0x1;
    size_t len = 77;
    struct ks_pcr_set pcrs;
    assert_int_equal(ks_bench_eventlog_make(0, &buf, &len, &pcrs), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_bench_eventlog_make(KS_BENCH_EVENTLOG_MAX_EVENTS + 1, &buf, &len, &pcrs),
                     KS_ERR_INVALID_ARG);
    assert_int_equal(ks_bench_eventlog_make(10, NULL, &len, &pcrs), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_bench_eventlog_make(10, &buf, NULL, &pcrs), KS_ERR_INVALID_ARG);
    assert_int_equal(ks_bench_eventlog_make(10, &buf, &len, NULL), KS_ERR_INVALID_ARG);
    assert_ptr_equal(buf, (uint8_t *)0x1);
    assert_int_equal(len, 77);
}

/* The floor loop runs its success path (the signature verifies) for both
 * kinds, and its parts add up to about the whole. */
static void test_floor(void **state)
{
    (void)state;
    enum ks_soft_ak_kind kinds[] = {KS_SOFT_AK_ECDSA_P256, KS_SOFT_AK_RSA_2048};
    for (size_t k = 0; k < 2; k++) {
        struct ks_soft_ak *ak = NULL;
        struct ks_bench_floor f;
        assert_int_equal(ks_soft_ak_new(kinds[k], &ak), KS_OK);
        assert_int_equal(ks_bench_floor_measure(ak, 100, 0.2, &f), KS_OK);
        assert_true(f.iterations > 0);
        double parts = f.verify_us + f.extends_us + f.x25519_us + f.hkdf_gcm_us;
        assert_true(f.total_us > 0 && parts > 0);
        assert_true(f.total_us > parts / 3 && f.total_us < parts * 3);
        assert_int_equal(ks_bench_floor_measure(NULL, 100, 0.2, &f), KS_ERR_INVALID_ARG);
        assert_int_equal(ks_bench_floor_measure(ak, 100, 0.2, NULL), KS_ERR_INVALID_ARG);
        assert_int_equal(ks_bench_floor_measure(ak, 100, 0, &f), KS_ERR_INVALID_ARG);
        ks_soft_ak_free(ak);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),       cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_public_ecdsa),     cmocka_unit_test(test_public_rsa),
        cmocka_unit_test(test_quote_ecdsa),      cmocka_unit_test(test_quote_rsa),
        cmocka_unit_test(test_quote_rejects),    cmocka_unit_test(test_eventlog),
        cmocka_unit_test(test_eventlog_rejects), cmocka_unit_test(test_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
