/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "tpm_alg.h"

struct alg_entry {
    uint16_t alg;
    size_t size;
    const char *name;
};

static const struct alg_entry algs[KS_MAX_BANKS] = {
    {KS_ALG_SHA1, 20, "sha1"},
    {KS_ALG_SHA256, 32, "sha256"},
    {KS_ALG_SHA384, 48, "sha384"},
    {KS_ALG_SHA512, 64, "sha512"},
};

int ks_alg_bank_index(uint16_t alg)
{
    for (int i = 0; i < KS_MAX_BANKS; i++) {
        if (algs[i].alg == alg) {
            return i;
        }
    }
    return -1;
}

size_t ks_alg_digest_size(uint16_t alg)
{
    int i = ks_alg_bank_index(alg);
    return i < 0 ? 0 : algs[i].size;
}

const char *ks_alg_name(uint16_t alg)
{
    int i = ks_alg_bank_index(alg);
    return i < 0 ? NULL : algs[i].name;
}

int ks_alg_from_name(const char *name, uint16_t *ret_alg)
{
    if (!name || !ret_alg) {
        return KS_ERR_INVALID_ARG;
    }
    for (int i = 0; i < KS_MAX_BANKS; i++) {
        if (strcmp(algs[i].name, name) == 0) {
            *ret_alg = algs[i].alg;
            return KS_OK;
        }
    }
    return KS_ERR_TPM_ALG;
}

/*
 * OpenSSL 3 re-fetches the implementation of a digest given as EVP_sha256()
 * on every EVP_DigestInit_ex, which costs more than hashing a PCR extend.
 * The four digests are fetched once per process: a cache of immutable library
 * objects, written once under pthread_once and never freed (OpenSSL would
 * keep them alive until exit anyway), not state that changes behaviour.
 */
static const EVP_MD *fetched_md[KS_MAX_BANKS];
static pthread_once_t fetched_once = PTHREAD_ONCE_INIT;

static void fetch_digests(void)
{
    static const char *const names[KS_MAX_BANKS] = {"SHA1", "SHA2-256", "SHA2-384", "SHA2-512"};
    for (int i = 0; i < KS_MAX_BANKS; i++) {
        fetched_md[i] = EVP_MD_fetch(NULL, names[i], NULL);
    }
}

const EVP_MD *ks_alg_md(uint16_t alg)
{
    int i = ks_alg_bank_index(alg);
    if (i < 0) {
        return NULL;
    }
    pthread_once(&fetched_once, fetch_digests);
    if (fetched_md[i]) {
        return fetched_md[i];
    }
    /* Fetching failed (no default provider?): the legacy static objects. */
    switch (alg) {
    case KS_ALG_SHA1:
        return EVP_sha1();
    case KS_ALG_SHA256:
        return EVP_sha256();
    case KS_ALG_SHA384:
        return EVP_sha384();
    default:
        return EVP_sha512();
    }
}

int ks_alg_hash(uint16_t alg, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                uint8_t *ret)
{
    const EVP_MD *md = ks_alg_md(alg);
    if (!md || !ret || (!a && alen) || (!b && blen)) {
        return md ? KS_ERR_INVALID_ARG : KS_ERR_TPM_ALG;
    }
    int r = KS_ERR_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return KS_ERR_NOMEM;
    }
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        goto out;
    }
    if (alen && EVP_DigestUpdate(ctx, a, alen) != 1) {
        goto out;
    }
    if (blen && EVP_DigestUpdate(ctx, b, blen) != 1) {
        goto out;
    }
    if (EVP_DigestFinal_ex(ctx, ret, NULL) != 1) {
        goto out;
    }
    r = KS_OK;
out:
    EVP_MD_CTX_free(ctx);
    return r;
}
