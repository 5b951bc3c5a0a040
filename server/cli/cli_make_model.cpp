// `tandem make-model`: writes a synthetic llama-architecture GGUF of a given shape and tensor
// type, with seeded random weights and the vocabulary of a vocab GGUF, for benchmarks at
// realistic sizes. Keys and tensor names are llama.cpp's, so llama.cpp loads the file too.
// Quantized tensors get random blocks with small, sane scales: speed does not depend on values.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/fp16.h"
#include "models/gguf/gguf.h"
#include "server/cli/commands.h"

namespace tandem {
namespace {

struct shape {
    int64_t dim, layers, heads, kv_heads, ff;
};

const std::map<std::string, shape> k_shapes = {
    {"llama-tiny", {256, 4, 8, 4, 768}},
    {"llama-110m", {768, 12, 12, 12, 2048}},
    {"llama-1b", {2048, 16, 32, 8, 8192}},
};

struct tensor_plan {
    std::string name;
    std::vector<int64_t> ne;
    dtype type;
    uint64_t offset = 0;
    uint64_t bytes = 0;
};

// llama-quantize's choices for the common presets (output gets more bits in Q4_0/Q4_K_M).
dtype type_for(const std::string& preset, const std::string& name, int64_t layer, int64_t n_layers) {
    if (name.find("norm") != std::string::npos) return dtype::f32;
    if (preset == "f32") return dtype::f32;
    if (preset == "f16") return dtype::f16;
    if (preset == "q8_0") return dtype::q8_0;
    if (preset == "q4_0") return name == "output.weight" ? dtype::q6_k : dtype::q4_0;
    if (preset == "q4_k_m") {
        if (name == "output.weight") return dtype::q6_k;
        const bool more_bits = layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
        const bool sensitive = name.find("attn_v") != std::string::npos || name.find("ffn_down") != std::string::npos;
        return sensitive && more_bits ? dtype::q6_k : dtype::q4_k;
    }
    throw error("--type: expected f32, f16, q8_0, q4_0 or q4_k_m, got '" + preset + "'");
}

// Little-endian GGUF fields onto a stream; counts the metadata keys it writes.
class writer {
  public:
    explicit writer(std::ostream& out) : out_(out) {}
    template <class T>
    void put(T v) {
        out_.write(reinterpret_cast<const char*>(&v), sizeof(T));
    }
    void str(std::string_view s) {
        put<uint64_t>(s.size());
        out_.write(s.data(), static_cast<std::streamsize>(s.size()));
    }
    void key(std::string_view k, uint32_t type) {
        str(k);
        put<uint32_t>(type);
        ++n_keys_;
    }
    void pad(uint64_t align) {
        const uint64_t pos = static_cast<uint64_t>(out_.tellp());
        for (uint64_t i = pos; i % align != 0; ++i) out_.put(0);
    }
    void bytes(const void* p, size_t n) { out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); }
    uint64_t n_keys() const { return n_keys_; }

