/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

extern "C" {
#include "backend_internal.h"
}

/*
 * The CUDA backend (backend.h), chosen per file instead of
 * backend_cuda_none.c when configure finds nvcc. The plaintext weights go
 * to one device buffer through pinned host staging buffers (DESIGN
 * "Reference loader path"): every unseal worker owns a lane of two slots
 * and a stream; it decrypts chunk i+1 into one slot while the copy of chunk
 * i (cudaMemcpyAsync, then an event) drains the other, and waits on a
 * slot's event only before it reuses it. weights_write does the same for a
 * plaintext source through a ring of four 4 MiB slots.
 *
 * The slots are the project's locked memory (locked_mem.h: mlock,
 * MADV_DONTDUMP, MADV_DONTFORK, wiped before unmap) registered with the
 * driver (cudaHostRegister) so that the copy engine reads them directly;
 * they are wiped and released at weights_finish. The device buffer is
 * zeroed before the weights go in and wiped at close. Device memory is
 * outside the trust boundary unless the GPU runs in confidential-computing
 * mode (DESIGN "Threat model").
 *
 * Unseal workers call acquire/commit from their own threads: a lane is only
 * touched by its worker, and every entry point selects the device first
 * (the current device is per host thread).
 */

/* Slots per unseal worker; -DKS_CUDA_LANE_SLOTS=N to measure others
 * (tests/gpu/check.sh: NVCC_EXTRA). */
#ifndef KS_CUDA_LANE_SLOTS
#define KS_CUDA_LANE_SLOTS 2
#endif
#define LANE_SLOTS KS_CUDA_LANE_SLOTS
#define WRITE_SLOTS 4
#define WRITE_PIECE (4u * 1024 * 1024)
#define SLOT_MIN 4096u

struct slot {
    struct ks_locked mem;
    bool registered;
    cudaEvent_t done; /* the copy out of this slot completed */
    bool have_event;
    bool pending; /* a copy was queued since the last wait */
};

struct lane {
    cudaStream_t stream;
    bool have_stream;
    struct slot *slots;
    unsigned n_slots, next;
    uint8_t *held; /* acquired and not committed yet */
    size_t held_len;
    struct ks_cuda_err err; /* this lane's last failure */
};

struct cuda {
    int device;
    bool allow_unlocked;
    uint8_t *dbuf; /* the weights image is at dbuf + KS_CUDA_IMG_SHIFT */
    size_t len;
    struct lane wring;  /* weights_write */
    struct lane *lanes; /* the sink's, one per unseal worker */
    unsigned n_lanes;
    struct ks_cuda_model *model;
    struct ks_cuda_err err;
};

/* ---- staging ------------------------------------------------------------- */

static void slot_release(struct slot *s)
{
    if (s->pending) {
        (void)cudaEventSynchronize(s->done); /* best effort: the copy may still read it */
    }
    if (s->registered) {
        (void)cudaHostUnregister(s->mem.ptr);
    }
    ks_locked_free(&s->mem); /* wipes */
    if (s->have_event) {
        (void)cudaEventDestroy(s->done);
    }
    memset(s, 0, sizeof(*s));
}

/* Wait until no copy reads the slot any more. */
static int slot_wait(struct slot *s, struct ks_cuda_err *err)
{
    int r;
    if (s->pending) {
        if ((r = KS_CUDA_CHECK(err, cudaEventSynchronize(s->done))) < 0) {
            return r;
        }
        s->pending = false;
    }
    return KS_OK;
}

/* A slot of at least len bytes (the slot is idle). */
static int slot_reserve(const struct cuda *c, struct slot *s, size_t len, struct ks_cuda_err *err)
{
    int r;
    if (s->mem.ptr && s->mem.len >= len) {
        return KS_OK;
    }
    slot_release(s);
    if ((r = ks_locked_alloc(len < SLOT_MIN ? SLOT_MIN : len, c->allow_unlocked, false, &s->mem)) <
        0) {
        return ks_cuda_fail(err, r, "staging: cannot allocate locked host memory");
    }
    if ((r = KS_CUDA_CHECK(
             err, cudaHostRegister(s->mem.ptr, s->mem.mapped, cudaHostRegisterDefault))) < 0) {
        slot_release(s);
        return r;
    }
    s->registered = true;
    if ((r = KS_CUDA_CHECK(err, cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming))) < 0) {
        slot_release(s);
        return r;
    }
    s->have_event = true;
    return KS_OK;
}

