/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_MODEL_H
#define KS_MODEL_H

/*
 * The reference model (model.md "Reference model"): a byte-level,
 * decoder-only, pre-LayerNorm transformer (GPT-2 style) whose weights
 * ks-seal generates from a seed, so that the CPU reference, the NumPy
 * reference (tests/integration/model_numpy.py) and the CUDA backend can be
 * checked against one another.
 *
 * Weights file (all little-endian): "KSMODEL1" | u32 version (1) | u32 vocab
 * (256), d_model D, n_layers L, n_heads H, d_ff F, max_seq S | u64 seed, then
 * fp32 tensors, row-major, y = x @ W with W [in][out]:
 *   tok_emb [256][D], pos_emb [S][D],
 *   per layer: ln1_g [D], ln1_b [D], w_qkv [D][3D], b_qkv [3D], w_o [D][D],
 *              b_o [D], ln2_g [D], ln2_b [D], w_1 [D][F], b_1 [F], w_2 [F][D],
 *              b_2 [D],
 *   lnf_g [D], lnf_b [D].
 * The output projection is tied: logits = LN_f(x) @ tok_emb^T. Its SHA-256
 * (header included) is the "weights digest" a program manifest names.
 *
 * Weight generation (deterministic on every machine; the NumPy test
 * regenerates it): SplitMix64 seeded with `seed` produces the four words of
 * a xoshiro256** state (s[0..3], in that order); every element of every
 * tensor, in file order, consumes one xoshiro256** output r and takes
 *   u = (double)(r >> 40) * 2^-23 - 1.0              (in [-1, 1), 24 bits)
 *   value = (float)(u * a)           tok_emb, pos_emb: a = 0.02
 *                                    w_qkv, w_o, w_1, w_2: a = 1.0 / sqrt(rows)
 *                                    every bias b_* and LN bias: a = 0.02
 *   value = (float)(1.0 + u * 0.1)   LN gains ln1_g, ln2_g, lnf_g
 * computed in IEEE double and rounded once to float.
 *
 * Forward pass (positions 0..T-1, causal): x_t = tok_emb[tok_t] + pos_emb[t];
 * per layer: h = LN1(x); qkv = h @ w_qkv + b_qkv; q, k, v in that order, head
 * j = columns [j*Dh, (j+1)*Dh); att = softmax(q k^T / sqrt(Dh)) over positions
 * <= t; a = att v (heads concatenated); x += a @ w_o + b_o; h = LN2(x);
 * x += GELU(h @ w_1 + b_1) @ w_2 + b_2. LN(x) = (x - mean) / sqrt(var + 1e-5)
 * * g + b with the biased variance; GELU is the tanh approximation.
 *
 * Generation: greedy (argmax; the lowest index wins a tie), n_new bytes after
 * the prompt, with a KV cache. Generating n_new tokens runs P + n_new - 1
 * positions, which must fit in S: n_new <= S, and a prompt longer than
 * S + 1 - n_new bytes is truncated to its LAST S + 1 - n_new bytes (the start
 * of a long prompt is dropped; positions restart at 0). An empty prompt is
 * refused (there is no begin-of-sequence token), n_new = 0 yields nothing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ks_error.h"

struct ks_model_dims {
    uint32_t vocab, d_model, n_layers, n_heads, d_ff, max_seq;
};

#define KS_MODEL_MAGIC "KSMODEL1"
#define KS_MODEL_FILE_VERSION 1u
#define KS_MODEL_HEADER_LEN 44
#define KS_MODEL_VOCAB 256u
/* Caps on what a weights file or manifest may claim (the largest is ~12 TB
 * of arithmetic; the total is capped separately). */
#define KS_MODEL_D_MAX 16384u
#define KS_MODEL_LAYERS_MAX 1024u
#define KS_MODEL_HEADS_MAX 1024u
#define KS_MODEL_FF_MAX 65536u
#define KS_MODEL_SEQ_MAX 65536u
#define KS_MODEL_BYTES_MAX (UINT64_C(64) << 30)
#define KS_MODEL_LN_EPS 1e-5f
/* Defaults for tests and `ks-seal gen-model` (a few hundred KB). */
#define KS_MODEL_DEFAULT_DIMS                                                                      \
    ((struct ks_model_dims){                                                                       \
        .vocab = 256, .d_model = 64, .n_layers = 2, .n_heads = 4, .d_ff = 256, .max_seq = 128})

