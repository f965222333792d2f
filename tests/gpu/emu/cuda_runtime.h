/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KS_CUDA_EMU_H
#define KS_CUDA_EMU_H

/*
 * A CPU emulation of the part of the CUDA runtime and language that the
 * loader's CUDA files use, so that tests/gpu/check.sh --emulate can run the
 * backend's kernels and its staging logic on a machine without a GPU
 * (C++17, any host compiler; put this directory first on the include path
 * and compile the .cu files as C++). It is a test device, not a simulator
 * of performance:
 *
 *   - a block runs as blockDim fibers switched at __syncthreads and at the
 *     per-warp exchange of __shfl_xor_sync, one block at a time (so
 *     __shared__, made static, is per block); a barrier that not every
 *     thread reaches aborts the run;
 *   - device memory is host memory from malloc, filled with 0xff (NaN
 *     floats) like uninitialised memory, so AddressSanitizer sees every
 *     out-of-bounds access of a kernel or a copy;
 *   - work queued on a stream (kernels, cudaMemcpyAsync, cudaMemsetAsync,
 *     events) runs only when the host waits for it (stream/event/device
 *     synchronisation, cudaFree): the latest schedule real CUDA allows, so a
 *     host buffer reused before its copy was waited for is caught; so does
 *     the legacy stream (0), which does not order against the non-blocking
 *     streams; cudaMemcpy waits for the legacy stream's earlier work and is
 *     done when it returns;
 *   - KS_EMU_FAIL_AT=n makes the n-th runtime call fail (cudaErrorUnknown;
 *     an allocation: cudaErrorMemoryAllocation) to exercise error paths,
 *     KS_EMU_NO_DRIVER=1 answers every call as a machine without a driver.
 */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __launch_bounds__(...)
#define __shared__ static

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_)
    {
    }
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

void __syncthreads(void);
/* Lane exchange within a warp: every lane of the warp must call it. */
void ks_emu_warp_exchange(const void *mine, void *theirs, size_t size, int lane_mask);

template <typename T> T __shfl_xor_sync(unsigned mask, T v, int lane_mask)
{
    T out;
    (void)mask;
    ks_emu_warp_exchange(&v, &out, sizeof(T), lane_mask);
    return out;
}

static inline int min(int a, int b)
{
    return a < b ? a : b;
}

static inline int max(int a, int b)
{
    return a > b ? a : b;
}

#include "cuda_runtime_api.h"

/* cuda_runtime.h's C++ convenience overloads */
template <typename T> cudaError_t cudaMalloc(T **p, size_t n)
{
    return cudaMalloc((void **)p, n);
}

template <typename T> cudaError_t cudaHostAlloc(T **p, size_t n, unsigned flags)
{
    return cudaHostAlloc((void **)p, n, flags);
}

/* ---- launches --------------------------------------------------------------- */

/* Queue a grid on stream s (0: the legacy stream); a bad configuration sets
 * the error cudaGetLastError returns. */
void ks_emu_launch_grid(cudaStream_t s, dim3 grid, dim3 block, std::function<void()> body);

template <typename... P> struct ks_emu_launcher {
    void (*kernel)(P...);
    dim3 grid, block;
    cudaStream_t stream;
    template <typename... A> void operator()(A &&...a) const
    {
        /* The arguments by value, converted as a kernel call converts them. */
        std::tuple<P...> args(static_cast<P>(std::forward<A>(a))...);
        void (*k)(P...) = kernel;
        ks_emu_launch_grid(stream, grid, block, [k, args]() { std::apply(k, args); });
    }
};

template <typename... P>
ks_emu_launcher<P...> ks_emu_launch(void (*kernel)(P...), dim3 grid, dim3 block,
                                    cudaStream_t stream)
{
    return ks_emu_launcher<P...>{kernel, grid, block, stream};
}

#define KS_CUDA_LAUNCH(kernel, grid, block, stream, ...)                                           \
    ks_emu_launch(kernel, dim3(grid), dim3(block), (cudaStream_t)(stream))(__VA_ARGS__)

#endif
