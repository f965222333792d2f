/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "encoding.h"
#include "tpm_public.h"

/* A PEM or DER public key larger than this is not an RSA-3072/P-384 key. */
#define SPKI_MAX 16384

/*
 * Decode/encode must be the identity on accepted input: the Name is the hash
 * of the marshaled TPMT_PUBLIC, so the bytes we hash must be the bytes the
 * TPM holds. Re-marshaling and comparing also rejects a TPM2B size prefix
 * that disagrees with its contents.
 */
static int check_canonical(const TPMT_PUBLIC *pub, const uint8_t *bytes, size_t len)
{
    uint8_t tmp[sizeof(TPM2B_PUBLIC)];
    size_t off = 0;
    if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, tmp, sizeof(tmp), &off) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len || memcmp(tmp, bytes, len) != 0) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    return KS_OK;
}

int ks_tpm_public_decode(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret_pub)
{
    if (!buf || !ret_pub) {
        return KS_ERR_INVALID_ARG;
    }
    /*
     * Not Tss2_MU_TPM2B_PUBLIC_Unmarshal: tpm2-tss 3.2 returns success from
     * it when the inner TPMT_PUBLIC is malformed (having consumed only the
     * size), and it does not hold the size prefix to the structure's length.
     * So: the u16 size, then exactly that many bytes of TPMT_PUBLIC.
     */
    uint16_t size = 0;
    size_t off = 0;
    if (Tss2_MU_UINT16_Unmarshal(buf, len, &off, &size) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    /* off == 2 <= len here. */
    if (len - off < size || size == 0) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    TPMT_PUBLIC tmp;
    int r = ks_tpm_public_decode_tpmt(buf + off, size, &tmp);
    if (r < 0) {
        /* bytes inside the size that the TPMT_PUBLIC does not use: the
         * prefix is wrong, the structure malformed */
        return r == KS_ERR_TPM_TRAILING ? KS_ERR_TPM_UNMARSHAL : r;
    }
    if (len - off > size) {
        return KS_ERR_TPM_TRAILING;
    }
    *ret_pub = tmp;
    return KS_OK;
}

int ks_tpm_public_decode_tpmt(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret_pub)
{
    if (!buf || !ret_pub) {
        return KS_ERR_INVALID_ARG;
    }
    TPMT_PUBLIC tmp;
    memset(&tmp, 0, sizeof(tmp));
    size_t off = 0;
    if (Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, len, &off, &tmp) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (off != len) {
        return KS_ERR_TPM_TRAILING;
    }
    int r = check_canonical(&tmp, buf, len);
    if (r < 0) {
        return r;
    }
    *ret_pub = tmp;
    return KS_OK;
}

/*
 * OpenSSL's public key check, for EC keys only: the point must be on the
 * curve and in range (SEC 1, 3.2.2.1; deterministic). OpenSSL's RSA public
 * check (SP 800-56B 6.4.2.1) runs Miller-Rabin with random bases on n, so on
 * a malformed modulus its answer varies from call to call; the RSA checks
 * that matter here (size, top bit, odd modulus, exponent) are made by the
 * callers, and a TPM validates any key it loads.
 */
static int public_check(EVP_PKEY *pkey)
{
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
        return KS_OK;
    }
    int r = KS_ERR_TPM_KEY;
    EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!chk) {
        return KS_ERR_CRYPTO;
    }
    if (EVP_PKEY_public_check(chk) == 1) {
        r = KS_OK;
    }
    EVP_PKEY_CTX_free(chk);
    return r;
}

/* Build a public key of type `name` from params and keep it only when
 * public_check() passes. */
static int pkey_from_params(const char *name, OSSL_PARAM *params, EVP_PKEY **ret_pkey)
{
    int r = KS_ERR_TPM_KEY;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    if (!ctx) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if (EVP_PKEY_fromdata_init(ctx) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        goto out;
    }
    r = public_check(pkey);
    if (r < 0) {
        goto out;
    }
    *ret_pkey = pkey;
    pkey = NULL;
    r = KS_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return r;
}

static int rsa_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret_pkey)
{
    const TPMS_RSA_PARMS *p = &pub->parameters.rsaDetail;
    int r = KS_ERR_TPM_KEY;
    BIGNUM *n = NULL;
    BIGNUM *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;

    if (p->keyBits != 2048 && p->keyBits != 3072) {
        goto out;
    }
    /* The modulus is exactly keyBits long (Part 2, 11.2.4.5: unique.rsa
     * holds the modulus; a TPM generates it with its top bit set). */
    if (pub->unique.rsa.size != p->keyBits / 8) {
        goto out;
    }
    n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
    e = BN_new();
    if (!n || !e) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    if (BN_num_bits(n) != p->keyBits || !BN_is_odd(n)) {
        goto out;
    }
    /* Part 2, 12.2.3.5: an exponent of zero means the default, 2^16 + 1.
     * Others must be odd and above 2^16 (FIPS 186-5, 5.4 / SP 800-56B):
     * OpenSSL's public check lets e = 1 or 3 through. */
    uint32_t ev = p->exponent ? p->exponent : 65537;
    if (ev < 65537 || !(ev & 1)) {
        goto out;
    }
    if (BN_set_word(e, ev) != 1) {
        r = KS_ERR_CRYPTO;
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params) {
        r = KS_ERR_NOMEM;
        goto out;
    }
    r = pkey_from_params("RSA", params, ret_pkey);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return r;
}

