// Structured output through the real engine on stories260K (a 512-token SPM vocabulary with byte
// tokens): greedy and seeded outputs with a schema parse as JSON and validate against it (checked
// here field by field, independently of the grammar), requests with different grammars and none
// share the batch, and speculative decoding (n-gram drafts) gives the same tokens as plain decoding.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/grammar/json_schema.h"
#include "engine/grammar/token_mask.h"
#include "engine/tokenizer/tokenizer.h"
#include "models/gguf/gguf.h"
#include "tests/engine/spec/spec_rig.h"
#include "tests/models/harness.h"

namespace tandem {
namespace {

using json = nlohmann::json;

const char* k_schema = R"({"type":"object","properties":{
    "name":{"type":"string","maxLength":12},
    "age":{"type":"integer"},
    "mood":{"enum":["happy","sad","sleepy"]},
    "friends":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":3},
    "done":{"type":"boolean"}},
  "required":["name","age","mood","friends","done"],"additionalProperties":false})";

// The schema's rules, checked by hand on a parsed document.
void expect_valid(const std::string& text) {
    json j;
    ASSERT_NO_THROW(j = json::parse(text)) << text;
    ASSERT_TRUE(j.is_object()) << text;
    EXPECT_EQ(j.size(), 5u) << text;
    EXPECT_TRUE(j["name"].is_string()) << text;
    EXPECT_TRUE(j["age"].is_number_integer()) << text;
    EXPECT_TRUE(j["mood"] == "happy" || j["mood"] == "sad" || j["mood"] == "sleepy") << text;
    ASSERT_TRUE(j["friends"].is_array()) << text;
    EXPECT_LE(j["friends"].size(), 3u) << text;
    for (const json& f : j["friends"]) EXPECT_TRUE(f.is_string()) << text;
    EXPECT_TRUE(j["done"].is_boolean()) << text;
}

struct rig {
    explicit rig(std::string model = "models/stories260K.gguf") : path(test::shared_path(model)) {}
    std::string path;
    std::unique_ptr<gguf::file> file = gguf::file::open(path);
    std::unique_ptr<tokenizer> tok = tokenizer::from_gguf(*file);
    std::shared_ptr<const gram::compiled_grammar> schema = std::make_shared<gram::compiled_grammar>(
        gram::grammar_from_json_schema(nlohmann::ordered_json::parse(k_schema), true));
    std::shared_ptr<const gram::compiled_grammar> object =
        std::make_shared<gram::compiled_grammar>(gram::grammar_json_object());

    std::string text(const std::vector<int32_t>& ids) const {
        std::string s;
        for (int32_t id : ids) s += tok->token_piece(id);
        return s;
    }
    engine_config config(bool spec) const {
        engine_config c;
        c.model_path = path;
        c.n_threads = 2;
        c.parallel = 8;
        c.kv_budget_bytes = 64ll << 20;
        c.stream_capacity = 1 << 12;
        c.idle_wake_ms = 50;
        if (spec) {
            c.spec = spec_type::ngram;
            c.draft_max = 4;
            c.draft_adaptive = false;
        }
        return c;
    }
    // Greedy and seeded requests with the schema, one with json_object and one with no grammar.
    std::vector<completion_params> requests() const {
        std::vector<completion_params> reqs;
        const std::vector<int32_t> prompt = tok->encode("Once upon a time, Lily wrote down", true, false);
        for (int i = 0; i < 6; ++i) {
            completion_params c;
            c.prompt = prompt;
            c.max_tokens = 400;
            c.grammar = i < 5 ? schema : object;
            c.sampling.temperature = i == 0 ? 0.0f : 1.0f;
            c.sampling.seed = 100 + static_cast<uint64_t>(i);
            c.seed_fixed = true;
            c.n_logprobs = 2;
            reqs.push_back(c);
        }
        completion_params free = reqs[0];
        free.grammar = nullptr;
        free.max_tokens = 20;
        reqs.push_back(free);
        return reqs;
    }
};

TEST(grammar_engine, outputs_follow_the_schema_and_speculation_changes_nothing) {
    rig r;
    const std::vector<completion_params> reqs = r.requests();
    const test::run_result plain = test::run_requests(r.config(false), reqs);
    ASSERT_EQ(plain.streams.size(), reqs.size());
    for (size_t i = 0; i < 5; ++i) {
        const std::string text = r.text(plain.streams[i].tokens);
        EXPECT_EQ(plain.streams[i].done.reason, finish_reason::stop) << text;
        expect_valid(text);
    }
    // json_object: an object, or (cut by max_tokens) the start of one.
    const std::string obj = r.text(plain.streams[5].tokens);
    ASSERT_FALSE(obj.empty());
    EXPECT_EQ(obj[0], '{');
    if (plain.streams[5].done.reason == finish_reason::stop) {
        EXPECT_TRUE(json::parse(obj).is_object()) << obj;
    }
    // Unconstrained: this model does not write JSON by itself.
    EXPECT_NE(r.text(plain.streams[6].tokens)[0], '{');
    const test::run_result spec = test::run_requests(r.config(true), reqs);
    test::expect_same_streams(plain, spec, "n-gram drafts");
    EXPECT_GT(spec.metrics.spec_draft_tokens, 0);
}

// Model drafters (a draft model, an MTP assistant) draft without the grammar; the anchor verifies
// against masked distributions, so greedy and seeded outputs equal plain decoding's.
TEST(grammar_engine, model_drafters_change_nothing) {
    const std::pair<const char*, const char*> pairs[] = {
        {"models/llama-spm-tiny-F16.gguf", "models/llama-spm-tiny-Q4_0.gguf"},
        {"models/gemma4-tiny-F32.gguf", "models/gemma4-assistant-tiny-F32.gguf"}};
    for (const auto& [anchor, drafter] : pairs) {
        rig r(anchor);
        std::vector<completion_params> reqs = r.requests();
        for (completion_params& c : reqs) c.max_tokens = std::min(c.max_tokens, 120);
        const test::run_result plain = test::run_requests(r.config(false), reqs);
        engine_config sc = r.config(false);
        sc.draft_model_path = test::shared_path(drafter);
        sc.draft_max = 3;
        sc.draft_adaptive = false;
        const test::run_result spec = test::run_requests(sc, reqs);
        test::expect_same_streams(plain, spec, std::string(anchor) + " with " + drafter);
        EXPECT_GT(spec.metrics.spec_draft_tokens, 0) << anchor;
        for (size_t i = 0; i < 5; ++i) {
            if (plain.streams[i].done.reason == finish_reason::stop) expect_valid(r.text(plain.streams[i].tokens));
        }
    }
}

TEST(grammar_engine, max_tokens_cuts_the_text_with_length) {
    rig r;
    std::vector<completion_params> reqs = r.requests();
    reqs.resize(1);
    reqs[0].max_tokens = 5;
    const test::run_result out = test::run_requests(r.config(false), reqs);
    ASSERT_EQ(out.streams.size(), 1u);
    EXPECT_EQ(out.streams[0].done.reason, finish_reason::length);
    EXPECT_EQ(out.streams[0].tokens.size(), 5u);
    EXPECT_EQ(r.text(out.streams[0].tokens)[0], '{');
}

}  // namespace
}  // namespace tandem
