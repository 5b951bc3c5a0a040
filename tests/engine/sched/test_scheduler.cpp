// The scheduler driven without a model (vLLM style): plans are checked by hand, and "runner
// outputs" are tokens the test chooses. Covers chunked prefill under a token budget, admission
// limits, preemption of the newest sequence when KV blocks run out, abort, finish reasons, and the
// done event's times.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/timing.h"

#include "tests/engine/sched/sched_rig.h"

namespace tandem {
namespace {

using test::drain;
using test::k_eos;

struct rig : test::sched_rig {
    rig(int32_t n_blocks, int32_t max_running, int32_t budget, int32_t ctx = 64, int32_t mixed = 64)
        : sched_rig(test::rig_options{n_blocks, max_running, budget, ctx, mixed}) {}
};

TEST(scheduler, chunked_prefill_respects_the_token_budget) {
    rig r(64, 4, 8);
    auto a = r.add(20, 3);
    step_plan p = r.step();
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].start, 0);
    EXPECT_EQ(p.items[0].n_new, 8);
    EXPECT_FALSE(p.items[0].sample);
    p = r.step();
    EXPECT_EQ(p.items[0].start, 8);
    EXPECT_EQ(p.items[0].n_new, 8);
    p = r.step();
    EXPECT_EQ(p.items[0].n_new, 4);  // the rest of the prompt, then the first token is sampled
    EXPECT_TRUE(p.items[0].sample);
    EXPECT_EQ(drain(*a).size(), 1u);
}

TEST(scheduler, decodes_and_prefills_share_a_step) {
    rig r(64, 4, 10);
    auto a = r.add(4, 10);
    r.step();  // a's prompt
    auto b = r.add(30, 10);
    step_plan p = r.step();
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[0].n_new, 1);  // a decodes its sampled token
    EXPECT_TRUE(p.items[0].sample);
    EXPECT_EQ(p.items[1].n_new, 9);  // b's prefill takes the rest of the budget
    EXPECT_FALSE(p.items[1].sample);
}

TEST(scheduler, prompts_get_a_small_share_of_the_step_while_others_decode) {
    rig r(64, 4, /*budget=*/40, /*ctx=*/64, /*mixed=*/6);
    auto a = r.add(4, /*max_tokens=*/3, /*first_token=*/90);  // no shared prefixes
    step_plan p = r.step();                                   // a's prompt, alone: no cap
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].n_new, 4);
    auto b = r.add(30, 5, 10);
    auto c = r.add(30, 5, 50);
    p = r.step();
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[0].n_new, 1);  // a decodes
    EXPECT_EQ(p.items[1].n_new, 6);  // b is admitted with the prompt share; c waits for the next step
    EXPECT_EQ(r.sched.n_waiting(), 1);
    p = r.step();
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[0].n_new, 1);  // a's third and last token
    EXPECT_EQ(p.items[1].n_new, 6);
    EXPECT_EQ(r.sched.n_running(), 1);
    p = r.step();  // nothing decodes now: the whole budget goes to prompts
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[0].n_new, 18);  // the rest of b's prompt, then its first token
    EXPECT_TRUE(p.items[0].sample);
    EXPECT_EQ(p.items[1].n_new, 22);  // c's first chunk
    EXPECT_FALSE(p.items[1].sample);
}

TEST(scheduler, no_cap_when_the_prompt_share_is_zero) {
    rig r(64, 4, /*budget=*/40, /*ctx=*/64, /*mixed=*/0);
    r.add(4, 5, 90);
    r.step();
    r.add(30, 5, 10);
    const step_plan p = r.step();
    ASSERT_EQ(p.items.size(), 2u);
    EXPECT_EQ(p.items[1].n_new, 30);
}

TEST(scheduler, max_running_bounds_admission) {
    rig r(64, 2, 100);
    r.add(3, 5);
    r.add(3, 5);
    r.add(3, 5);
    step_plan p = r.step();
    EXPECT_EQ(p.items.size(), 2u);
    EXPECT_EQ(r.sched.n_running(), 2);
    EXPECT_EQ(r.sched.n_waiting(), 1);
}

TEST(scheduler, finishes_on_max_tokens_eos_and_context_end) {
    rig r(64, 4, 100, /*ctx=*/12);
    auto by_len = r.add(3, 2);
    auto by_eos = r.add(3, 10, 20);
    auto by_ctx = r.add(10, 50, 40);
    r.step(5);
    r.abort(0);  // unknown id: no effect
    // Second step: by_eos samples EOS; by_len reaches 2 tokens; by_ctx reaches 12 tokens (ctx end).
    step_plan plan = r.plan();
    r.sched.update(plan, [](size_t, sequence& s, int32_t) {
        return scheduler::sampled{s.tokens[0] == 20 ? k_eos : 7, 0.0f, {}};
    });
    r.deliver();
    auto last = [](request_stream& s) { return drain(s).back(); };
    const stream_event a = last(*by_len), b = last(*by_eos), c = last(*by_ctx);
    EXPECT_EQ(a.what, stream_event::kind::done);
    EXPECT_EQ(a.reason, finish_reason::length);
    EXPECT_EQ(a.n_generated, 2);
    EXPECT_EQ(b.reason, finish_reason::stop);
    EXPECT_EQ(c.reason, finish_reason::length);
    EXPECT_EQ(c.n_prompt + c.n_generated, 12);
    EXPECT_EQ(r.sched.n_running(), 0);
    EXPECT_EQ(r.kv.stats().n_blocks_used, 0);
}

