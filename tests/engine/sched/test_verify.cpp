// Verification of drafts inside the scheduler's update, driven without a model: the test sets a
// sequence's drafts and scripts the token each verified row samples. Covers acceptance of the
// longest matching prefix plus one token, the rollback of n_computed and of the KV blocks, the
// end of a sequence inside an accepted run (EOS, max_tokens, context end: nothing after it is
// emitted or counted), preemption that drops drafts, and the speculative counters.
#include <gtest/gtest.h>

#include "tests/engine/sched/sched_rig.h"

namespace tandem {
namespace {

using test::k_eos;
using test::tokens_of;

struct rig : test::sched_rig {
    explicit rig(int32_t n_blocks = 64, int32_t ctx = 64, int32_t batch = 64)
        : sched_rig(test::rig_options{n_blocks, 4, batch, ctx, 0}) {}
};

TEST(verify, accepts_the_matching_prefix_plus_one_token_and_rolls_back_the_rest) {
    rig r;
    auto a = r.add(6, 50);
    r.step({30});  // prompt; samples 30
    EXPECT_EQ(tokens_of(*a), (std::vector<int32_t>{30}));
    sequence& s = r.seq(1);
    ASSERT_TRUE(s.decoding());
    s.spec.draft = {40, 41, 42, 43};
    std::vector<int32_t> rows;
    const step_plan p = r.step({40, 41, 77, 78}, &rows);  // drafts 1-2 accepted, 3 rejected: 77 corrects it
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].n_new, 5);
    EXPECT_EQ(p.items[0].n_draft, 4);
    EXPECT_EQ(rows, (std::vector<int32_t>{0, 1, 2})) << "row 3 follows a rejected draft: never sampled";
    EXPECT_EQ(tokens_of(*a), (std::vector<int32_t>{40, 41, 77}));
    EXPECT_EQ(s.tokens.size(), 10u);  // 6 + 30 40 41 77
    EXPECT_EQ(s.n_computed, 9) << "the prompt, 30, 40 and 41 are in the cache; 77 is next";
    EXPECT_TRUE(s.spec.draft.empty());
    EXPECT_EQ(r.kv.block_table(1, 0).size(), 3u) << "blocks past the accepted tokens are released";
    EXPECT_EQ(r.sched.spec().n_drafts, 1);
    EXPECT_EQ(r.sched.spec().n_draft_tokens, 4);
    EXPECT_EQ(r.sched.spec().n_accepted, 2);
    EXPECT_EQ(r.sched.spec().accepted_at[0], 1);
    EXPECT_EQ(r.sched.spec().accepted_at[1], 1);
    EXPECT_EQ(r.sched.spec().accepted_at[2], 0);
    EXPECT_EQ(s.spec.last_draft, 4);
    EXPECT_EQ(s.spec.last_accepted, 2);
}

TEST(verify, every_draft_accepted_adds_the_bonus_token) {
    rig r;
    auto a = r.add(5, 50);
    r.step({30});
    tokens_of(*a);
    r.seq(1).spec.draft = {40, 41, 42};
    r.step({40, 41, 42, 43});
    EXPECT_EQ(tokens_of(*a), (std::vector<int32_t>{40, 41, 42, 43}));
    EXPECT_EQ(r.seq(1).n_computed, 9);  // 5 + 30 40 41 42
    EXPECT_EQ(r.sched.spec().n_accepted, 3);
    r.step({50});  // an empty draft is a plain decode step
    EXPECT_EQ(tokens_of(*a), (std::vector<int32_t>{50}));
    EXPECT_EQ(r.sched.spec().n_drafts, 1);
}

TEST(verify, eos_at_draft_two_of_three_ends_the_run_there) {
    rig r;
    auto a = r.add(5, 50);
    r.step({30});
    tokens_of(*a);
    r.seq(1).spec.draft = {40, k_eos, 42};
    std::vector<int32_t> rows;
    r.step({40, k_eos, 42, 43}, &rows);
    const std::vector<stream_event> ev = test::drain(*a);
    EXPECT_EQ(test::text_of(ev), "o") << "the end-of-generation token (piece 'c') shows no text";
    const stream_event done = ev.back();
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].token, 40);
    EXPECT_EQ(ev[1].token, k_eos);
    EXPECT_EQ(rows, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(done.what, stream_event::kind::done);
    EXPECT_EQ(done.reason, finish_reason::stop);
    EXPECT_EQ(done.n_generated, 3);  // 30, 40, EOS
    EXPECT_EQ(done.n_draft_tokens, 3);
    EXPECT_EQ(done.n_draft_accepted, 2);
    EXPECT_EQ(r.sched.n_running(), 0);
    EXPECT_EQ(r.kv.stats().n_blocks_used, 0);
}

