/* SPDX-License-Identifier: Apache-2.0 */
/* The CPU emulation of the CUDA runtime described in cuda_runtime.h (next
 * to this file). Test code only: it trades speed for strictness. */

#include "cuda_runtime.h"

#include <stdio.h>
#include <stdlib.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

static thread_local cudaError_t t_last = cudaSuccess; /* cudaGetLastError */

static std::recursive_mutex g_mu; /* every API call: the unseal workers call concurrently */

/* ---- failure injection ------------------------------------------------------ */

static long g_calls, g_fail_at = -1;
static int g_no_driver = -1;

static void inject_init(void)
{
    if (g_no_driver < 0) {
        const char *f = getenv("KS_EMU_FAIL_AT");
        const char *n = getenv("KS_EMU_NO_DRIVER");
        g_fail_at = f ? atol(f) : -1;
        g_no_driver = n && *n == '1';
    }
}

/* The injected result of the next call: cudaSuccess, or the failure. */
static cudaError_t inject(bool alloc, const char *what)
{
    inject_init();
    if (g_no_driver) {
        return cudaErrorInsufficientDriver;
    }
    if (++g_calls == g_fail_at) {
        fprintf(stderr, "cuda-emu: injected failure at call %ld (%s)\n", g_calls, what);
        return alloc ? cudaErrorMemoryAllocation : cudaErrorUnknown;
    }
    return cudaSuccess;
}

/* ---- blocks: one fiber per thread ------------------------------------------- */

/*
 * A block runs as blockDim fibers (ucontext) on the calling thread, switched
 * only at barriers: __syncthreads waits for the whole block, a warp exchange
 * for the lanes of its warp. Fiber i runs until its next barrier, then i+1,
 * ...: a schedule CUDA allows. When no fiber can run but some have not
 * finished, a barrier was not reached by every thread it waits for (a
 * divergent __syncthreads): reported and aborted.
 */

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#include <sys/mman.h>
#include <ucontext.h>

#define POOL 256
#define FIBER_STACK (256u * 1024)

enum { F_RUNNABLE, F_WAITING, F_DONE };

struct fiber {
    ucontext_t ctx;
    void *stack;
    int state;
    int wait_on;
    void *fake; /* ASan's fake stack while switched out */
};

struct barrier {
    unsigned expected, arrived;
};

static struct fiber g_f[POOL];
static struct barrier g_bar[1 + POOL / 32]; /* 0: the block, 1 + w: warp w */
static ucontext_t g_sched;
#ifdef EMU_ASAN
static void *g_sched_fake;
static const void *g_sched_bottom;
static size_t g_sched_size;
#endif
static unsigned g_cur, g_nthreads;
static const std::function<void()> *g_body;
static unsigned char g_xbuf[POOL][16];

static void switch_to_sched(struct fiber *f, bool finished)
{
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(finished ? NULL : &f->fake, g_sched_bottom, g_sched_size);
#endif
    if (!finished) {
        swapcontext(&f->ctx, &g_sched);
#ifdef EMU_ASAN
        __sanitizer_finish_switch_fiber(f->fake, &g_sched_bottom, &g_sched_size);
#endif
    }
}

static void fiber_main(void)
{
    struct fiber *f = &g_f[g_cur];
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(NULL, &g_sched_bottom, &g_sched_size);
#endif
    (*g_body)();
    f->state = F_DONE;
    switch_to_sched(f, true); /* then returns to uc_link, the scheduler */
}

static void bar_wait(int b)
{
    struct barrier *bar = &g_bar[b];
    if (++bar->arrived == bar->expected) {
        bar->arrived = 0;
        for (unsigned i = 0; i < g_nthreads; i++) {
            if (g_f[i].state == F_WAITING && g_f[i].wait_on == b) {
                g_f[i].state = F_RUNNABLE;
            }
        }
        return; /* the last to arrive goes on */
    }
    struct fiber *f = &g_f[g_cur];
    f->state = F_WAITING;
    f->wait_on = b;
    switch_to_sched(f, false);
}

void __syncthreads(void)
{
    bar_wait(0);
}

