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

void attn_scores(const float* q, const float* k, int64_t n, int64_t hd, float scale, float* s) {
    for (int64_t j = 0; j < n; ++j) s[j] = dot16(q, k + j * hd, hd) * scale;
}

void attn_accumulate(const float* p, const float* v, int64_t n, int64_t hd, float* out) {
    for (int64_t j = 0; j < n; ++j) {
        for (int64_t d = 0; d < hd; ++d) out[d] += p[j] * v[j * hd + d];
    }
}

void attend(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group, float* out,
            float scale, float* scores) {
    for (int32_t g = 0; g < n_group; ++g) {
        float* sg = scores + g * n_keys;
        attn_scores(q + g * hd, k, n_keys, hd, scale, sg);
        op_softmax(sg, n_keys);
        std::memset(out + g * hd, 0, sizeof(float) * hd);
        attn_accumulate(sg, v, n_keys, hd, out + g * hd);
    }
}

}  // namespace tandem::ref
