// `tandem make-model --arch gemma4 | gemma4-assistant`: a synthetic Gemma 4 anchor and MTP assistant
// whose draft acceptance is set (--accept), for speculative-decoding benchmarks at realistic sizes.
//
// Each token gets a code, a point (d0, d1, d2) of Z_32 x Z_25 x Z_b2 (b2 = n_vocab / 800), written
// one-hot per digit: n_cd = 57 + b2 dimensions. The anchor's greedy next token is perm(t), the token
// whose code is code(t) + (1, 1, 1). Its residual stream carries the code of t twice: block A, which
// its last layer's FFN reads, and block B, which the tied LM head reads. That FFN is a lookup that
// writes code(perm t) into block B four times as strong as the embedding wrote code(t), and
// output_norm zeroes block A, so the LM head, a symmetric form (tied token_embd, diagonal norm), still
// picks perm(t): a symmetric form alone could only ever cycle between two tokens. Every other block
// computes with random weights but adds little to the residual (post norms of 0.005).
//
// The assistant maps its input token d through nextn.pre_projection straight to the code of its draft:
// d + (1, 1, 1) when d2 is in a set holding a fraction P of the values of d2 (accepted), d + (1, 1, 2)
// otherwise (rejected), and is sure of it either way. Along a generation d2 steps through all its
// values, so the per-position acceptance is P up to 1 / b2 (pick_accepted chooses the set). Tokens
// that are not normal (control, byte, unused) get codes on one orbit of perm (800 codes long) with
// the rarest normal tokens, so a prompt does not reach EOS.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "common/error.h"
#include "server/cli/make_model.h"

namespace tandem {
namespace {

struct gemma4_shape {
    int64_t dim, layers, heads, kv_heads, hd_swa, hd_full, ff, window, n_shared;  // anchor; every 5th layer full
    int64_t a_dim, a_layers, a_heads, a_ff;                                       // assistant; its last layer full
};

// gemma4-1b: an E2B-like anchor (no per-layer embeddings) at ~1B parameters with a 32000 vocab.
const std::map<std::string, gemma4_shape> k_gemma4_shapes = {
    {"gemma4-tiny", {256, 5, 4, 1, 64, 128, 512, 64, 0, 128, 2, 2, 256}},
    {"gemma4-1b", {1536, 25, 8, 1, 256, 512, 6144, 512, 10, 512, 4, 4, 2048}},
};

constexpr float k_eps_post = 0.005f;   // post-norm weight of the blocks that only compute
constexpr float k_alpha = 4.0f;        // code(perm t) written into block B, against code(t) at 1
constexpr float k_top_logit = 15.0f;   // anchor's logit for perm(t) before the softcap of 30
constexpr float k_draft_unit = 12.0f;  // assistant's logit per matching digit

// The token <-> code tables, the same for anchor and assistant given the same vocab and seed.
struct token_code {
    int64_t base[3] = {32, 25, 0};
    int64_t off[3] = {0, 32, 57};  // first dimension of each digit inside a code block
    int64_t n_codes = 0, n_cd = 0;
    std::vector<int32_t> code_of;   // (n_vocab): code, or -1 (an embedding of zeros)
    std::vector<int32_t> token_of;  // (n_codes)

    int64_t digit(int64_t c, int i) const {
        return i == 0 ? c % base[0] : i == 1 ? c / base[0] % base[1] : c / (base[0] * base[1]);
    }
    int64_t code_from(const int64_t d[3]) const { return d[0] + base[0] * (d[1] + base[1] * d[2]); }
    int64_t shifted(int64_t c, int64_t by2) const {
        const int64_t d[3] = {(digit(c, 0) + 1) % base[0], (digit(c, 1) + 1) % base[1], (digit(c, 2) + by2) % base[2]};
        return code_from(d);
    }
    // Sets value 1.0 (times v) at the code's dimension of each digit, from `at` on.
    void write(int64_t c, std::span<float> row, int64_t at, float v) const {
        for (int i = 0; i < 3; ++i) row[at + off[i] + digit(c, i)] = v;
    }
};

void shuffle(std::vector<int32_t>& v, make_rng& rng) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.next() % i]);
}

