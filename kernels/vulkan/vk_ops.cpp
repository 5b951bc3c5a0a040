#include "kernels/vulkan/vk_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/check.h"
#include "common/error.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_pipeline.h"

namespace tandem::vk {
namespace {

// Workgroups (x, y) for n_groups, x <= 65535.
void grid(uint64_t n_groups, uint32_t& gx, uint32_t& gy) {
    constexpr uint64_t k_max = 65535;
    if (n_groups > k_max * k_max) throw error("Vulkan: a dispatch of " + std::to_string(n_groups) + " workgroups");
    n_groups = std::max<uint64_t>(n_groups, 1);
    gx = static_cast<uint32_t>(std::min(n_groups, k_max));
    gy = static_cast<uint32_t>((n_groups + gx - 1) / gx);
}

// The bytes a view covers (its first element to its last), and a whole slice's.
access span_of(const view& v, bool write) {
    const uint64_t lo = v.buf.offset + 4ull * v.off;
    const uint64_t n = v.rows == 0 || v.cols == 0 ? 0 : uint64_t{v.rows - 1} * v.stride + v.cols;
    return {v.buf.buffer, lo, lo + 4 * n, write};
}
access reads(const view& v) {
    return span_of(v, false);
}
access writes(const view& v) {
    return span_of(v, true);
}
access reads(const slice& s) {
    return {s.buffer, s.offset, s.offset + s.size, false};
}
access writes(const slice& s) {
    return {s.buffer, s.offset, s.offset + s.size, true};
}

}  // namespace

std::vector<float> rope_frequencies(int32_t n_rot, float freq_base, const float* factors) {
    std::vector<float> f(static_cast<size_t>(n_rot / 2));
    for (int32_t i = 0; i < n_rot / 2; ++i) {
        f[static_cast<size_t>(i)] = std::pow(freq_base, -2.0f * static_cast<float>(i) / static_cast<float>(n_rot)) /
                                    (factors ? factors[i] : 1.0f);
    }
    return f;
}

matmul_plan matmul_plan_for(const device_info& d) {
    matmul_plan m;
    const char* off = std::getenv("TANDEM_VK_NO_SUBGROUP");
    const bool pow2 = d.subgroup_size >= 4 && (d.subgroup_size & (d.subgroup_size - 1)) == 0;
    m.subgroup = d.subgroup_arithmetic && pow2 && d.subgroup_size <= 128 && !(off && std::strcmp(off, "1") == 0);
    // One subgroup per output where the device has them, else 16 lanes; 64-256 invocations.
    m.lanes = pow2 && d.subgroup_size <= 128 ? d.subgroup_size : 16;
    m.outs = std::max<uint32_t>(1, 64 / m.lanes) * (m.lanes <= 16 ? 1 : 2);
    while (m.outs > 1 && m.outs * m.lanes > d.max_workgroup_invocations) m.outs /= 2;
    // Tiles of 16 rows, where matmul_tiled.comp's shared memory fits: 16 x (lanes x 32) activations
    // and the tree's 16 x WG. (On lavapipe 32 rows spill the accumulators and run 2x slower.)
    const uint64_t tile_bytes = 4ull * 16 * (m.lanes * 32 + m.outs * m.lanes);
    m.tile_rows = tile_bytes <= d.max_shared_bytes ? 16 : 0;
    return m;
}

ops::ops(pipelines& pl, recorder& rec) : pl_(pl), rec_(rec), plan_(matmul_plan_for(pl.ctx().info())) {}

slice ops::codebooks_for(weight_format f, const slice& w) const {
    if (f < weight_format::iq2_xxs) return codebooks_ ? codebooks_ : w;
    TANDEM_CHECK(codebooks_);  // set_codebooks first: the IQ formats read them
    return codebooks_;
}

void ops::matmul(weight_format f, const slice& w, const view& x, const view& y) {
    TANDEM_CHECK(x.rows == y.rows && x.cols % unit_elems(f) == 0);
    // Above 8 rows the tiled shader: the same sums (matmul_lanes.glsl), with fewer weight decodes.
    const bool tiled = x.rows > 8 && plan_.tile_rows > 0;
    const uint32_t spec[] = {plan_.outs * plan_.lanes, static_cast<uint32_t>(f), plan_.outs, plan_.subgroup ? 1u : 0u,
                             plan_.tile_rows};
    // The _tree modules have no subgroupAdd in them (a device without it may not be given one).
    const char* name =
        tiled ? (plan_.subgroup ? "matmul_tiled" : "matmul_tiled_tree") : (plan_.subgroup ? "matmul" : "matmul_tree");
    const pipeline& p = pl_.get(name, 4, 28, std::span(spec, tiled ? 5 : 4));
    const uint32_t push[] = {x.cols, y.cols, x.rows, x.off, x.stride, y.off, y.stride};
    uint32_t gx, gy;
    grid((y.cols + plan_.outs - 1) / plan_.outs, gx, gy);
    rec_.track({reads(w), reads(x), writes(y)});
    rec_.dispatch(p, {w, x.buf, y.buf, codebooks_for(f, w)}, push, gx, gy);
}

void ops::embed(weight_format f, const slice& table, uint32_t row0, uint32_t n_rows, const slice& tokens,
                const view& out) {
    const uint32_t spec[] = {static_cast<uint32_t>(f)};
    const pipeline& p = pl_.get("embed", 4, 24, spec);
    const uint32_t push[] = {out.cols, n_rows, row0, out.rows, out.off, out.stride};
    TANDEM_CHECK(out.cols % unit_elems(f) == 0);
    uint32_t gx, gy;
    grid((uint64_t{out.rows} * (out.cols / unit_elems(f)) + 255) / 256, gx, gy);
    rec_.track({reads(table), reads(tokens), writes(out)});
    rec_.dispatch(p, {table, tokens, out.buf, codebooks_for(f, table)}, push, gx, gy);
}

void ops::eltwise(eltwise_op op, const view& a, const view& b, const view& out, float c) {
    TANDEM_CHECK(out.rows == a.rows && out.cols == a.cols);
    TANDEM_CHECK((b.rows == a.rows || b.rows == 1) && (b.cols == a.cols || b.cols == 1));
    const uint32_t spec[] = {static_cast<uint32_t>(op)};
    const pipeline& p = pl_.get("eltwise", 3, 40, spec);
    struct {
        uint32_t rows, cols, a_off, a_stride, b_off, b_stride, b_cstep, o_off, o_stride;
        float c;
    } push{a.rows,  a.cols,     a.off, a.stride, b.off, b.rows == 1 ? 0u : b.stride, b.cols == 1 ? 0u : 1u,
           out.off, out.stride, c};
    uint32_t gx, gy;
    grid((uint64_t{a.rows} * a.cols + 255) / 256, gx, gy);
    rec_.track({reads(a), reads(b), writes(out)});
    rec_.dispatch(p, {a.buf, b.buf, out.buf}, &push, gx, gy);
}

void ops::rmsnorm(const view& x, const slice& w, const view& y, uint32_t group, float eps) {
    TANDEM_CHECK(group > 0 && x.cols % group == 0 && x.rows == y.rows && x.cols == y.cols);
    const pipeline& p = pl_.get("rmsnorm", 3, 36);
    struct {
        uint32_t n, groups_per_row, rows, x_off, x_stride, y_off, y_stride;
        float eps;
        uint32_t has_w;
    } push{group, x.cols / group, x.rows, x.off, x.stride, y.off, y.stride, eps, w ? 1u : 0u};
    uint32_t gx, gy;
    grid(uint64_t{x.rows} * (x.cols / group), gx, gy);
    rec_.track({reads(x), w ? reads(w) : reads(x), writes(y)});
    rec_.dispatch(p, {x.buf, w ? w : x.buf, y.buf}, &push, gx, gy);
}

void ops::rope(const view& x, const slice& positions, const slice& freqs, uint32_t n_heads, uint32_t head_dim,
               uint32_t n_rot, float freq_scale, bool neox) {
    TANDEM_CHECK(n_rot <= head_dim && n_rot % 2 == 0 && n_heads * head_dim <= x.cols);
    const pipeline& p = pl_.get("rope", 3, 32);
    struct {
        uint32_t n_tokens, n_heads, head_dim, n_rot, x_off, row_stride;
        float freq_scale;
        uint32_t neox;
    } push{x.rows, n_heads, head_dim, n_rot, x.off, x.stride, freq_scale, neox ? 1u : 0u};
    uint32_t gx, gy;
    grid((uint64_t{x.rows} * n_heads * (n_rot / 2) + 63) / 64, gx, gy);
    rec_.track({writes(x), reads(positions), reads(freqs)});  // in place
    rec_.dispatch(p, {x.buf, positions, freqs}, &push, gx, gy);
}

void ops::kv_store(const kv_device_layout& l, const slice& pool, uint32_t layer_slot, const view& k, const view& v,
                   const slice& slots) {
    TANDEM_CHECK(k.rows == v.rows && k.cols >= l.n_kv_heads * l.head_dim && v.cols >= l.n_kv_heads * l.head_dim);
    TANDEM_CHECK(k.buf.buffer == v.buf.buffer && k.buf.offset == v.buf.offset);  // both views of one arena
    const pipeline& p = pl_.get("kv_store", 3, 48);
    const uint32_t push[] = {k.rows,       l.n_kv_heads, l.head_dim, l.kv_type, l.block_size, l.block_words,
                             l.part_words, layer_slot,   k.off,      k.stride,  v.off,        v.stride};
    uint32_t gx, gy;
    grid((uint64_t{k.rows} * l.n_kv_heads * 2 + 63) / 64, gx, gy);
    TANDEM_CHECK(gy == 1);
    rec_.track({reads(k), reads(v), reads(slots), writes(pool)});
    rec_.dispatch(p, {k.buf, pool, slots}, push, gx, gy);
}

void ops::attention(const kv_device_layout& l, const slice& pool, const view& q, const view& out, const slice& tokens,
                    const slice& tables, const attention_args& a) {
    TANDEM_CHECK(a.n_heads % l.n_kv_heads == 0 && q.cols >= a.n_heads * l.head_dim && q.rows == out.rows);
    const pipeline& p = pl_.get("attention", 5, 68);
    struct {
        uint32_t n_tokens, n_heads, n_kv_heads, head_dim, kv_type, block_size, block_words, part_words, layer_slot,
            table_stride, q_off, q_stride, o_off, o_stride;
        float scale;
        int32_t window;
        uint32_t see_self;
    } push{q.rows,       a.n_heads,    l.n_kv_heads,        l.head_dim, l.kv_type, l.block_size, l.block_words,
           l.part_words, a.layer_slot, a.table_stride,      q.off,      q.stride,  out.off,      out.stride,
           a.scale,      a.window,     a.see_self ? 1u : 0u};
    uint32_t gx, gy;
    grid(uint64_t{q.rows} * a.n_heads, gx, gy);
    rec_.track({reads(q), reads(pool), reads(tokens), reads(tables), writes(out)});
    rec_.dispatch(p, {q.buf, out.buf, pool, tokens, tables}, &push, gx, gy);
}

}  // namespace tandem::vk
