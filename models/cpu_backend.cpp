// CPU implementations of the backend ops on the host arena.
#include "models/cpu_backend.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>

#include "common/check.h"
#include "common/error.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/pack.h"
#include "kernels/quant.h"
#include "kernels/thread_pool.h"
#include "models/gguf/gguf.h"

namespace tandem {
namespace {

// Runs fn(r, c0, c1) over the columns [c0, c1) of rows r < rows, split over the pool: for the
// elementwise activations, whose exp or tanh per element costs about as much as a matmul row's share
// of a small step. Each element's value is the same however the work is split.
template <class F>
void for_each_span(thread_pool& pool, int64_t rows, int64_t cols, const F& fn) {
    constexpr int64_t k_grain = 2048;
    pool.parallel_for(rows * cols, k_grain, [&fn, cols](int64_t b, int64_t e) {
        while (b < e) {
            const int64_t r = b / cols, c0 = b % cols, c1 = std::min(cols, c0 + (e - b));
            fn(r, c0, c1);
            b += c1 - c0;
        }
    });
}

// TANDEM_CPU_PACK=0 keeps every weight in the mapped file (no packed copies: less load time, and the
// layout the unpacked kernels read, as before).
bool packing_enabled() {
    static const bool on = [] {
        const char* env = std::getenv("TANDEM_CPU_PACK");
        return !env || std::string_view(env) != "0";
    }();
    return on;
}

}  // namespace

cpu_backend::cpu_backend(thread_pool& pool) : pool_(pool) {}

weight cpu_backend::load_weight(const gguf::tensor_info& t, weight_use use) {
    weight w;
    w.type = t.type;
    w.n_in = t.ne[0];
    w.n_out = t.n_elements / t.ne[0];
    w.host = t.data;
    // A matmul operand the kernels read faster packed gets its packed copy (the loader then releases
    // the mapped original's pages); embed reads rows from the mapping, so a tied table's rows page back
    // in as tokens use them (a few of the vocabulary's), and a table read by rows only is not copied.
    if (use != weight_use::rows && packing_enabled() && t.n_dims == 2 && matmul_packs(w.type, w.n_out, w.n_in)) {
        uint8_t* p = packed_alloc(pack_bytes(w.type, w.n_out, w.n_in));
        const int64_t n_groups = w.n_out / k_pack_rows;
        pool_.parallel_for(n_groups, 16, [&](int64_t b, int64_t e) {
            pack_weight(w.type, t.data, w.n_in, b * k_pack_rows, e * k_pack_rows, p);
        });
        w.packed = p;
    }
    return w;
}

cpu_backend::anon_memory::anon_memory(size_t n) {
    constexpr size_t k_huge = size_t{2} << 20;
    size = (n + k_huge - 1) / k_huge * k_huge;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw error("out of memory for a packed weight copy of " + std::to_string(n) + " bytes");
    madvise(p, size, MADV_HUGEPAGE);  // advisory: without it the copy is slower to make, not wrong
    data = static_cast<uint8_t*>(p);
}

uint8_t* cpu_backend::packed_alloc(size_t n) {
    constexpr size_t k_chunk = size_t{64} << 20;
    n = (n + 63) / 64 * 64;
    if (packed_.empty() || packed_.back()->size - packed_used_ < n) {
        packed_.push_back(std::make_unique<anon_memory>(std::max(n, k_chunk)));
        packed_used_ = 0;
    }
    uint8_t* p = packed_.back()->data + packed_used_;
    packed_used_ += n;
    return p;
}

cpu_backend::anon_memory::~anon_memory() {
    munmap(data, size);
}

void cpu_backend::alloc_kv(std::span<const kv_group_spec> specs, dtype type, int32_t block_size, int64_t n_blocks) {
    kv_.clear();
    pools_.clear();
    for (const kv_group_spec& s : specs) {
        pools_.emplace_back(s, type, block_size, n_blocks);
        kv_.push_back(pools_.back().view());
    }
}

size_t cpu_backend::kv_bytes() const {
    size_t n = 0;
    for (const kv_pool& p : pools_) n += p.mapped_bytes();
    return n;
}

batch_layout cpu_backend::begin(const batch& b) {
    batch_ = &b;
    arena_used_ = 0;
    tokens_.clear();
    positions_.clear();
    token_seq_.clear();
    seq_row0_.clear();
    for (size_t s = 0; s < b.seqs.size(); ++s) {
        const batch_seq& seq = b.seqs[s];
        seq_row0_.push_back(static_cast<int64_t>(tokens_.size()));
        for (size_t i = 0; i < seq.tokens.size(); ++i) {
            tokens_.push_back(seq.tokens[i]);
            positions_.push_back(seq.pos0 + static_cast<int32_t>(i));
            token_seq_.push_back(static_cast<int32_t>(s));
        }
    }
    return {static_cast<int64_t>(tokens_.size()), b.n_logit_rows()};
}

act cpu_backend::alloc(int64_t rows, int64_t cols) {
    act a{arena_used_, rows, cols, cols};
    arena_used_ += rows * cols;
    if (static_cast<int64_t>(arena_.size()) < arena_used_) arena_.resize(static_cast<size_t>(arena_used_ * 3 / 2));
    return a;
}

const float* cpu_backend::weight_f32(const weight& w) {
    TANDEM_CHECK(w.type == dtype::f32);
    return static_cast<const float*>(w.host);
}

void cpu_backend::embed(const weight& table, act out) {
    const size_t row_bytes = dtype_row_bytes(table.type, table.n_in);
    for (size_t t = 0; t < tokens_.size(); ++t) {
        TANDEM_CHECK(tokens_[t] >= 0 && tokens_[t] < table.n_out);
        const auto* src = static_cast<const uint8_t*>(table.host) + static_cast<size_t>(tokens_[t]) * row_bytes;
        dequantize_row(table.type, src, ptr(out) + t * out.stride, table.n_in);
    }
}

void cpu_backend::matmul(const weight& w, act x, act y) {
    TANDEM_CHECK(x.cols == w.n_in && y.cols == w.n_out && x.rows == y.rows);
    if (x.stride == x.cols && y.stride == y.cols) {
        tandem::matmul(w.type, w.host, w.n_out, w.n_in, ptr(x), x.rows, ptr(y), pool_, w.packed);
        return;
    }
    // Strided views: pack into contiguous scratch first.
    const int64_t mark = arena_used_;
    act xc = alloc(x.rows, x.cols), yc = alloc(y.rows, y.cols);
    xc.stride = x.cols;
    yc.stride = y.cols;
    for (int64_t r = 0; r < x.rows; ++r) std::memcpy(ptr(xc) + r * x.cols, ptr(x) + r * x.stride, 4 * x.cols);
    tandem::matmul(w.type, w.host, w.n_out, w.n_in, ptr(xc), x.rows, ptr(yc), pool_, w.packed);
    for (int64_t r = 0; r < y.rows; ++r) std::memcpy(ptr(y) + r * y.stride, ptr(yc) + r * y.cols, 4 * y.cols);
    arena_used_ = mark;
}

void cpu_backend::add_row(act y, const weight& b) {
    const float* bias = weight_f32(b);
    for (int64_t r = 0; r < y.rows; ++r) {
        float* row = ptr(y) + r * y.stride;
        for (int64_t c = 0; c < y.cols; ++c) row[c] += bias[c];
    }
}

void cpu_backend::add(act a, act b, act out) {
    for (int64_t r = 0; r < a.rows; ++r) {
        const float* pa = ptr(a) + r * a.stride;
        const float* pb = ptr(b) + r * b.stride;
        float* po = ptr(out) + r * out.stride;
        for (int64_t c = 0; c < a.cols; ++c) po[c] = pa[c] + pb[c];
    }
}

void cpu_backend::scale(act x, float s) {
    for (int64_t r = 0; r < x.rows; ++r) {
        float* p = ptr(x) + r * x.stride;
        for (int64_t c = 0; c < x.cols; ++c) p[c] *= s;
    }
}

void cpu_backend::scale_by(act x, const weight& scalar) {
    scale(x, weight_f32(scalar)[0]);
}

void cpu_backend::rmsnorm(act x, act out, int64_t group, const weight* w, float eps) {
    const float* wp = w ? weight_f32(*w) : nullptr;
    for (int64_t r = 0; r < x.rows; ++r) {
        for (int64_t c = 0; c < x.cols; c += group) {
            op_rmsnorm(ptr(x) + r * x.stride + c, ptr(out) + r * out.stride + c, group, wp, eps);
        }
    }
}

void cpu_backend::rope(act x, int64_t head_dim, const rope_spec& spec) {
    TANDEM_CHECK(spec.cfg.freq_factors == nullptr);  // the factors come as a weight
    rope_config cfg = spec.cfg;
    // rope_freqs is f32 (checked at load) and mapped: read in place.
    if (spec.freq_factors) cfg.freq_factors = static_cast<const float*>(spec.freq_factors->host);
    for (int64_t r = 0; r < x.rows; ++r) {
        op_rope(ptr(x) + r * x.stride, x.cols / head_dim, head_dim, positions_[r], cfg);
    }
}

void cpu_backend::swiglu(act gate, act up, act out) {
    for_each_span(pool_, gate.rows, gate.cols, [&](int64_t r, int64_t c0, int64_t c1) {
        activation_swiglu(ptr(gate) + r * gate.stride + c0, ptr(up) + r * up.stride + c0,
                          ptr(out) + r * out.stride + c0, c1 - c0);
    });
}

void cpu_backend::geglu_tanh(act gate, act up, act out) {
    for_each_span(pool_, gate.rows, gate.cols, [&](int64_t r, int64_t c0, int64_t c1) {
        activation_geglu_tanh(ptr(gate) + r * gate.stride + c0, ptr(up) + r * up.stride + c0,
                              ptr(out) + r * out.stride + c0, c1 - c0);
    });
}

void cpu_backend::softcap(act x, float c) {
    for_each_span(pool_, x.rows, x.cols, [&](int64_t r, int64_t c0, int64_t c1) {
        activation_softcap(ptr(x) + r * x.stride + c0, c1 - c0, c);
    });
}

void cpu_backend::kv_store(int32_t group, int32_t layer_slot, act k, act v) {
    const kv_group_view& kv = kv_[group];
    for (int64_t t = 0; t < k.rows; ++t) {
        const batch_seq& seq = batch_->seqs[token_seq_[t]];
        kv_write_token(kv, layer_slot, seq.block_table[group].data(), positions_[t], ptr(k) + t * k.stride,
                       ptr(v) + t * v.stride);
    }
}

void cpu_backend::attention(int32_t group, int32_t layer_slot, act q, act out, int64_t n_heads, float scale,
                            int32_t sliding_window, bool see_self) {
    const kv_group_view& kv = kv_[group];
    const int64_t n_kv = kv.n_kv_heads, hd = kv.head_dim, n_group = n_heads / n_kv;
    TANDEM_CHECK(n_group * n_kv == n_heads && q.cols == n_heads * hd);
    // Work items: (sequence, KV head, chunk of up to k_chunk query rows), each one attention_paged
    // call, which reads the block runs its queries see once for all of them. A sequence's last chunks
    // come first: they see the most keys, and the threads claim items in order, so the cheap ones are
    // left to even out the end (a 512-token prompt's last claim held a quarter of the work).
    constexpr int64_t k_chunk = 32;
    attn_items_.clear();
    for (size_t s = 0; s < batch_->seqs.size(); ++s) {
        const int64_t r0 = seq_row0_[s], n = static_cast<int64_t>(batch_->seqs[s].tokens.size());
        for (int64_t c = (n - 1) / k_chunk * k_chunk; c >= 0; c -= k_chunk) {
            for (int64_t kh = 0; kh < n_kv; ++kh) attn_items_.push_back({r0 + c, r0 + std::min(n, c + k_chunk), kh, s});
        }
    }
    auto visible = [&](int64_t t) {
        const int32_t pos = positions_[t];
        const int32_t end = see_self ? pos + 1 : pos;
        const int32_t begin = sliding_window > 0 && pos + 1 > sliding_window ? pos + 1 - sliding_window : 0;
        return std::pair<int32_t, int32_t>{begin, end};
    };
    const float* qbase = ptr(q);
    float* obase = ptr(out);
    pool_.parallel_for(static_cast<int64_t>(attn_items_.size()), 1, [&](int64_t lo, int64_t hi) {
        thread_local attn_scratch scratch;
        thread_local std::vector<attn_query> queries;
        for (int64_t i = lo; i < hi; ++i) {
            const attn_item& it = attn_items_[static_cast<size_t>(i)];
            queries.clear();
            for (int64_t t = it.row_begin; t < it.row_end; ++t) {
                attn_query& aq = queries.emplace_back();
                aq.q = qbase + t * q.stride + it.kv_head * n_group * hd;
                aq.out = obase + t * out.stride + it.kv_head * n_group * hd;
                aq.n_group = static_cast<int32_t>(n_group);
                std::tie(aq.k_begin, aq.k_end) = visible(t);
            }
            attention_paged(kv, layer_slot, batch_->seqs[it.seq].block_table[group].data(),
                            static_cast<int32_t>(it.kv_head), queries, scale, scratch);
        }
    });
}

void cpu_backend::gather_logit_rows(act x, act out) {
    int64_t o = 0;
    for (size_t s = 0; s < batch_->seqs.size(); ++s) {
        for (int32_t r : batch_->seqs[s].logit_rows) {
            std::memcpy(ptr(out) + o * out.stride, ptr(x) + (seq_row0_[s] + r) * x.stride, 4 * x.cols);
            ++o;
        }
    }
}

void cpu_backend::read(act x, std::span<float> dst) {
    TANDEM_CHECK(static_cast<int64_t>(dst.size()) >= x.rows * x.cols);
    for (int64_t r = 0; r < x.rows; ++r) std::memcpy(dst.data() + r * x.cols, ptr(x) + r * x.stride, 4 * x.cols);
}

void cpu_backend::write(act x, std::span<const float> src) {
    TANDEM_CHECK(static_cast<int64_t>(src.size()) >= x.rows * x.cols);
    for (int64_t r = 0; r < x.rows; ++r) std::memcpy(ptr(x) + r * x.stride, src.data() + r * x.cols, 4 * x.cols);
}

}  // namespace tandem