TEST(verify, max_tokens_reached_mid_run_emits_no_more) {
    rig r;
    auto a = r.add(5, /*max_tokens=*/3);
    r.step({30});
    tokens_of(*a);
    r.seq(1).spec.draft = {40, 41, 42};
    r.step({40, 41, 42, 43});
    stream_event done;
    EXPECT_EQ(tokens_of(*a, &done), (std::vector<int32_t>{40, 41}));
    EXPECT_EQ(done.reason, finish_reason::length);
    EXPECT_EQ(done.n_generated, 3);
}

// Tokens 30 40 41 42 decode to "eopq". A stop string completed by a draft ends the run there; one
// spanning the last draft and the bonus token ends it at the bonus token; the text is matched on
// every generated token, across rounds.
TEST(verify, stop_string_inside_a_run_and_spanning_the_bonus_token) {
    {
        rig r;
        auto a = r.add(5, 50, 10, {"op"});
        r.step({30});  // "e"
        EXPECT_EQ(test::text_of(test::drain(*a)), "e");
        r.seq(1).spec.draft = {40, 41, 42};  // "o" "p" ...: "op" completes at draft 2
        std::vector<int32_t> rows;
        r.step({40, 41, 42, 43}, &rows);
        const std::vector<stream_event> ev = test::drain(*a);
        EXPECT_EQ(test::text_of(ev), "") << "the stop string is never shown";
        const stream_event done = ev.back();
        EXPECT_EQ(test::tokens_in(ev), (std::vector<int32_t>{40, 41}));
        EXPECT_EQ(rows, (std::vector<int32_t>{0, 1}));
        EXPECT_EQ(done.reason, finish_reason::stop);
        EXPECT_EQ(done.n_generated, 3);
        EXPECT_EQ(r.kv.stats().n_blocks_used, 0);
    }
    {
        rig r;
        auto a = r.add(5, 50, 10, {"pq"});
        r.step({30});
        tokens_of(*a);
        r.seq(1).spec.draft = {40, 41};  // "o" "p", then the bonus token "q" completes "pq"
        r.step({40, 41, 42});
        const std::vector<stream_event> ev = test::drain(*a);
        EXPECT_EQ(test::text_of(ev), "o") << "'p' is held back, then cut with the stop string";
        const stream_event done = ev.back();
        EXPECT_EQ(test::tokens_in(ev), (std::vector<int32_t>{40, 41, 42}));
        EXPECT_EQ(done.reason, finish_reason::stop);
        EXPECT_EQ(done.n_generated, 4);
        EXPECT_EQ(done.n_draft_accepted, 2);
    }
    {
        rig r;
        auto a = r.add(5, 50, 10, {"eo", "zz"});  // "e" from the prefill step, "o" from the next round
        r.step({30});
        stream_event done;
        EXPECT_EQ(tokens_of(*a, &done), (std::vector<int32_t>{30}));
        r.seq(1).spec.draft = {40, 41};
        r.step({40, 41, 42});
        EXPECT_EQ(tokens_of(*a, &done), (std::vector<int32_t>{40}));
        EXPECT_EQ(done.reason, finish_reason::stop);
    }
}

TEST(verify, context_end_inside_a_run) {
    rig r(64, /*ctx=*/8);
    auto a = r.add(5, 50);
    r.step({30});
    tokens_of(*a);
    r.seq(1).spec.draft = {40, 41};  // positions 6 and 7: the context holds 8 tokens
    r.step({40, 41, 42});
    stream_event done;
    EXPECT_EQ(tokens_of(*a, &done), (std::vector<int32_t>{40, 41}));
    EXPECT_EQ(done.reason, finish_reason::length);
    EXPECT_EQ(done.n_prompt + done.n_generated, 8);
}

TEST(verify, a_draft_beyond_the_step_budget_is_cut) {
    rig r(64, 64, /*batch=*/8);
    r.add(5, 50);
    r.step({30});
    r.seq(1).spec.draft.assign(12, 40);  // more than the 8-row budget
    const step_plan p = r.step({40});
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].n_new, 8);
    EXPECT_EQ(p.items[0].n_draft, 7);
}

