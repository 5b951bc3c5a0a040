// The scheduler driven without a model, the way the engine drives it (pause full streams, plan,
// "forward", update, stream the output); the test chooses the token each sampled row draws.
// Token t decodes to the letter 'a' + t % 26; k_eos ends a sequence and decodes to nothing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/kv/kv_cache_manager.h"
#include "engine/sched/scheduler.h"
#include "engine/sched/stream_output.h"

namespace tandem::test {

constexpr int32_t k_eos = 2;

struct rig_options {
    int32_t n_blocks = 64;  // of 4 tokens
    int32_t max_running = 4;
    int32_t batch = 64;
    int32_t ctx = 64;
    int32_t prefill_chunk = 0;
};

struct sched_rig {
    kv_cache_manager kv;
    scheduler sched;
    uint64_t next_id = 1;

    static kv_cache_config kv_cfg(int32_t n_blocks) {
        kv_cache_config c;
        c.block_size = 4;
        c.groups = {{n_blocks, 0}};
        return c;
    }
    static sched_config sc(const rig_options& o) {
        sched_config c;
        c.max_running = o.max_running;
        c.batch_size = o.batch;
        c.prefill_chunk = o.prefill_chunk;
        c.ctx_size = o.ctx;
        c.is_eog = [](int32_t t) { return t == k_eos; };
        c.token_piece = [](int32_t t) { return std::string(1, static_cast<char>('a' + t % 26)); };
        return c;
    }
    explicit sched_rig(const rig_options& o = {}) : kv(kv_cfg(o.n_blocks)), sched(sc(o), kv) {}

    // A request whose prompt is first_token, first_token + 1, ...
    std::shared_ptr<request_stream> add(int32_t n_prompt, int32_t max_tokens, int32_t first_token = 10,
                                        std::vector<std::string> stop = {}, bool draft_kv = false,
                                        size_t capacity = 1000) {
        auto s = std::make_unique<sequence>();
        s->id = next_id++;
        for (int32_t i = 0; i < n_prompt; ++i) s->tokens.push_back(first_token + i);
        s->n_prompt = n_prompt;
        s->max_tokens = max_tokens;
        s->text = text_stream(std::move(stop));
        s->spec.draft_kv = draft_kv;
        s->smp = std::make_unique<sampler>(sampling_params{}, 100);
        s->stream = std::make_shared<request_stream>(s->id, capacity);
        auto stream = s->stream;
        sched.add(std::move(s));
        return stream;
    }

    // The next plan, with full streams paused as the engine pauses them.
    step_plan plan() {
        for (const auto& s : sched.running()) s->paused = s->stream->full();
        return sched.schedule();
    }
    // One step: row r of every sampling item draws draw(r).
    template <typename Draw>
    step_plan step_with(Draw draw) {
        step_plan p = plan();
        sched.update(p, [&](size_t, sequence&, int32_t row) { return scheduler::sampled{draw(row), 0.0f, {}}; });
        deliver();
        return p;
    }
    // One step in which every sampled row draws `token`.
    step_plan step(int32_t token = 5) {
        return step_with([token](int32_t) { return token; });
    }
    // One step: row r of every sampling item draws script[r] (rows past the script: 99).
    step_plan step(std::vector<int32_t> script, std::vector<int32_t>* rows_sampled = nullptr) {
        return step_with([&](int32_t row) {
            if (rows_sampled) rows_sampled->push_back(row);
            return row < static_cast<int32_t>(script.size()) ? script[static_cast<size_t>(row)] : 99;
        });
    }
    bool abort(uint64_t id) {
        const bool known = sched.abort(id);
        deliver();
        return known;
    }
    sequence& seq(uint64_t id) { return sched.running(id); }
    // Streams the scheduler's output, as the engine's emit step does.
    void deliver() {
        sched.take_output(out);
        stream_output(out);
    }
    sched_output out;
};

inline std::vector<stream_event> drain(request_stream& s) {
    std::vector<stream_event> v;
    while (auto ev = s.pop()) v.push_back(std::move(*ev));
    return v;
}

// The tokens of the token events.
inline std::vector<int32_t> tokens_in(const std::vector<stream_event>& events) {
    std::vector<int32_t> v;
    for (const stream_event& ev : events) {
        if (ev.what == stream_event::kind::token) v.push_back(ev.token);
    }
    return v;
}

// The streamed tokens; the done event (if any) into *done.
inline std::vector<int32_t> tokens_of(request_stream& s, stream_event* done = nullptr) {
    const std::vector<stream_event> events = drain(s);
    if (done && !events.empty() && events.back().what == stream_event::kind::done) *done = events.back();
    return tokens_in(events);
}

// The text the events show, concatenated (tokens and the done event's held-back tail).
inline std::string text_of(const std::vector<stream_event>& events) {
    std::string t;
    for (const stream_event& ev : events) t += ev.text;
    return t;
}

}  // namespace tandem::test
