// Every block type Tandem decodes against llama.cpp's own decoder (dequantize_row_<type> in the
// peer's libggml-base, loaded at run time): the reference decoder and the SIMD dequantize of every
// level this CPU has give the peer's floats exactly, on random blocks with sane scales and on raw
// random bytes (where both may give NaN or infinity). The IQ codebooks (kernels/iq_grids.cpp) were
// read out of that decoder; this test is what holds them and the block layouts to it.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "kernels/ref/ref.h"
#include "tests/kernels/random_inputs.h"
#include "tests/peer_lib.h"

namespace tandem {
namespace {

using peer_decoder = void (*)(const void*, float*, int64_t);

void* peer_handle() {
    static void* const handle = [] {
        const std::string path = test::peer_library(TANDEM_SHARED_DIR, "libggml-base.so");
        return path.empty() ? nullptr : dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    }();
    return handle;
}

std::vector<dtype> block_types() {
    std::vector<dtype> v;
    for (uint32_t id = 0; id < 64; ++id) {
        const std::optional<dtype_info> info = dtype_lookup(id);
        if (info && info->computable && info->block_elems > 1) v.push_back(static_cast<dtype>(id));
    }
    return v;
}

// Equal floats (so bitwise equal but for the sign of a zero: the AVX2 decoders' code * scale - min
// gives +0 where llama.cpp's (code - offset) * scale may give -0), or both not finite (raw bytes hold
// infinite and NaN scales, and 0 * inf and inf - inf are NaN where a different order gives inf).
bool same(float a, float b) {
    return (!std::isfinite(a) && !std::isfinite(b)) || a == b;
}

// n elements decoded by Tandem's reference, by every SIMD level, and by the peer: all the same bits.
void expect_peer_floats(dtype t, const std::vector<uint8_t>& w, int64_t n, peer_decoder peer, const char* what) {
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    peer(w.data(), want.data(), n);
    ref::dequantize_row(t, w.data(), got.data(), n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (same(got[i], want[i])) continue;
        if (++bad <= 3)
            ADD_FAILURE() << what << ": reference element " << i << " is " << got[i] << ", llama.cpp's " << want[i];
    }
    for (cpu_level level : test::levels()) {
        test::level_guard guard;
        cpu_level_set(level);
        std::fill(got.begin(), got.end(), 0.0f);
        dequantize_row(t, w.data(), got.data(), n);
        int64_t bad_level = 0;
        for (int64_t i = 0; i < n; ++i) {
            if (same(got[i], want[i])) continue;
            if (++bad_level <= 3)
                ADD_FAILURE() << what << ": " << cpu_level_name(level) << " element " << i << " is " << got[i]
                              << ", llama.cpp's " << want[i];
        }
    }
}

TEST(DecodersPeer, EveryBlockTypeDecodesAsLlamaCpp) {
    void* lib = peer_handle();
    ASSERT_NE(lib, nullptr) << "llama.cpp's libggml-base.so under " << TANDEM_SHARED_DIR
                            << "/peer/lib is missing or does not load ("
                            << (test::peer_library(TANDEM_SHARED_DIR, "libggml-base.so").empty() ? "absent" : dlerror())
                            << "): it is this test's oracle";
    test::seeded_rng rng;
    for (dtype t : block_types()) {
        const dtype_info& info = dtype_info_of(t);
        SCOPED_TRACE(std::string(info.name));
        const std::string symbol = "dequantize_row_" + std::string(info.name);
        const auto peer = reinterpret_cast<peer_decoder>(dlsym(lib, symbol.c_str()));
        ASSERT_NE(peer, nullptr) << "llama.cpp's library has no " << symbol;
        // 1024 super-blocks: every point of the largest codebook (2048 points, 32 drawn per super-block)
        // is drawn about 16 times, so a wrong point is all but certain to show.
        const int64_t n = 1024 * 256;
        expect_peer_floats(t, test::random_weights(t, 1, n, rng), n, peer, "sane scales");
        std::vector<uint8_t> raw(dtype_row_bytes(t, n));
        for (uint8_t& b : raw) b = static_cast<uint8_t>(rng());
        expect_peer_floats(t, raw, n, peer, "random bytes");
    }
}

}  // namespace
}  // namespace tandem