token_code make_token_code(const gguf::file& vocab, int64_t n_vocab, uint64_t seed) {
    token_code tc;
    tc.base[2] = n_vocab / (tc.base[0] * tc.base[1]);
    if (tc.base[2] < 3) throw error("gemma4 make-model needs a vocabulary of at least 2400 tokens");
    tc.n_codes = tc.base[0] * tc.base[1] * tc.base[2];
    tc.n_cd = tc.off[2] + tc.base[2];
    // Orbits of perm; the first holds code 0 and takes the tokens that must not come out.
    std::vector<int32_t> orbit(static_cast<size_t>(tc.n_codes), -1);
    int32_t n_orbits = 0;
    for (int64_t c0 = 0; c0 < tc.n_codes; ++c0) {
        if (orbit[c0] >= 0) continue;
        for (int64_t c = c0; orbit[c] < 0; c = tc.shifted(c, 1)) orbit[c] = n_orbits;
        ++n_orbits;
    }
    make_rng rng(seed ^ 0x5EED0C0DEull);
    std::vector<int32_t> codes, last;
    for (int32_t c = 0; c < tc.n_codes; ++c) (orbit[c] == 0 ? last : codes).push_back(c);
    shuffle(codes, rng), shuffle(last, rng);
    codes.insert(codes.end(), last.begin(), last.end());
    const auto types = vocab.get_int_array("tokenizer.ggml.token_type");
    std::vector<int32_t> tokens, special;
    for (int32_t t = 0; t < n_vocab; ++t) {
        const bool normal = !types || static_cast<int64_t>(types->size()) <= t || (*types)[t] == 1;
        (normal ? tokens : special).push_back(t);
    }
    tokens.insert(tokens.end(), special.begin(), special.end());
    tc.code_of.assign(static_cast<size_t>(n_vocab), -1);
    tc.token_of.resize(static_cast<size_t>(tc.n_codes));
    for (int64_t i = 0; i < tc.n_codes; ++i) {
        tc.code_of[tokens[i]] = codes[i];
        tc.token_of[codes[i]] = tokens[i];
    }
    return tc;
}

// The tensor list of an anchor or an assistant, built in file order; 2-D tensors take the --type.
struct gemma4_builder {
    const gemma4_shape& s;
    const token_code& tc;
    dtype wt;  // 2-D tensors; 1-D ones are f32 as llama-quantize leaves them
    std::vector<tensor_plan> plan;

    void matrix(const std::string& name, int64_t n_in, int64_t n_out, row_fn rows = {}) {
        plan.push_back({name, {n_in, n_out}, wt, std::move(rows)});
    }
    void vec(const std::string& name, int64_t n, row_fn rows = {}) {
        plan.push_back({name, {n}, dtype::f32, std::move(rows)});
    }
    static row_fn constant(float v) {
        return [v](int64_t, std::span<float> out) { std::fill(out.begin(), out.end(), v); };
    }
    // Full layers' RoPE frequency factors: the first quarter of the pairs rotate, the rest do not.
    void rope_freqs() {
        vec("rope_freqs.weight", s.hd_full / 2, [](int64_t, std::span<float> out) {
            for (size_t i = 0; i < out.size(); ++i) out[i] = i < out.size() / 4 ? 1.0f : 1e30f;
        });
    }
    // Q-side attention and the FFN of one layer, with post norms of k_eps_post unless given.
    void block(int64_t il, int64_t d, int64_t n_head, int64_t ff, bool swa, bool owns_kv, row_fn gate = {},
               row_fn up = {}, row_fn down = {}, row_fn post_ffw = {}) {
        const std::string p = "blk." + std::to_string(il) + ".";
        const int64_t hd = swa ? s.hd_swa : s.hd_full;
        vec(p + "attn_norm.weight", d);
        matrix(p + "attn_q.weight", d, n_head * hd);
        if (owns_kv) {
            matrix(p + "attn_k.weight", d, s.kv_heads * hd);
            matrix(p + "attn_v.weight", d, s.kv_heads * hd);
            vec(p + "attn_k_norm.weight", hd);
        }
        vec(p + "attn_q_norm.weight", hd);
        matrix(p + "attn_output.weight", n_head * hd, d);
        vec(p + "post_attention_norm.weight", d, constant(k_eps_post));
        vec(p + "layer_output_scale.weight", 1, constant(1.0f));
        vec(p + "ffn_norm.weight", d);
        matrix(p + "ffn_gate.weight", d, ff, std::move(gate));
        matrix(p + "ffn_up.weight", d, ff, std::move(up));
        matrix(p + "ffn_down.weight", ff, d, std::move(down));
        vec(p + "post_ffw_norm.weight", d, post_ffw ? std::move(post_ffw) : constant(k_eps_post));
    }
};