static int lane_init(struct lane *l, unsigned n_slots, struct ks_cuda_err *err)
{
    int r;
    memset(l, 0, sizeof(*l));
    l->slots = (struct slot *)calloc(n_slots, sizeof(*l->slots));
    if (!l->slots) {
        return ks_cuda_fail(err, KS_ERR_NOMEM, "staging: out of host memory");
    }
    l->n_slots = n_slots;
    if ((r = KS_CUDA_CHECK(err, cudaStreamCreateWithFlags(&l->stream, cudaStreamNonBlocking))) <
        0) {
        return r;
    }
    l->have_stream = true;
    return KS_OK;
}

/* Every copy of the lane done (and its errors reported). */
static int lane_sync(struct lane *l, struct ks_cuda_err *err)
{
    int r;
    if (!l->have_stream) {
        return KS_OK;
    }
    if ((r = KS_CUDA_CHECK(err, cudaStreamSynchronize(l->stream))) < 0) {
        return r;
    }
    for (unsigned i = 0; i < l->n_slots; i++) {
        l->slots[i].pending = false;
    }
    return KS_OK;
}

static void lane_free(struct lane *l)
{
    if (l->have_stream) {
        (void)cudaStreamSynchronize(l->stream);
    }
    for (unsigned i = 0; l->slots && i < l->n_slots; i++) {
        slot_release(&l->slots[i]);
    }
    free(l->slots);
    if (l->have_stream) {
        (void)cudaStreamDestroy(l->stream);
    }
    memset(l, 0, sizeof(*l));
}

static void lanes_free(struct cuda *c)
{
    for (unsigned i = 0; c->lanes && i < c->n_lanes; i++) {
        lane_free(&c->lanes[i]);
    }
    free(c->lanes);
    c->lanes = NULL;
    c->n_lanes = 0;
}

/* Queue the copy of slot s (len bytes) to weights offset off. */
static int lane_copy(struct cuda *c, struct lane *l, struct slot *s, size_t off, size_t len)
{
    int r;
    if ((r = KS_CUDA_CHECK(&l->err, cudaMemcpyAsync(c->dbuf + KS_CUDA_IMG_SHIFT + off, s->mem.ptr,
                                                    len, cudaMemcpyHostToDevice, l->stream))) < 0 ||
        (r = KS_CUDA_CHECK(&l->err, cudaEventRecord(s->done, l->stream))) < 0) {
        return r;
    }
    s->pending = true;
    l->next = (l->next + 1) % l->n_slots;
    return KS_OK;
}

/* ---- the backend operations ------------------------------------------------ */

static int cuda_alloc(void *impl, size_t len, bool allow_unlocked)
{
    struct cuda *c = (struct cuda *)impl;
    int r;
    c->allow_unlocked = allow_unlocked;
    if ((r = KS_CUDA_CHECK(&c->err, cudaSetDevice(c->device))) < 0) {
        return r;
    }
    if ((r = KS_CUDA_CHECK(&c->err, cudaMalloc(&c->dbuf, len + KS_CUDA_IMG_SHIFT))) < 0) {
        c->dbuf = NULL;
        return r;
    }
    /* Zeroed, so that bytes the caller never writes are no left-overs, and
     * waited for: the staging streams are non-blocking and do not order
     * against this one (nor against the legacy stream). */
    if ((r = lane_init(&c->wring, WRITE_SLOTS, &c->err)) < 0 ||
        (r = KS_CUDA_CHECK(
             &c->err, cudaMemsetAsync(c->dbuf, 0, len + KS_CUDA_IMG_SHIFT, c->wring.stream))) < 0 ||
        (r = KS_CUDA_CHECK(&c->err, cudaStreamSynchronize(c->wring.stream))) < 0) {
        /* backend.c lets a failed alloc be retried: leave nothing behind. */
        lane_free(&c->wring);
        (void)cudaFree(c->dbuf);
        c->dbuf = NULL;
        return r;
    }
    c->len = len;
    return KS_OK;
}

static int cuda_write(void *impl, size_t off, const void *src, size_t len)
{
    struct cuda *c = (struct cuda *)impl;
    struct lane *l = &c->wring;
    const uint8_t *p = (const uint8_t *)src;
    int r;
    if ((r = KS_CUDA_CHECK(&l->err, cudaSetDevice(c->device))) < 0) {
        return r;
    }
    while (len > 0) {
        size_t piece = len < WRITE_PIECE ? len : WRITE_PIECE;
        struct slot *s = &l->slots[l->next];
        if ((r = slot_wait(s, &l->err)) < 0 || (r = slot_reserve(c, s, WRITE_PIECE, &l->err)) < 0) {
            return r;
        }
        memcpy(s->mem.ptr, p, piece);
        if ((r = lane_copy(c, l, s, off, piece)) < 0) {
            return r;
        }
        p += piece;
        off += piece;
        len -= piece;
    }
    return KS_OK;
}

