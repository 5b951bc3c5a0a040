// Runs a set of requests through a real engine (its thread, scheduler, runner and drafter) and
// collects every stream: tokens, logprobs and the done event. The speculative tests compare a
// run with a drafter against the same requests without one.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace tandem::test {

struct stream_result {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
    std::vector<std::vector<token_logprob>> top;
    stream_event done;
};

struct run_result {
    std::vector<stream_result> streams;
    engine_metrics metrics;
};

// Submits every request at once (in order), then drains all streams until each has ended.
inline run_result run_requests(const engine_config& cfg, const std::vector<completion_params>& reqs) {
    std::unique_ptr<engine> eng = engine::create(cfg);
    std::mutex mu;
    std::condition_variable cv;
    bool pushed = false;
    std::vector<std::shared_ptr<request_stream>> streams;
    for (const completion_params& p : reqs) {
        submit_result r = eng->submit(p);
        EXPECT_TRUE(r.stream) << (r.refusal ? r.refusal->message : "");
        if (!r.stream) return {};
        r.stream->set_notify([&] {
            std::lock_guard<std::mutex> lock(mu);
            pushed = true;
            cv.notify_one();
        });
        streams.push_back(r.stream);
    }
    run_result out;
    out.streams.resize(streams.size());
    size_t n_done = 0;
    std::vector<bool> ended(streams.size(), false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (n_done < streams.size()) {
        bool any = false;
        for (size_t i = 0; i < streams.size(); ++i) {
            while (std::optional<stream_event> ev = streams[i]->pop()) {
                any = true;
                stream_result& sr = out.streams[i];
                if (ev->what == stream_event::kind::token) {
                    sr.tokens.push_back(ev->token);
                    sr.logprobs.push_back(ev->logprob);
                    sr.top.push_back(ev->top);
                } else {
                    sr.done = *ev;
                    ended[i] = true;
                    ++n_done;
                }
            }
        }
        if (any) continue;
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return pushed; });
        pushed = false;
        if (std::chrono::steady_clock::now() > deadline) {
            ADD_FAILURE() << "requests did not finish within 5 minutes";
            break;
        }
    }
    eng->shutdown();  // joins the engine thread, which publishes its metrics last
    out.metrics = eng->metrics();
    return out;
}

// Every stream of `got` equals the one of `want`: the same tokens, logprobs and top logprobs, the
// same finish reason and usage.
inline void expect_same_streams(const run_result& want, const run_result& got, const std::string& what) {
    ASSERT_EQ(want.streams.size(), got.streams.size()) << what;
    for (size_t i = 0; i < want.streams.size(); ++i) {
        const stream_result &a = want.streams[i], &b = got.streams[i];
        EXPECT_EQ(a.tokens, b.tokens) << what << ", request " << i;
        EXPECT_EQ(a.logprobs, b.logprobs) << what << ", request " << i;
        ASSERT_EQ(a.top.size(), b.top.size()) << what << ", request " << i;
        for (size_t t = 0; t < a.top.size(); ++t) {
            ASSERT_EQ(a.top[t].size(), b.top[t].size());
            for (size_t j = 0; j < a.top[t].size(); ++j) {
                EXPECT_EQ(a.top[t][j].id, b.top[t][j].id) << what << ", request " << i << " token " << t;
                EXPECT_EQ(a.top[t][j].logprob, b.top[t][j].logprob) << what << ", request " << i << " token " << t;
            }
        }
        EXPECT_EQ(a.done.reason, b.done.reason) << what << ", request " << i;
        EXPECT_EQ(a.done.n_prompt, b.done.n_prompt) << what << ", request " << i;
        EXPECT_EQ(a.done.n_generated, b.done.n_generated) << what << ", request " << i;
        EXPECT_EQ(b.done.n_generated, static_cast<int32_t>(b.tokens.size())) << what << ", request " << i;
    }
}

}  // namespace tandem::test