void common_meta(gguf_meta& m, const std::string& arch, const gemma4_shape& s, int64_t d, int64_t layers, int64_t heads,
                 int64_t ff, const std::vector<bool>& swa, int64_t n_shared) {
    auto u = [&](const std::string& k, int64_t v) { m.u32(arch + "." + k, static_cast<uint32_t>(v)); };
    u("context_length", 8192);
    u("embedding_length", d);
    u("block_count", layers);
    u("feed_forward_length", ff);
    u("attention.head_count", heads);
    u("attention.head_count_kv", s.kv_heads);
    m.f32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f);
    u("attention.key_length", s.hd_full);
    u("attention.value_length", s.hd_full);
    u("attention.key_length_swa", s.hd_swa);
    u("attention.value_length_swa", s.hd_swa);
    m.f32(arch + ".rope.freq_base", 1e6f);
    m.f32(arch + ".rope.freq_base_swa", 1e4f);
    u("rope.dimension_count", s.hd_full);
    u("rope.dimension_count_swa", s.hd_swa);
    u("attention.sliding_window", s.window);
    m.bools(arch + ".attention.sliding_window_pattern", swa);
    u("attention.shared_kv_layers", n_shared);
    u("embedding_length_per_layer_input", 0);
}

// The anchor's last layer: an FFN lookup from block A (dims [0, n_cd)) to block B ([n_cd, 2 n_cd)).
// Row r < n_cd of gate and up reads the A dimension of the digit value one below B slot r, so
// gelu(g) * u is ~16 for the three slots of code(perm t) and ~0 elsewhere; down copies row r to B.
void anchor_lookup(gemma4_builder& b, int64_t il, bool swa) {
    const gemma4_shape& s = b.s;
    const token_code& tc = b.tc;
    const int64_t n_cd = tc.n_cd;
    // rmsnorm(x) is sqrt(D / 6) on the six code dimensions of x; scale it to 4 at the gate.
    const float g = 4.0f / std::sqrt(static_cast<float>(s.dim) / 6.0f);
    auto src = [&tc](int64_t r) {  // the A dimension that feeds B slot r
        const int i = r < tc.off[1] ? 0 : r < tc.off[2] ? 1 : 2;
        return tc.off[i] + (r - tc.off[i] + tc.base[i] - 1) % tc.base[i];
    };
    auto gate_up = [=, seed = il](int64_t r, std::span<float> out) {
        if (r < n_cd) {
            out[src(r)] = g;
            return;
        }
        make_rng rng(static_cast<uint64_t>(r * 7919 + seed));
        for (float& v : out) v = rng.gauss(0.02f);
    };
    auto down = [=](int64_t r, std::span<float> out) {
        if (r >= n_cd && r < 2 * n_cd) out[r - n_cd] = 1.0f;
    };
    // The lookup's output is three equal values: rmsnorm makes them sqrt(D / 3); scale them to k_alpha.
    const float w_b = k_alpha * std::sqrt(3.0f / static_cast<float>(s.dim));
    auto post = [=](int64_t, std::span<float> out) {
        for (int64_t k = 0; k < static_cast<int64_t>(out.size()); ++k)
            out[k] = k >= n_cd && k < 2 * n_cd ? w_b : k_eps_post;
    };
    b.block(il, s.dim, s.heads, s.ff, swa, il < s.layers - s.n_shared, gate_up, gate_up, down, post);
}

