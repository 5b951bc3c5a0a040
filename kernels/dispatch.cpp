// CPU feature detection (GCC's __builtin_cpu_supports also checks that the OS saves the registers).
#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace tandem {
namespace {

cpu_level detect_once() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vnni");
    if (avx512) return cpu_level::avx512;
    if (avx2) return cpu_level::avx2;
#endif
    return cpu_level::scalar;
}

cpu_level env_cap(cpu_level detected) {
    const char* env = std::getenv("TANDEM_CPU");
    if (!env || !*env) return detected;
    const std::string v = env;
    cpu_level want;
    if (v == "scalar")
        want = cpu_level::scalar;
    else if (v == "avx2")
        want = cpu_level::avx2;
    else if (v == "avx512")
        want = cpu_level::avx512;
    else
        throw error("TANDEM_CPU must be scalar, avx2 or avx512, got '" + v + "'");
    return want < detected ? want : detected;
}

std::atomic<int> g_override{-1};

}  // namespace

cpu_level cpu_level_detect() {
    static const cpu_level level = detect_once();
    return level;
}

cpu_level cpu_level_active() {
    const int o = g_override.load(std::memory_order_relaxed);
    if (o >= 0) return static_cast<cpu_level>(o);
    static const cpu_level level = env_cap(cpu_level_detect());
    return level;
}

void cpu_level_set(cpu_level level) {
    if (level > cpu_level_detect()) {
        throw error(std::string("cpu_level_set: this CPU does not support ") + cpu_level_name(level) +
                    " (it supports up to " + cpu_level_name(cpu_level_detect()) + ")");
    }
    g_override.store(static_cast<int>(level));
}

const char* cpu_level_name(cpu_level level) {
    switch (level) {
        case cpu_level::scalar:
            return "scalar";
        case cpu_level::avx2:
            return "avx2";
        case cpu_level::avx512:
            return "avx512";
    }
    return "?";
}

}  // namespace tandem