static int cuda_acquire(void *ctx, unsigned worker, uint64_t index, uint64_t off, size_t len,
                        uint8_t **ret_dst)
{
    struct cuda *c = (struct cuda *)ctx;
    int r;
    (void)index;
    if (worker >= c->n_lanes || !(off <= c->len && c->len - off >= len)) {
        return KS_ERR_INVALID_ARG;
    }
    struct lane *l = &c->lanes[worker];
    if (l->held) {
        return KS_ERR_BACKEND_STATE; /* one destination per worker at a time */
    }
    struct slot *s = &l->slots[l->next];
    if ((r = KS_CUDA_CHECK(&l->err, cudaSetDevice(c->device))) < 0 ||
        (r = slot_wait(s, &l->err)) < 0 || (r = slot_reserve(c, s, len, &l->err)) < 0) {
        return r;
    }
    l->held = (uint8_t *)s->mem.ptr;
    l->held_len = len;
    *ret_dst = l->held;
    return KS_OK;
}

static int cuda_commit(void *ctx, unsigned worker, uint64_t index, uint64_t off, uint8_t *dst,
                       size_t len)
{
    struct cuda *c = (struct cuda *)ctx;
    int r;
    (void)index;
    if (worker >= c->n_lanes || !(off <= c->len && c->len - off >= len)) {
        return KS_ERR_INVALID_ARG;
    }
    struct lane *l = &c->lanes[worker];
    if (!l->held || dst != l->held || len != l->held_len) {
        return KS_ERR_INVALID_ARG;
    }
    l->held = NULL;
    if ((r = KS_CUDA_CHECK(&l->err, cudaSetDevice(c->device))) < 0) {
        return r;
    }
    return lane_copy(c, l, &l->slots[l->next], (size_t)off, len);
}

static int cuda_sink(void *impl, unsigned threads, size_t chunk, struct ks_unseal_sink *ret_sink)
{
    struct cuda *c = (struct cuda *)impl;
    int r;
    if ((r = KS_CUDA_CHECK(&c->err, cudaSetDevice(c->device))) < 0) {
        return r;
    }
    /* A second sink replaces the first (its copies finish first). */
    for (unsigned i = 0; i < c->n_lanes; i++) {
        if ((r = lane_sync(&c->lanes[i], &c->err)) < 0) {
            return r;
        }
    }
    lanes_free(c);
    c->lanes = (struct lane *)calloc(threads, sizeof(*c->lanes));
    if (!c->lanes) {
        return ks_cuda_fail(&c->err, KS_ERR_NOMEM, "staging: out of host memory");
    }
    c->n_lanes = threads;
    /* The slots are locked and pinned now, for the file's chunk size, so
     * that the decryption does not wait for it: the pinning is setup, not
     * part of the upload. */
    for (unsigned i = 0; i < threads; i++) {
        struct lane *l = &c->lanes[i];
        if ((r = lane_init(l, LANE_SLOTS, &c->err)) < 0) {
            return r;
        }
        for (unsigned j = 0; j < l->n_slots; j++) {
            if ((r = slot_reserve(c, &l->slots[j], chunk, &c->err)) < 0) {
                return r;
            }
        }
    }
    ret_sink->ctx = c;
    ret_sink->acquire = cuda_acquire;
    ret_sink->commit = cuda_commit;
    return KS_OK;
}