void make_anchor(const gemma4_make_options& o, const gemma4_shape& s, const token_code& tc, dtype wt,
                 const gguf::file& vocab, int64_t n_vocab) {
    if (2 * tc.n_cd > s.dim) throw error("--shape " + o.shape + ": too narrow for this vocabulary's token codes");
    gemma4_builder b{s, tc, wt, {}};
    const float v = 1.0f / std::sqrt(static_cast<float>(s.dim));  // x = token_embd * sqrt(D) is 1 on the code
    b.matrix("token_embd.weight", s.dim, n_vocab, [&tc, v](int64_t t, std::span<float> row) {
        if (const int32_t c = tc.code_of[t]; c >= 0) tc.write(c, row, 0, v), tc.write(c, row, tc.n_cd, v);
    });
    // Block A off, block B scaled so that perm(t) scores k_top_logit: rmsnorm(x) on B is k_alpha / rms with
    // rms = sqrt((6 + 3 k_alpha^2) / D), and the LM head adds three such dims times v.
    const float w_out = k_top_logit * std::sqrt(6.0f + 3.0f * k_alpha * k_alpha) / (3.0f * k_alpha);
    b.vec("output_norm.weight", s.dim, [n_cd = tc.n_cd, w_out](int64_t, std::span<float> out) {
        for (int64_t k = 0; k < static_cast<int64_t>(out.size()); ++k)
            out[k] = k < n_cd ? 0.0f : k < 2 * n_cd ? w_out : 1.0f;
    });
    b.rope_freqs();
    std::vector<bool> swa(static_cast<size_t>(s.layers));
    for (int64_t il = 0; il < s.layers; ++il) {
        swa[il] = il % 5 != 4 && il != s.layers - 1;
        if (il == s.layers - 1) {
            anchor_lookup(b, il, swa[il]);
        } else {
            b.block(il, s.dim, s.heads, s.ff, swa[il], il < s.layers - s.n_shared);
        }
    }
    gguf_meta m;
    m.str("general.architecture", "gemma4");
    m.str("general.name", o.shape);
    m.u32("general.alignment", 32);
    common_meta(m, "gemma4", s, s.dim, s.layers, s.heads, s.ff, swa, s.n_shared);
    m.f32("gemma4.final_logit_softcapping", 30.0f);
    m.u32("general.file_type", wt == dtype::q8_0 ? 7 : wt == dtype::f16 ? 1 : 0);
    m.copy_vocab(vocab);
    const uint64_t bytes = make_model_write(o.out, m, b.plan, o.seed);
    int64_t params = 0;
    for (const tensor_plan& t : b.plan)
        params += std::accumulate(t.ne.begin(), t.ne.end(), int64_t{1}, std::multiplies{});
    std::printf(
        "wrote %s: gemma4 anchor %s, %s, %.2fB parameters, %zu tensors, %.1f MiB; next token perm(t) on "
        "orbits of %lld tokens\n",
        o.out.c_str(), o.shape.c_str(), o.type.c_str(), static_cast<double>(params) * 1e-9, b.plan.size(),
        static_cast<double>(bytes) / (1 << 20), static_cast<long long>(std::lcm(std::lcm(32, 25), tc.base[2])));
}

// Draft rounds test a fixed pattern differently from independent positions: a round of k drafts from
// position v tests v, v+1, ... up to the first rejection and the next round starts after the bonus
// token. Among 2000 seeded choices of round(P * n) accepted values, take the one whose rounds of 1-4
// drafts over a 128-token generation, from every start, come closest (worst case) to what independent
// positions accepted with probability P give: (P + ... + P^k) / k accepted per draft.
struct accepted_set {
    std::vector<bool> good;  // (n): the draft from a token whose d2 is v is right iff good[v]
    double worst_error = 2;
};

accepted_set pick_accepted(int64_t n, double accept, uint64_t seed) {
    const auto n_good = static_cast<int64_t>(std::lround(accept * static_cast<double>(n)));
    const double p = static_cast<double>(n_good) / static_cast<double>(n);
    auto worst_error = [&](const std::vector<bool>& good) {
        double worst = 0;
        for (int64_t k = 1; k <= 4; ++k) {
            double iid = 0;
            for (int64_t i = 1; i <= k; ++i) iid += std::pow(p, static_cast<double>(i)) / static_cast<double>(k);
            for (int64_t start = 0; start < n; ++start) {
                int64_t v = start, drafted = 0, accepted = 0;
                for (int64_t made = 0; made < 128;) {
                    int64_t a = 0;
                    while (a < k && good[(v + a) % n]) ++a;
                    drafted += k, accepted += a, made += a + 1, v += a + 1;
                }
                worst = std::max(worst, std::abs(static_cast<double>(accepted) / static_cast<double>(drafted) - iid));
            }
        }
        return worst;
    };
    make_rng rng(seed ^ 0xACCE97ull);
    std::vector<int32_t> order(static_cast<size_t>(n));
    accepted_set best;
    std::vector<bool> good;
    for (int trial = 0; trial < 2000 && best.worst_error > 0; ++trial) {
        std::iota(order.begin(), order.end(), 0);
        shuffle(order, rng);
        good.assign(static_cast<size_t>(n), false);
        for (int64_t i = 0; i < n_good; ++i) good[order[i]] = true;
        if (const double e = worst_error(good); e < best.worst_error) best = {good, e};
    }
    return best;
}

