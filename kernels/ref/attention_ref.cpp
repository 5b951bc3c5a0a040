// Scalar attention of one query group over gathered K/V rows: the oracle for the SIMD versions and
// the path at the scalar level.
#include <cstring>

#include "kernels/ops.h"
#include "kernels/ref/ref.h"

namespace tandem::ref {
namespace {

// A dot product with 16 partial sums in a fixed order: the same result for the same inputs
// wherever it is called from.
float dot16(const float* a, const float* b, int64_t n) {
    float acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
    }
    for (; i < n; ++i) acc[i % 16] += a[i] * b[i];
    float s = 0.0f;
    for (int j = 0; j < 16; ++j) s += acc[j];
    return s;
}

}  // namespace

void attend(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group, float* out,
            float scale, float* scores) {
    for (int32_t g = 0; g < n_group; ++g) {
        const float* qg = q + g * hd;
        float* sg = scores + g * n_keys;
        for (int64_t j = 0; j < n_keys; ++j) sg[j] = dot16(qg, k + j * hd, hd) * scale;
        op_softmax(sg, n_keys);
        float* og = out + g * hd;
        std::memset(og, 0, sizeof(float) * hd);
        for (int64_t j = 0; j < n_keys; ++j) {
            const float p = sg[j];
            const float* vj = v + j * hd;
            for (int64_t d = 0; d < hd; ++d) og[d] += p * vj[d];
        }
    }
}

}  // namespace tandem::ref