static int cuda_finish(void *impl, const struct ks_model_dims *dims)
{
    struct cuda *c = (struct cuda *)impl;
    uint8_t header[KS_MODEL_HEADER_LEN];
    struct ks_model_dims d;
    int r;
    if ((r = KS_CUDA_CHECK(&c->err, cudaSetDevice(c->device))) < 0 ||
        (r = lane_sync(&c->wring, &c->wring.err)) < 0) {
        return r;
    }
    for (unsigned i = 0; i < c->n_lanes; i++) {
        if ((r = lane_sync(&c->lanes[i], &c->lanes[i].err)) < 0) {
            return r;
        }
    }
    /* Every copy landed: the staging buffers go (wiped). */
    lanes_free(c);
    lane_free(&c->wring);
    if ((r = KS_CUDA_CHECK(&c->err, cudaMemcpy(header, c->dbuf + KS_CUDA_IMG_SHIFT, sizeof(header),
                                               cudaMemcpyDeviceToHost))) < 0) {
        return r;
    }
    /* As the CPU backend (ks_model_open): the header must carry `dims` and
     * the length must be theirs. */
    if ((r = ks_model_header_parse(header, sizeof(header), c->len, &d, NULL)) < 0) {
        return r;
    }
    if (!ks_model_dims_equal(&d, dims)) {
        return KS_ERR_MODEL_MISMATCH;
    }
    return ks_cuda_model_open(c->dbuf + KS_CUDA_IMG_SHIFT, c->len, &d, c->allow_unlocked, 0,
                              &c->model, &c->err);
}

static int cuda_generate(void *impl, const uint8_t *prompt, size_t len, size_t n_new, uint8_t *out)
{
    struct cuda *c = (struct cuda *)impl;
    int r;
    if ((r = KS_CUDA_CHECK(&c->err, cudaSetDevice(c->device))) < 0) {
        return r;
    }
    return ks_cuda_model_generate(c->model, prompt, len, n_new, out, NULL, &c->err);
}

static void cuda_close(void *impl)
{
    struct cuda *c = (struct cuda *)impl;
    if (!c) {
        return;
    }
    /* Best effort throughout: close cannot fail, and a device that already
     * failed may refuse even the wipe. */
    (void)cudaSetDevice(c->device);
    lanes_free(c);
    lane_free(&c->wring);
    ks_cuda_model_free(c->model);
    if (c->dbuf) {
        (void)cudaMemset(c->dbuf, 0, c->len + KS_CUDA_IMG_SHIFT);
        (void)cudaDeviceSynchronize();
        (void)cudaFree(c->dbuf);
    }
    free(c);
}

static const struct ks_backend_ops cuda_ops = {
    "cuda", cuda_alloc, cuda_write, cuda_sink, cuda_finish, cuda_generate, cuda_close,
};

/* ---- probe ----------------------------------------------------------------- */

static __global__ void probe_kernel(int *p)
{
    *p = 0x6b73; /* "ks" */
}

/* A device, a context, and a kernel of this build that runs on it (a
 * binary without code for the device's architecture fails here, not in the
 * middle of a load). */
static int probe(int device, struct ks_cuda_err *err)
{
    int *d = NULL, got = 0, n = 0, r;
    if ((r = KS_CUDA_CHECK(err, cudaGetDeviceCount(&n))) < 0) {
        return r;
    }
    if (n < 1) {
        return ks_cuda_fail(err, KS_ERR_BACKEND_UNAVAILABLE, "no CUDA device");
    }
    if ((r = KS_CUDA_CHECK(err, cudaSetDevice(device))) < 0 ||
        (r = KS_CUDA_CHECK(err, cudaMalloc(&d, sizeof(int)))) < 0) {
        return r;
    }
    KS_CUDA_LAUNCH(probe_kernel, 1, 1, 0, d);
    if ((r = KS_CUDA_CHECK(err, cudaGetLastError())) == KS_OK &&
        (r = KS_CUDA_CHECK(err, cudaMemcpy(&got, d, sizeof(got), cudaMemcpyDeviceToHost))) ==
            KS_OK &&
        got != 0x6b73) {
        r = ks_cuda_fail(err, KS_ERR_BACKEND_DEVICE, "the probe kernel did not run");
    }
    (void)cudaFree(d);
    return r;
}

int ks_backend_cuda_create(void **ret_impl, const struct ks_backend_ops **ret_ops, char *note,
                           size_t note_len)
{
    struct ks_cuda_err err;
    /* The first visible device: CUDA_VISIBLE_DEVICES chooses which. */
    const int device = 0;
    memset(&err, 0, sizeof(err));
    int r = probe(device, &err);
    if (r < 0) {
        if (note && note_len > 0) {
            snprintf(note, note_len, "%s: %s",
                     r == KS_ERR_BACKEND_UNAVAILABLE ? "no CUDA support on this machine"
                                                     : "the CUDA device is not usable",
                     err.msg);
        }
        return r;
    }
    struct cuda *c = (struct cuda *)calloc(1, sizeof(*c));
    if (!c) {
        return KS_ERR_NOMEM;
    }
    c->device = device;
    *ret_impl = c;
    *ret_ops = &cuda_ops;
    return KS_OK;
}
