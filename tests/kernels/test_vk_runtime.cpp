// The Vulkan runtime on this machine's device: enumeration and --device selection, the allocator's
// sub-allocation, a pipeline from embedded SPIR-V with specialization and push constants, command
// recording, and the on-disk pipeline cache. Without any Vulkan device these tests fail with one
// message saying so (CI installs lavapipe, Mesa's CPU driver).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_device.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_ops.h"
#include "kernels/vulkan/vk_pipeline.h"
#include "tests/kernels/vk_fixture.h"

namespace tandem::vk {
namespace {

TEST(VulkanDevices, SelectionNamesWhatExists) {
    const std::vector<device_info> all = list_devices();
    ASSERT_FALSE(all.empty()) << "no Vulkan 1.2 device on this machine (install mesa-vulkan-drivers for lavapipe)";
    for (const device_info& d : all) {
        EXPECT_FALSE(d.name.empty());
        EXPECT_GE(d.api_version, VK_API_VERSION_1_2);
        EXPECT_GT(d.max_storage_buffer_range, 0u);
        EXPECT_GT(d.max_workgroup_invocations, 0u);
        EXPECT_EQ(pick_device("vulkan:" + std::to_string(d.index)).name, d.name);
    }
    try {
        pick_device("vulkan:99");
        ADD_FAILURE() << "vulkan:99 was accepted";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("no such Vulkan device"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(all.front().name), std::string::npos) << "lists the devices: " << e.what();
    }
    for (const char* bad : {"gpu", "vulkan:", "vulkan:x", "vulkan:-1", "vulkan:12345"}) {
        try {
            pick_device(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const error&) {
        }
    }
    // A CPU device is not what plain "vulkan" means unless allowed.
    bool only_cpu = true;
    for (const device_info& d : all) only_cpu = only_cpu && d.is_cpu();
    if (only_cpu) {
        ::unsetenv("TANDEM_VK_ALLOW_CPU");
        EXPECT_THROW(pick_device("vulkan"), error);
        ::setenv("TANDEM_VK_ALLOW_CPU", "1", 1);
        EXPECT_EQ(pick_device("vulkan").index, all.front().index);
        ::unsetenv("TANDEM_VK_ALLOW_CPU");
    }
}

TEST_F(VulkanRuntime, AllocatorSubAllocatesAlignsAndMerges) {
    allocator a(*ctx, memory_kind::device, 1 << 20);
    const uint64_t align = ctx->min_storage_offset_alignment();
    const slice s1 = a.alloc(100), s2 = a.alloc(3000), s3 = a.alloc(1);
    EXPECT_EQ(a.chunks(), 1u);
    for (const slice& s : {s1, s2, s3}) {
        EXPECT_EQ(s.offset % align, 0u);
        EXPECT_EQ(s.buffer, s1.buffer);
    }
    EXPECT_GE(s2.offset, s1.offset + 100);
    EXPECT_GE(s3.offset, s2.offset + 3000);
    a.free(s2);
    const slice s4 = a.alloc(2000);  // first fit: the hole s2 left
    EXPECT_EQ(s4.offset, s2.offset);
    a.free(s1), a.free(s3), a.free(s4);
    EXPECT_EQ(a.bytes_in_use(), 0u);
    const slice whole = a.alloc(1 << 20);  // every hole merged back into one range
    EXPECT_EQ(whole.offset, 0u);
    EXPECT_EQ(a.chunks(), 1u);
    const slice more = a.alloc(1 << 20);  // a second chunk
    EXPECT_EQ(a.chunks(), 2u);
    EXPECT_NE(more.buffer, whole.buffer);
    try {
        a.alloc(a.max_slice_bytes() + 1);
        ADD_FAILURE() << "a slice over the storage buffer range was allocated";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("storage buffer range"), std::string::npos) << e.what();
    }
}

// Device memory stops at the device's heap size, or at TANDEM_VK_MEMORY_LIMIT_MIB (the test hook):
// past it alloc() throws naming the limit and the allocator stays usable; the last chunk shrinks to
// what the limit leaves.
TEST_F(VulkanRuntime, AllocatorRefusesPastItsLimit) {
    {
        allocator a(*ctx, memory_kind::device);
        const std::optional<heap_budget> b = ctx->memory_budget();
        EXPECT_EQ(b.has_value(), ctx->info().memory_budget);
        // lavapipe has no VK_EXT_memory_budget: the heap's size; a GPU: the room its budget leaves.
        EXPECT_EQ(a.limit_bytes(),
                  b ? std::min(b->budget - std::min(b->usage, b->budget), ctx->info().device_local_bytes)
                    : ctx->info().device_local_bytes);
    }
    ::setenv("TANDEM_VK_MEMORY_LIMIT_MIB", "3", 1);
    allocator a(*ctx, memory_kind::device);
    ::setenv("TANDEM_VK_MEMORY_LIMIT_MIB", "3x", 1);
    EXPECT_THROW(allocator(*ctx, memory_kind::device), error);
    ::unsetenv("TANDEM_VK_MEMORY_LIMIT_MIB");
    EXPECT_EQ(a.limit_bytes(), 3u << 20);
    const slice s1 = a.alloc(1 << 20), s2 = a.alloc(2 << 20);
    EXPECT_EQ(a.bytes_reserved(), 3u << 20);  // one chunk of what the limit allows, not 256 MiB
    try {
        a.alloc(1);
        ADD_FAILURE() << "allocated past the limit";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("TANDEM_VK_MEMORY_LIMIT_MIB"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("3 MiB already allocated"), std::string::npos) << e.what();
    }
    a.free(s1);
    EXPECT_EQ(a.alloc(1 << 20).offset, s1.offset);
    a.free(s2);
}

// The limit an allocator starts with: the test hook, else the room VK_EXT_memory_budget reports
// (budget less usage, never past the heap, nothing when over budget), else the heap's size; the
// source says which, for the out-of-memory error.
TEST(VulkanMemory, LimitComesFromTheHookTheBudgetOrTheHeap) {
    constexpr uint64_t M = 1 << 20;
    const memory_limit heap = device_memory_limit(2048 * M, std::nullopt, 0);
    EXPECT_EQ(heap.bytes, 2048 * M);
    EXPECT_EQ(heap.source, "the device's 2048 MiB of memory");
    const memory_limit budget = device_memory_limit(8192 * M, heap_budget{6000 * M, 1000 * M}, 0);
    EXPECT_EQ(budget.bytes, 5000 * M);
    EXPECT_NE(budget.source.find("memory budget of 5000 MiB (VK_EXT_memory_budget: 6000 MiB for this process, "
                                 "1000 MiB in use, of a 8192 MiB heap)"),
              std::string::npos)
        << budget.source;
    EXPECT_EQ(device_memory_limit(4096 * M, heap_budget{9000 * M, 0}, 0).bytes, 4096 * M);   // never past the heap
    EXPECT_EQ(device_memory_limit(4096 * M, heap_budget{1000 * M, 1200 * M}, 0).bytes, 0u);  // over budget
    EXPECT_EQ(device_memory_limit(4096 * M, heap_budget{0, 0}, 0).bytes, 4096 * M);  // a driver reporting no budget
    const memory_limit hook = device_memory_limit(8192 * M, heap_budget{6000 * M, 0}, 130 * M);
    EXPECT_EQ(hook.bytes, 130 * M);
    EXPECT_EQ(hook.source, "the limit of 130 MiB set by TANDEM_VK_MEMORY_LIMIT_MIB");
}

// y = x W^T on the device against double precision, at sizes that leave tails everywhere: rows
// not a multiple of the shader's 8 (11: the tiled shader), n_in not a multiple of the lanes, n_out
// over one grid row (65535 workgroups of 8 outputs); x and y are views at an offset with a row
// stride wider than the row, as activations in the arena.
TEST_F(VulkanRuntime, MatmulF32MatchesTheHost) {
    pipelines pl(*ctx);
    allocator dev(*ctx, memory_kind::device), host(*ctx, memory_kind::host);
    recorder rec(*ctx);
    ops op(pl, rec);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    struct shape {
        uint32_t n_in, n_out, n_rows;
    };
    // Both lane reductions where the device has subgroupAdd (matmul_plan), each shape once per plan.
    std::vector<matmul_plan> plans{op.plan()};
    if (op.plan().subgroup) plans.push_back(op.plan()), plans.back().subgroup = false;
    for (const matmul_plan& plan : plans) {
        SCOPED_TRACE(plan.subgroup ? "subgroupAdd" : "shared-memory tree");
        op.set_plan(plan);
        for (const shape sh :
             {shape{300, 37, 1}, shape{300, 37, 11}, shape{64, 5, 8}, shape{7, 530000, 2}, shape{1000, 3, 3}}) {
            SCOPED_TRACE("n_in " + std::to_string(sh.n_in) + " n_out " + std::to_string(sh.n_out) + " rows " +
                         std::to_string(sh.n_rows));
            const uint32_t x_off = 5, x_stride = sh.n_in + 3, y_off = 9, y_stride = sh.n_out + 1;
            std::vector<float> w(size_t{sh.n_in} * sh.n_out), x(x_off + size_t{x_stride} * sh.n_rows);
            for (float& v : w) v = u(rng);
            for (float& v : x) v = u(rng);
            const uint64_t wb = w.size() * 4, xb = x.size() * 4, yb = (y_off + size_t{y_stride} * sh.n_rows) * 4;
            const slice stage_w = host.alloc(wb), stage_x = host.alloc(xb), back = host.alloc(yb);
            const slice dw = dev.alloc(wb), dx = dev.alloc(xb), dy = dev.alloc(yb);
            std::memcpy(stage_w.mapped, w.data(), wb);
            std::memcpy(stage_x.mapped, x.data(), xb);
            rec.begin();
            rec.copy(stage_w, dw, wb);
            rec.copy(stage_x, dx, xb);
            rec.barrier();
            op.matmul(weight_format::f32, dw, {dx, x_off, sh.n_rows, sh.n_in, x_stride},
                      {dy, y_off, sh.n_rows, sh.n_out, y_stride});
            rec.barrier();
            rec.copy(dy, back, yb);
            rec.submit_and_wait();
            const float* y = static_cast<const float*>(back.mapped);
            for (uint32_t r = 0; r < sh.n_rows; ++r) {
                for (uint32_t o = 0; o < sh.n_out; ++o) {
                    double want = 0, mag = 0;
                    for (uint32_t i = 0; i < sh.n_in; ++i) {
                        const double t = double{w[size_t{o} * sh.n_in + i]} * x[x_off + size_t{r} * x_stride + i];
                        want += t, mag += std::fabs(t);
                    }
                    ASSERT_NEAR(y[y_off + size_t{r} * y_stride + o], want, 1e-6 * mag + 1e-7)
                        << "row " << r << " out " << o;
                }
            }
            for (const slice& s : {stage_w, stage_x, back}) host.free(s);
            for (const slice& s : {dw, dx, dy}) dev.free(s);
        }
    }
    // Per plan one pipeline for 1-8 rows and one for more (tiled), each made once.
    EXPECT_EQ(pl.size(), plans.size() * (op.plan().tile_rows > 0 ? 2 : 1));
}

TEST_F(VulkanRuntime, PipelineCacheGoesToDiskAndBack) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("tandem-vk-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string file = (dir / "pipelines.bin").string();
    const uint32_t spec[] = {64};
    {
        pipelines pl(*ctx, file);
        pl.get("matmul", 3, 28, spec);
    }
    ASSERT_TRUE(std::filesystem::exists(file));
    EXPECT_GT(std::filesystem::file_size(file), 16u);
    {
        pipelines pl(*ctx, file);  // read back: creating the same pipeline works from the cache
        EXPECT_NE(pl.get("matmul", 3, 28, spec).handle, VkPipeline{VK_NULL_HANDLE});
    }
    {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << "not a pipeline cache";
        pipelines pl(*ctx, file);  // garbage is ignored, not fatal
        EXPECT_NE(pl.get("matmul", 3, 28, spec).handle, VkPipeline{VK_NULL_HANDLE});
    }
    std::filesystem::remove_all(dir);
    try {
        pipelines(*ctx).get("no_such_shader", 1, 0);
        ADD_FAILURE() << "an unknown shader was accepted";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("no_such_shader"), std::string::npos);
    }
}

// TANDEM_VK_LOSE_DEVICE_AFTER, the test hook of the e2e device-loss test, read when a recorder is
// made: after N submits that ran shaders, each fence wait reports VK_ERROR_DEVICE_LOST as
// tandem::device_lost (copies alone neither count nor fail); a malformed value is refused. The
// variable is cleared at once, so no other recorder of this process sees it.
TEST_F(VulkanRuntime, LostDeviceHookThrowsDeviceLost) {
    bench_rig r(*ctx);
    const slice a = r.upload(std::vector<float>(64, 1.0f)), b = r.upload(std::vector<float>(64, 0.0f));
    setenv("TANDEM_VK_LOSE_DEVICE_AFTER", "x", 1);
    EXPECT_THROW(recorder{*ctx}, error);
    setenv("TANDEM_VK_LOSE_DEVICE_AFTER", "1", 1);
    recorder rec(*ctx);
    unsetenv("TANDEM_VK_LOSE_DEVICE_AFTER");
    ops op(r.pl, rec);
    const view va{a, 0, 1, 64, 64}, vb{b, 0, 1, 64, 64};
    auto run = [&](bool with_shader) {
        rec.begin();
        if (with_shader) op.eltwise(eltwise_op::add, va, va, vb);
        if (!with_shader) rec.copy(a, b, 256);
        rec.submit_and_wait();
    };
    run(true);   // the one submit allowed
    run(false);  // copies only: not counted
    try {
        run(true);
        ADD_FAILURE() << "the device was not lost";
    } catch (const device_lost& e) {
        EXPECT_NE(std::string(e.what()).find("VK_ERROR_DEVICE_LOST"), std::string::npos) << e.what();
    }
    EXPECT_THROW(run(true), device_lost) << "a lost device stays lost";
    EXPECT_NO_THROW(run(false));
}

TEST_F(VulkanRuntime, DispatchChecksItsBindings) {
    pipelines pl(*ctx);
    allocator dev(*ctx, memory_kind::device);
    recorder rec(*ctx);
    const uint32_t spec[] = {32};
    const pipeline& p = pl.get("matmul", 3, 28, spec);
    const slice s = dev.alloc(64);
    const uint32_t push[7] = {1, 1, 1};
    EXPECT_THROW(rec.dispatch(p, {s, s, s}, push, 1), error) << "outside begin()";
    rec.begin();
    EXPECT_THROW(rec.dispatch(p, {s, s}, push, 1), error) << "two buffers for a three-buffer pipeline";
    rec.submit_and_wait();
}

}  // namespace
}  // namespace tandem::vk
