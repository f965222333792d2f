/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include "bench_floor.h"
#include "tpm_attest.h"
#include "tpm_public.h"

/* Everything made once: the loop below only calls the per-release
 * operations. */
struct floor_ctx {
    EVP_PKEY *ak_pub;   /* the AK's public key, as the server caches it */
    EVP_MD *sha256;     /* fetched once */
    EVP_CIPHER *gcm;    /* AES-256-GCM, fetched once */
    EVP_KDF *hkdf;      /* fetched once */
    EVP_MD_CTX *mctx;   /* reused for the verify */
    EVP_PKEY_CTX *kgen; /* X25519 keygen, initialised once */
    EVP_PKEY *peer;     /* the client's X25519 public key */
    EVP_CIPHER_CTX *cctx;
    size_t n_extends;
    uint8_t attest[KS_QUOTE_ATTEST_MAX];
    size_t attest_len;
    uint8_t sig[512]; /* DER (ECDSA) or raw PKCS#1 v1.5 (RSA) */
    size_t sig_len;
};

/* OSSL_PARAM takes non-const pointers to parameters it only reads. */
static void *unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

static double thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The quote's signature in the form OpenSSL verifies. */
static int raw_signature(struct floor_ctx *f, const struct ks_soft_quote *q)
{
    TPMT_SIGNATURE s;
    int r = ks_tpm_signature_decode(q->sig, q->sig_len, &s);
    if (r < 0) {
        return r;
    }
    if (s.sigAlg == TPM2_ALG_RSASSA) {
        if (s.signature.rsassa.sig.size > sizeof(f->sig)) {
            return KS_ERR_TOO_LARGE;
        }
        memcpy(f->sig, s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size);
        f->sig_len = s.signature.rsassa.sig.size;
        return KS_OK;
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *br =
        BN_bin2bn(s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size, NULL);
    BIGNUM *bs =
        BN_bin2bn(s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size, NULL);
    r = KS_ERR_CRYPTO;
    if (es && br && bs && ECDSA_SIG_set0(es, br, bs) == 1) {
        br = bs = NULL;
        unsigned char *p = f->sig;
        int n = i2d_ECDSA_SIG(es, NULL);
        if (n > 0 && (size_t)n <= sizeof(f->sig) && i2d_ECDSA_SIG(es, &p) == n) {
            f->sig_len = (size_t)n;
            r = KS_OK;
        }
    }
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(es);
    return r;
}

static int part_verify(struct floor_ctx *f)
{
    if (EVP_DigestVerifyInit(f->mctx, NULL, f->sha256, NULL, f->ak_pub) != 1 ||
        EVP_DigestVerify(f->mctx, f->sig, f->sig_len, f->attest, f->attest_len) != 1) {
        return KS_ERR_CRYPTO;
    }
    return KS_OK;
}

/* PCR = SHA-256(PCR || digest), n times. */
static int part_extends(struct floor_ctx *f)
{
    uint8_t buf[64];
    memset(buf, 0x5a, sizeof(buf));
    for (size_t i = 0; i < f->n_extends; i++) {
        if (EVP_Digest(buf, sizeof(buf), buf, NULL, f->sha256, NULL) != 1) {
            return KS_ERR_CRYPTO;
        }
    }
    return KS_OK;
}

/* The encapsulation: a fresh ephemeral key, DH with the client's key. */
static int part_x25519(struct floor_ctx *f, uint8_t dh[32])
{
    EVP_PKEY *eph = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    size_t len = 32;
    int r = KS_ERR_CRYPTO;
    if (EVP_PKEY_keygen(f->kgen, &eph) != 1) {
        goto out;
    }
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
    if (dctx && EVP_PKEY_derive_init(dctx) == 1 && EVP_PKEY_derive_set_peer(dctx, f->peer) == 1 &&
        EVP_PKEY_derive(dctx, dh, &len) == 1 && len == 32) {
        r = KS_OK;
    }
out:
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(eph);
    return r;
}

static int part_hkdf_gcm(struct floor_ctx *f, const uint8_t dh[32])
{
    static const uint8_t info[] = "ks-release-v1\0dek";
    static const char digest[] = "SHA256";
    static const uint8_t pt[32] = {1};
    uint8_t okm[32 + 12], ct[32], tag[16];
    int r = KS_ERR_CRYPTO, n = 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(f->hkdf);
    if (!kctx) {
        return KS_ERR_NOMEM;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, unconst(digest), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, unconst(dh), 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, unconst(info), sizeof(info) - 1),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(kctx, okm, sizeof(okm), params) != 1) {
        goto out;
    }
    if (EVP_EncryptInit_ex2(f->cctx, f->gcm, okm, okm + 32, NULL) != 1 ||
        EVP_EncryptUpdate(f->cctx, NULL, &n, dh, 32) != 1 || /* aad: 32 bytes, as the nonce */
        EVP_EncryptUpdate(f->cctx, ct, &n, pt, sizeof(pt)) != 1 ||
        EVP_EncryptFinal_ex(f->cctx, ct + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(f->cctx, EVP_CTRL_GCM_GET_TAG, sizeof(tag), tag) != 1) {
        goto out;
    }
    r = KS_OK;
out:
    OPENSSL_cleanse(okm, sizeof(okm));
    EVP_KDF_CTX_free(kctx);
    return r;
}

enum part { PART_ALL, PART_VERIFY, PART_EXTENDS, PART_X25519, PART_HKDF_GCM };

static int one(struct floor_ctx *f, enum part p)
{
    uint8_t dh[32] = {7};
    int r = KS_OK;
    if (p == PART_ALL || p == PART_VERIFY) {
        r = part_verify(f);
    }
    if (r == KS_OK && (p == PART_ALL || p == PART_EXTENDS)) {
        r = part_extends(f);
    }
    if (r == KS_OK && (p == PART_ALL || p == PART_X25519)) {
        r = part_x25519(f, dh);
    }
    if (r == KS_OK && (p == PART_ALL || p == PART_HKDF_GCM)) {
        r = part_hkdf_gcm(f, dh);
    }
    OPENSSL_cleanse(dh, sizeof(dh));
    return r;
}

/* Microseconds of thread CPU per call of part p, over about `seconds`. */
static int time_part(struct floor_ctx *f, enum part p, double seconds, double *ret_us,
                     size_t *ret_iters)
{
    size_t n = 0;
    double start = thread_cpu_us(), now = start;
    do {
        for (int i = 0; i < 16; i++, n++) {
            int r = one(f, p);
            if (r < 0) {
                return r;
            }
        }
        now = thread_cpu_us();
    } while (now - start < seconds * 1e6);
    *ret_us = (now - start) / (double)n;
    if (ret_iters) {
        *ret_iters = n;
    }
    return KS_OK;
}

static void floor_ctx_clear(struct floor_ctx *f)
{
    EVP_PKEY_free(f->ak_pub);
    EVP_MD_free(f->sha256);
    EVP_CIPHER_free(f->gcm);
    EVP_KDF_free(f->hkdf);
    EVP_MD_CTX_free(f->mctx);
    EVP_PKEY_CTX_free(f->kgen);
    EVP_PKEY_free(f->peer);
    EVP_CIPHER_CTX_free(f->cctx);
}

int ks_bench_floor_measure(const struct ks_soft_ak *ak, size_t n_extends, double seconds,
                           struct ks_bench_floor *ret)
{
    if (!ak || !ret || seconds <= 0) {
        return KS_ERR_INVALID_ARG;
    }
    struct floor_ctx f;
    struct ks_soft_quote q;
    struct ks_bench_floor out;
    TPML_PCR_SELECTION sel;
    struct ks_pcr_set pcrs;
    uint8_t extra[32] = {0};
    memset(&f, 0, sizeof(f));
    memset(&out, 0, sizeof(out));
    memset(&sel, 0, sizeof(sel));
    f.n_extends = n_extends;
    sel.count = 1;
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[0] = 0xff;
    ks_pcr_set_init(&pcrs);
    int r = ks_pcr_bank_enable(&pcrs, TPM2_ALG_SHA256);
    for (unsigned i = 0; r == KS_OK && i < 8; i++) {
        r = ks_pcr_set_put(&pcrs, TPM2_ALG_SHA256, i, extra, sizeof(extra));
    }
    if (r == KS_OK) {
        r = ks_soft_ak_quote(ak, extra, sizeof(extra), &sel, &pcrs, &q);
    }
    if (r == KS_OK) {
        r = raw_signature(&f, &q);
    }
    if (r == KS_OK) {
        r = ks_tpm_public_to_evp(ks_soft_ak_public(ak), &f.ak_pub);
    }
    if (r < 0) {
        goto out;
    }
    memcpy(f.attest, q.attest, q.attest_len);
    f.attest_len = q.attest_len;
    r = KS_ERR_CRYPTO;
    f.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    f.gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    f.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    f.mctx = EVP_MD_CTX_new();
    f.kgen = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    f.peer = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    f.cctx = EVP_CIPHER_CTX_new();
    if (!f.sha256 || !f.gcm || !f.hkdf || !f.mctx || !f.kgen || !f.peer || !f.cctx ||
        EVP_PKEY_keygen_init(f.kgen) != 1) {
        goto out;
    }
    /* A quarter of the time on the parts, the rest on the whole. */
    double part_s = seconds / 16;
    if ((r = time_part(&f, PART_VERIFY, part_s, &out.verify_us, NULL)) < 0 ||
        (r = time_part(&f, PART_EXTENDS, part_s, &out.extends_us, NULL)) < 0 ||
        (r = time_part(&f, PART_X25519, part_s, &out.x25519_us, NULL)) < 0 ||
        (r = time_part(&f, PART_HKDF_GCM, part_s, &out.hkdf_gcm_us, NULL)) < 0 ||
        (r = time_part(&f, PART_ALL, seconds * 3 / 4, &out.total_us, &out.iterations)) < 0) {
        goto out;
    }
    *ret = out;
    r = KS_OK;
out:
    if (r < 0) {
        ERR_clear_error();
    }
    floor_ctx_clear(&f);
    return r;
}
