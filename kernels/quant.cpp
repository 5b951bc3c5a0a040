// Dispatch of the row codecs: SIMD fast paths where the active level has one, the reference otherwise.
#include "kernels/quant.h"

#include "common/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

namespace tandem {

namespace cpu {
const kernel_table* kernels_for(cpu_level level) {
    switch (level) {
        case cpu_level::avx512:
            return avx512_kernels();
        case cpu_level::avx2:
            return avx2_kernels();
        case cpu_level::scalar:
            return nullptr;
    }
    return nullptr;
}
}  // namespace cpu

void dequantize_row(dtype t, const void* src, float* dst, int64_t n) {
    TANDEM_CHECK(n >= 0 && n % dtype_info_of(t).block_elems == 0);
    const cpu::kernel_table* k = cpu::kernels_for(cpu_level_active());
    if (k && k->dequantize(t, src, dst, n)) return;
    ref::dequantize_row(t, src, dst, n);
}

void quantize_row(dtype t, const float* src, void* dst, int64_t n) {
    // f16 (the default KV cache type) through F16C: the same round-to-nearest-even as the reference,
    // bit for bit except NaN payloads.
    if (t == dtype::f16 && cpu_level_active() >= cpu_level::avx2) {
        cpu::avx2_to_f16(src, static_cast<uint16_t*>(dst), n);
        return;
    }
    ref::quantize_row(t, src, dst, n);
}

bool quantize_row_supported(dtype t) {
    return ref::quantize_supported(t);
}

}  // namespace tandem