static int ecc_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret_pkey)
{
    const char *group;
    size_t fsize;
    switch (pub->parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256:
        group = "P-256";
        fsize = 32;
        break;
    case TPM2_ECC_NIST_P384:
        group = "P-384";
        fsize = 48;
        break;
    default:
        return KS_ERR_TPM_KEY;
    }
    const TPM2B_ECC_PARAMETER *x = &pub->unique.ecc.x;
    const TPM2B_ECC_PARAMETER *y = &pub->unique.ecc.y;
    if (x->size == 0 || x->size > fsize || y->size == 0 || y->size > fsize) {
        return KS_ERR_TPM_KEY;
    }
    /* SEC 1, 2.3.3: uncompressed point 04 || X || Y, coordinates left-padded
     * to the field size (a TPM2B_ECC_PARAMETER may drop leading zeros). */
    uint8_t point[1 + 2 * 48];
    memset(point, 0, sizeof(point));
    point[0] = 0x04;
    memcpy(point + 1 + (fsize - x->size), x->buffer, x->size);
    memcpy(point + 1 + fsize + (fsize - y->size), y->buffer, y->size);

    int r = KS_ERR_NOMEM;
    OSSL_PARAM *params = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fsize) != 1) {
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!params) {
        goto out;
    }
    r = pkey_from_params("EC", params, ret_pkey);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return r;
}

int ks_tpm_public_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret_pkey)
{
    if (!pub || !ret_pkey) {
        return KS_ERR_INVALID_ARG;
    }
    switch (pub->type) {
    case TPM2_ALG_RSA:
        return rsa_to_evp(pub, ret_pkey);
    case TPM2_ALG_ECC:
        return ecc_to_evp(pub, ret_pkey);
    default:
        return KS_ERR_TPM_KEY;
    }
}

int ks_tpm_public_check_pkey(const EVP_PKEY *pkey)
{
    if (!pkey) {
        return KS_ERR_INVALID_ARG;
    }
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits != 2048 && bits != 3072) {
            return KS_ERR_TPM_KEY;
        }
        /* Same rules as for TPM public areas (rsa_to_evp): odd modulus,
         * odd exponent above 2^16. */
        BIGNUM *n = NULL;
        BIGNUM *e = NULL;
        int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
                 EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && BN_is_odd(n) &&
                 BN_is_odd(e) && BN_num_bits(e) > 16;
        BN_free(n);
        BN_free(e);
        return ok ? KS_OK : KS_ERR_TPM_KEY;
    }
    case EVP_PKEY_EC: {
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1) {
            return KS_ERR_TPM_KEY;
        }
        int nid = OBJ_sn2nid(group);
        if (nid == NID_undef) {
            nid = EC_curve_nist2nid(group);
        }
        return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ? KS_OK : KS_ERR_TPM_KEY;
    }
    default:
        /* Includes EVP_PKEY_RSA_PSS: an SPKI with PSS restrictions is not
         * what tpm2-tools or a TPM vendor emit for an AK. */
        return KS_ERR_TPM_KEY;
    }
}

int ks_tpm_public_load_spki(const uint8_t *buf, size_t len, EVP_PKEY **ret_pkey)
{
    if (!buf || !ret_pkey) {
        return KS_ERR_INVALID_ARG;
    }
    if (len == 0) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    if (len > SPKI_MAX) {
        return KS_ERR_TOO_LARGE;
    }
    int r = KS_ERR_TPM_UNMARSHAL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    static const char pem_tag[] = "-----BEGIN";
    if (len >= sizeof(pem_tag) - 1 && memmem(buf, len, pem_tag, sizeof(pem_tag) - 1)) {
        bio = BIO_new_mem_buf(buf, (int)len);
        if (!bio) {
            r = KS_ERR_NOMEM;
            goto out;
        }
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!pkey) {
            goto out;
        }
    } else {
        const unsigned char *p = buf;
        pkey = d2i_PUBKEY(NULL, &p, (long)len);
        if (!pkey) {
            goto out;
        }
        if (p != buf + len) {
            r = KS_ERR_TPM_TRAILING;
            goto out;
        }
    }
    r = ks_tpm_public_check_pkey(pkey);
    if (r < 0) {
        goto out;
    }
    r = public_check(pkey);
    if (r < 0) {
        goto out;
    }
    *ret_pkey = pkey;
    pkey = NULL;
    r = KS_OK;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return r;
}

