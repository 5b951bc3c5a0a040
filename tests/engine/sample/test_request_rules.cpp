// The request rules (check_request, check_sampling): each broken rule is refused with its kind and
// the field at fault, and the edges of each range are accepted.
#include <gtest/gtest.h>

#include <limits>

#include "engine/engine.h"

namespace tandem {
namespace {

constexpr int32_t k_ctx = 16, k_vocab = 100;

completion_params ok_request() {
    completion_params p;
    p.prompt = {1, 2, 3};
    return p;
}

// "" when accepted, else "<param>" (context_exceeded: "context:<param>").
std::string refused(const completion_params& p) {
    const std::optional<request_refusal> r = check_request(p, k_ctx, k_vocab);
    if (!r) return "";
    EXPECT_FALSE(r->message.empty());
    return (r->kind == submit_error::context_exceeded ? "context:" : "") + r->param;
}

template <typename Edit>
std::string refused_with(Edit edit) {
    completion_params p = ok_request();
    edit(p);
    return refused(p);
}

TEST(RequestRules, PromptTokensAndLength) {
    EXPECT_EQ(refused(ok_request()), "");
    EXPECT_EQ(refused_with([](auto& p) { p.prompt.clear(); }), "prompt");
    EXPECT_EQ(refused_with([](auto& p) { p.prompt.assign(k_ctx - 1, 5); }), "");
    EXPECT_EQ(refused_with([](auto& p) { p.prompt.assign(k_ctx, 5); }), "context:prompt");
    EXPECT_EQ(refused_with([](auto& p) { p.prompt.push_back(k_vocab); }), "prompt");
    EXPECT_EQ(refused_with([](auto& p) { p.prompt.push_back(-1); }), "prompt");
    EXPECT_EQ(refused_with([](auto& p) { p.prompt.push_back(k_vocab - 1); }), "");
}

TEST(RequestRules, LengthsLogprobsAndStops) {
    for (int32_t m : {-1, 1, 1000}) EXPECT_EQ(refused_with([m](auto& p) { p.max_tokens = m; }), "") << m;
    for (int32_t m : {0, -2}) EXPECT_EQ(refused_with([m](auto& p) { p.max_tokens = m; }), "max_tokens") << m;
    for (int32_t n : {-1, 0, k_max_logprobs}) EXPECT_EQ(refused_with([n](auto& p) { p.n_logprobs = n; }), "") << n;
    for (int32_t n : {-2, k_max_logprobs + 1})
        EXPECT_EQ(refused_with([n](auto& p) { p.n_logprobs = n; }), "top_logprobs") << n;
    EXPECT_EQ(refused_with([](auto& p) { p.stop = {"a", ""}; }), "stop");
    EXPECT_EQ(refused_with([](auto& p) { p.stop = {"a", "bc"}; }), "");
}

TEST(RequestRules, SamplingRangesAndTheirEdges) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    struct range_case {
        const char* param;
        float sampling_params::*field;
        float lo, hi;
    };
    const range_case cases[] = {
        {"temperature", &sampling_params::temperature, 0.0f, 2.0f},
        {"top_p", &sampling_params::top_p, 0.0f, 1.0f},
        {"min_p", &sampling_params::min_p, 0.0f, 1.0f},
        {"presence_penalty", &sampling_params::presence_penalty, -2.0f, 2.0f},
        {"frequency_penalty", &sampling_params::frequency_penalty, -2.0f, 2.0f},
        {"repetition_penalty", &sampling_params::repetition_penalty, 0.01f, 10.0f},
    };
    for (const range_case& c : cases) {
        for (float ok : {c.lo, c.hi})
            EXPECT_EQ(refused_with([&](auto& p) { p.sampling.*c.field = ok; }), "") << c.param;
        for (float bad : {c.lo - 0.05f, c.hi + 0.05f, nan, inf})
            EXPECT_EQ(refused_with([&](auto& p) { p.sampling.*c.field = bad; }), c.param) << c.param << " " << bad;
    }
    EXPECT_EQ(refused_with([](auto& p) { p.sampling.top_k = -1; }), "top_k");
    EXPECT_EQ(refused_with([](auto& p) { p.sampling.top_k = 1 << 30; }), "");
    EXPECT_EQ(refused_with([](auto& p) { p.sampling.penalty_last_n = -2; }), "penalty_last_n");
    EXPECT_EQ(refused_with([](auto& p) { p.sampling.logit_bias = {{k_vocab, 1.0f}}; }), "logit_bias");
    EXPECT_EQ(refused_with([](auto& p) { p.sampling.logit_bias = {{3, 100.5f}}; }), "logit_bias");
    EXPECT_EQ(refused_with([&](auto& p) { p.sampling.logit_bias = {{3, nan}}; }), "logit_bias");
    EXPECT_EQ(refused_with([&](auto& p) { p.sampling.logit_bias = {{3, -inf}, {4, -100.0f}, {5, 100.0f}}; }), "");
}

}  // namespace
}  // namespace tandem