void ks_emu_warp_exchange(const void *mine, void *theirs, size_t size, int lane_mask)
{
    const unsigned me = g_cur, warp = me / 32, lane = me % 32;
    const unsigned src = warp * 32 + (lane ^ (unsigned)lane_mask);
    memcpy(g_xbuf[me], mine, size);
    bar_wait(1 + (int)warp);
    memcpy(theirs, src < g_nthreads ? g_xbuf[src] : mine, size);
    bar_wait(1 + (int)warp);
}

static void run_block(dim3 grid, dim3 block, uint3 bidx)
{
    const unsigned n = g_nthreads;
    for (unsigned i = 0; i < n; i++) {
        struct fiber *f = &g_f[i];
        if (!f->stack) {
            f->stack = mmap(NULL, FIBER_STACK, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (f->stack == MAP_FAILED) {
                fprintf(stderr, "cuda-emu: cannot map a fiber stack\n");
                abort();
            }
        }
        getcontext(&f->ctx);
        f->ctx.uc_stack.ss_sp = f->stack;
        f->ctx.uc_stack.ss_size = FIBER_STACK;
        f->ctx.uc_link = &g_sched;
        makecontext(&f->ctx, fiber_main, 0);
        f->state = F_RUNNABLE;
        f->fake = NULL;
    }
    g_bar[0] = barrier{n, 0};
    for (unsigned w = 0; w < (n + 31) / 32; w++) {
        g_bar[1 + w] = barrier{n - 32 * w < 32 ? n - 32 * w : 32, 0};
    }
    for (;;) {
        bool ran = false, all_done = true;
        for (unsigned i = 0; i < n; i++) {
            if (g_f[i].state == F_DONE) {
                continue;
            }
            all_done = false;
            if (g_f[i].state != F_RUNNABLE) {
                continue;
            }
            ran = true;
            g_cur = i;
            threadIdx = uint3{i % block.x, i / block.x % block.y, i / (block.x * block.y)};
            blockIdx = bidx;
            blockDim = block;
            gridDim = grid;
#ifdef EMU_ASAN
            __sanitizer_start_switch_fiber(&g_sched_fake, g_f[i].stack, FIBER_STACK);
#endif
            swapcontext(&g_sched, &g_f[i].ctx);
#ifdef EMU_ASAN
            __sanitizer_finish_switch_fiber(g_sched_fake, NULL, NULL);
#endif
        }
        if (all_done) {
            return;
        }
        if (!ran) {
            fprintf(stderr,
                    "cuda-emu: block (%u,%u,%u): a barrier not reached by all its threads "
                    "(divergent __syncthreads or warp exchange)\n",
                    bidx.x, bidx.y, bidx.z);
            abort();
        }
    }
}

static void run_grid(dim3 grid, dim3 block, const std::function<void()> &body)
{
    g_body = &body;
    g_nthreads = block.x * block.y * block.z;
    for (unsigned z = 0; z < grid.z; z++) {
        for (unsigned y = 0; y < grid.y; y++) {
            for (unsigned x = 0; x < grid.x; x++) {
                run_block(grid, block, uint3{x, y, z});
            }
        }
    }
}

/* ---- streams and events ----------------------------------------------------- */

struct ks_emu_stream {
    std::deque<std::function<void()>> q;
    uint64_t queued = 0, done = 0;
};

struct ks_emu_event {
    ks_emu_stream *s = nullptr;
    uint64_t seq = 0;
};

static std::set<ks_emu_stream *> g_streams;
static std::set<ks_emu_event *> g_events;
/* The legacy default stream (0): queued like the others. It does not order
 * against non-blocking streams (every stream here is one), as in CUDA. */
static ks_emu_stream g_legacy;

static void run_until(ks_emu_stream *s, uint64_t seq)
{
    while (s->done < seq && !s->q.empty()) {
        std::function<void()> f = std::move(s->q.front());
        s->q.pop_front();
        f();
        s->done++;
    }
}

static void drain_all(void)
{
    run_until(&g_legacy, g_legacy.queued);
    for (ks_emu_stream *s : g_streams) {
        run_until(s, s->queued);
    }
}

/* Work runs when the host waits for it. */
static cudaError_t submit(cudaStream_t s, std::function<void()> f)
{
    if (!s) {
        s = &g_legacy;
    } else if (!g_streams.count(s)) {
        return cudaErrorInvalidResourceHandle;
    }
    s->q.push_back(std::move(f));
    s->queued++;
    return cudaSuccess;
}

void ks_emu_launch_grid(cudaStream_t s, dim3 grid, dim3 block, std::function<void()> body)
{
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    cudaError_t e = inject(false, "kernel launch");
    if (e != cudaSuccess) {
        t_last = e;
        return;
    }
    const unsigned long n = (unsigned long)block.x * block.y * block.z;
    if (grid.x < 1 || grid.x > 0x7fffffffu || grid.y < 1 || grid.y > 65535 || grid.z < 1 ||
        grid.z > 65535 || block.x < 1 || block.y < 1 || block.z < 1 || block.z > 64 || n > 1024) {
        t_last = cudaErrorInvalidConfiguration;
        return;
    }
    if (n > POOL) {
        fprintf(stderr, "cuda-emu: blocks of more than %d threads are not emulated\n", POOL);
        t_last = cudaErrorInvalidConfiguration;
        return;
    }
    e = submit(s, [grid, block, body]() { run_grid(grid, block, body); });
    if (e != cudaSuccess) {
        t_last = e;
    }
}

/* ---- memory ----------------------------------------------------------------- */

static std::map<uintptr_t, size_t> g_dev, g_reg, g_pinned;

/* The allocation of `m` containing [p, p + n), if any. */
static bool within(const std::map<uintptr_t, size_t> &m, const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    auto it = m.upper_bound(a);
    if (it == m.begin()) {
        return false;
    }
    --it;
    return a >= it->first && a - it->first <= it->second && it->second - (a - it->first) >= n;
}

static bool is_dev(const void *p, size_t n)
{
    return within(g_dev, p, n);
}

static bool copy_ok(void *dst, const void *src, size_t n, enum cudaMemcpyKind k)
{
    switch (k) {
    case cudaMemcpyHostToDevice:
        return is_dev(dst, n) && !is_dev(src, 1);
    case cudaMemcpyDeviceToHost:
        return is_dev(src, n) && !is_dev(dst, 1);
    case cudaMemcpyDeviceToDevice:
        return is_dev(src, n) && is_dev(dst, n);
    default:
        return false;
    }
}

#define ENTER(alloc)                                                                               \
    std::lock_guard<std::recursive_mutex> lock(g_mu);                                              \
    cudaError_t inj_ = inject(alloc, __func__)

cudaError_t cudaMalloc(void **p, size_t n)
{
    ENTER(true);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    void *m = malloc(n ? n : 1);
    if (!m) {
        return cudaErrorMemoryAllocation;
    }
    memset(m, 0xff, n ? n : 1); /* as garbage: NaN floats */
    g_dev[(uintptr_t)m] = n;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    ENTER(false);
    if (!p) {
        return inj_;
    }
    drain_all(); /* cudaFree synchronises the device */
    auto it = g_dev.find((uintptr_t)p);
    if (it == g_dev.end()) {
        return cudaErrorInvalidValue;
    }
    g_dev.erase(it);
    free(p);
    return inj_; /* a failure is reported; the memory is gone anyway */
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!is_dev(p, n)) {
        return cudaErrorInvalidValue;
    }
    /* Asynchronous with respect to the host, on the legacy stream. */
    return submit(NULL, [p, v, n]() { memset(p, v, n); });
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!is_dev(p, n)) {
        return cudaErrorInvalidValue;
    }
    return submit(s, [p, v, n]() { memset(p, v, n); });
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind k)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!copy_ok(dst, src, n, k)) {
        return cudaErrorInvalidValue;
    }
    /* After the legacy stream's earlier work, and done on return. */
    run_until(&g_legacy, g_legacy.queued);
    memcpy(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind k,
                            cudaStream_t s)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!copy_ok(dst, src, n, k)) {
        return cudaErrorInvalidValue;
    }
    /* Reads the source when it runs, not now: a source reused too early
     * shows up as wrong data. */
    return submit(s, [dst, src, n]() { memcpy(dst, src, n); });
}