int ks_tpm_public_name(const TPMT_PUBLIC *pub, uint8_t *ret_name, size_t *ret_len)
{
    if (!pub || !ret_name || !ret_len) {
        return KS_ERR_INVALID_ARG;
    }
    size_t dlen = ks_alg_digest_size(pub->nameAlg);
    if (dlen == 0) {
        return KS_ERR_TPM_ALG;
    }
    uint8_t tmp[sizeof(TPM2B_PUBLIC)];
    size_t off = 0;
    if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, tmp, sizeof(tmp), &off) != TSS2_RC_SUCCESS) {
        return KS_ERR_TPM_UNMARSHAL;
    }
    uint8_t name[KS_TPM_NAME_MAX];
    /* Part 1, 16: the Name starts with nameAlg, big-endian. */
    name[0] = (uint8_t)(pub->nameAlg >> 8);
    name[1] = (uint8_t)(pub->nameAlg & 0xff);
    int r = ks_alg_hash(pub->nameAlg, tmp, off, NULL, 0, name + 2);
    if (r < 0) {
        return r;
    }
    memcpy(ret_name, name, 2 + dlen);
    *ret_len = 2 + dlen;
    return KS_OK;
}

int ks_tpm_public_name_hex(const TPMT_PUBLIC *pub, char *ret_hex)
{
    if (!pub || !ret_hex) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t name[KS_TPM_NAME_MAX];
    size_t len = 0;
    int r = ks_tpm_public_name(pub, name, &len);
    if (r < 0) {
        return r;
    }
    ks_hex_encode(name, len, ret_hex);
    return KS_OK;
}

int ks_tpm_public_check_name(const TPMT_PUBLIC *pub, const uint8_t *name, size_t len)
{
    if (!pub || (!name && len)) {
        return KS_ERR_INVALID_ARG;
    }
    uint8_t mine[KS_TPM_NAME_MAX];
    size_t mlen = 0;
    int r = ks_tpm_public_name(pub, mine, &mlen);
    if (r < 0) {
        return r;
    }
    if (len != mlen || CRYPTO_memcmp(mine, name, len) != 0) {
        return KS_ERR_TPM_NAME;
    }
    return KS_OK;
}

uint32_t ks_tpm_public_ak_attr_problems(const TPMT_PUBLIC *pub)
{
    if (!pub) {
        return KS_AK_ATTRS_REQUIRED | KS_AK_ATTRS_FORBIDDEN;
    }
    uint32_t a = pub->objectAttributes;
    return (~a & KS_AK_ATTRS_REQUIRED) | (a & KS_AK_ATTRS_FORBIDDEN);
}

int ks_tpm_public_check_ak(const TPMT_PUBLIC *pub)
{
    if (!pub) {
        return KS_ERR_INVALID_ARG;
    }
    return ks_tpm_public_ak_attr_problems(pub) ? KS_ERR_TPM_ATTRIBUTES : KS_OK;
}

size_t ks_tpm_attr_names(uint32_t attrs, char *buf, size_t len)
{
    /* tpm2-tools' names for TPMA_OBJECT bits (Part 2, 8.3). */
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {TPMA_OBJECT_FIXEDTPM, "fixedtpm"},
        {TPMA_OBJECT_STCLEAR, "stclear"},
        {TPMA_OBJECT_FIXEDPARENT, "fixedparent"},
        {TPMA_OBJECT_SENSITIVEDATAORIGIN, "sensitivedataorigin"},
        {TPMA_OBJECT_USERWITHAUTH, "userwithauth"},
        {TPMA_OBJECT_ADMINWITHPOLICY, "adminwithpolicy"},
        {TPMA_OBJECT_NODA, "noda"},
        {TPMA_OBJECT_ENCRYPTEDDUPLICATION, "encryptedduplication"},
        {TPMA_OBJECT_RESTRICTED, "restricted"},
        {TPMA_OBJECT_DECRYPT, "decrypt"},
        {TPMA_OBJECT_SIGN_ENCRYPT, "sign"},
        {TPMA_OBJECT_X509SIGN, "x509sign"},
    };
    char tmp[512];
    size_t n = 0;
    tmp[0] = '\0';
    uint32_t rest = attrs;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (attrs & names[i].bit) {
            n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s%s", n ? "|" : "", names[i].name);
            rest &= ~names[i].bit;
        }
    }
    if (rest) {
        n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s0x%x", n ? "|" : "", rest);
    }
    if (buf && len) {
        snprintf(buf, len, "%s", tmp);
    }
    return n;
}

int ks_tpm_public_matches(const TPMT_PUBLIC *pub, const EVP_PKEY *pkey)
{
    if (!pub || !pkey) {
        return KS_ERR_INVALID_ARG;
    }
    EVP_PKEY *mine = NULL;
    int r = ks_tpm_public_to_evp(pub, &mine);
    if (r < 0) {
        return r;
    }
    r = EVP_PKEY_eq(mine, pkey) == 1 ? KS_OK : KS_ERR_TPM_KEY_MISMATCH;
    EVP_PKEY_free(mine);
    return r;
}
