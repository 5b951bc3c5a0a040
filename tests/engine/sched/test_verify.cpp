// Verification of drafts inside the scheduler's update, driven without a model: the test sets a
// sequence's drafts and scripts the token each verified row samples. Covers acceptance of the
// longest matching prefix plus one token, the rollback of n_computed and of the KV blocks, the
// end of a sequence inside an accepted run (EOS, max_tokens, context end: nothing after it is
// emitted or counted), preemption that drops drafts, and the speculative counters.
#include <gtest/gtest.h>

#include "engine/kv/kv_cache_manager.h"
#include "engine/sched/scheduler.h"

namespace tandem {
namespace {

constexpr int32_t k_eos = 2;

struct rig {
    kv_cache_manager kv;
    scheduler sched;
    uint64_t next_id = 1;

    static kv_cache_config kv_cfg(int32_t n_blocks) {
        kv_cache_config c;
        c.block_size = 4;
        c.groups = {{n_blocks, 0}};
        return c;
    }
    static sched_config sc(int32_t ctx) {
        sched_config c;
        c.max_running = 4;
        c.batch_size = 64;
        c.prefill_chunk = 0;
        c.ctx_size = ctx;
        c.is_eog = [](int32_t t) { return t == k_eos; };
        return c;
    }
    explicit rig(int32_t n_blocks = 64, int32_t ctx = 64) : kv(kv_cfg(n_blocks)), sched(sc(ctx), kv) {}

    std::shared_ptr<request_stream> add(int32_t n_prompt, int32_t max_tokens, int32_t first_token = 10) {
        auto s = std::make_unique<sequence>();
        s->id = next_id++;
        for (int32_t i = 0; i < n_prompt; ++i) s->tokens.push_back(first_token + i);
        s->n_prompt = n_prompt;
        s->max_tokens = max_tokens;
        s->smp = std::make_unique<sampler>(sampling_params{}, 100);
        s->stream = std::make_shared<request_stream>(s->id, 1000);
        auto stream = s->stream;
        sched.add(std::move(s));
        return stream;
    }
    // One step: row r of every sampling item samples script[r] (rows past the script: 99).
    step_plan step(std::vector<int32_t> script, std::vector<int32_t>* rows_sampled = nullptr) {
        step_plan plan = sched.schedule();
        sched.update(plan, [&](const sched_item&, sequence&, int32_t row) {
            if (rows_sampled) rows_sampled->push_back(row);
            const int32_t t = row < static_cast<int32_t>(script.size()) ? script[static_cast<size_t>(row)] : 99;
            return scheduler::sampled{t, 0.0f, {}};
        });
        return plan;
    }
    sequence& seq(uint64_t id) { return sched.running(id); }
};

std::vector<int32_t> tokens_of(request_stream& s, stream_event* done = nullptr) {
    std::vector<int32_t> v;
    while (auto ev = s.pop()) {
        if (ev->what == stream_event::kind::token)
            v.push_back(ev->token);
        else if (done)
            *done = *ev;
    }
    return v;
}

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
    stream_event done;
    EXPECT_EQ(tokens_of(*a, &done), (std::vector<int32_t>{40, k_eos}));
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
    rig r;
    r.add(5, 50);
    r.step({30});
    r.seq(1).spec.draft.assign(70, 40);  // more than the 64-row budget
    const step_plan p = r.step({40});
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].n_new, 64);
    EXPECT_EQ(p.items[0].n_draft, 63);
}

TEST(verify, preemption_drops_the_drafts_and_the_sequence_resumes_from_its_tokens) {
    rig r(/*n_blocks=*/5);
    auto a = r.add(8, 50, 10);  // 2 blocks
    r.step({30});
    tokens_of(*a);
    auto b = r.add(7, 50, 60);  // 2 blocks, admitted next step
    sequence& sa = r.seq(1);
    sa.spec.draft = {40, 41, 42, 43, 44};  // a needs 8 + 6 tokens = 4 blocks: b is preempted
    sa.spec.has_hidden = true;
    r.step({40, 41, 42, 43, 44, 45});
    EXPECT_EQ(tokens_of(*a), (std::vector<int32_t>{40, 41, 42, 43, 44, 45}));
    // b got no room; now a's next round wants more than the pool holds with b admitted.
    const int64_t preempted_before = r.sched.n_preemptions();
    r.sched.running(1).spec.draft = {46, 47, 48, 49, 50, 51, 52};
    r.step({46, 47, 48, 49, 50, 51, 52, 53});
    EXPECT_GE(r.sched.n_preemptions(), preempted_before);
    // Whoever was preempted kept its tokens and got no stale draft: the scheduler state is sound.
    for (int i = 0; i < 20 && r.sched.n_running() + r.sched.n_waiting() > 0; ++i) r.step({k_eos});
    EXPECT_EQ(r.sched.n_running() + r.sched.n_waiting(), 0);
    EXPECT_EQ(r.kv.stats().n_blocks_used, 0);
    tokens_of(*b);
}

TEST(verify, preempted_sequence_loses_its_draft) {
    rig r(/*n_blocks=*/6);
    auto a = r.add(8, 50, 10);
    auto b = r.add(8, 50, 50);
    r.step({30});  // both prompts: 2 + 2 blocks (+1 each for the sampled token when they decode)
    sequence& sb = r.seq(2);
    sb.spec.draft = {41, 42};
    sb.spec.has_hidden = true;
    r.seq(1).spec.draft = {31, 32, 33, 34, 35, 36, 37};  // a (older) needs 4 blocks: b, the newest, is preempted
    const step_plan p = r.step({31, 32, 33, 34, 35, 36, 37, 38});
    EXPECT_EQ(r.sched.n_preemptions(), 1);
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].seq_id, 1u);
    EXPECT_EQ(r.sched.n_waiting(), 1);
    // b waits with its tokens (8 prompt + 30) and neither drafts nor a hidden state.
    r.step({k_eos});  // a ends
    const step_plan q = r.step({60});
    ASSERT_EQ(q.items.size(), 1u);
    EXPECT_EQ(q.items[0].seq_id, 2u);
    EXPECT_EQ(q.items[0].start % 4, 0) << "a prefix hit, if any, is whole blocks";
    EXPECT_EQ(q.items[0].start + q.items[0].n_new, 9) << "recomputes its prompt and its sampled token";
    EXPECT_EQ(q.items[0].n_draft, 0);
    EXPECT_EQ(tokens_of(*b), (std::vector<int32_t>{30, 60}));
    tokens_of(*a);
}

}  // namespace
}  // namespace tandem
