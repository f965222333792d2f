/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "shamir.h"

/* Multiplication in GF(2^8) mod x^8 + x^4 + x^3 + x + 1, without branches or
 * tables: the secret bytes decide nothing but arithmetic. */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t p = 0;
    for (int i = 0; i < 8; i++) {
        p ^= (uint8_t)(-(b & 1u) & a);
        uint8_t carry = (uint8_t) - (a >> 7);
        a = (uint8_t)((a << 1) ^ (carry & 0x1bu));
        b >>= 1;
    }
    return p;
}

/* a^-1 = a^254 (a^255 = 1 for a != 0): a^2 * a^4 * ... * a^128. */
static uint8_t gf_inv(uint8_t a)
{
    uint8_t x = gf_mul(a, a);
    uint8_t r = x;
    for (int i = 0; i < 6; i++) {
        x = gf_mul(x, x);
        r = gf_mul(r, x);
    }
    return r;
}

static int params_valid(size_t len, unsigned threshold, unsigned count)
{
    return len >= 1 && len <= KS_SHAMIR_SECRET_MAX && threshold >= 1 && threshold <= count &&
           count <= KS_SHAMIR_SHARES_MAX;
}

int ks_shamir_split(const uint8_t *secret, size_t len, unsigned threshold, unsigned count,
                    struct ks_shamir_share *ret_shares)
{
    if (!secret || !ret_shares) {
        return KS_ERR_INVALID_ARG;
    }
    if (!params_valid(len, threshold, count)) {
        return KS_ERR_SHAMIR_PARAMS;
    }
    /* coeffs[b * (k - 1) + j]: coefficient of x^(j+1) for secret byte b. */
    size_t n_coeffs = len * (threshold - 1);
    uint8_t coeffs[KS_SHAMIR_SECRET_MAX * (KS_SHAMIR_SHARES_MAX - 1)];
    if (n_coeffs > 0 && RAND_priv_bytes(coeffs, (int)n_coeffs) != 1) {
        OPENSSL_cleanse(coeffs, n_coeffs);
        return KS_ERR_CRYPTO;
    }
    for (unsigned i = 0; i < count; i++) {
        struct ks_shamir_share *s = &ret_shares[i];
        memset(s, 0, sizeof(*s));
        s->index = (uint8_t)(i + 1);
        s->threshold = (uint8_t)threshold;
        s->count = (uint8_t)count;
        s->len = len;
        for (size_t b = 0; b < len; b++) {
            /* Horner: ((c_{k-1} x + c_{k-2}) x + ...) x + secret */
            uint8_t y = 0;
            for (unsigned j = threshold - 1; j >= 1; j--) {
                y = gf_mul(y, s->index) ^ coeffs[b * (threshold - 1) + (j - 1)];
            }
            s->y[b] = gf_mul(y, s->index) ^ secret[b];
        }
    }
    OPENSSL_cleanse(coeffs, n_coeffs);
    return KS_OK;
}

int ks_shamir_combine(const struct ks_shamir_share *shares, size_t n_shares, uint8_t *ret_secret,
                      size_t secret_len)
{
    if (!shares || !ret_secret || n_shares == 0) {
        return shares && ret_secret ? KS_ERR_SHAMIR_TOO_FEW : KS_ERR_INVALID_ARG;
    }
    const struct ks_shamir_share *first = &shares[0];
    if (!params_valid(first->len, first->threshold, first->count)) {
        return KS_ERR_SHAMIR_PARAMS;
    }
    for (size_t i = 0; i < n_shares; i++) {
        if (shares[i].threshold != first->threshold || shares[i].count != first->count ||
            shares[i].len != first->len) {
            return KS_ERR_SHAMIR_MISMATCH;
        }
    }
    if (secret_len != first->len) {
        return KS_ERR_SHAMIR_MISMATCH;
    }
    size_t k = first->threshold;
    if (n_shares < k) {
        return KS_ERR_SHAMIR_TOO_FEW;
    }
    for (size_t i = 0; i < k; i++) {
        if (shares[i].index == 0 || shares[i].index > first->count) {
            return KS_ERR_SHAMIR_INDEX;
        }
        for (size_t j = 0; j < i; j++) {
            if (shares[j].index == shares[i].index) {
                return KS_ERR_SHAMIR_INDEX;
            }
        }
    }
    /* Lagrange basis at 0: l_j = prod_{m != j} x_m / (x_m - x_j), and
     * subtraction is XOR in GF(2^8). The indexes are public. */
    uint8_t basis[KS_SHAMIR_SHARES_MAX];
    for (size_t j = 0; j < k; j++) {
        uint8_t num = 1, den = 1;
        for (size_t m = 0; m < k; m++) {
            if (m != j) {
                num = gf_mul(num, shares[m].index);
                den = gf_mul(den, (uint8_t)(shares[m].index ^ shares[j].index));
            }
        }
        basis[j] = gf_mul(num, gf_inv(den));
    }
    uint8_t out[KS_SHAMIR_SECRET_MAX];
    for (size_t b = 0; b < first->len; b++) {
        uint8_t v = 0;
        for (size_t j = 0; j < k; j++) {
            v ^= gf_mul(shares[j].y[b], basis[j]);
        }
        out[b] = v;
    }
    memcpy(ret_secret, out, first->len);
    OPENSSL_cleanse(out, sizeof(out));
    return KS_OK;
}
