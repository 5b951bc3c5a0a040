// Wall-clock timing for benchmarks and CLI timings: a steady clock and the seconds since a point.
#pragma once

#include <chrono>

namespace tandem {

using steady_clock = std::chrono::steady_clock;

inline double seconds_between(steady_clock::time_point t0, steady_clock::time_point t1) {
    return std::chrono::duration<double>(t1 - t0).count();
}

inline double seconds_since(steady_clock::time_point t0) {
    return seconds_between(t0, steady_clock::now());
}

}  // namespace tandem
