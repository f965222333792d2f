/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "gpu_check.h"

/* Drives a backend's unseal sink the way ks_unseal_run does (lib/sealed.h):
 * workers take chunks in turn, acquire a destination, fill it, commit. */

struct run {
    struct ks_unseal_sink sink;
    size_t len, chunk;
    uint64_t n;
    ks_gpu_fill_fn fill;
    void *ctx;
    atomic_uint_fast64_t next;
    atomic_int err;
};

struct worker {
    struct run *run;
    unsigned id;
    pthread_t t;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    for (;;) {
        uint64_t i = atomic_fetch_add(&run->next, 1);
        if (i >= run->n || atomic_load(&run->err) != KS_OK) {
            break;
        }
        uint64_t off = i * run->chunk;
        size_t len = run->len - off < run->chunk ? (size_t)(run->len - off) : run->chunk;
        uint8_t *dst = NULL;
        int r = run->sink.acquire(run->sink.ctx, w->id, i, off, len, &dst);
        if (r == KS_OK) {
            r = run->fill(run->ctx, w->id, i, off, dst, len);
        }
        if (r == KS_OK && run->sink.commit) {
            r = run->sink.commit(run->sink.ctx, w->id, i, off, dst, len);
        }
        if (r != KS_OK) {
            int expected = KS_OK;
            atomic_compare_exchange_strong(&run->err, &expected, r);
            break;
        }
    }
    return NULL;
}

int ks_gpu_sink_drive(const struct ks_unseal_sink *sink, size_t len, size_t chunk, unsigned threads,
                      ks_gpu_fill_fn fill, void *ctx)
{
    struct run run = {.sink = *sink, .len = len, .chunk = chunk, .fill = fill, .ctx = ctx};
    struct worker *ws = NULL;
    unsigned started = 0;
    if (chunk == 0 || threads == 0) {
        return KS_ERR_INVALID_ARG;
    }
    run.n = len == 0 ? 1 : (len + chunk - 1) / chunk;
    atomic_init(&run.next, 0);
    atomic_init(&run.err, KS_OK);
    ws = calloc(threads, sizeof(*ws));
    if (!ws) {
        return KS_ERR_NOMEM;
    }
    for (; started < threads; started++) {
        ws[started] = (struct worker){.run = &run, .id = started};
        if (pthread_create(&ws[started].t, NULL, work, &ws[started]) != 0) {
            int expected = KS_OK;
            atomic_compare_exchange_strong(&run.err, &expected, KS_ERR_INTERNAL);
            break;
        }
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].t, NULL);
    }
    free(ws);
    return atomic_load(&run.err);
}

int ks_gpu_sink_run(struct ks_backend *b, size_t len, size_t chunk, unsigned threads,
                    ks_gpu_fill_fn fill, void *ctx)
{
    struct ks_unseal_sink sink;
    int r = ks_backend_weights_sink(b, threads, chunk, &sink);
    if (r < 0) {
        return r;
    }
    return ks_gpu_sink_drive(&sink, len, chunk, threads, fill, ctx);
}
