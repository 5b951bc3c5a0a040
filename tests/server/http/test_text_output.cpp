// Output rules, checked against hand-written expectations: choice events -> text deltas, logprobs and
// finish, SSE framing, auth, CORS. (The text itself, UTF-8 and stop strings, is the engine's:
// tests/engine/tokenizer/test_text_stream.cpp.)
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "server/http/auth.h"
#include "server/http/metrics.h"
#include "server/http/openai_response.h"
#include "server/http/sse.h"
#include "tests/server/http/fake_engine.h"

namespace tandem {
namespace {

generation_request request_with(std::vector<std::string> stops, bool chat, bool logprobs = false) {
    generation_request g;
    g.chat = chat;
    g.stop = std::move(stops);
    g.logprobs = logprobs;
    g.n_top_logprobs = logprobs ? 1 : 0;
    return g;
}

stream_event token_event(int32_t id) {
    stream_event ev;
    ev.token = id;
    ev.logprob = -1.0f;
    return ev;
}

stream_event done_event(finish_reason r) {
    stream_event ev;
    ev.what = stream_event::kind::done;
    ev.reason = r;
    return ev;
}

TEST(ChoiceOutput, ShowsTheEnginesTextAndItsHeldBackTail) {
    test::fake_codec codec;
    choice_output c(codec, 1, request_with({}, false));
    stream_event a = token_event(test::fake_codec::byte_id('a'));
    a.text = "a";
    stream_event b = token_event(test::fake_codec::byte_id(0xC3));
    c.consume(a);
    c.consume(b);  // the engine held this byte back: no text yet
    EXPECT_EQ(c.take_text(), "a");
    stream_event done = done_event(finish_reason::length);
    done.text = "\xEF\xBF\xBD";
    c.consume(done);
    EXPECT_EQ(c.finish_reason(), "length");
    EXPECT_EQ(c.take_text(), "\xEF\xBF\xBD");
    EXPECT_EQ(c.text(), "a\xEF\xBF\xBD");
    EXPECT_EQ(c.n_generated(), 2);
    c.consume(a);  // after the end: ignored
    EXPECT_EQ(c.text(), "a\xEF\xBF\xBD");
}

TEST(ChoiceOutput, LogprobShapes) {
    test::fake_codec codec;
    choice_output chat(codec, 0, request_with({}, true, true));
    stream_event ev = token_event(test::fake_codec::word_id("Hello"));
    ev.top = {{test::fake_codec::word_id("Hello"), -1.0f}};
    chat.consume(ev);
    const nlohmann::json lp = chat.take_logprobs();
    ASSERT_EQ(lp["content"].size(), 1u);
    EXPECT_EQ(lp["content"][0]["token"], "Hello");
    EXPECT_EQ(lp["content"][0]["bytes"], nlohmann::json::array({72, 101, 108, 108, 111}));
    EXPECT_EQ(lp["content"][0]["top_logprobs"][0]["token"], "Hello");
    EXPECT_TRUE(chat.take_logprobs().is_null());  // nothing new

    choice_output cmpl(codec, 0, request_with({}, false, true));
    cmpl.consume(ev);
    cmpl.consume(token_event(test::fake_codec::word_id(" world")));
    const nlohmann::json& all = cmpl.logprobs();
    EXPECT_EQ(all["tokens"], nlohmann::json::array({"Hello", " world"}));
    EXPECT_EQ(all["text_offset"], nlohmann::json::array({0, 5}));
    EXPECT_FLOAT_EQ(all["top_logprobs"][0]["Hello"].get<float>(), -1.0f);
}

TEST(Sse, FramingIsExactlyOpenais) {
    EXPECT_EQ(sse_data({{"a", "x\ny"}}), "data: {\"a\":\"x\\ny\"}\n\n");
    EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
    EXPECT_EQ(sse_ping(), ": ping\n\n");
}

TEST(Sse, ChunkShapes) {
    response_meta m{"chatcmpl-1", "fake", 7, true, true};
    const nlohmann::json role = chunk_role(m, 0);
    EXPECT_EQ(role["object"], "chat.completion.chunk");
    EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
    EXPECT_TRUE(role["usage"].is_null());
    const nlohmann::json fin = chunk_delta(m, 0, "", std::string("stop"), nullptr);
    EXPECT_EQ(fin["choices"][0]["delta"], nlohmann::json::object());
    EXPECT_EQ(fin["choices"][0]["finish_reason"], "stop");
    const nlohmann::json usage = chunk_usage(m, 5, 3, 4);
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["total_tokens"], 8);
    EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 4);  // OpenAI's field for prefix hits
    EXPECT_EQ(usage_json(5, 3)["prompt_tokens_details"]["cached_tokens"], 0);
    m.chat = false;
    EXPECT_EQ(chunk_delta(m, 2, "hi", std::nullopt, nullptr)["choices"][0]["text"], "hi");
}

TEST(Auth, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_FALSE(constant_time_equal("secret", "secreT"));
    EXPECT_FALSE(constant_time_equal("secret", "secret2"));
    EXPECT_FALSE(constant_time_equal("", "x"));
    EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Auth, HeaderForms) {
    const std::vector<std::string> keys = {"k1", "k2"};
    EXPECT_TRUE(auth_check(keys, "Bearer k1", ""));
    EXPECT_TRUE(auth_check(keys, "bearer   k2 ", ""));
    EXPECT_TRUE(auth_check(keys, "", "k2"));
    EXPECT_FALSE(auth_check(keys, "Bearer k3", ""));
    EXPECT_FALSE(auth_check(keys, "Basic k1", ""));
    EXPECT_FALSE(auth_check(keys, "", ""));
    EXPECT_FALSE(auth_check(keys, "Bearer ", ""));
    EXPECT_TRUE(auth_check({}, "", ""));  // no keys configured: open
}

TEST(Cors, ExactOriginsOnly) {
    const std::vector<std::string> origins = {"https://app.example"};
    EXPECT_EQ(cors_allowed_origin(origins, "https://app.example"), "https://app.example");
    EXPECT_EQ(cors_allowed_origin(origins, "https://evil.example"), std::nullopt);
    EXPECT_EQ(cors_allowed_origin(origins, "https://app.example.evil"), std::nullopt);
    EXPECT_EQ(cors_allowed_origin({}, "https://app.example"), std::nullopt);
}

TEST(Metrics, PrometheusText) {
    server_metrics m;
    m.count_request(200);
    m.count_request(200);
    m.count_request(404);
    m.add_tokens(10, 4);
    m.observe_ttft(0.02);
    m.observe_itl(0.003);
    engine_metrics e;
    e.kv_blocks_total = 100;
    e.kv_blocks_used = 7;
    const std::string text = m.render(&e);
    EXPECT_NE(text.find("tandem_requests_total{code=\"200\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("tandem_requests_total{code=\"404\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("tandem_prompt_tokens_total 10\n"), std::string::npos);
    EXPECT_NE(text.find("tandem_kv_blocks_total 100\n"), std::string::npos);
    EXPECT_NE(text.find("tandem_time_to_first_token_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("tandem_time_to_first_token_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("tandem_inter_token_latency_seconds_count 1\n"), std::string::npos);
}

}  // namespace
}  // namespace tandem
