#include "kernels/membw.h"

#include <algorithm>
#include <vector>

#include "common/timing.h"

namespace tandem {

double triad_gbps(thread_pool& pool, int64_t n_floats, int passes) {
    std::vector<float> a(static_cast<size_t>(n_floats)), b(a.size(), 1.0f), c(a.size(), 2.0f);
    double best = 0;
    for (int rep = 0; rep < passes; ++rep) {
        const auto t = steady_clock::now();
        pool.parallel_for(n_floats, 1 << 16, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + 3.0f * c[i];
        });
        const double s = seconds_since(t);
        best = std::max(best, 3.0 * 4.0 * static_cast<double>(n_floats) / s / 1e9);
    }
    return best;
}

}  // namespace tandem