TEST(scheduler, out_of_blocks_preempts_the_newest_and_recomputes_it_later) {
    // 6 blocks of 4 tokens. Two sequences of 8-token prompts take 2 blocks each; growing past
    // that exhausts the pool, so the newer one is preempted, requeued, and finishes later.
    rig r(6, 4, 100, 64);
    auto old_s = r.add(8, 12);
    auto new_s = r.add(8, 12, 50);
    for (int i = 0; i < 40 && (r.sched.n_running() + r.sched.n_waiting()) > 0; ++i) r.step();
    EXPECT_GE(r.sched.n_preemptions(), 1);
    const auto ev_old = drain(*old_s), ev_new = drain(*new_s);
    ASSERT_FALSE(ev_old.empty());
    ASSERT_FALSE(ev_new.empty());
    EXPECT_EQ(ev_old.back().reason, finish_reason::length);
    EXPECT_EQ(ev_new.back().reason, finish_reason::length);
    EXPECT_EQ(ev_old.back().n_generated, 12);
    EXPECT_EQ(ev_new.back().n_generated, 12);  // nothing accepted is lost by preemption
    EXPECT_EQ(ev_new.size(), 13u);             // 12 tokens streamed once each, then done
    EXPECT_EQ(r.kv.stats().n_blocks_used, 0);
}

TEST(scheduler, done_event_times_the_first_and_last_tokens_across_a_preemption) {
    rig r(6, 4, 100, 64);  // as above: the newer sequence is preempted and recomputed
    const auto t_add = steady_clock::now();
    r.add(8, 12);
    auto s = r.add(8, 12, 50);
    std::vector<stream_event> ev;
    double first_seen = -1;  // seconds from add to the step that streamed the first token
    for (int i = 0; i < 40 && (r.sched.n_running() + r.sched.n_waiting()) > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        r.step();
        for (stream_event& e : drain(*s)) ev.push_back(std::move(e));
        if (first_seen < 0 && !ev.empty()) first_seen = seconds_since(t_add);
    }
    const double wall = seconds_since(t_add);
    ASSERT_GE(r.sched.n_preemptions(), 1);
    ASSERT_EQ(ev.size(), 13u);
    const stream_event& done = ev.back();
    EXPECT_GT(done.first_token_seconds, 0.0);
    EXPECT_LE(done.first_token_seconds, first_seen) << "the first token's time was taken again later";
    EXPECT_GE(done.generation_seconds, 11 * 0.002) << "11 more steps, each after a 2 ms pause";
    EXPECT_LE(done.first_token_seconds + done.generation_seconds, wall);
}

TEST(scheduler, a_request_ended_before_its_first_token_reports_no_times) {
    rig r(64, 4, 100);
    auto a = r.add(10, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE(r.abort(1));
    const auto ev = drain(*a);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].n_generated, 0);
    EXPECT_EQ(ev[0].first_token_seconds, 0.0);
    EXPECT_EQ(ev[0].generation_seconds, 0.0);
}

TEST(scheduler, abort_frees_blocks_and_ends_the_stream) {
    rig r(64, 4, 100);
    auto a = r.add(10, 100);
    r.step();
    EXPECT_GT(r.kv.stats().n_blocks_used, 0);
    EXPECT_TRUE(r.abort(1));
    EXPECT_EQ(r.kv.stats().n_blocks_used, 0);
    const auto ev = drain(*a);
    EXPECT_EQ(ev.back().what, stream_event::kind::done);
    EXPECT_EQ(ev.back().reason, finish_reason::aborted);
    EXPECT_FALSE(r.abort(1));
}

TEST(scheduler, a_full_stream_pauses_its_sequence) {
    rig r(64, 4, 100);
    auto stream = r.add(3, 100, 10, {}, false, /*capacity=*/2);
    r.step();
    r.step();
    EXPECT_TRUE(stream->full());
    EXPECT_TRUE(r.plan().empty());  // paused until the reader drains
    stream->pop();
    EXPECT_FALSE(r.plan().empty());
}

TEST(scheduler, repeated_prompt_hits_the_prefix_cache) {
    rig r(64, 4, 100);
    auto a = r.add(12, 1);
    r.step();
    EXPECT_EQ(r.sched.n_running(), 0);
    auto b = r.add(12, 1);
    step_plan p = r.step();
    ASSERT_EQ(p.items.size(), 1u);
    EXPECT_EQ(p.items[0].start, 8);  // two full blocks reused; the last token block is recomputed
    EXPECT_EQ(r.sched.prefix_hit_tokens(), 8);
    r.step();
    // usage.prompt_tokens_details.cached_tokens comes from the done event.
    EXPECT_EQ(drain(*a).back().n_prompt_cached, 0);
    EXPECT_EQ(drain(*b).back().n_prompt_cached, 8);
}

TEST(scheduler, cached_prompt_tokens_are_those_of_the_first_admission) {
    // As in out_of_blocks_preempts...: the newer sequence is preempted once its first blocks are full
    // and cached, so its re-admission hits its own blocks; only a hit at first admission is the
    // prompt's (usage reports what the client's prompt found, not what preemption left behind).
    rig r(6, 4, 100, 64);
    r.add(8, 12);
    auto s = r.add(8, 12, 50);
    for (int i = 0; i < 40 && (r.sched.n_running() + r.sched.n_waiting()) > 0; ++i) r.step();
    ASSERT_GE(r.sched.n_preemptions(), 1);
    ASSERT_GT(r.sched.prefix_hit_tokens(), 0) << "the re-admission hit the cache";
    EXPECT_EQ(drain(*s).back().n_prompt_cached, 0);
}

}  // namespace
}  // namespace tandem
