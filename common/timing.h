// Wall-clock timing for benchmarks and CLI timings: a steady clock and the seconds since a point.
#pragma once

#include <chrono>

namespace tandem {

using steady_clock = std::chrono::steady_clock;

inline double seconds_since(steady_clock::time_point t0) {
    return std::chrono::duration<double>(steady_clock::now() - t0).count();
}

}  // namespace tandem
