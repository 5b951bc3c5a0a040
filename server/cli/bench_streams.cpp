#include "server/cli/bench_streams.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/timing.h"

namespace tandem {

std::shared_ptr<request_stream> submit_greedy(engine& eng, std::vector<int32_t> prompt, int32_t max_tokens) {
    completion_params p;
    p.prompt = std::move(prompt);
    p.sampling.temperature = 0;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    submit_result r = eng.submit(std::move(p));
    if (!r.stream) throw error("bench: " + r.refusal->message);
    return r.stream;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

stream_event wait_done(request_stream& s) {
    for (;;) {
        std::optional<stream_event> ev = s.pop();
        if (!ev) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            continue;
        }
        if (ev->what != stream_event::kind::done) continue;
        if (ev->reason != finish_reason::length) throw error("bench: a request ended early: " + ev->error);
        return *ev;
    }
}

streams_timing time_streams(engine& eng, std::vector<std::vector<int32_t>> prompts, int32_t max_tokens) {
    std::vector<steady_clock::time_point> submitted;
    std::vector<std::shared_ptr<request_stream>> streams;
    for (std::vector<int32_t>& prompt : prompts) {
        submitted.push_back(steady_clock::now());
        streams.push_back(submit_greedy(eng, std::move(prompt), max_tokens));
    }
    double first_min = 1e30, first_max = -1e30, last = -1e30;
    streams_timing t;
    for (size_t i = 0; i < streams.size(); ++i) {
        const stream_event ev = wait_done(*streams[i]);
        const double first = seconds_between(submitted[0], submitted[i]) + ev.first_token_seconds;
        first_min = std::min(first_min, first);
        first_max = std::max(first_max, first);
        last = std::max(last, first + ev.generation_seconds);
        t.tokens += ev.n_generated - 1;
    }
    t.span = std::max(last - first_min, 1e-9);
    t.step = t.span / (max_tokens - 1);
    // Within a step the streams' first tokens are sampled one after the other, far less than a step apart.
    t.lockstep = first_max - first_min < 0.5 * t.step;
    return t;
}

}  // namespace tandem
