// The codebooks of the IQ1 / IQ2 / IQ3 weight types (kernels/iq_grids.cpp, written by
// scripts/iq_grids.py). Point i is its codes in bytes, element k in byte k: magnitudes for the IQ2
// and IQ3 tables (the signs are stored apart), int8 values in {-1, 0, 1} for iq1s.
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace tandem {

extern const uint64_t k_iq2xxs_grid[256];
extern const uint64_t k_iq2xs_grid[512];
extern const uint64_t k_iq2s_grid[1024];
extern const uint32_t k_iq3xxs_grid[256];
extern const uint32_t k_iq3s_grid[512];
extern const uint64_t k_iq1s_grid[2048];

// The types that read these codebooks: iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m.
inline bool iq_codebook_type(dtype t) {
    switch (t) {
        case dtype::iq2_xxs:
        case dtype::iq2_xs:
        case dtype::iq2_s:
        case dtype::iq3_xxs:
        case dtype::iq3_s:
        case dtype::iq1_s:
        case dtype::iq1_m:
            return true;
        default:
            return false;
    }
}

// Byte k of a point.
inline int iq_point_byte(uint64_t point, int k) {
    return static_cast<int8_t>(point >> (8 * k));
}

}  // namespace tandem
