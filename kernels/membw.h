// Memory bandwidth as the decode bound sees it: a STREAM-like triad over arrays far larger than
// the caches, split over a thread pool.
#pragma once

#include <cstdint>

#include "kernels/thread_pool.h"

namespace tandem {

// a = b + s * c over three arrays of n_floats floats; bytes read and written per second (GB/s),
// the best of `passes` runs: on a shared machine interference only lowers the figure.
double triad_gbps(thread_pool& pool, int64_t n_floats, int passes);

}  // namespace tandem
