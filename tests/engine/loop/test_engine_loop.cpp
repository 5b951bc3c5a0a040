// The engine thread and its request streams: a full stream pauses its request, and the reader's
// pop resumes it (the engine is woken, not left to its idle_wake_ms safety net); a reader that
// takes one event at a time still gets llama.cpp's greedy continuation, every token in order; the
// done event's times are the engine's, whenever the reader comes.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/timing.h"
#include "engine/engine.h"
#include "tests/models/harness.h"

namespace tandem {
namespace {

using test::read_json;
using test::shared_path;

stream_event token_event(int32_t t) {
    stream_event ev;
    ev.what = stream_event::kind::token;
    ev.token = t;
    return ev;
}

TEST(RequestStream, PopThatMakesRoomInAFullStreamCallsOnSpace) {
    request_stream s(1, 2);
    int calls = 0;
    s.set_on_space([&] { ++calls; });
    s.push(token_event(1));
    EXPECT_FALSE(s.full());
    EXPECT_TRUE(s.pop().has_value());
    EXPECT_EQ(calls, 0) << "the stream was not full";
    s.push(token_event(2));
    s.push(token_event(3));
    ASSERT_TRUE(s.full());
    EXPECT_EQ(s.pop()->token, 2);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(s.pop()->token, 3);
    EXPECT_EQ(calls, 1) << "only the pop from a full stream makes room";
    EXPECT_FALSE(s.pop().has_value());
    EXPECT_EQ(calls, 1);
}

TEST(EngineLoop, ReaderOfAOneEventStreamGetsTheGreedyContinuation) {
    const nlohmann::json golden = read_json(shared_path("golden/stories260K/p0_short.json"));
    const std::vector<int32_t> want = golden["greedy"]["tokens"].get<std::vector<int32_t>>();

    engine_config cfg;
    cfg.model_path = shared_path("models/stories260K.gguf");
    cfg.n_threads = 2;
    cfg.stream_capacity = 1;        // every token fills the stream: the request pauses after each one
    cfg.idle_wake_ms = 10 * 60000;  // only the reader's pop can resume it in time
    std::unique_ptr<engine> eng = engine::create(cfg);

    completion_params params;
    params.prompt = golden["tokens"].get<std::vector<int32_t>>();
    params.sampling.temperature = 0;
    params.max_tokens = static_cast<int32_t>(want.size());
    params.ignore_eos = true;
    submit_result r = eng->submit(params);
    ASSERT_TRUE(r.stream) << r.refusal->message;

    std::mutex mu;
    std::condition_variable cv;
    bool pushed = false;
    r.stream->set_notify([&] {
        std::lock_guard<std::mutex> lock(mu);
        pushed = true;
        cv.notify_one();
    });
    std::vector<int32_t> got;
    bool done = false;
    while (!done) {
        std::optional<stream_event> ev = r.stream->pop();
        if (!ev) {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return pushed; });
            pushed = false;
            continue;
        }
        if (ev->what == stream_event::kind::token) {
            got.push_back(ev->token);
        } else {
            done = true;
            EXPECT_EQ(ev->reason, finish_reason::length) << ev->error;
        }
    }
    EXPECT_EQ(got, want);
    eng->shutdown();
}

TEST(EngineLoop, DoneEventTimesTheTokensWhenTheEngineMadeThem) {
    engine_config cfg;
    cfg.model_path = shared_path("models/stories260K.gguf");
    cfg.n_threads = 2;
    cfg.stream_capacity = 64;  // room for every event: the request never waits for the reader
    std::unique_ptr<engine> eng = engine::create(cfg);

    completion_params params;
    params.prompt = {1, 403, 407, 261};
    params.sampling.temperature = 0;
    params.max_tokens = 16;
    params.ignore_eos = true;
    const auto t_submit = steady_clock::now();
    submit_result r = eng->submit(params);
    ASSERT_TRUE(r.stream) << r.refusal->message;
    // A reader that comes late drains every token at once; the times must not be its own.
    const double reader_delay = 1.0;
    std::this_thread::sleep_for(std::chrono::duration<double>(reader_delay));
    int n_tokens = 0;
    std::optional<stream_event> end;
    while (!end) {
        std::optional<stream_event> ev = r.stream->pop();
        if (!ev)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        else if (ev->what == stream_event::kind::token)
            ++n_tokens;
        else
            end = std::move(ev);
    }
    const double wall = seconds_since(t_submit);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->n_generated, 16);
    EXPECT_EQ(n_tokens, 16);
    EXPECT_GT(end->first_token_seconds, 0.0);
    EXPECT_LT(end->first_token_seconds, reader_delay) << "timed by the reader, not the engine";
    EXPECT_GT(end->generation_seconds, 0.0) << "15 tokens after the first take time";
    EXPECT_LE(end->first_token_seconds + end->generation_seconds, wall);
    eng->shutdown();
}

TEST(EngineLoop, SubmitRefusesWhatItCannotServe) {
    engine_config cfg;
    cfg.model_path = shared_path("models/stories260K.gguf");
    cfg.n_threads = 1;
    std::unique_ptr<engine> eng = engine::create(cfg);
    // Refused by submit itself (a CLI goes straight to submit), with the field at fault; check()
    // gives the same answer without submitting.
    const auto refused = [&](const submit_result& r, const completion_params& p) {
        EXPECT_FALSE(r.stream);
        const std::optional<request_refusal> c = eng->check(p);
        EXPECT_TRUE(c && r.refusal && c->param == r.refusal->param && c->kind == r.refusal->kind);
        return r.refusal ? r.refusal->param : std::string("<accepted>");
    };
    completion_params p;
    p.prompt = {1, 403};
    p.max_tokens = 0;
    EXPECT_EQ(refused(eng->submit(p), p), "max_tokens");
    p.max_tokens = 4;
    p.prompt = {1, 512};  // the vocabulary has 512 tokens
    EXPECT_EQ(refused(eng->submit(p), p), "prompt");
    p.prompt.assign(static_cast<size_t>(eng->summary().n_ctx), 1);
    const submit_result long_prompt = eng->submit(p);
    EXPECT_EQ(refused(long_prompt, p), "prompt");
    EXPECT_EQ(long_prompt.refusal->kind, submit_error::context_exceeded);
    p.prompt = {1, 403};
    p.sampling.top_p = 2.0f;
    EXPECT_EQ(refused(eng->submit(p), p), "top_p");
    p.sampling.top_p = 1.0f;
    p.stop = {"ok", ""};
    EXPECT_EQ(refused(eng->submit(p), p), "stop");
    p.stop = {"ok"};
    for (int32_t max_tokens : {-1, 1}) {
        p.max_tokens = max_tokens;
        EXPECT_FALSE(eng->check(p));
        const submit_result ok = eng->submit(p);
        EXPECT_TRUE(ok.stream) << max_tokens << ": " << (ok.refusal ? ok.refusal->message : "");
    }
    eng->shutdown();
}

}  // namespace
}  // namespace tandem
