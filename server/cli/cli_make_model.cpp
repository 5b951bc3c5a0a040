// `tandem make-model`: writes a synthetic GGUF of a given shape and tensor type, with seeded random
// weights and the vocabulary of a vocab GGUF, for benchmarks at realistic sizes: llama here, and a
// Gemma 4 anchor + MTP assistant pair with a set acceptance in make_model_gemma4.cpp. Keys and tensor
// names are llama.cpp's, so llama.cpp loads the files too. Quantized random tensors get random blocks
// with small, sane scales: speed does not depend on values.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/gguf/gguf.h"
#include "server/cli/commands.h"
#include "server/cli/make_model.h"

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

struct make_options {
    std::string arch = "llama", shape_name, type = "f32", vocab, out;
    double accept = 0.75;
    uint64_t seed = 1;
};

void make_llama(const make_options& o, const gguf::file& vocab) {
    const std::string shape_name = o.shape_name.empty() ? "llama-tiny" : o.shape_name;
    const auto it = k_shapes.find(shape_name);
    if (it == k_shapes.end()) throw error("--shape: expected llama-tiny, llama-110m or llama-1b for --arch llama");
    const shape s = it->second;
    const int64_t n_vocab = make_model_vocab_size(vocab, o.vocab);
    const int64_t hd = s.dim / s.heads;

    std::vector<tensor_plan> plan;
    auto add = [&](std::string name, std::vector<int64_t> ne, int64_t layer) {
        plan.push_back({name, ne, type_for(o.type, name, layer, s.layers), {}});
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

    gguf_meta m;
    m.str("general.architecture", "llama");
    m.str("general.name", shape_name);
    m.u32("general.alignment", 32);
    m.u32("llama.context_length", 4096);
    m.u32("llama.embedding_length", static_cast<uint32_t>(s.dim));
    m.u32("llama.block_count", static_cast<uint32_t>(s.layers));
    m.u32("llama.feed_forward_length", static_cast<uint32_t>(s.ff));
    m.u32("llama.attention.head_count", static_cast<uint32_t>(s.heads));
    m.u32("llama.attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
    m.u32("llama.rope.dimension_count", static_cast<uint32_t>(hd));
    m.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    m.u32("llama.vocab_size", static_cast<uint32_t>(n_vocab));
    m.copy_vocab(vocab);
    const uint64_t bytes = make_model_write(o.out, m, plan, o.seed);
    std::printf("wrote %s: %s, %s, %zu tensors, %.1f MiB\n", o.out.c_str(), shape_name.c_str(), o.type.c_str(),
                plan.size(), static_cast<double>(bytes) / (1 << 20));
}

void make_model(const make_options& o) {
    auto vocab = gguf::file::open(o.vocab);
    if (o.arch == "llama") return make_llama(o, *vocab);
    if (o.arch == "gemma4" || o.arch == "gemma4-assistant") {
        const std::string shape = o.shape_name.empty() ? "gemma4-tiny" : o.shape_name;
        return make_model_gemma4({o.arch, shape, o.type, o.out, o.accept, o.seed}, *vocab, o.vocab);
    }
    throw error("--arch: expected llama, gemma4 or gemma4-assistant, got '" + o.arch + "'");
}

}  // namespace

void cli_add_make_model(CLI::App& app) {
    auto* cmd = app.add_subcommand("make-model", "Write a synthetic GGUF (llama, or a Gemma 4 anchor/assistant pair)");
    auto o = std::make_shared<make_options>();
    cmd->add_option("--arch", o->arch, "llama, gemma4 (anchor) or gemma4-assistant (its MTP drafter)");
    cmd->add_option("--shape", o->shape_name,
                    "llama: llama-tiny, llama-110m, llama-1b (../shared/bench/PEER.md); "
                    "gemma4 and gemma4-assistant: gemma4-tiny or gemma4-1b (the anchor the pair is made for)");
    cmd->add_option("--type", o->type, "f32, f16, q8_0, q4_0 or q4_k_m (gemma4: f32, f16 or q8_0)");
    cmd->add_option("--vocab", o->vocab, "A GGUF whose tokenizer.* keys are copied")->required();
    cmd->add_option("-o,--output", o->out, "Output file")->required();
    cmd->add_option("--seed", o->seed, "Random seed (anchor and assistant of a pair need the same seed and vocab)");
    auto* accept = cmd->add_option("--accept", o->accept,
                                   "gemma4-assistant: fraction of positions whose draft the anchor accepts [0.75]");
    accept->check(CLI::Range(0.0, 1.0));
    cmd->callback([o, accept] {
        if (accept->count() > 0 && o->arch != "gemma4-assistant")
            throw error("--accept is for --arch gemma4-assistant");
        make_model(*o);
    });
}

}  // namespace tandem
