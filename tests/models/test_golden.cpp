// Logits and greedy continuations of every supported model in ../shared/golden against llama.cpp,
// at every CPU dispatch level this machine has, within the tolerances of golden/README.md; run a
// second time with TANDEM_TEST_DEVICE=vulkan (ctest's test_models_golden_vulkan) on a Vulkan device.
#include "kernels/dispatch.h"
#include "tests/models/harness.h"

namespace tandem::test {
namespace {

struct golden_case {
    std::string dir;
    double max_abs, nmse;  // golden/README.md "recommended" tolerances
};

void PrintTo(const golden_case& c, std::ostream* os) {
    *os << c.dir;
}

// Every CPU level; on a Vulkan device the CPU level does not matter (one run).
std::vector<cpu_level> levels_here() {
    if (test_on_vulkan()) return {cpu_level_detect()};
    std::vector<cpu_level> v{cpu_level::scalar};
    if (cpu_level_detect() >= cpu_level::avx2) v.push_back(cpu_level::avx2);
    if (cpu_level_detect() >= cpu_level::avx512) v.push_back(cpu_level::avx512);
    return v;
}

class golden_test : public ::testing::TestWithParam<golden_case> {};

// Prompt logits in one batch, then the greedy continuation decoded one token at a time.
void check_prompt(model_rig& rig, const golden_case& gc, const std::string& prompt_id) {
    const std::string base = std::string(TANDEM_SHARED_DIR) + "/golden/" + gc.dir + "/" + prompt_id;
    const nlohmann::json j = read_json(shared_path("golden/" + gc.dir + "/" + prompt_id + ".json"));
    const std::vector<int32_t> tokens = j["tokens"].get<std::vector<int32_t>>();
    const int64_t nv = rig.n_vocab();
    ASSERT_EQ(j["n_vocab"].get<int64_t>(), nv);
    const std::vector<float> ref = read_f32(base + ".logits.f32");
    ASSERT_EQ(ref.size(), tokens.size() * static_cast<size_t>(nv));

    seq_state s;
    s.table = rig.take_blocks(static_cast<int64_t>(tokens.size()) + 40);
    auto out = run_batch(rig, {&s}, {tokens});
    const error_stats e = compare(out[0].data(), ref.data(), ref.size());
    std::printf("  %-22s %-10s max_abs %.3g nmse %.3g\n", gc.dir.c_str(), prompt_id.c_str(), e.max_abs, e.nmse);
    EXPECT_LE(e.max_abs, gc.max_abs) << prompt_id << " prompt logits";
    EXPECT_LE(e.nmse, gc.nmse) << prompt_id << " prompt logits";
    for (size_t p = 0; p < tokens.size(); ++p) {
        const auto& top = j["prompt_top"][p];
        const double margin = top[0][1].get<double>() - top[1][1].get<double>();
        if (margin > 2 * gc.max_abs) {
            EXPECT_EQ(argmax(out[0].data() + p * nv, nv), top[0][0].get<int32_t>()) << prompt_id << " pos " << p;
        }
    }

    // Greedy: feed the golden tokens one by one and compare each step's logits.
    const auto& greedy = j["greedy"];
    const std::vector<int32_t> gen = greedy["tokens"].get<std::vector<int32_t>>();
    std::vector<float> gen_ref;
    if (greedy.contains("logits_file")) gen_ref = read_f32(base + ".gen_logits.f32");
    std::vector<float> last(out[0].end() - nv, out[0].end());
    bool diverged = false;
    for (size_t k = 0; k < gen.size(); ++k) {
        if (k > 0) last = run_batch(rig, {&s}, {{gen[k - 1]}})[0];
        const auto& top = greedy["top"][k];
        for (const auto& pair : top) {
            EXPECT_NEAR(last[pair[0].get<int32_t>()], pair[1].get<double>(), gc.max_abs)
                << prompt_id << " greedy step " << k << " token " << pair[0];
        }
        if (!gen_ref.empty()) {
            const error_stats ge = compare(last.data(), gen_ref.data() + k * nv, static_cast<size_t>(nv));
            EXPECT_LE(ge.max_abs, gc.max_abs) << prompt_id << " greedy step " << k;
        }
        const double margin = top[0][1].get<double>() - top[1][1].get<double>();
        diverged = diverged || margin <= 2 * gc.max_abs;
        if (!diverged) {
            EXPECT_EQ(argmax(last.data(), nv), gen[k]) << prompt_id << " greedy step " << k;
        }
    }
}

TEST_P(golden_test, logits_and_greedy_match_llama_cpp) {
    const golden_case& gc = GetParam();
    const nlohmann::json index = read_json(shared_path("golden/index.json"));
    for (cpu_level level : levels_here()) {
        SCOPED_TRACE(std::string("cpu level ") + cpu_level_name(level));
        cpu_level_set(level);
        bool found = false;
        for (const auto& run : index["runs"]) {
            if (run["dir"] != gc.dir) continue;
            found = true;
            model_rig rig(shared_path("models/" + run["model_file"].get<std::string>()));
            // lavapipe runs these models at a few dozen steps per second: on a Vulkan device the first
            // prompt of each model (prompt logits and its greedy steps), to keep CI in its budget.
            for (const auto& p : run["prompts"]) {
                check_prompt(rig, gc, p.get<std::string>());
                if (test_on_vulkan()) break;
            }
        }
        EXPECT_TRUE(found) << gc.dir << " is not in golden/index.json";
    }
    cpu_level_set(cpu_level_detect());
}

INSTANTIATE_TEST_SUITE_P(
    models, golden_test,
    ::testing::Values(golden_case{"stories260K", 0.1, 1e-5}, golden_case{"llama-spm-tiny-F16", 5e-3, 1e-5},
                      golden_case{"llama-spm-tiny-Q8_0", 0.06, 1e-3}, golden_case{"llama-spm-tiny-Q4_0", 0.06, 1e-3},
                      golden_case{"llama-spm-tiny-Q4_K_M", 0.08, 2e-3}, golden_case{"qwen3-bpe-tiny-Q8_0", 0.08, 1e-3},
                      golden_case{"gemma4-tiny-F32", 0.5, 2e-5}),
    [](const auto& info) {
        std::string n = info.param.dir;
        for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
        return n;
    });

}  // namespace
}  // namespace tandem::test
