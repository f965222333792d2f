/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_MODEL_INTERNAL_H
#define KS_MODEL_INTERNAL_H

/* Shared by model.c (generation) and model_forward.c (the forward pass). */

#include <stdint.h>

#include "model.h"

enum ks_model_tensor_kind {
    KS_TENSOR_EMB,    /* tok_emb, pos_emb: U(-0.02, 0.02) */
    KS_TENSOR_MATRIX, /* w_*: U(-1/sqrt(rows), 1/sqrt(rows)) */
    KS_TENSOR_BIAS,   /* b_* and LN biases: U(-0.02, 0.02) */
    KS_TENSOR_GAIN,   /* LN gains: 1 + U(-0.1, 0.1) */
};

/* Call fn for every tensor of the weights file, in file order. */
void ks_model_tensors(const struct ks_model_dims *d,
                      void (*fn)(void *ctx, enum ks_model_tensor_kind kind, uint64_t count,
                                 uint32_t rows),
                      void *ctx);

#endif