TEST(verify, drafts_take_only_free_blocks_and_never_preempt) {
    rig r(/*n_blocks=*/5);
    auto a = r.add(8, 50, 10);  // 2 blocks, then a third for its sampled token
    r.step({30});
    tokens_of(*a);
    auto b = r.add(7, 50, 60);                   // admitted next step: 2 blocks
    r.seq(1).spec.draft = {40, 41, 42, 43, 44};  // would need 4 blocks for a with b in: no room
    const step_plan p = r.step({40, 41, 42, 43, 44, 45});
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[0].n_draft, 0) << "the draft got no block: a plain step";
    EXPECT_EQ(r.sched.n_preemptions(), 0);
    EXPECT_EQ(tokens_of(*a), (std::vector<int32_t>{40}));
    EXPECT_EQ(tokens_of(*b), (std::vector<int32_t>{40}));
}

TEST(verify, a_preempted_sequence_loses_its_draft_and_hidden_state) {
    rig r(/*n_blocks=*/4);
    auto a = r.add(7, 50, 10);
    auto b = r.add(7, 50, 50);
    r.step({30});  // both prompts: 2 blocks each, the pool is full
    r.step({31});  // both decode inside their second block
    sequence& sb = r.seq(2);
    sb.spec.draft = {41, 42};
    sb.spec.has_hidden = true;
    const step_plan p = r.step({32});  // a needs a third block: b, the newest, is preempted
    EXPECT_EQ(r.sched.n_preemptions(), 1);
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].seq_id, 1u);
    r.step({k_eos});  // a ends and frees its blocks
    const step_plan q = r.step({60});
    ASSERT_EQ(q.items.size(), 1u);
    EXPECT_EQ(q.items[0].seq_id, 2u);
    EXPECT_EQ(q.items[0].start % 4, 0) << "a prefix hit, if any, is whole blocks";
    EXPECT_EQ(q.items[0].start + q.items[0].n_new, 9) << "recomputes its prompt and its two tokens";
    EXPECT_EQ(q.items[0].n_draft, 0);
    EXPECT_TRUE(r.seq(2).spec.draft.empty());
    EXPECT_FALSE(r.seq(2).spec.has_hidden) << "the hidden state of a dropped cache is stale";
    EXPECT_EQ(tokens_of(*b), (std::vector<int32_t>{30, 31, 60}));
    tokens_of(*a);
}

// With a draft model, a block enters the prefix cache only once both models computed its tokens.
TEST(verify, blocks_are_registered_once_the_draft_model_computed_them_too) {
    rig r;
    r.add(9, 50, 10, {}, /*draft_kv=*/true);
    r.step({30});
    EXPECT_EQ(r.seq(1).n_computed, 9);
    EXPECT_EQ(r.kv.n_committed_tokens(1), 0) << "the draft model has computed nothing yet";
    r.seq(1).spec.n_draft_kv = 6;
    r.step({31});
    EXPECT_EQ(r.kv.n_committed_tokens(1), 4);
    r.seq(1).spec.n_draft_kv = 10;
    r.step({32});
    EXPECT_EQ(r.kv.n_committed_tokens(1), 8);
    r.seq(1).spec.draft = {40};  // a rejected draft rolls the draft model's count back too
    r.seq(1).spec.n_draft_kv = 13;
    r.step({41});
    EXPECT_EQ(r.seq(1).n_computed, 12);
    EXPECT_EQ(r.seq(1).spec.n_draft_kv, 12);
}

TEST(verify, prompt_rows_come_before_drafts) {
    rig r(64, 64, /*batch=*/8);
    auto a = r.add(4, 50, 10);
    r.step({30});
    auto b = r.add(20, 50, 60);
    r.seq(1).spec.draft = {40, 41, 42, 43, 44, 45, 46, 47};
    const step_plan p = r.step({40, 41, 42, 43, 44, 45, 46, 47, 48});
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[0].n_new + p.items[1].n_new, 8);
    EXPECT_EQ(p.items[1].seq_id, 2u);
    EXPECT_EQ(p.items[1].n_new, 7) << "the newcomer's prompt chunk takes its rows before a's draft";
    EXPECT_EQ(p.items[0].n_draft, 0);
    tokens_of(*a);
    tokens_of(*b);
}

TEST(verify, draft_room_stops_before_the_length_limits) {
    rig r(64, /*ctx=*/12);
    r.add(5, /*max_tokens=*/4);
    r.add(5, /*max_tokens=*/50, 40);
    r.step({30});  // each has 1 generated token, 6 tokens in all
    EXPECT_EQ(r.sched.draft_room(r.seq(1)), 2) << "3 more tokens allowed: 2 drafts plus the round's own token";
    EXPECT_EQ(r.sched.draft_room(r.seq(2)), 6) << "the context holds 12";
    r.step({31});
    r.step({32});
    EXPECT_EQ(r.sched.draft_room(r.seq(1)), 0);
}

}  // namespace
}  // namespace tandem
