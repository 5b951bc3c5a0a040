// Speculative decoding through the real engine: for every drafter kind (MTP assistant, draft model,
// n-gram), greedy output and logprobs with speculation equal those without it, at draft lengths
// 1..5, with 1 and 8 parallel streams, with f16, q8_0 and q4_0 KV, with prefix-cache hits, chunked
// prefill of other requests in the same steps, preemption and sliding-window block release; sampled
// output keeps the anchor's distribution; drafters that do not fit the anchor are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common/error.h"
#include "tests/engine/spec/spec_rig.h"
#include "tests/models/harness.h"

namespace tandem {
namespace {

using test::expect_same_streams;
using test::read_json;
using test::run_requests;
using test::run_result;
using test::shared_path;

std::vector<int32_t> golden_tokens(const std::string& dir, const std::string& id) {
    return read_json(shared_path("golden/" + dir + "/" + id + ".json"))["tokens"].get<std::vector<int32_t>>();
}

// Eight prompts from a model's golden prompts: the three as they are, prefixes of the long one
// (so later requests hit blocks the earlier ones cached) and a few with changed tails.
std::vector<std::vector<int32_t>> prompts_of(const std::string& dir, const std::vector<std::string>& ids,
                                             int32_t n_vocab) {
    std::vector<std::vector<int32_t>> p;
    for (const std::string& id : ids) p.push_back(golden_tokens(dir, id));
    const std::vector<int32_t> longest = p.back();
    for (size_t cut : {size_t{9}, size_t{17}, longest.size() - 2}) {
        std::vector<int32_t> q(longest.begin(),
                               longest.begin() + static_cast<ptrdiff_t>(std::min(cut, longest.size())));
        p.push_back(q);
    }
    for (int32_t extra : {5, 77}) {
        std::vector<int32_t> q = longest;
        q.push_back(extra % n_vocab);
        p.push_back(q);
    }
    p.resize(8, p.front());
    return p;
}

std::vector<completion_params> greedy_requests(const std::vector<std::vector<int32_t>>& prompts, int32_t max_tokens) {
    std::vector<completion_params> reqs;
    for (size_t i = 0; i < prompts.size(); ++i) {
        completion_params c;
        c.prompt = prompts[i];
        c.sampling.temperature = 0;
        c.max_tokens = max_tokens;
        c.ignore_eos = true;
        c.n_logprobs = i % 2 == 0 ? 3 : -1;
        reqs.push_back(c);
    }
    return reqs;
}

// The whole sampler chain, a different seed per request.
std::vector<completion_params> sampled_requests(const std::vector<std::vector<int32_t>>& prompts, int32_t max_tokens,
                                                uint64_t seed0) {
    std::vector<completion_params> reqs = greedy_requests(prompts, max_tokens);
    for (size_t i = 0; i < reqs.size(); ++i) {
        sampling_params& s = reqs[i].sampling;
        s.temperature = 0.9f;
        s.top_k = 40;
        s.top_p = 0.95f;
        s.min_p = 0.01f;
        s.repetition_penalty = 1.1f;
        s.frequency_penalty = 0.2f;
        s.presence_penalty = 0.1f;
        s.logit_bias = {{static_cast<int32_t>(3 + i), 2.0f}};
        s.seed = seed0 + i;
    }
    return reqs;
}

struct model_pair {
    std::string anchor, drafter;  // drafter empty: n-gram
    spec_type spec;
    std::string golden;  // the anchor's golden directory (prompts)
};

const model_pair k_mtp{"models/gemma4-tiny-F32.gguf", "models/gemma4-assistant-tiny-F32.gguf", spec_type::mtp,
                       "gemma4-tiny-F32"};
const model_pair k_draft{"models/llama-spm-tiny-F16.gguf", "models/llama-spm-tiny-Q4_0.gguf", spec_type::draft,
                         "llama-spm-tiny-F16"};
// stories260K (trained, repetitive) has head dim 8, too narrow for quantized KV: llama-spm-tiny serves there.
const model_pair k_ngram{"models/stories260K.gguf", "", spec_type::ngram, "stories260K"};
const model_pair k_ngram_wide{"models/llama-spm-tiny-Q8_0.gguf", "", spec_type::ngram, "llama-spm-tiny-Q8_0"};

engine_config base_config(const model_pair& m, dtype kv, int32_t parallel) {
    engine_config c;
    c.model_path = shared_path(m.anchor);
    c.n_threads = 2;
    c.parallel = parallel;
    c.kv_type = kv;
    c.kv_budget_bytes = 64ll << 20;
    c.stream_capacity = 1 << 12;
    c.idle_wake_ms = 50;
    return c;
}

engine_config spec_config(const model_pair& m, dtype kv, int32_t parallel, int32_t k) {
    engine_config c = base_config(m, kv, parallel);
    if (!m.drafter.empty()) c.draft_model_path = shared_path(m.drafter);
    c.spec = m.spec;
    c.draft_max = k;
    c.draft_adaptive = false;  // exactly k drafts per round (within each sequence's limits)
    return c;
}

std::vector<std::vector<int32_t>> prompts_for(const model_pair& m) {
    if (m.golden == "stories260K") return prompts_of(m.golden, {"p0_short", "p1_lily", "p3_long"}, 512);
    return prompts_of(m.golden, {"p0_short", "p1_unicode", "p2_long"}, 512);
}

std::string kv_name(dtype t) {
    return std::string(dtype_info_of(t).name);
}

// Greedy: token-identical to plain decoding at k = 1..5, with 1 and 8 streams, for every KV type.
void greedy_matrix(const model_pair& m, const std::vector<dtype>& kv_types, int32_t max_tokens) {
    const std::vector<completion_params> reqs = greedy_requests(prompts_for(m), max_tokens);
    for (dtype kv : kv_types) {
        const run_result plain = run_requests(base_config(m, kv, 8), reqs);
        ASSERT_EQ(plain.streams.size(), reqs.size());
        for (int32_t parallel : {1, 8}) {
            for (int32_t k = 1; k <= 5; ++k) {
                const std::string what =
                    kv_name(kv) + " KV, " + std::to_string(parallel) + " streams, k=" + std::to_string(k);
                const run_result spec = run_requests(spec_config(m, kv, parallel, k), reqs);
                expect_same_streams(plain, spec, what);
                EXPECT_GT(spec.metrics.spec_draft_tokens, 0) << what << ": nothing was drafted";
                EXPECT_EQ(plain.metrics.spec_draft_tokens, 0);
            }
        }
    }
}

TEST(spec_engine, mtp_greedy_equals_plain_decoding) {
    greedy_matrix(k_mtp, {dtype::f16, dtype::q8_0, dtype::q4_0}, 20);
}

TEST(spec_engine, draft_model_greedy_equals_plain_decoding) {
    greedy_matrix(k_draft, {dtype::f16, dtype::q8_0, dtype::q4_0}, 20);
    const run_result r =
        run_requests(spec_config(k_draft, dtype::f16, 8, 3), greedy_requests(prompts_for(k_draft), 20));
    EXPECT_GT(r.metrics.spec_accepted_tokens, r.metrics.spec_draft_tokens / 2)
        << "the Q4_0 draft of the same weights agrees with the F16 anchor most of the time";
}

TEST(spec_engine, ngram_greedy_equals_plain_decoding) {
    greedy_matrix(k_ngram, {dtype::f16}, 40);
    greedy_matrix(k_ngram_wide, {dtype::q8_0, dtype::q4_0}, 40);
    const run_result r =
        run_requests(spec_config(k_ngram, dtype::f16, 8, 3), greedy_requests(prompts_for(k_ngram), 40));
    EXPECT_GT(r.metrics.spec_accepted_tokens, 0) << "stories260K repeats itself: lookups must hit sometimes";
}

// Sampling with a seed the client fixed: model drafters draft greedily, and each position samples the
// anchor with the request's whole chain and compares, one draw per emitted token, so the output is
// not only distributed as without speculation but equal.
TEST(spec_engine, sampled_output_with_a_fixed_seed_equals_plain_decoding_for_every_drafter) {
    for (const model_pair* m : {&k_mtp, &k_draft, &k_ngram}) {
        std::vector<completion_params> reqs = sampled_requests(prompts_for(*m), 24, 1000);
        for (completion_params& r : reqs) r.seed_fixed = true;
        const dtype kv = m == &k_ngram ? dtype::f16 : dtype::q8_0;
        const run_result plain = run_requests(base_config(*m, kv, 4), reqs);
        const run_result spec = run_requests(spec_config(*m, kv, 4, 3), reqs);
        expect_same_streams(plain, spec, std::string("sampled, fixed seed, ") + spec_type_name(m->spec));
        EXPECT_GT(spec.metrics.spec_draft_tokens, 0) << spec_type_name(m->spec);
    }
}

// Without a fixed seed a model drafter samples its drafts with the request's chain and the anchor
// accepts by ratio: with fixed draft lengths the same seeds still give the same output.
TEST(spec_engine, sampled_drafts_with_fixed_draft_lengths_are_reproducible) {
    for (const model_pair* m : {&k_mtp, &k_draft}) {
        const std::vector<completion_params> reqs = sampled_requests(prompts_for(*m), 24, 1000);
        const run_result a = run_requests(spec_config(*m, dtype::q8_0, 4, 3), reqs);
        const run_result b = run_requests(spec_config(*m, dtype::q8_0, 4, 3), reqs);
        expect_same_streams(a, b, std::string("sampled twice, ") + spec_type_name(m->spec));
        EXPECT_GT(a.metrics.spec_accepted_tokens, 0) << spec_type_name(m->spec);
    }
}

// The distribution of the token at a fixed position over many seeds, with and without a drafter,
// on disjoint seed sets: a two-sample chi-square test must not reject equality. Both model drafters
// sample their drafts here (ratio acceptance); top_k 6 keeps enough draws per category. The share of
// drafts accepted must reach min_acceptance.
void expect_anchor_distribution(const model_pair& m, const std::vector<int32_t>& prompt, double min_acceptance) {
    constexpr int n = 400, position = 3;
    auto histogram = [&](bool spec, uint64_t seed0) {
        std::vector<completion_params> reqs;
        for (int i = 0; i < n; ++i) {
            completion_params c;
            c.prompt = prompt;
            c.max_tokens = position + 1;
            c.ignore_eos = true;
            c.sampling.temperature = 1.0f;
            c.sampling.top_k = 6;
            c.sampling.seed = seed0 + static_cast<uint64_t>(i);
            reqs.push_back(c);
        }
        engine_config cfg = spec ? spec_config(m, dtype::f16, 16, 3) : base_config(m, dtype::f16, 16);
        cfg.max_queue = n;
        const run_result r = run_requests(cfg, reqs);
        std::map<int32_t, int> h;
        for (const auto& s : r.streams) {
            if (s.tokens.size() > position) ++h[s.tokens[position]];
        }
        if (spec) {
            EXPECT_GT(r.metrics.spec_accepted_tokens, 0);
            EXPECT_LT(r.metrics.spec_accepted_tokens, r.metrics.spec_draft_tokens) << "some drafts must be rejected";
            EXPECT_GE(static_cast<double>(r.metrics.spec_accepted_tokens),
                      min_acceptance * static_cast<double>(r.metrics.spec_draft_tokens));
        }
        return h;
    };
    const std::map<int32_t, int> a = histogram(false, 1), b = histogram(true, 1000000);
    // Categories with fewer than 10 draws in total are pooled.
    std::map<int32_t, std::pair<int, int>> cells;
    std::pair<int, int> rare{0, 0};
    std::map<int32_t, std::pair<int, int>> all;
    for (const auto& [t, c] : a) all[t].first += c;
    for (const auto& [t, c] : b) all[t].second += c;
    for (const auto& [t, c] : all) {
        if (c.first + c.second < 10) {
            rare.first += c.first;
            rare.second += c.second;
        } else {
            cells[t] = c;
        }
    }
    if (rare.first + rare.second > 0) cells[-1] = rare;
    ASSERT_GE(cells.size(), 3u) << "the position must have a real distribution to compare";
    double chi2 = 0;
    for (const auto& [t, c] : cells) {
        const double total = c.first + c.second;
        const double ea = total * 0.5, eb = total * 0.5;  // equal sample sizes
        chi2 += (c.first - ea) * (c.first - ea) / ea + (c.second - eb) * (c.second - eb) / eb;
    }
    const double dof = static_cast<double>(cells.size() - 1);
    // p = 0.001 critical value, Wilson-Hilferty approximation of the chi-square quantile.
    const double z = 3.09, h = 2.0 / (9.0 * dof);
    const double critical = dof * std::pow(1.0 - h + z * std::sqrt(h), 3.0);
    EXPECT_LT(chi2, critical) << cells.size() << " categories";
}

// The Q4_0 draft of the same model is close to the anchor: ratio acceptance kept 70% of its sampled
// drafts, where drawing from the anchor and comparing with a greedy draft kept 25%.
TEST(spec_engine, sampled_distribution_matches_the_anchor_chi_square_draft_model) {
    expect_anchor_distribution(k_draft, golden_tokens("llama-spm-tiny-F16", "p0_short"), 0.5);
}

// The tiny assistant is untrained (it drafts nearly nothing the anchor keeps): the output must still be the anchor's.
TEST(spec_engine, sampled_distribution_matches_the_anchor_chi_square_mtp) {
    expect_anchor_distribution(k_mtp, golden_tokens("gemma4-tiny-F32", "p0_short"), 0.0);
}

// Everything together, the kind of combination that crashed other servers: KV sharing (gemma4) +
// quantized KV + speculation + 8 streams + prefix-cache hits + chunked prefill of other requests
// in the same steps + preemption in the middle of rounds + sliding-window block release.
void combination(const model_pair& m, dtype kv, int32_t max_tokens) {
    const std::vector<completion_params> reqs = greedy_requests(prompts_for(m), max_tokens);
    engine_config plain_cfg = base_config(m, kv, 8);
    const run_result plain = run_requests(plain_cfg, reqs);
    engine_config cfg = spec_config(m, kv, 8, 4);
    // Blocks per group: the longest request fits alone, with two blocks to spare; 8 streams do not.
    size_t longest = 0;
    for (const completion_params& r : reqs) longest = std::max(longest, r.prompt.size());
    cfg.kv_blocks = static_cast<int64_t>((longest + max_tokens + 4 + 15) / 16 + 2);
    cfg.batch_size = 24;
    cfg.prefill_chunk = 6;
    const run_result spec = run_requests(cfg, reqs);
    expect_same_streams(plain, spec, std::string("combination, ") + spec_type_name(m.spec));
    EXPECT_GT(spec.metrics.preemptions, 0) << "the KV pool was meant to force preemptions";
    EXPECT_GT(spec.metrics.prefix_cache_hit_tokens, 0);
    EXPECT_GT(spec.metrics.spec_draft_tokens, 0);
    EXPECT_EQ(spec.metrics.kv_blocks_used, 0) << "every block (drafts' reservations too) is released";
    // The adaptive policy too (it may choose any length, 0 included): the same output.
    cfg.draft_adaptive = true;
    expect_same_streams(plain, run_requests(cfg, reqs), std::string("adaptive, ") + spec_type_name(m.spec));
}

TEST(spec_engine, everything_at_once_mtp_q4_0) {
    combination(k_mtp, dtype::q4_0, 24);
}

TEST(spec_engine, everything_at_once_draft_model_q8_0) {
    combination(k_draft, dtype::q8_0, 24);
}

TEST(spec_engine, everything_at_once_ngram_q4_0) {
    combination(k_ngram_wide, dtype::q4_0, 40);
}

TEST(spec_engine, drafters_that_do_not_fit_are_refused_at_start) {
    auto refused = [](engine_config c, const std::string& needle) {
        try {
            engine::create(c);
            ADD_FAILURE() << "accepted; expected an error mentioning '" << needle << "'";
        } catch (const error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    engine_config c = base_config(k_ngram, dtype::f16, 1);
    c.draft_model_path = shared_path("models/llama-spm-tiny-Q8_0.gguf");  // 32000 tokens against 512
    refused(c, "vocabulary");
    c.draft_model_path = shared_path("models/gemma4-assistant-tiny-F32.gguf");  // an MTP file for a llama anchor
    refused(c, "MTP");
    c.spec = spec_type::mtp;
    c.draft_model_path.clear();
    refused(c, "needs a drafter file");
    c.spec = spec_type::ngram;
    c.draft_model_path = shared_path("models/llama-spm-tiny-Q8_0.gguf");
    refused(c, "takes no draft model");
    engine_config d = spec_config(k_draft, dtype::f16, 1, 3);
    d.draft_max = 17;
    refused(d, "--draft-max");
    d.draft_max = 3;
    d.draft_min = 4;
    refused(d, "--draft-min");
}

}  // namespace
}  // namespace tandem
