/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "gpu_check.h"

/* The emulated build (check.sh --emulate) has no device to time. */

int ks_gpu_bench(const struct ks_gpu_bench_opts *o)
{
    (void)o;
    printf("# benchmark: skipped (emulated build: no GPU)\n");
    return 0;
}