/* vocab 256, 1 <= every dim <= its cap, D % H == 0, total size <= the cap.
 * KS_ERR_MODEL_DIMS otherwise. */
KS_WUR int ks_model_dims_validate(const struct ks_model_dims *d);

/* Size in bytes of the weights file (header included) for valid dims. */
KS_WUR int ks_model_weights_size(const struct ks_model_dims *d, uint64_t *ret_bytes);

/* Number of fp32 parameters (every tensor) for valid dims. */
uint64_t ks_model_param_count(const struct ks_model_dims *d);

bool ks_model_dims_equal(const struct ks_model_dims *a, const struct ks_model_dims *b);

/* The 44-byte header for valid dims. */
void ks_model_header_encode(const struct ks_model_dims *d, uint64_t seed,
                            uint8_t out[KS_MODEL_HEADER_LEN]);

/*
 * Parse the header of a weights file of `file_len` bytes whose first `len`
 * bytes are `buf`, and check that file_len is exactly the size its dims
 * imply. Errors: KS_ERR_MODEL_SIZE (shorter than a header, or a length that
 * does not match), KS_ERR_MODEL_MAGIC, KS_ERR_MODEL_VERSION, KS_ERR_MODEL_DIMS.
 * ret_seed may be NULL.
 */
KS_WUR int ks_model_header_parse(const uint8_t *buf, size_t len, uint64_t file_len,
                                 struct ks_model_dims *ret_dims, uint64_t *ret_seed);

/* The documented PRNG (SplitMix64 -> xoshiro256**). */
struct ks_model_rng {
    uint64_t s[4];
};
void ks_model_rng_seed(struct ks_model_rng *r, uint64_t seed);
uint64_t ks_model_rng_next(struct ks_model_rng *r);

/*
 * Generate the weights file for `d` and `seed`, handing it to `write` in
 * pieces of at most 1 MiB (streamed: memory use does not grow with the
 * model). Stops at the first error `write` returns.
 */
KS_WUR int ks_model_generate_weights(const struct ks_model_dims *d, uint64_t seed,
                                     int (*write)(void *ctx, const void *buf, size_t len),
                                     void *ctx);

struct ks_model;

/*
 * A model over the weights file image `weights` (`len` bytes, 4-byte aligned,
 * borrowed: it must outlive the model). The header is validated and, when
 * `expect` is not NULL, must carry those dims (KS_ERR_MODEL_MISMATCH). The
 * KV cache and activations (derived from prompts: secret) are allocated
 * locked and excluded from core dumps (KS_ERR_BACKEND_MLOCK unless
 * allow_unlocked). `threads` (1 or 2; 0: 1) split the large matrix products
 * by output columns (bit-identical results); generation is memory-bound, so
 * 2 threads help only models that fit in the caches of an idle machine.
 */
KS_WUR int ks_model_open(const uint8_t *weights, size_t len, const struct ks_model_dims *expect,
                         unsigned threads, bool allow_unlocked, struct ks_model **ret);

const struct ks_model_dims *ks_model_dims(const struct ks_model *m);

/*
 * Greedy generation of `n_new` bytes after `prompt` into ret_out (room for
 * n_new bytes). ret_logits (NULL or room for 256 floats) receives the logits
 * of the last position run (those that chose the last byte). The KV cache is
 * wiped after each call. KS_ERR_MODEL_PROMPT for an empty prompt or
 * n_new > max_seq.
 */
KS_WUR int ks_model_generate(struct ks_model *m, const uint8_t *prompt, size_t len, size_t n_new,
                             uint8_t *ret_out, float *ret_logits);

/* Wipes and frees the model's state (not the weights). NULL is a no-op. */
void ks_model_free(struct ks_model *m);

/* The kernels, exposed for the unit tests. */
void ks_model_layernorm(float *out, const float *x, const float *g, const float *b, size_t n);
float ks_model_gelu(float x);
void ks_model_softmax(float *x, size_t n);

#endif