void make_assistant(const gemma4_make_options& o, const gemma4_shape& s, const token_code& tc, dtype wt,
                    const gguf::file& vocab, int64_t n_vocab) {
    if (tc.n_cd > s.a_dim) throw error("--shape " + o.shape + ": assistant too narrow for this vocabulary's codes");
    const accepted_set picked = pick_accepted(tc.base[2], o.accept, o.seed);
    const std::vector<bool>& good = picked.good;
    const auto n_good = std::count(good.begin(), good.end(), true);

    gemma4_builder b{s, tc, wt, {}};
    const float v = 1.0f / std::sqrt(static_cast<float>(s.a_dim));
    b.matrix("token_embd.weight", s.a_dim, n_vocab, [&tc, v](int64_t t, std::span<float> row) {
        if (const int32_t c = tc.code_of[t]; c >= 0) tc.write(c, row, 0, v);
    });
    // rmsnorm(x) is sqrt(a_dim / 3) on the draft's three code dims; one matching digit scores k_draft_unit.
    const float w_out = k_draft_unit * std::sqrt(3.0f);
    b.vec("output_norm.weight", s.a_dim, [n_cd = tc.n_cd, w_out](int64_t, std::span<float> out) {
        for (int64_t k = 0; k < static_cast<int64_t>(out.size()); ++k) out[k] = k < n_cd ? w_out : 1.0f;
    });
    // Row k of the drafter's code sums the anchor's block-A dims of the input digit values drafted to k;
    // z = [token_embd_anchor[d] * sqrt(D) ; h] is 1 on those, and h is not read.
    b.matrix("nextn.pre_projection.weight", 2 * s.dim, s.a_dim, [&tc, good](int64_t k, std::span<float> row) {
        if (k >= tc.n_cd) return;
        const int i = k < tc.off[1] ? 0 : k < tc.off[2] ? 1 : 2;
        const int64_t w = k - tc.off[i];
        for (int64_t d = 0; d < tc.base[i]; ++d) {
            const int64_t step = i == 2 && !good[d] ? 2 : 1;
            if ((d + step) % tc.base[i] == w) row[tc.off[i] + d] = 1.0f;
        }
    });
    b.matrix("nextn.post_projection.weight", s.a_dim, s.dim);
    b.rope_freqs();
    std::vector<bool> swa(static_cast<size_t>(s.a_layers));
    for (int64_t il = 0; il < s.a_layers; ++il) {
        swa[il] = il != s.a_layers - 1;
        b.block(il, s.a_dim, s.a_heads, s.a_ff, swa[il], false);
    }
    gguf_meta m;
    m.str("general.architecture", "gemma4-assistant");
    m.str("general.name", o.shape + "-assistant");
    m.u32("general.alignment", 32);
    common_meta(m, "gemma4-assistant", s, s.a_dim, s.a_layers, s.a_heads, s.a_ff, swa, s.a_layers);
    m.u32("gemma4-assistant.embedding_length_out", static_cast<uint32_t>(s.dim));
    m.u32("gemma4-assistant.nextn_predict_layers", static_cast<uint32_t>(s.a_layers));
    m.u32("general.file_type", wt == dtype::q8_0 ? 7 : wt == dtype::f16 ? 1 : 0);
    m.copy_vocab(vocab);
    const uint64_t bytes = make_model_write(o.out, m, b.plan, o.seed + 1);
    std::printf(
        "wrote %s: gemma4-assistant for %s, %s, %zu tensors, %.1f MiB; per-position acceptance %lld/%lld = "
        "%.3f (rounds of 1-4 drafts within %.3f of independent positions)\n",
        o.out.c_str(), o.shape.c_str(), o.type.c_str(), b.plan.size(), static_cast<double>(bytes) / (1 << 20),
        static_cast<long long>(n_good), static_cast<long long>(tc.base[2]),
        static_cast<double>(n_good) / static_cast<double>(tc.base[2]), picked.worst_error);
}

}  // namespace

void make_model_gemma4(const gemma4_make_options& o, const gguf::file& vocab, const std::string& vocab_path) {
    const auto it = k_gemma4_shapes.find(o.shape);
    if (it == k_gemma4_shapes.end()) throw error("--shape: expected gemma4-tiny or gemma4-1b for --arch " + o.arch);
    dtype wt;
    if (o.type == "f32") {
        wt = dtype::f32;
    } else if (o.type == "f16") {
        wt = dtype::f16;
    } else if (o.type == "q8_0") {
        wt = dtype::q8_0;
    } else {
        throw error("--type: expected f32, f16 or q8_0 for --arch " + o.arch + ", got '" + o.type + "'");
    }
    const int64_t n_vocab = make_model_vocab_size(vocab, vocab_path);
    const token_code tc = make_token_code(vocab, n_vocab, o.seed);
    if (o.arch == "gemma4") {
        make_anchor(o, it->second, tc, wt, vocab, n_vocab);
    } else {
        make_assistant(o, it->second, tc, wt, vocab, n_vocab);
    }
}

}  // namespace tandem