cudaError_t cudaHostRegister(void *p, size_t n, unsigned flags)
{
    ENTER(true);
    (void)flags;
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!p || n == 0) {
        return cudaErrorInvalidValue;
    }
    for (auto &r : g_reg) {
        if ((uintptr_t)p < r.first + r.second && r.first < (uintptr_t)p + n) {
            return cudaErrorHostMemoryAlreadyRegistered;
        }
    }
    g_reg[(uintptr_t)p] = n;
    return cudaSuccess;
}

cudaError_t cudaHostUnregister(void *p)
{
    ENTER(false);
    auto it = g_reg.find((uintptr_t)p);
    if (it == g_reg.end()) {
        return cudaErrorHostMemoryNotRegistered;
    }
    drain_all(); /* no copy may still read it */
    g_reg.erase(it);
    return inj_;
}

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags)
{
    ENTER(true);
    (void)flags;
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    void *m = malloc(n ? n : 1);
    if (!m) {
        return cudaErrorMemoryAllocation;
    }
    g_pinned[(uintptr_t)m] = n;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p)
{
    ENTER(false);
    auto it = g_pinned.find((uintptr_t)p);
    if (it == g_pinned.end()) {
        return cudaErrorInvalidValue;
    }
    drain_all();
    g_pinned.erase(it);
    free(p);
    return inj_;
}

