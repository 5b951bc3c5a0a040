// Vulkan implementations of the backend ops: each records a dispatch into the device's command
// buffer, the recorder putting a barrier before it only where it reads or overwrites what an earlier
// op since the last barrier touched (vk::recorder::track); read() submits and waits.
#include "models/vulkan_backend.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "common/error.h"
#include "kernels/vulkan/vk_weights.h"
#include "models/gguf/gguf.h"
#include "models/kv_pool.h"

namespace tandem {
namespace {

constexpr uint64_t k_align = 256;  // every sub-slice of the inputs starts on a bindable offset

uint64_t align_up(uint64_t n) {
    return (n + k_align - 1) / k_align * k_align;
}

vk::slice sub(const vk::slice& s, uint64_t offset, uint64_t size) {
    return {s.buffer, s.offset + offset, size, s.mapped ? static_cast<uint8_t*>(s.mapped) + offset : nullptr, s.chunk};
}

uint32_t u32(int64_t v) {
    TANDEM_CHECK(v >= 0 && v <= UINT32_MAX);
    return static_cast<uint32_t>(v);
}

}  // namespace

vulkan_device::vulkan_device(const vk::device_info& d, const std::string& pipeline_cache)
    : ctx(d),
      pipelines(ctx, pipeline_cache),
      device_mem(ctx, vk::memory_kind::device),
      host_mem(ctx, vk::memory_kind::host),
      rec(ctx),
      ops(pipelines, rec) {}

void vulkan_device::ensure_codebooks() {
    if (codebooks) return;
    const std::vector<uint32_t> words = vk::codebook_words();
    const uint64_t bytes = words.size() * 4;
    codebooks = device_mem.alloc(bytes);
    if (codebooks.mapped) {
        std::memcpy(codebooks.mapped, words.data(), bytes);
    } else {
        const vk::slice s = host_mem.alloc(bytes);
        std::memcpy(s.mapped, words.data(), bytes);
        rec.begin();
        rec.copy(s, codebooks, bytes);
        rec.submit_and_wait();
        host_mem.free(s);
    }
    ops.set_codebooks(codebooks);
}

vulkan_backend::vulkan_backend(std::shared_ptr<vulkan_device> dev) : dev_(std::move(dev)) {
    const uint64_t bytes = std::min<uint64_t>(dev_->device_mem.max_slice_bytes(), uint64_t{512} << 20);
    arena_ = dev_->device_mem.alloc(bytes);
    arena_floats_ = static_cast<int64_t>(bytes / 4);
}

vulkan_backend::~vulkan_backend() {
    // Nothing may still run on the memory given back. A lost device has nothing running, and a
    // destructor must not throw: the context's vkDeviceWaitIdle is all that is left to do.
    if (dev_->rec.recording()) {
        try {
            dev_->rec.submit_and_wait();
        } catch (const error&) {
        }
    }
    for (device_weight& w : weights_)
        for (weight_part& p : w.parts) dev_->device_mem.free(p.data);
    for (device_kv& k : kv_) dev_->device_mem.free(k.pool);
    for (auto& [key, s] : rope_tables_) dev_->host_mem.free(s);
    dev_->device_mem.free(arena_);
    dev_->host_mem.free(inputs_);
    dev_->host_mem.free(staging_);
}

int64_t vulkan_backend::max_kv_blocks(const vulkan_device& dev, std::span<const kv_group_spec> specs, dtype kv_type,
                                      int32_t block_size) {
    int64_t most = INT64_MAX;
    for (const kv_group_spec& s : specs) {
        const vk::kv_device_layout l(kv_type, block_size, s.n_kv_heads, s.head_dim, s.n_layers);
        most = std::min<int64_t>(most, static_cast<int64_t>(dev.device_mem.max_slice_bytes() / (4ull * l.block_words)));
    }
    return most;
}

weight vulkan_backend::load_weight(const gguf::tensor_info& t, weight_use) {
    weight w;
    w.type = t.type;
    w.n_in = t.ne[0];
    w.n_out = t.n_elements / t.ne[0];
    w.host = t.data;
    device_weight d;
    d.format = vk::format_for(t.type, w.n_in);
    if (d.format >= vk::weight_format::iq2_xxs) dev_->ensure_codebooks();
    d.n_in = u32(w.n_in);
    d.n_out = u32(w.n_out);
    const auto rows_per_part =
        static_cast<uint64_t>(vk::rows_per_part(t.type, w.n_in, dev_->device_mem.max_slice_bytes()));
    for (uint64_t r0 = 0; r0 < d.n_out; r0 += rows_per_part) {
        const auto rows = static_cast<uint32_t>(std::min<uint64_t>(rows_per_part, d.n_out - r0));
        const std::vector<uint32_t> words = vk::repack_rows(t.type, t.data, w.n_in, static_cast<int64_t>(r0), rows);
        const uint64_t bytes = words.size() * 4;
        weight_part part{dev_->device_mem.alloc(bytes), static_cast<uint32_t>(r0), rows};
        if (part.data.mapped) {
            std::memcpy(part.data.mapped, words.data(), bytes);
        } else {
            const vk::slice s = dev_->host_mem.alloc(bytes);
            std::memcpy(s.mapped, words.data(), bytes);
            dev_->rec.begin();
            dev_->rec.copy(s, part.data, bytes);
            dev_->rec.submit_and_wait();
            dev_->host_mem.free(s);
        }
        d.parts.push_back(part);
    }
    w.handle = static_cast<int32_t>(weights_.size());
    weights_.push_back(std::move(d));
    return w;
}

void vulkan_backend::alloc_kv(std::span<const kv_group_spec> specs, dtype type, int32_t block_size, int64_t n_blocks) {
    for (device_kv& k : kv_) dev_->device_mem.free(k.pool);
    kv_.clear();
    if (n_blocks <= 0 || n_blocks > INT32_MAX)
        throw error("kv cache: block count must be in [1, 2^31), got " + std::to_string(n_blocks));
    for (const kv_group_spec& s : specs) {
        kv_block_bytes(s, type, block_size);  // the checks every backend makes: spec, type, head_dim
        vk::kv_device_layout l(type, block_size, s.n_kv_heads, s.head_dim, s.n_layers);
        const uint64_t bytes = 4ull * l.block_words * static_cast<uint64_t>(n_blocks);
        if (bytes > dev_->device_mem.max_slice_bytes())
            throw error("Vulkan: a KV pool of " + std::to_string(bytes >> 20) +
                        " MiB exceeds the device's buffer range of " +
                        std::to_string(dev_->device_mem.max_slice_bytes() >> 20) + " MiB: lower --kv-memory");
        kv_.push_back({l, dev_->device_mem.alloc(bytes)});
    }
}

size_t vulkan_backend::kv_bytes() const {
    size_t n = 0;
    for (const device_kv& k : kv_) n += k.pool.size;
    return n;
}

const vulkan_backend::device_weight& vulkan_backend::dw(const weight& w) const {
    TANDEM_CHECK(w.handle >= 0 && static_cast<size_t>(w.handle) < weights_.size());
    return weights_[static_cast<size_t>(w.handle)];
}

vk::view vulkan_backend::view(act a) const {
    return {arena_, u32(a.offset), u32(a.rows), u32(a.cols), u32(a.stride)};
}

void vulkan_backend::ensure_recording() {
    if (!dev_->rec.recording()) dev_->rec.begin();
}

vk::slice vulkan_backend::stage(uint64_t bytes) {
    bytes = align_up(bytes);
    if (!staging_ || staging_used_ + bytes > staging_.size) {
        // Only between submits: nothing recorded may still read the old staging area.
        TANDEM_CHECK(!dev_->rec.recording() || dev_->rec.dispatches() == 0 || staging_used_ == 0);
        dev_->host_mem.free(staging_);
        staging_ = dev_->host_mem.alloc(std::max<uint64_t>(bytes, uint64_t{4} << 20));
        staging_used_ = 0;
    }
    const vk::slice s = sub(staging_, staging_used_, bytes);
    staging_used_ += bytes;
    return s;
}

batch_layout vulkan_backend::begin(const batch& b) {
    if (dev_->rec.recording()) dev_->rec.submit_and_wait();  // ops recorded after the last read
    batch_ = &b;
    arena_used_ = 0;
    staging_used_ = 0;
    seq_row0_.clear();
    std::vector<int32_t> tokens, positions, tokpos;
    table_stride_ = 1;
    for (const batch_seq& s : b.seqs)
        for (size_t g = 0; g < kv_.size(); ++g) table_stride_ = std::max(table_stride_, u32(s.block_table[g].size()));
    std::vector<std::vector<int32_t>> tables(kv_.size()), slots(kv_.size());
    for (size_t si = 0; si < b.seqs.size(); ++si) {
        const batch_seq& s = b.seqs[si];
        seq_row0_.push_back(static_cast<int64_t>(tokens.size()));
        for (size_t g = 0; g < kv_.size(); ++g) {
            std::vector<int32_t>& t = tables[g];
            t.insert(t.end(), s.block_table[g].begin(), s.block_table[g].end());
            t.resize((si + 1) * table_stride_, 0);
        }
        for (size_t i = 0; i < s.tokens.size(); ++i) {
            const int32_t pos = s.pos0 + static_cast<int32_t>(i);
            tokens.push_back(s.tokens[i]);
            positions.push_back(pos);
            tokpos.push_back(pos), tokpos.push_back(static_cast<int32_t>(si));
            for (size_t g = 0; g < kv_.size(); ++g) {
                const int32_t bs = static_cast<int32_t>(kv_[g].layout.block_size);
                const auto bi = static_cast<size_t>(pos / bs);
                slots[g].push_back(bi < s.block_table[g].size() ? s.block_table[g][bi] * bs + pos % bs : 0);
            }
        }
    }
    // One host-visible area for all of it; the previous forward has finished with it.
    std::vector<std::pair<const std::vector<int32_t>*, vk::slice*>> parts{{&tokens, &tokens_s_}, {&tokpos, &tokpos_s_}};
    vk::slice positions_s;
    parts.push_back({&positions, &positions_s});
    tables_s_.assign(kv_.size(), {});
    slots_s_.assign(kv_.size(), {});
    for (size_t g = 0; g < kv_.size(); ++g)
        parts.push_back({&tables[g], &tables_s_[g]}), parts.push_back({&slots[g], &slots_s_[g]});
    uint64_t total = 0;
    for (auto& [v, s] : parts) total += align_up(std::max<size_t>(v->size(), 1) * 4);
    if (total > inputs_bytes_) {
        dev_->host_mem.free(inputs_);
        inputs_bytes_ = std::max(total, inputs_bytes_ * 2);
        inputs_ = dev_->host_mem.alloc(inputs_bytes_);
    }
    uint64_t at = 0;
    for (auto& [v, s] : parts) {
        const uint64_t bytes = std::max<size_t>(v->size(), 1) * 4;
        *s = sub(inputs_, at, bytes);
        std::memcpy(s->mapped, v->data(), v->size() * 4);
        at += align_up(bytes);
    }
    positions_s_ = positions_s;
    dev_->rec.begin();
    return {static_cast<int64_t>(tokens.size()), b.n_logit_rows()};
}

act vulkan_backend::alloc(int64_t rows, int64_t cols) {
    act a{arena_used_, rows, cols, cols};
    arena_used_ += rows * cols;
    if (arena_used_ > arena_floats_)
        throw error("Vulkan: this batch needs more than the " + std::to_string(arena_floats_ * 4 >> 20) +
                    " MiB activation arena (lower --batch-size)");
    return a;
}

void vulkan_backend::embed(const weight& table, act out) {
    const device_weight& d = dw(table);
    for (const weight_part& p : d.parts) dev_->ops.embed(d.format, p.data, p.row0, p.rows, tokens_s_, view(out));
}

void vulkan_backend::matmul(const weight& w, act x, act y) {
    const device_weight& d = dw(w);
    TANDEM_CHECK(x.cols == w.n_in && y.cols == w.n_out && x.rows == y.rows);
    for (const weight_part& p : d.parts) {
        vk::view yp = view(y);
        yp.off += p.row0;
        yp.cols = p.rows;
        dev_->ops.matmul(d.format, p.data, view(x), yp);
    }
}

void vulkan_backend::add_row(act y, const weight& b) {
    const device_weight& d = dw(b);
    TANDEM_CHECK(d.format == vk::weight_format::f32 && d.parts.size() == 1);
    dev_->ops.eltwise(vk::eltwise_op::add, view(y), {d.parts[0].data, 0, 1, u32(y.cols), 0}, view(y));
}

void vulkan_backend::add(act a, act b, act out) {
    dev_->ops.eltwise(vk::eltwise_op::add, view(a), view(b), view(out));
}

void vulkan_backend::scale(act x, float s) {
    dev_->ops.eltwise(vk::eltwise_op::scale, view(x), view(x), view(x), s);
}

void vulkan_backend::scale_by(act x, const weight& scalar) {
    const device_weight& d = dw(scalar);
    dev_->ops.eltwise(vk::eltwise_op::mul, view(x), {d.parts[0].data, 0, 1, 1, 0}, view(x));
}

void vulkan_backend::rmsnorm(act x, act out, int64_t group, const weight* w, float eps) {
    dev_->ops.rmsnorm(view(x), w ? dw(*w).parts[0].data : vk::slice{}, view(out), u32(group), eps);
}

void vulkan_backend::rope(act x, int64_t head_dim, const rope_spec& spec) {
    TANDEM_CHECK(spec.cfg.freq_factors == nullptr);  // the factors come as a weight
    const rope_config& cfg = spec.cfg;
    const auto key = std::make_tuple(cfg.n_rot, cfg.freq_base, spec.freq_factors ? spec.freq_factors->handle : -1);
    auto it = rope_tables_.find(key);
    if (it == rope_tables_.end()) {
        // The per-pair frequencies, built once per (n_rot, base, factors) from the factors' file
        // bytes (f32, checked at load; the device copy holds the same).
        const float* factors = spec.freq_factors ? static_cast<const float*>(spec.freq_factors->host) : nullptr;
        const std::vector<float> f = vk::rope_frequencies(cfg.n_rot, cfg.freq_base, factors);
        const vk::slice s = dev_->host_mem.alloc(std::max<size_t>(f.size(), 1) * 4);
        std::memcpy(s.mapped, f.data(), f.size() * 4);
        it = rope_tables_.emplace(key, s).first;
    }
    dev_->ops.rope(view(x), positions_s_, it->second, u32(x.cols / head_dim), u32(head_dim), u32(cfg.n_rot),
                   cfg.freq_scale, cfg.neox);
}

void vulkan_backend::swiglu(act gate, act up, act out) {
    dev_->ops.eltwise(vk::eltwise_op::swiglu, view(gate), view(up), view(out));
}

void vulkan_backend::geglu_tanh(act gate, act up, act out) {
    dev_->ops.eltwise(vk::eltwise_op::geglu_tanh, view(gate), view(up), view(out));
}

void vulkan_backend::softcap(act x, float c) {
    dev_->ops.eltwise(vk::eltwise_op::softcap, view(x), view(x), view(x), c);
}

void vulkan_backend::kv_store(int32_t group, int32_t layer_slot, act k, act v) {
    const device_kv& kv = kv_[static_cast<size_t>(group)];
    dev_->ops.kv_store(kv.layout, kv.pool, u32(layer_slot), view(k), view(v), slots_s_[static_cast<size_t>(group)]);
}

void vulkan_backend::attention(int32_t group, int32_t layer_slot, act q, act out, int64_t n_heads, float scale,
                               int32_t sliding_window, bool see_self) {
    const device_kv& kv = kv_[static_cast<size_t>(group)];
    vk::ops::attention_args a;
    a.n_heads = u32(n_heads);
    a.layer_slot = u32(layer_slot);
    a.table_stride = table_stride_;
    a.scale = scale;
    a.window = sliding_window;
    a.see_self = see_self;
    dev_->ops.attention(kv.layout, kv.pool, view(q), view(out), tokpos_s_, tables_s_[static_cast<size_t>(group)], a);
}

void vulkan_backend::gather_logit_rows(act x, act out) {
    std::vector<VkBufferCopy> regions;
    int64_t o = 0;
    for (size_t s = 0; s < batch_->seqs.size(); ++s) {
        for (int32_t r : batch_->seqs[s].logit_rows) {
            regions.push_back({arena_.offset + 4 * static_cast<uint64_t>(x.offset + (seq_row0_[s] + r) * x.stride),
                               arena_.offset + 4 * static_cast<uint64_t>(out.offset + o * out.stride),
                               4 * static_cast<uint64_t>(x.cols)});
            ++o;
        }
    }
    dev_->rec.copy_regions(arena_.buffer, arena_.buffer, regions);
}

std::vector<VkBufferCopy> vulkan_backend::row_regions(act x, const vk::slice& packed, bool to_packed) const {
    const uint64_t row = 4 * static_cast<uint64_t>(x.cols);
    std::vector<VkBufferCopy> regions;
    for (int64_t r = 0; r < x.rows; ++r) {
        const uint64_t in_arena = arena_.offset + 4 * static_cast<uint64_t>(x.offset + r * x.stride);
        const uint64_t in_packed = packed.offset + row * static_cast<uint64_t>(r);
        regions.push_back(to_packed ? VkBufferCopy{in_arena, in_packed, row} : VkBufferCopy{in_packed, in_arena, row});
    }
    return regions;
}

void vulkan_backend::read(act x, std::span<float> dst) {
    TANDEM_CHECK(static_cast<int64_t>(dst.size()) >= x.rows * x.cols);
    ensure_recording();
    const uint64_t row = 4 * static_cast<uint64_t>(x.cols);
    const vk::slice s = stage(row * static_cast<uint64_t>(x.rows));
    dev_->rec.copy_regions(arena_.buffer, s.buffer, row_regions(x, s, true));
    dev_->rec.submit_and_wait();
    std::memcpy(dst.data(), s.mapped, row * static_cast<uint64_t>(x.rows));
    staging_used_ = 0;
    dev_->rec.begin();  // a later op of the same forward records into a fresh command buffer
}

void vulkan_backend::write(act x, std::span<const float> src) {
    TANDEM_CHECK(static_cast<int64_t>(src.size()) >= x.rows * x.cols);
    ensure_recording();
    const uint64_t row = 4 * static_cast<uint64_t>(x.cols);
    const vk::slice s = stage(row * static_cast<uint64_t>(x.rows));
    std::memcpy(s.mapped, src.data(), row * static_cast<uint64_t>(x.rows));
    dev_->rec.copy_regions(s.buffer, arena_.buffer, row_regions(x, s, false));
}

}  // namespace tandem
