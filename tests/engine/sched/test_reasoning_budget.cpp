// The reasoning budget driven through the scheduler without a model: the sample function does what
// the engine's does (a forced token is written instead of sampled). After `limit` tokens inside the
// block the end marker's tokens follow, whatever the model would draw; with drafts the round is cut
// where forcing starts and no drafts are planned while it lasts. Also the other chat hook: control
// tokens a request asks to see.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/grammar/json_schema.h"
#include "engine/grammar/token_mask.h"
#include "engine/sched/reasoning_budget.h"
#include "tests/engine/sched/sched_rig.h"

namespace tandem {
namespace {

using test::tokens_of;

constexpr int32_t k_start = 60, k_end1 = 61, k_end2 = 62;

struct rig : test::sched_rig {
    // Row r of every sampling item draws script[r], unless the sequence is forcing (as the engine).
    void run(std::vector<int32_t> script) {
        step_plan p = plan();
        sched.update(p, [&](size_t, sequence& s, int32_t row) {
            const std::optional<int32_t> forced = s.budget.take_forced();
            const int32_t drawn = row < static_cast<int32_t>(script.size()) ? script[static_cast<size_t>(row)] : 99;
            return scheduler::sampled{forced ? *forced : drawn, 0.0f, {}};
        });
        deliver();
    }
};

TEST(reasoning_budget, state_counts_inside_the_block_only) {
    reasoning_budget b;
    b.limit = 2;
    b.start = "<think>";
    b.end = "</think>";
    b.end_tokens = {k_end1};
    b.begin(false);
    // the start marker in other tokens than its own, with text around it
    for (const char* piece : {"Hi <", "th", "ink>(", "a"}) {
        b.observe(piece);
        EXPECT_FALSE(b.forcing()) << piece;
        EXPECT_TRUE(b.inside || std::string_view(piece) != "ink>(");
    }
    b.observe("b");  // the second token inside
    ASSERT_TRUE(b.forcing());
    EXPECT_EQ(b.take_forced(), k_end1);
    EXPECT_FALSE(b.take_forced().has_value());
    EXPECT_TRUE(b.done);

    reasoning_budget closed = b;  // a model that closes the block itself is never forced
    closed.forced.clear();
    closed.done = false;
    closed.inside = true;
    closed.n_inside = 0;
    closed.limit = 5;
    for (const char* piece : {"x</", "thi", "nk>\n"}) closed.observe(piece);
    EXPECT_TRUE(closed.done);
    EXPECT_FALSE(closed.forcing());

    reasoning_budget both;  // opened and closed in one token's text
    both.limit = 1;
    both.start = "<think>";
    both.end = "</think>";
    both.end_tokens = {k_end1};
    both.begin(false);
    both.observe("<think>ok</think>");
    EXPECT_TRUE(both.done);
    both.observe("x");
    EXPECT_FALSE(both.forcing());

    reasoning_budget never;  // the start marker never whole: nothing counts
    never.limit = 1;
    never.start = "<think>";
    never.end = "</think>";
    never.end_tokens = {k_end1};
    never.begin(false);
    for (const char* piece : {"<thin", "g>", "<", "think", "x"}) never.observe(piece);
    EXPECT_FALSE(never.inside);
    EXPECT_FALSE(never.forcing());

    reasoning_budget zero;
    zero.limit = 0;
    zero.end_tokens = {k_end1};
    zero.begin(true);  // no thinking at all: the end marker comes first
    EXPECT_EQ(zero.take_forced(), k_end1);

    reasoning_budget none;
    none.end_tokens = {k_end1};
    none.begin(true);  // -1: no limit
    EXPECT_TRUE(none.done);
}

std::vector<int32_t> run_budget(rig& r, int32_t limit, bool open, const std::vector<std::vector<int32_t>>& rounds,
                                const std::vector<std::vector<int32_t>>& drafts = {}) {
    auto s = std::make_unique<sequence>();
    s->id = r.next_id++;
    s->tokens = {10, 11, 12, 13};
    s->n_prompt = 4;
    s->max_tokens = 40;
    s->smp = std::make_unique<sampler>(sampling_params{}, 100);
    s->stream = std::make_shared<request_stream>(s->id, 1000);
    s->budget.limit = limit;
    s->budget.start = "i";  // the rig's text of k_start
    s->budget.end = "jk";   // of k_end1, k_end2
    s->budget.end_tokens = {k_end1, k_end2};
    s->budget.begin(open);
    auto stream = s->stream;
    const uint64_t id = s->id;
    r.sched.add(std::move(s));
    for (size_t i = 0; i < rounds.size(); ++i) {
        if (i < drafts.size() && r.sched.n_running() > 0) r.seq(id).spec.draft = drafts[i];
        r.run(rounds[i]);
    }
    return tokens_of(*stream);
}

TEST(reasoning_budget, forces_the_end_marker_after_the_limit) {
    rig r;
    // the prompt opened the block: 3 tokens of thought, then 61 62 forced, then the answer
    EXPECT_EQ(run_budget(r, 3, true, {{31}, {32}, {33}, {34}, {35}, {36}, {37}}),
              (std::vector<int32_t>{31, 32, 33, k_end1, k_end2, 36, 37}));
    // without a limit the model's own tokens throughout
    EXPECT_EQ(run_budget(r, -1, true, {{31}, {32}, {33}, {34}}), (std::vector<int32_t>{31, 32, 33, 34}));
}

TEST(reasoning_budget, counts_from_the_models_own_start_marker) {
    rig r;
    EXPECT_EQ(run_budget(r, 1, false, {{1}, {k_start}, {3}, {4}, {5}, {6}}),
              (std::vector<int32_t>{1, k_start, 3, k_end1, k_end2, 6}));
}

TEST(reasoning_budget, a_round_of_drafts_is_cut_where_forcing_starts) {
    rig r;
    // round 2 verifies drafts 21 22 23, all matching: the budget (2) is reached at 21, so 22 23 are
    // dropped and the forced tokens follow; the rounds after plan no drafts while forcing
    const std::vector<int32_t> got =
        run_budget(r, 2, true, {{20}, {21, 22, 23, 24}, {30, 31}, {40, 41}, {50}}, {{}, {21, 22, 23}, {30}, {40}});
    EXPECT_EQ(got, (std::vector<int32_t>{20, 21, k_end1, k_end2, 50}));
}

// Sequence 1 with a two-token prompt, up to max_tokens generated, a stream for its output.
std::unique_ptr<sequence> two_token_prompt(int32_t max_tokens) {
    auto s = std::make_unique<sequence>();
    s->id = 1;
    s->tokens = {10, 11};
    s->n_prompt = 2;
    s->max_tokens = max_tokens;
    s->smp = std::make_unique<sampler>(sampling_params{}, 100);
    s->stream = std::make_shared<request_stream>(1, 100);
    return s;
}

// A control token (piece "" as the tokenizer gives it) shows its text only for a request that asks.
TEST(shown_special, a_requested_control_token_shows_its_text) {
    test::rig_options o;
    for (const bool shown : {false, true}) {
        sched_config c = test::sched_rig::sc(o);
        c.token_piece = [](int32_t t) {
            return t == 70 ? std::string() : std::string(1, static_cast<char>('a' + t % 26));
        };
        c.special_piece = [](int32_t t) { return t == 70 ? std::string("<|call|>") : std::string("?"); };
        kv_cache_manager kv(test::sched_rig::kv_cfg(o.n_blocks));
        scheduler sched(c, kv);
        auto s = two_token_prompt(3);
        if (shown) s->shown_special = {70};
        auto stream = s->stream;
        sched.add(std::move(s));
        sched_output out;
        for (int32_t t : {30, 70, 31}) {
            step_plan p = sched.schedule();
            sched.update(p, [&](size_t, sequence&, int32_t) { return scheduler::sampled{t, 0.0f, {}}; });
            sched.take_output(out);
            stream_output(out);
        }
        EXPECT_EQ(test::text_of(test::drain(*stream)), shown ? "e<|call|>f" : "ef");
    }
}

// An end-of-generation control token shown as text that a grammar takes as text (gpt-oss's "<|call|>"
// closing one of several forced calls) is text, and the grammar says whether the sequence ends: here
// calls "a" each closed by <|call|> (70, an end of generation), up to two, joined by <|start|> (71).
TEST(shown_special, an_end_token_the_grammar_takes_is_text) {
    std::vector<std::string> pieces(100);
    pieces[30] = "\"a\"";
    pieces[71] = "<|start|>";
    const gram::token_index vocab(pieces, {test::k_eos, 70});
    gram::sequence_spec spec;
    spec.item_suffix = "<|call|>";
    spec.separator = "<|start|>";
    spec.max_items = 2;
    const auto calls = std::make_shared<gram::compiled_grammar>(
        gram::grammar_from_sequence(nlohmann::ordered_json::parse(R"({"enum": ["a"]})"), spec, true));
    const auto run = [&](const std::vector<int32_t>& draws, stream_event* done) {
        test::rig_options o;
        sched_config c = test::sched_rig::sc(o);
        c.is_eog = [](int32_t t) { return t == test::k_eos || t == 70; };
        c.token_piece = [&](int32_t t) { return pieces[static_cast<size_t>(t)]; };
        c.special_piece = [](int32_t t) { return t == 70 ? std::string("<|call|>") : std::string(); };
        kv_cache_manager kv(test::sched_rig::kv_cfg(o.n_blocks));
        scheduler sched(c, kv);
        auto s = two_token_prompt(10);
        s->shown_special = {70};
        s->gm = std::make_unique<gram::grammar_matcher>(calls, vocab);
        s->gm->show_tokens({{70, "<|call|>"}});
        auto stream = s->stream;
        sched.add(std::move(s));
        sched_output out;
        std::vector<stream_event> events;
        for (int32_t t : draws) {
            step_plan p = sched.schedule();
            sched.update(p, [&](size_t, sequence& seq, int32_t) {
                if (!seq.gm->accept(t)) seq.grammar_stuck = true;  // as the engine's sample step
                return scheduler::sampled{t, 0.0f, {}};
            });
            sched.take_output(out);
            stream_output(out);
            for (stream_event& ev : test::drain(*stream)) events.push_back(std::move(ev));
        }
        if (!events.empty() && events.back().what == stream_event::kind::done) *done = events.back();
        return test::text_of(events);
    };
    stream_event done;
    EXPECT_EQ(run({30, 70, 71, 30, 70}, &done), "\"a\"<|call|><|start|>\"a\"<|call|>");
    EXPECT_EQ(done.what, stream_event::kind::done);
    EXPECT_EQ(done.reason, finish_reason::stop);  // two calls: the grammar is done
    done = {};
    EXPECT_EQ(run({30, 70, test::k_eos}, &done), "\"a\"<|call|>");
    EXPECT_EQ(done.reason, finish_reason::stop);  // one call, then the model's end
}

}  // namespace
}  // namespace tandem
