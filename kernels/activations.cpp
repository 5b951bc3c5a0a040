#include "kernels/activations.h"

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"

namespace tandem {
namespace {

const cpu::activation_kernels& activation_ops() {
    static const cpu::activation_kernels ref_ops{op_swiglu, op_geglu_tanh, op_softcap};
    const cpu::kernel_table* t = cpu::table_where([](const cpu::kernel_table& t) { return t.activations != nullptr; });
    return t ? *t->activations : ref_ops;
}

}  // namespace

void activation_swiglu(const float* gate, const float* up, float* out, int64_t n) {
    activation_ops().swiglu(gate, up, out, n);
}

void activation_geglu_tanh(const float* gate, const float* up, float* out, int64_t n) {
    activation_ops().geglu_tanh(gate, up, out, n);
}

void activation_softcap(float* x, int64_t n, float c) {
    activation_ops().softcap(x, n, c);
}

}  // namespace tandem
