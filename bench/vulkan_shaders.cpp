// Per-shader timings of the Vulkan backend on one device: each op at model-like shapes, recorded
// `reps` times into one command buffer with a barrier after each (the worst case, every op reading
// the last), submitted once; the figure is the wall time per dispatch. On lavapipe these only rank
// the shaders against each other; on a GPU, matmul's GB/s against the device's memory bandwidth is
// the number to watch.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_device.h"
#include "kernels/vulkan/vk_kv.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_ops.h"
#include "kernels/vulkan/vk_pipeline.h"
#include "kernels/vulkan/vk_weights.h"

using namespace tandem;
using namespace tandem::vk;

namespace {

struct rig {
    context ctx;
    pipelines pl;
    allocator dev, host;
    recorder rec;
    ops op;
    explicit rig(const device_info& d)
        : ctx(d), pl(ctx), dev(ctx, memory_kind::device), host(ctx, memory_kind::host), rec(ctx), op(pl, rec) {
        op.set_codebooks(upload(codebook_words()));
    }
    // A device slice holding `bytes` of the given words (uploaded through a host slice).
    slice upload(const std::vector<uint32_t>& words) {
        const uint64_t bytes = words.size() * 4;
        const slice d = dev.alloc(bytes), h = host.alloc(bytes);
        std::memcpy(h.mapped, words.data(), bytes);
        rec.begin();
        rec.copy(h, d, bytes);
        rec.submit_and_wait();
        host.free(h);
        return d;
    }
    slice zeros(uint64_t words) { return upload(std::vector<uint32_t>(words, 0)); }
    // Microseconds per dispatch of `record` (which records one op), over reps.
    template <class F>
    double time_us(int reps, F&& record) {
        rec.begin();
        record();  // warm-up: pipeline creation, first touch
        rec.barrier();
        rec.submit_and_wait();
        rec.begin();
        for (int i = 0; i < reps; ++i) {
            record();
            rec.barrier();
        }
        const auto t0 = std::chrono::steady_clock::now();
        rec.submit_and_wait();
        const auto t1 = std::chrono::steady_clock::now();
        return std::chrono::duration<double, std::micro>(t1 - t0).count() / reps;
    }
};

// Types the CPU quantizer cannot write (the K-quants) get random bytes: the values do not matter
// to the timing.
std::vector<uint32_t> random_weights(dtype t, uint32_t n_out, uint32_t n_in, std::mt19937& rng) {
    std::vector<uint8_t> bytes(dtype_row_bytes(t, n_in) * n_out);
    if (quantize_row_supported(t)) {
        std::uniform_real_distribution<float> u(-1, 1);
        std::vector<float> f(size_t{n_out} * n_in);
        for (float& x : f) x = u(rng);
        for (uint32_t o = 0; o < n_out; ++o)
            quantize_row(t, f.data() + size_t{o} * n_in, bytes.data() + o * dtype_row_bytes(t, n_in), n_in);
    } else {
        for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    }
    return repack_rows(t, bytes.data(), n_in, 0, n_out);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Per-shader timings of the Vulkan backend"};
    std::string device;
    int reps = 20;
    uint32_t dim = 2048;
    app.add_option("--device", device, "vulkan:N (default: the first Vulkan device of any type)");
    app.add_option("--reps", reps, "Dispatches per figure")->check(CLI::Range(1, 10000));
    app.add_option("--dim", dim, "Model width: matmul is dim x dim, norms and activations rows of dim")
        ->check(CLI::Range(64, 16384));
    CLI11_PARSE(app, argc, argv);
    try {
        const std::vector<device_info> all = list_devices();
        if (all.empty()) throw std::runtime_error("no Vulkan device (install mesa-vulkan-drivers for lavapipe)");
        const device_info d = device.empty() ? all.front() : pick_device(device);
        rig r(d);
        std::printf("device %s (%s), %d dispatches per figure, dim %u\n", d.name.c_str(), d.type.c_str(), reps, dim);
        std::printf("%-34s %12s %12s\n", "op", "us/dispatch", "GB/s");
        // The device's memory bandwidth, the bound of a decode step (every weight byte read once):
        // one buffer copied to another, bytes read and written over the time.
        {
            const uint64_t bytes = std::min<uint64_t>(r.dev.max_slice_bytes(), uint64_t{64} << 20);
            const slice a = r.dev.alloc(bytes), b = r.dev.alloc(bytes);
            const double us = r.time_us(reps, [&] { r.rec.copy(a, b, bytes); });
            const std::string name = "copy " + std::to_string(bytes >> 20) + " MiB (memory bandwidth)";
            std::printf("%-34s %12.1f %12.2f\n", name.c_str(), us, 2.0 * static_cast<double>(bytes) / us / 1e3);
            r.dev.free(a);
            r.dev.free(b);
        }
        std::mt19937 rng(1);
        const uint32_t rows_max = 64;  // matmul's largest batch (the tiled shader); other ops take 16
        const slice x = r.zeros(size_t{dim} * rows_max * 4), y = r.zeros(size_t{dim} * rows_max * 4);
        for (dtype t : {dtype::f32, dtype::f16, dtype::q8_0, dtype::q4_0, dtype::q5_0, dtype::q4_k, dtype::q6_k}) {
            const std::vector<uint32_t> words = random_weights(t, dim, dim, rng);
            const slice w = r.upload(words);
            for (uint32_t rows : {1u, 4u, 8u, 16u, 64u}) {
                const double us = r.time_us(reps, [&] {
                    r.op.matmul(format_for(t, dim), w, {x, 0, rows, dim, dim}, {y, 0, rows, dim, dim});
                });
                const std::string name =
                    "matmul " + std::string(dtype_info_of(t).name) + " " + std::to_string(rows) + " rows";
                std::printf("%-34s %12.1f %12.2f\n", name.c_str(), us,
                            static_cast<double>(words.size()) * 4 / us / 1e3);
            }
            r.dev.free(w);
        }
        const view v16{x, 0, 16, dim, dim}, o16{y, 0, 16, dim, dim};
        std::printf("%-34s %12.1f\n", "add (16 rows)",
                    r.time_us(reps, [&] { r.op.eltwise(eltwise_op::add, v16, v16, o16); }));
        std::printf("%-34s %12.1f\n", "swiglu (16 rows)",
                    r.time_us(reps, [&] { r.op.eltwise(eltwise_op::swiglu, v16, v16, o16); }));
        std::printf("%-34s %12.1f\n", "rmsnorm (16 rows)",
                    r.time_us(reps, [&] { r.op.rmsnorm(v16, slice{}, o16, dim, 1e-6f); }));
        const std::vector<float> freqs = rope_frequencies(64, 10000.0f, nullptr);
        std::vector<uint32_t> fw(freqs.size()), pos(16);
        std::memcpy(fw.data(), freqs.data(), freqs.size() * 4);
        for (uint32_t i = 0; i < 16; ++i) pos[i] = 100 + i;
        const slice sf = r.upload(fw), sp = r.upload(pos);
        std::printf("%-34s %12.1f\n", "rope (16 rows, head dim 64)",
                    r.time_us(reps, [&] { r.op.rope(v16, sp, sf, dim / 64, 64, 64, 1.0f, true); }));
        // Attention: one sequence of `ctx` cached tokens, 16 query rows, 8 KV heads of 64, GQA 4.
        for (dtype kt : {dtype::f16, dtype::q8_0, dtype::q4_0}) {
            for (uint32_t ctx_len : {512u, 2048u}) {
                const kv_device_layout l(kt, 16, 8, 64, 1);
                const uint32_t n_blocks = ctx_len / 16;
                const slice pool = r.zeros(uint64_t{l.block_words} * n_blocks);
                std::vector<uint32_t> table(n_blocks), tokpos;
                for (uint32_t b = 0; b < n_blocks; ++b) table[b] = b;
                for (uint32_t i = 0; i < 16; ++i) tokpos.push_back(ctx_len - 16 + i), tokpos.push_back(0);
                const slice st = r.upload(table), stp = r.upload(tokpos);
                ops::attention_args a;
                a.n_heads = 32, a.table_stride = n_blocks, a.scale = 0.125f;
                const uint32_t qw = 32 * 64;
                const double us = r.time_us(reps, [&] {
                    r.op.attention(l, pool, {x, 0, 16, qw, qw}, {y, 0, 16, qw, qw}, stp, st, a);
                });
                const std::string name =
                    "attention " + std::string(dtype_info_of(kt).name) + " ctx " + std::to_string(ctx_len) + " x16";
                std::printf("%-34s %12.1f %12.2f\n", name.c_str(), us,
                            static_cast<double>(l.block_words) * 4 * n_blocks / us / 1e3);
                r.dev.free(pool);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_vulkan: %s\n", e.what());
        return 1;
    }
    return 0;
}
