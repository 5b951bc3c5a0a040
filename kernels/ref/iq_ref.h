// Reference row decoders of the IQ1 / IQ2 / IQ3 codebook types (dequant_iq_ref.cpp), entries of
// the decoder table in dequant_ref.cpp. n is a multiple of 256.
#pragma once

#include <cstdint>

namespace tandem::ref {

void deq_iq2_xxs(const void* src, float* dst, int64_t n);
void deq_iq2_xs(const void* src, float* dst, int64_t n);
void deq_iq2_s(const void* src, float* dst, int64_t n);
void deq_iq3_xxs(const void* src, float* dst, int64_t n);
void deq_iq3_s(const void* src, float* dst, int64_t n);
void deq_iq1_s(const void* src, float* dst, int64_t n);
void deq_iq1_m(const void* src, float* dst, int64_t n);

}  // namespace tandem::ref