  private:
    std::ostream& out_;
    uint64_t n_keys_ = 0;
};

// The vocabulary keys llama.cpp reads, with the GGUF type each is written as.
void copy_vocab(const gguf::file& v, writer& w) {
    auto arr_str = [&](const char* k) {
        if (auto a = v.get_string_array(k)) {
            w.key(k, 9), w.put<uint32_t>(8), w.put<uint64_t>(a->size());
            for (auto s : *a) w.str(s);
        }
    };
    arr_str("tokenizer.ggml.tokens");
    if (auto a = v.get_float_array("tokenizer.ggml.scores")) {
        w.key("tokenizer.ggml.scores", 9), w.put<uint32_t>(6), w.put<uint64_t>(a->size());
        for (double x : *a) w.put<float>(static_cast<float>(x));
    }
    if (auto a = v.get_int_array("tokenizer.ggml.token_type")) {
        w.key("tokenizer.ggml.token_type", 9), w.put<uint32_t>(5), w.put<uint64_t>(a->size());
        for (int64_t x : *a) w.put<int32_t>(static_cast<int32_t>(x));
    }
    arr_str("tokenizer.ggml.merges");
    for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template"}) {
        if (auto s = v.get_string(k)) w.key(k, 8), w.str(*s);
    }
    for (const char* k : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
        if (auto x = v.get_u64(k)) w.key(k, 4), w.put<uint32_t>(static_cast<uint32_t>(*x));
    }
    for (const char* k : {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"}) {
        if (auto b = v.get_bool(k)) w.key(k, 7), w.put<uint8_t>(*b ? 1 : 0);
    }
}

// Random tensor bytes: N(0, 0.02)-like floats, or random quant blocks with small scales.
void fill(const tensor_plan& t, uint64_t& state, std::vector<uint8_t>& buf) {
    auto next = [&] {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return state;
    };
    auto gauss = [&] {  // sum of uniforms: cheap and close enough to normal
        double s = 0;
        for (int i = 0; i < 4; ++i) s += static_cast<double>(next() >> 11) * 0x1.0p-53;
        return static_cast<float>((s - 2.0) * 0.02 * std::sqrt(3.0));
    };
    buf.resize(t.bytes);
    const bool norm = t.name.find("norm") != std::string::npos;
    if (t.type == dtype::f32) {
        auto* f = reinterpret_cast<float*>(buf.data());
        for (uint64_t i = 0; i < t.bytes / 4; ++i) f[i] = norm ? 1.0f : gauss();
        return;
    }
    if (t.type == dtype::f16) {
        auto* h = reinterpret_cast<uint16_t*>(buf.data());
        for (uint64_t i = 0; i < t.bytes / 2; ++i) h[i] = f32_to_fp16(gauss());
        return;
    }
    for (uint64_t i = 0; i + 8 <= t.bytes; i += 8) {
        const uint64_t r = next();
        std::memcpy(buf.data() + i, &r, 8);
    }
    const dtype_info& info = dtype_info_of(t.type);
    const size_t d_at = t.type == dtype::q6_k ? 208 : 0;  // offset of the f16 scale in each block
    for (uint64_t b = 0; b < t.bytes / info.block_bytes; ++b) {
        uint8_t* blk = buf.data() + b * info.block_bytes;
        const uint16_t d = f32_to_fp16(0.002f), dmin = f32_to_fp16(0.001f);
        std::memcpy(blk + d_at, &d, 2);
        if (t.type == dtype::q4_k || t.type == dtype::q5_k || t.type == dtype::q4_1 || t.type == dtype::q5_1) {
            std::memcpy(blk + 2, &dmin, 2);
        }
    }
}

struct make_options {
    std::string shape_name = "llama-tiny", type = "f32", vocab, out;
    uint64_t seed = 1;
};

void make_model(const make_options& o) {
    const auto it = k_shapes.find(o.shape_name);
    if (it == k_shapes.end()) throw error("--shape: expected llama-tiny, llama-110m or llama-1b");
    const shape s = it->second;
    auto vocab = gguf::file::open(o.vocab);
    const auto tokens = vocab->get_string_array("tokenizer.ggml.tokens");
    if (!tokens) throw error(o.vocab + ": no tokenizer.ggml.tokens");
    const int64_t n_vocab = static_cast<int64_t>(tokens->size());
    const int64_t hd = s.dim / s.heads;

    std::vector<tensor_plan> plan;
    auto add = [&](std::string name, std::vector<int64_t> ne, int64_t layer) {
        plan.push_back({name, ne, type_for(o.type, name, layer, s.layers)});
    };
    add("token_embd.weight", {s.dim, n_vocab}, -1);
    add("output_norm.weight", {s.dim}, -1);
    add("output.weight", {s.dim, n_vocab}, -1);
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", {s.dim}, l);
        add(p + "attn_q.weight", {s.dim, s.heads * hd}, l);
        add(p + "attn_k.weight", {s.dim, s.kv_heads * hd}, l);
        add(p + "attn_v.weight", {s.dim, s.kv_heads * hd}, l);
        add(p + "attn_output.weight", {s.heads * hd, s.dim}, l);
        add(p + "ffn_norm.weight", {s.dim}, l);
        add(p + "ffn_gate.weight", {s.dim, s.ff}, l);
        add(p + "ffn_up.weight", {s.dim, s.ff}, l);
        add(p + "ffn_down.weight", {s.ff, s.dim}, l);
    }
    uint64_t off = 0;
    for (tensor_plan& t : plan) {
        int64_t n = 1;
        for (int64_t d : t.ne) n *= d;
        t.bytes = dtype_row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(n / t.ne[0]);
        t.offset = off;
        off = (off + t.bytes + 31) / 32 * 32;
    }

