// Small helpers shared by the benchmark executables.
#pragma once

#include <chrono>

namespace tandem::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace tandem::bench
