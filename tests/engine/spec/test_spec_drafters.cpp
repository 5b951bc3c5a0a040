// Each drafter as the engine wires it (runner, shared KV cache, block tables, positions, hidden
// states), against an independent reference: the MTP assistant drafts what llama.cpp drafted for
// the golden prompts, and a draft model drafts its own greedy continuation as a plain engine run
// of that model produces it. (The greedy-identity tests cannot see a wrong draft: it is rejected.)
#include <gtest/gtest.h>

#include "engine/kv/kv_cache_manager.h"
#include "engine/runner.h"
#include "engine/spec/drafter.h"
#include "tests/engine/spec/spec_rig.h"
#include "tests/models/harness.h"

namespace tandem {
namespace {

using test::read_json;
using test::shared_path;

struct drafter_rig {
    std::unique_ptr<gguf::file> anchor_file, draft_file;
    std::unique_ptr<runner> run;
    std::unique_ptr<kv_cache_manager> kv;
    std::unique_ptr<drafter> d;

    drafter_rig(const std::string& anchor, const std::string& draft, spec_type spec) {
        engine_config cfg;
        cfg.n_threads = 2;
        cfg.kv_budget_bytes = 16ll << 20;
        anchor_file = gguf::file::open(shared_path(anchor));
        draft_file = gguf::file::open(shared_path(draft));
        run = std::make_unique<runner>(cfg, spec, *anchor_file, draft_file.get());
        kv = std::make_unique<kv_cache_manager>(run->kv_config());
        draft_options o;
        o.n_vocab = run->anchor().info().n_vocab;
        d = spec == spec_type::mtp ? make_mtp_drafter(*run, *kv, o) : make_model_drafter(*run, *kv, o);
    }

    // Prefills `prompt` on the anchor and appends its greedy token, as the engine's first step does.
    std::unique_ptr<sequence> prefill(const std::vector<int32_t>& prompt, bool draft_kv) {
        auto s = std::make_unique<sequence>();
        s->id = 1;
        s->tokens = prompt;
        s->n_prompt = static_cast<int32_t>(prompt.size());
        s->spec.draft_kv = draft_kv;
        const int32_t n = s->n_prompt;
        EXPECT_TRUE(kv->allocate_slots(1, n + 8));
        step_plan plan;
        plan.items = {{1, 0, n, 0, true}};
        sequence* const one[] = {s.get()};
        const step_output out = run->forward(plan, one, *kv, d->needs_hidden());
        const int32_t v = run->anchor().info().n_vocab;
        s->tokens.push_back(test::argmax(out.logits.data(), v));
        s->n_computed = n;
        if (d->needs_hidden()) {
            s->spec.hidden.assign(out.hidden.begin(), out.hidden.end());
            s->spec.has_hidden = true;
        }
        return s;
    }
};

TEST(spec_drafters, mtp_drafts_what_llama_cpp_drafted) {
    drafter_rig r("models/gemma4-tiny-F32.gguf", "models/gemma4-assistant-tiny-F32.gguf", spec_type::mtp);
    for (const char* id : {"p0_short", "p1_unicode", "p2_long"}) {
        SCOPED_TRACE(id);
        const nlohmann::json j = read_json(shared_path(std::string("golden/gemma4-tiny-F32/") + id + ".json"));
        std::unique_ptr<sequence> s = r.prefill(j["tokens"].get<std::vector<int32_t>>(), false);
        EXPECT_EQ(s->tokens.back(), j["draft"]["first_input_token"].get<int32_t>());
        std::vector<int32_t> want;
        for (const auto& step : j["draft"]["steps"]) want.push_back(step["drafted"].get<int32_t>());
        const std::vector<std::unique_ptr<sequence>> running;
        const draft_request req{s.get(), static_cast<int32_t>(want.size())};
        r.d->propose(std::span<const draft_request>(&req, 1), running);
        EXPECT_EQ(s->spec.draft, want);
        r.kv->free_seq(1);
    }
}

TEST(spec_drafters, draft_model_drafts_its_own_greedy_continuation) {
    drafter_rig r("models/llama-spm-tiny-F16.gguf", "models/llama-spm-tiny-Q4_0.gguf", spec_type::draft);
    const std::vector<int32_t> prompt =
        read_json(shared_path("golden/llama-spm-tiny-F16/p2_long.json"))["tokens"].get<std::vector<int32_t>>();
    std::unique_ptr<sequence> s = r.prefill(prompt, true);
    s->spec.n_draft_kv = 0;  // the draft model has seen nothing: it catches up on the whole prompt
    std::vector<std::unique_ptr<sequence>> running;
    running.push_back(std::move(s));
    sequence& seq = *running[0];
    const draft_request req{&seq, 4};
    r.d->propose(std::span<const draft_request>(&req, 1), running);
    EXPECT_EQ(seq.spec.n_draft_kv, static_cast<int64_t>(seq.tokens.size()) + 3) << "fed its drafts but the last";

    // The reference: the draft model served alone, greedy from the same tokens.
    engine_config cfg;
    cfg.model_path = shared_path("models/llama-spm-tiny-Q4_0.gguf");
    cfg.n_threads = 2;
    completion_params p;
    p.prompt = seq.tokens;
    p.sampling.temperature = 0;
    p.max_tokens = 4;
    p.ignore_eos = true;
    const test::run_result ref = test::run_requests(cfg, {p});
    ASSERT_EQ(ref.streams.size(), 1u);
    EXPECT_EQ(seq.spec.draft, ref.streams[0].tokens);

    // After a round in which only the first draft was accepted, the next round catches up on the
    // accepted tokens only and drafts the continuation of the new history.
    seq.tokens.push_back(seq.spec.draft[0]);
    seq.tokens.push_back(1000);  // the anchor's correction
    seq.n_computed = static_cast<int64_t>(seq.tokens.size()) - 1;
    seq.spec.n_draft_kv = std::min(seq.spec.n_draft_kv, seq.n_computed);
    seq.spec.draft.clear();
    ASSERT_TRUE(r.kv->allocate_slots(1, static_cast<int64_t>(seq.tokens.size()) + 4));
    r.d->propose(std::span<const draft_request>(&req, 1), running);
    p.prompt = seq.tokens;
    const test::run_result ref2 = test::run_requests(cfg, {p});
    EXPECT_EQ(seq.spec.draft, ref2.streams[0].tokens);
}

}  // namespace
}  // namespace tandem
