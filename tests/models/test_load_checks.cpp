// Loading files as downloaded is never silently wrong: MoE files and non-f32 norms are refused at
// load, output.weight is the LM head when present, and tensors nobody asked for are reported.
// The test files are the shared tiny models rewritten with the test GGUF writer.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <sstream>

#include "common/error.h"
#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"
#include "models/cpu_backend.h"
#include "models/loader.h"
#include "tests/models/gguf/gguf_test_writer.h"
#include "tests/models/harness.h"

namespace tandem::test {
namespace {

namespace gt = gguf::test;

// Every key and tensor of `f`, ready to be changed and written again.
gt::gguf_builder rebuild(const gguf::file& f) {
    gt::gguf_builder g;
    g.alignment = f.alignment();
    const uint8_t* bytes = f.bytes().data();
    for (const gguf::kv_entry& e : f.metadata()) {
        gt::bytes v;
        if (e.type == gguf::value_type::array) v.put<uint32_t>(static_cast<uint32_t>(e.elem_type)).put(e.n_items);
        v.b.insert(v.b.end(), bytes + e.value_offset, bytes + e.value_offset + e.value_bytes);
        g.add_raw(std::string(e.key), static_cast<uint32_t>(e.type), v.b);
    }
    for (const gguf::tensor_info& t : f.tensors()) {
        gt::tensor out{t.name, {}, static_cast<uint32_t>(t.type), {t.data, t.data + t.n_bytes}, {}, {}};
        for (int d = 0; d < t.n_dims; ++d) out.ne.push_back(static_cast<uint64_t>(t.ne[d]));
        g.tensors.push_back(std::move(out));
    }
    return g;
}

// (gt::f32_data inlined at -O3 trips GCC 12's -Wstringop-overflow false positive; values do not matter here.)
std::vector<uint8_t> f32_zeros(uint64_t n) {
    return std::vector<uint8_t>(n * 4, 0);
}

gt::tensor& tensor_in(gt::gguf_builder& g, const std::string& name) {
    for (gt::tensor& t : g.tensors) {
        if (t.name == name) return t;
    }
    throw std::runtime_error("test file has no tensor " + name);
}

// A shared model rewritten by `edit`, as a file in the temp dir (removed by the destructor).
struct edited_model {
    std::string path;
    template <class Edit>
    edited_model(const std::string& shared_model, const std::string& tag, Edit edit) {
        auto f = gguf::file::open(shared_path("models/" + shared_model));
        gt::gguf_builder g = rebuild(*f);
        edit(g);
        path = ::testing::TempDir() + "tandem_load_checks_" + std::to_string(getpid()) + "_" + tag + ".gguf";
        gt::write_file(path, g.build());
    }
    ~edited_model() { std::filesystem::remove(path); }
};

// The message of the error model_load throws for `path` ("" if it loads).
std::string load_error(const std::string& path) {
    try {
        model_rig rig(path);
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

// Runs `fn` with spdlog's default logger writing into a string, and returns that string.
template <class Fn>
std::string captured_log(Fn fn) {
    std::ostringstream out;
    const std::shared_ptr<spdlog::logger> before = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
    fn();
    spdlog::set_default_logger(before);
    return out.str();
}

const std::string k_gemma = "gemma4-tiny-F32.gguf";
const std::vector<int32_t> k_prompt{2, 100, 7, 300, 41, 511, 9};

std::vector<float> gemma_logits(const std::string& path) {
    model_rig rig(path);
    seq_state s{rig.take_blocks(static_cast<int64_t>(k_prompt.size())), 0};
    return run_batch(rig, {&s}, {k_prompt})[0];
}

TEST(load_checks, moe_by_expert_count_is_refused) {
    for (const auto& [model, key] : {std::pair{k_gemma, "gemma4.expert_count"},
                                     std::pair{std::string("stories260K.gguf"), "llama.expert_count"}}) {
        edited_model m(model, "moe_kv", [key](gt::gguf_builder& g) { g.add<uint32_t>(key, gt::t_u32, 4); });
        const std::string msg = load_error(m.path);
        EXPECT_NE(msg.find(m.path), std::string::npos) << msg;
        EXPECT_NE(msg.find("MoE"), std::string::npos) << msg;
        EXPECT_NE(msg.find("not supported"), std::string::npos) << msg;
    }
}

TEST(load_checks, gemma4_moe_by_expert_tensors_is_refused) {
    // A 26B-A4B-like layer: the dense FFN stays, a router and stacked experts come beside it.
    edited_model m(k_gemma, "moe_tensors", [](gt::gguf_builder& g) {
        const uint64_t n_embd = 128, n_ff = 16, n_expert = 4;
        g.tensors.push_back({"blk.0.ffn_gate_inp.weight", {n_embd, n_expert}, 0, f32_zeros(n_embd * n_expert), {}, {}});
        for (const char* name : {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight"}) {
            g.tensors.push_back({name, {n_embd, n_ff, n_expert}, 0, f32_zeros(n_embd * n_ff * n_expert), {}, {}});
        }
        g.tensors.push_back(
            {"blk.0.ffn_down_exps.weight", {n_ff, n_embd, n_expert}, 0, f32_zeros(n_embd * n_ff * n_expert), {}, {}});
    });
    const std::string msg = load_error(m.path);
    EXPECT_NE(msg.find(m.path), std::string::npos) << msg;
    EXPECT_NE(msg.find("MoE"), std::string::npos) << msg;
    EXPECT_NE(msg.find("blk.0.ffn_gate_inp.weight"), std::string::npos) << msg;
}

TEST(load_checks, gemma4_output_weight_is_the_lm_head) {
    const std::vector<float> tied = gemma_logits(shared_path("models/" + k_gemma));
    const auto with_output = [](int64_t shift) {
        return [shift](gt::gguf_builder& g) {
            // output row i = token_embd row (i + shift) % n_vocab; the input embedding is unchanged.
            const gt::tensor& embd = tensor_in(g, "token_embd.weight");
            const uint64_t n_in = embd.ne[0], n_vocab = embd.ne[1], row = n_in * 4;
            std::vector<uint8_t> data(embd.data.size());
            for (uint64_t i = 0; i < n_vocab; ++i) {
                const uint64_t src = (i + static_cast<uint64_t>(shift)) % n_vocab;
                std::memcpy(data.data() + i * row, embd.data.data() + src * row, row);
            }
            g.tensors.push_back({"output.weight", {n_in, n_vocab}, 0, std::move(data), {}, {}});
        };
    };
    edited_model same(k_gemma, "output_same", with_output(0));
    edited_model rotated(k_gemma, "output_rotated", with_output(1));
    const std::vector<float> same_logits = gemma_logits(same.path);
    const std::vector<float> rot_logits = gemma_logits(rotated.path);

    ASSERT_EQ(same_logits.size(), tied.size());
    ASSERT_EQ(rot_logits.size(), tied.size());
    EXPECT_EQ(same_logits, tied);  // output.weight == token_embd: exactly the tied logits
    const size_t n_vocab = 512;
    ASSERT_EQ(tied.size() % n_vocab, 0u);
    double max_diff_to_tied = 0;
    for (size_t r = 0; r < tied.size() / n_vocab; ++r) {
        for (size_t i = 0; i < n_vocab; ++i) {
            const float got = rot_logits[r * n_vocab + i];
            EXPECT_NEAR(got, tied[r * n_vocab + (i + 1) % n_vocab], 1e-5f) << "row " << r << " token " << i;
            max_diff_to_tied = std::max(max_diff_to_tied, std::abs(static_cast<double>(got) - tied[r * n_vocab + i]));
        }
    }
    EXPECT_GT(max_diff_to_tied, 0.1);  // the rotated head really changes the logits
}

TEST(load_checks, loader_reports_tensors_never_asked_for) {
    gt::gguf_builder g;
    g.add_str("general.architecture", "llama");
    g.tensors.push_back({"a.weight", {4, 3}, 0, f32_zeros(12), {}, {}});
    g.tensors.push_back({"b.weight", {4}, 0, f32_zeros(4), {}, {}});
    g.tensors.push_back({"c.weight", {4}, 0, f32_zeros(4), {}, {}});
    g.tensors.push_back({"d.weight", {4}, 0, f32_zeros(4), {}, {}});
    const std::vector<uint8_t> bytes = g.build();
    auto f = gguf::file::from_memory(bytes, "mem.gguf");
    thread_pool pool(1);
    cpu_backend be(pool);
    model_loader ld(*f, be);
    EXPECT_EQ(ld.unused_tensors(), (std::vector<std::string>{"a.weight", "b.weight", "c.weight", "d.weight"}));
    EXPECT_EQ(ld.rows_of("a.weight"), 3);
    ld.require("b.weight", {4});
    EXPECT_FALSE(ld.optional("absent.weight", {4}));
    ld.optional_f32("d.weight", {4});
    EXPECT_EQ(ld.unused_tensors(), std::vector<std::string>{"c.weight"});
}

// On the CPU at AVX2, a Q8_0 matmul operand gets a packed copy and a table read by rows does not
// (a packed token table would be a copy nobody reads, and its mapped pages released for nothing).
TEST(load_checks, tables_read_by_rows_are_not_packed) {
    if (cpu_level_detect() < cpu_level::avx2) GTEST_SKIP() << "no packed kernels below AVX2";
    cpu_level_set(cpu_level::avx2);
    auto f = gguf::file::open(shared_path("models/llama-spm-tiny-Q8_0.gguf"));
    const gguf::tensor_info* emb = f->find_tensor("token_embd.weight");
    const gguf::tensor_info* wq = f->find_tensor("blk.0.attn_q.weight");
    ASSERT_TRUE(emb && wq);
    ASSERT_EQ(emb->type, dtype::q8_0);
    thread_pool pool(1);
    cpu_backend be(pool);
    model_loader ld(*f, be);
    const weight table = ld.require_table("token_embd.weight", {emb->ne[0], emb->ne[1]});
    const weight operand = ld.require("blk.0.attn_q.weight", {wq->ne[0], wq->ne[1]});
    cpu_level_set(cpu_level_detect());
    EXPECT_EQ(table.packed, nullptr);
    EXPECT_NE(operand.packed, nullptr);
}

// A token table tied to the output head (this file has no output.weight) is a matmul operand too:
// packed for the head, its rows still read from the file by embed (the golden tests check both).
TEST(load_checks, a_tied_token_table_is_packed_for_the_head) {
    if (cpu_level_detect() < cpu_level::avx2) GTEST_SKIP() << "no packed kernels below AVX2";
    cpu_level_set(cpu_level::avx2);
    auto f = gguf::file::open(shared_path("models/llama-spm-tiny-Q8_0.gguf"));
    const gguf::tensor_info* emb = f->find_tensor("token_embd.weight");
    ASSERT_TRUE(emb);
    ASSERT_EQ(f->find_tensor("output.weight"), nullptr);
    thread_pool pool(1);
    cpu_backend be(pool);
    model_loader ld(*f, be);
    const auto [table, output] = ld.require_embeddings("token_embd.weight", "output.weight", emb->ne[0], emb->ne[1]);
    cpu_level_set(cpu_level_detect());
    EXPECT_NE(table.packed, nullptr);
    EXPECT_EQ(output.packed, table.packed);
    EXPECT_EQ(output.host, emb->data);
}

TEST(load_checks, shared_models_use_every_tensor) {
    for (const char* name : {"gemma4-tiny-F32.gguf", "stories260K.gguf", "qwen3-bpe-tiny-Q8_0.gguf"}) {
        const std::string log = captured_log([&] { model_rig rig(shared_path(std::string("models/") + name)); });
        EXPECT_EQ(log, "") << name;
    }
}

TEST(load_checks, gemma4_unknown_tensor_loads_with_one_warning_naming_it) {
    edited_model m(k_gemma, "extra", [](gt::gguf_builder& g) {
        g.tensors.push_back({"blk.0.unknown_thing.weight", {128}, 0, f32_zeros(128), {}, {}});
    });
    std::vector<float> logits;
    const std::string log = captured_log([&] { logits = gemma_logits(m.path); });
    EXPECT_EQ(logits, gemma_logits(shared_path("models/" + k_gemma)));
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find(m.path + ": 1 tensor(s) not used"), std::string::npos) << log;
    EXPECT_NE(log.find("ignored: blk.0.unknown_thing.weight\n"), std::string::npos) << log;
}

// Any tensor changed to f16 (zeros: the type alone must be refused, before any forward).
auto to_f16(const std::string& name) {
    return [name](gt::gguf_builder& g) {
        gt::tensor& t = tensor_in(g, name);
        t.type = 1;
        t.data.assign(t.data.size() / 2, 0);
    };
}

TEST(load_checks, f16_norms_and_scales_are_refused_at_load) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {k_gemma, "blk.0.attn_norm.weight"},
        {k_gemma, "blk.1.attn_k_norm.weight"},
        {k_gemma, "blk.2.post_ffw_norm.weight"},
        {k_gemma, "blk.3.layer_output_scale.weight"},
        {k_gemma, "output_norm.weight"},
        {k_gemma, "rope_freqs.weight"},
        {k_gemma, "per_layer_proj_norm.weight"},
        {"stories260K.gguf", "blk.1.ffn_norm.weight"},
        {"qwen3-bpe-tiny-Q8_0.gguf", "blk.0.attn_q_norm.weight"},
    };
    int n = 0;
    for (const auto& [model, tensor] : cases) {
        edited_model m(model, "f16_" + std::to_string(n++), to_f16(tensor));
        const std::string msg = load_error(m.path);
        EXPECT_NE(msg.find("tensor " + tensor + " has type f16"), std::string::npos) << tensor << ": " << msg;
    }
}

}  // namespace
}  // namespace tandem::test
