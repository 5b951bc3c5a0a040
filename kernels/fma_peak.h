// The machine's float throughput as the prompt bound sees it: independent FMA chains on every
// thread of a pool at once (two cores of one machine may not both reach their one-core rate).
#pragma once

#include "kernels/thread_pool.h"

namespace tandem {

// 8-wide single-precision FMAs of all the pool's threads together, in GFLOP/s (2 per lane), the best
// of `passes` runs; 0 on a CPU below AVX2 (no FMA).
double fma_peak_gflops(thread_pool& pool, int passes);

}  // namespace tandem