    // Metadata first into memory, so the header can carry its key count.
    std::ostringstream meta;
    writer m(meta);
    m.key("general.architecture", 8), m.str("llama");
    m.key("general.name", 8), m.str(o.shape_name);
    m.key("general.alignment", 4), m.put<uint32_t>(32);
    m.key("llama.context_length", 4), m.put<uint32_t>(4096);
    m.key("llama.embedding_length", 4), m.put<uint32_t>(static_cast<uint32_t>(s.dim));
    m.key("llama.block_count", 4), m.put<uint32_t>(static_cast<uint32_t>(s.layers));
    m.key("llama.feed_forward_length", 4), m.put<uint32_t>(static_cast<uint32_t>(s.ff));
    m.key("llama.attention.head_count", 4), m.put<uint32_t>(static_cast<uint32_t>(s.heads));
    m.key("llama.attention.head_count_kv", 4), m.put<uint32_t>(static_cast<uint32_t>(s.kv_heads));
    m.key("llama.rope.dimension_count", 4), m.put<uint32_t>(static_cast<uint32_t>(hd));
    m.key("llama.attention.layer_norm_rms_epsilon", 6), m.put<float>(1e-5f);
    m.key("llama.vocab_size", 4), m.put<uint32_t>(static_cast<uint32_t>(n_vocab));
    copy_vocab(*vocab, m);

    std::ofstream file(o.out, std::ios::binary);
    if (!file) throw error(o.out + ": cannot open for writing");
    writer w(file);
    w.bytes("GGUF", 4);
    w.put<uint32_t>(3);
    w.put<uint64_t>(plan.size());
    w.put<uint64_t>(m.n_keys());
    const std::string meta_bytes = meta.str();
    w.bytes(meta_bytes.data(), meta_bytes.size());
    for (const tensor_plan& t : plan) {
        w.str(t.name);
        w.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) w.put<uint64_t>(static_cast<uint64_t>(d));
        w.put<uint32_t>(static_cast<uint32_t>(t.type));
        w.put<uint64_t>(t.offset);
    }
    w.pad(32);
    uint64_t state = o.seed * 0x9E3779B97F4A7C15ull + 1;
    std::vector<uint8_t> buf;
    for (const tensor_plan& t : plan) {
        fill(t, state, buf);
        w.bytes(buf.data(), buf.size());
        w.pad(32);
    }
    file.close();
    if (!file) throw error(o.out + ": write failed");
    std::printf("wrote %s: %s, %s, %zu tensors, %.1f MiB\n", o.out.c_str(), o.shape_name.c_str(), o.type.c_str(),
                plan.size(), static_cast<double>(off) / (1 << 20));
}

}  // namespace

void cli_add_make_model(CLI::App& app) {
    auto* cmd = app.add_subcommand("make-model", "Write a synthetic llama GGUF for benchmarks");
    auto o = std::make_shared<make_options>();
    cmd->add_option("--shape", o->shape_name, "llama-tiny, llama-110m or llama-1b (../shared/bench/PEER.md)");
    cmd->add_option("--type", o->type, "f32, f16, q8_0, q4_0 or q4_k_m");
    cmd->add_option("--vocab", o->vocab, "A GGUF whose tokenizer.* keys are copied")->required();
    cmd->add_option("-o,--output", o->out, "Output file")->required();
    cmd->add_option("--seed", o->seed, "Random seed");
    cmd->callback([o] { make_model(*o); });
}

}  // namespace tandem
