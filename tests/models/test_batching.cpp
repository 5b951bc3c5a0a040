// The same prompt gives the same logits alone, batched with other sequences, prefilled in chunks,
// and with its KV blocks scattered through the pool; quantized KV stays within a stated tolerance.
#include "tests/models/harness.h"

namespace tandem::test {
namespace {

// The golden prompts of one model (token ids), so the test inputs come from the reference files.
std::vector<std::vector<int32_t>> golden_prompts(const std::string& dir) {
    std::vector<std::vector<int32_t>> out;
    const nlohmann::json index = read_json(shared_path("golden/index.json"));
    for (const auto& run : index["runs"]) {
        if (run["dir"] != dir) continue;
        for (const auto& p : run["prompts"]) {
            out.push_back(read_json(shared_path("golden/" + dir + "/" + p.get<std::string>() + ".json"))["tokens"]
                              .get<std::vector<int32_t>>());
        }
    }
    return out;
}

std::string model_file(const std::string& dir) {
    return shared_path("models/" + dir + ".gguf");
}

// Last-row logits of each prompt, each run alone from an empty cache.
std::vector<std::vector<float>> alone(const std::string& dir, const std::vector<std::vector<int32_t>>& prompts) {
    std::vector<std::vector<float>> out;
    for (const auto& p : prompts) {
        model_rig rig(model_file(dir));
        seq_state s;
        s.table = rig.take_blocks(static_cast<int64_t>(p.size()));
        out.push_back(run_batch(rig, {&s}, {p}, false)[0]);
    }
    return out;
}

// The kernels are batch-invariant (every row gets the same arithmetic whatever else is in the
// batch), and attention is per token, so a sequence's logits are bitwise the same alone or batched.
class batching_test : public ::testing::TestWithParam<std::string> {};

TEST_P(batching_test, batched_equals_alone) {
    const auto prompts = golden_prompts(GetParam());
    ASSERT_GE(prompts.size(), 3u);
    const auto ref = alone(GetParam(), prompts);
    model_rig rig(model_file(GetParam()));
    std::vector<seq_state> seqs(prompts.size());
    std::vector<seq_state*> ptrs;
    for (size_t i = 0; i < prompts.size(); ++i) {
        seqs[i].table = rig.take_blocks(static_cast<int64_t>(prompts[i].size()));
        ptrs.push_back(&seqs[i]);
    }
    const auto out = run_batch(rig, ptrs, prompts, false);
    for (size_t i = 0; i < prompts.size(); ++i) {
        const error_stats e = compare(out[i].data(), ref[i].data(), ref[i].size());
        EXPECT_EQ(e.max_abs, 0.0) << "prompt " << i;
    }
}

TEST_P(batching_test, chunked_prefill_and_mixed_decode_equal_alone) {
    const auto prompts = golden_prompts(GetParam());
    const auto ref = alone(GetParam(), prompts);
    model_rig rig(model_file(GetParam()));
    // Sequence 0 prefills in chunks of 3 while sequence 1 is prefilled whole then decodes.
    const auto& p0 = prompts.back();
    const auto& p1 = prompts.front();
    seq_state a, b;
    a.table = rig.take_blocks(static_cast<int64_t>(p0.size()));
    b.table = rig.take_blocks(static_cast<int64_t>(p1.size()));
    std::vector<int32_t> b_first(p1.begin(), p1.end() - 1);
    std::vector<float> last_a, last_b;
    size_t pos = 0;
    bool b_started = false;
    while (pos < p0.size()) {
        const size_t n = std::min<size_t>(3, p0.size() - pos);
        std::vector<int32_t> chunk(p0.begin() + static_cast<std::ptrdiff_t>(pos),
                                   p0.begin() + static_cast<std::ptrdiff_t>(pos + n));
        if (!b_started) {
            run_batch(rig, {&a, &b}, {chunk, b_first}, false);
            b_started = true;
        } else if (last_b.empty()) {
            auto out = run_batch(rig, {&a, &b}, {chunk, {p1.back()}}, false);
            last_a = out[0];
            last_b = out[1];
        } else {
            last_a = run_batch(rig, {&a}, {chunk}, false)[0];
        }
        pos += n;
    }
    EXPECT_EQ(compare(last_a.data(), ref.back().data(), ref.back().size()).max_abs, 0.0);
    ASSERT_FALSE(last_b.empty());
    EXPECT_EQ(compare(last_b.data(), ref.front().data(), ref.front().size()).max_abs, 0.0);
}

TEST_P(batching_test, scattered_blocks_equal_alone) {
    const auto prompts = golden_prompts(GetParam());
    const auto ref = alone(GetParam(), prompts);
    model_rig rig(model_file(GetParam()), dtype::f16, 256, 2, /*scatter_seed=*/7);
    for (size_t i = 0; i < prompts.size(); ++i) {
        seq_state s;
        s.table = rig.take_blocks(static_cast<int64_t>(prompts[i].size()));
        const auto out = run_batch(rig, {&s}, {prompts[i]}, false);
        EXPECT_EQ(compare(out[0].data(), ref[i].data(), ref[i].size()).max_abs, 0.0) << "prompt " << i;
    }
}

// Quantized KV against the f16-KV logits (last row): q8_0 keeps NMSE under 1e-3; q4_0 under 2e-2,
// except gemma4 (attention scale 1 over q/k-normed heads makes its scores ~4x more sensitive to
// K error), where 0.15 is allowed.
TEST_P(batching_test, quantized_kv_within_tolerance) {
    const auto prompts = golden_prompts(GetParam());
    const auto ref = alone(GetParam(), prompts);
    const double q4_nmse = GetParam().rfind("gemma4", 0) == 0 ? 0.15 : 2e-2;
    for (auto [type, nmse] : {std::pair{dtype::q8_0, 1e-3}, std::pair{dtype::q4_0, q4_nmse}}) {
        model_rig probe(model_file(GetParam()));
        bool fits = true;
        for (const kv_group_spec& g : probe.m->kv_groups()) fits = fits && g.head_dim % 32 == 0;
        if (!fits) continue;  // stories260K (head_dim 8) cannot hold q8_0 rows; covered by the kv tests
        model_rig rig(model_file(GetParam()), type);
        for (size_t i = 0; i < prompts.size(); ++i) {
            seq_state s;
            s.table = rig.take_blocks(static_cast<int64_t>(prompts[i].size()));
            const auto out = run_batch(rig, {&s}, {prompts[i]}, false);
            EXPECT_LE(compare(out[0].data(), ref[i].data(), ref[i].size()).nmse, nmse)
                << dtype_info_of(type).name << " prompt " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(models, batching_test,
                         ::testing::Values("stories260K", "llama-spm-tiny-Q8_0", "qwen3-bpe-tiny-Q8_0",
                                           "gemma4-tiny-F32"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                             return n;
                         });

}  // namespace
}  // namespace tandem::test