/* ---- streams, events, device ------------------------------------------------------ */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
    ENTER(true);
    (void)flags;
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    *s = new ks_emu_stream();
    g_streams.insert(*s);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!s) {
        s = &g_legacy;
    } else if (!g_streams.count(s)) {
        return cudaErrorInvalidResourceHandle;
    }
    run_until(s, s->queued);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    ENTER(false);
    if (!g_streams.count(s)) {
        return cudaErrorInvalidResourceHandle;
    }
    run_until(s, s->queued); /* its work completes anyway */
    for (ks_emu_event *e : g_events) {
        if (e->s == s) {
            e->s = nullptr;
        }
    }
    g_streams.erase(s);
    delete s;
    return inj_;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags)
{
    ENTER(true);
    (void)flags;
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    *e = new ks_emu_event();
    g_events.insert(*e);
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!g_events.count(e)) {
        return cudaErrorInvalidResourceHandle;
    }
    cudaError_t r = submit(s, []() {});
    if (r == cudaSuccess) {
        e->s = s ? s : &g_legacy;
        e->seq = e->s->queued;
    }
    return r;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (!g_events.count(e)) {
        return cudaErrorInvalidResourceHandle;
    }
    if (e->s) {
        run_until(e->s, e->seq);
    }
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    ENTER(false);
    if (!g_events.count(e)) {
        return cudaErrorInvalidResourceHandle;
    }
    g_events.erase(e);
    delete e;
    return inj_;
}

cudaError_t cudaDeviceSynchronize(void)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    drain_all();
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    ENTER(false);
    cudaError_t e = t_last;
    t_last = cudaSuccess;
    return inj_ != cudaSuccess ? inj_ : e;
}

cudaError_t cudaGetDeviceCount(int *n)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    *n = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    return dev == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaGetDevice(int *dev)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    *dev = 0;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *v, enum cudaDeviceAttr a, int dev)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (dev != 0 || a != cudaDevAttrMultiProcessorCount) {
        return cudaErrorInvalidValue;
    }
    *v = 4;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev)
{
    ENTER(false);
    if (inj_ != cudaSuccess) {
        return inj_;
    }
    if (dev != 0) {
        return cudaErrorInvalidDevice;
    }
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "CPU emulation (tests/gpu/emu)");
    p->multiProcessorCount = 4;
    p->totalGlobalMem = (size_t)1 << 30;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v)
{
    ENTER(false);
    *v = 0;
    return inj_;
}

cudaError_t cudaRuntimeGetVersion(int *v)
{
    ENTER(false);
    *v = 0;
    return inj_;
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "cudaSuccess";
    case cudaErrorInvalidValue:
        return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
        return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
        return "cudaErrorInvalidConfiguration";
    case cudaErrorInsufficientDriver:
        return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice:
        return "cudaErrorNoDevice";
    case cudaErrorHostMemoryAlreadyRegistered:
        return "cudaErrorHostMemoryAlreadyRegistered";
    case cudaErrorHostMemoryNotRegistered:
        return "cudaErrorHostMemoryNotRegistered";
    case cudaErrorInvalidResourceHandle:
        return "cudaErrorInvalidResourceHandle";
    case cudaErrorUnknown:
        return "cudaErrorUnknown";
    default:
        return "cudaError(emulated)";
    }
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "no error";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInsufficientDriver:
        return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorUnknown:
        return "unknown error (injected by KS_EMU_FAIL_AT)";
    default:
        return cudaGetErrorName(e);
    }
}
