// Output text rules, checked against hand-written expectations: stop strings across token boundaries
// (held back, never emitted), UTF-8 holding, choice events -> deltas/finish, SSE framing, auth, CORS.
#include <gtest/gtest.h>

#include "engine/tokenizer/stop_matcher.h"
#include "server/http/auth.h"
#include "server/http/generation.h"
#include "server/http/metrics.h"
#include "server/http/sse.h"
#include "server/http/text_codec.h"
#include "tests/server/http/fake_engine.h"

namespace tandem {
namespace {

TEST(StopMatcher, MatchesAcrossPushesAndHoldsPartialMatches) {
    stop_matcher m({"###", "END"});
    EXPECT_EQ(m.push("Hello #"), "Hello ");  // "#" may start "###"
    EXPECT_EQ(m.push("#"), "");              // "##" still may
    EXPECT_EQ(m.push("x"), "##x");           // it did not: released
    EXPECT_EQ(m.push("E"), "");
    EXPECT_EQ(m.push("N"), "");
    EXPECT_EQ(m.push("D and more"), "");  // matched: the stop string and the rest are dropped
    EXPECT_TRUE(m.matched());
    EXPECT_EQ(m.push("later"), "");
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, TextBeforeAMatchInsideOnePushIsEmitted) {
    stop_matcher m({"stop"});
    EXPECT_EQ(m.push("abc stop def"), "abc ");
    EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, FlushReleasesAnUnfinishedPartialMatch) {
    stop_matcher m({"<end>"});
    EXPECT_EQ(m.push("x<en"), "x");
    EXPECT_EQ(m.flush(), "<en");
    EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
    stop_matcher m({"bc", "ab"});
    EXPECT_EQ(m.push("xabc"), "x");
}

TEST(StopMatcher, NoStopsPassesEverything) {
    stop_matcher m({});
    EXPECT_EQ(m.push("abc"), "abc");
}

TEST(Utf8Holder, NeverSplitsACharacter) {
    utf8_stream h;
    const std::string euro = "\xE2\x82\xAC";  // U+20AC
    EXPECT_EQ(h.push(euro.substr(0, 1)), "");
    EXPECT_EQ(h.push(euro.substr(1, 1)), "");
    EXPECT_EQ(h.push(euro.substr(2, 1) + "a"), euro + "a");
    const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
    EXPECT_EQ(h.push(emoji.substr(0, 3)), "");
    EXPECT_EQ(h.push(emoji.substr(3)), emoji);
    EXPECT_EQ(h.flush(), "");
}

TEST(Utf8Holder, InvalidBytesBecomeReplacementCharacters) {
    utf8_stream h;
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(h.push("a\xFF"
                     "b"),
              "a" + fffd + "b");
    EXPECT_EQ(h.push("\xE2\x82"
                     "x"),
              fffd + "x");  // a broken sequence
    EXPECT_EQ(h.push("\xC3"), "");
    EXPECT_EQ(h.flush(), fffd);                             // never completed
    EXPECT_EQ(h.push("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate is not valid UTF-8
    EXPECT_TRUE(utf8_valid("h\xC3\xA9llo"));
    EXPECT_FALSE(utf8_valid("\xC0\xAF"));
}

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

TEST(ChoiceOutput, StopStringSplitOverTokensAndUtf8AreHeld) {
    test::fake_codec codec;
    const generation_request g = request_with({"\xC3\xA9nd"}, true);  // stop string "énd"
    choice_output c(codec, 0, g);
    std::string emitted;
    for (int32_t id : test::byte_tokens("ok \xC3\xA9n")) {
        c.consume(token_event(id));
        const std::string t = c.take_text();
        EXPECT_TRUE(utf8_valid(t));
        emitted += t;
    }
    EXPECT_EQ(emitted, "ok ");  // "én" is held: it may become the stop string
    c.consume(token_event(test::fake_codec::byte_id('d')));
    EXPECT_TRUE(c.finished());
    EXPECT_EQ(c.finish_reason(), "stop");
    EXPECT_EQ(c.take_text(), "");
    EXPECT_EQ(c.text(), "ok ");
    c.consume(token_event(test::fake_codec::byte_id('!')));  // ignored after the match
    EXPECT_EQ(c.text(), "ok ");
}

TEST(ChoiceOutput, LengthFinishFlushesHeldText) {
    test::fake_codec codec;
    choice_output c(codec, 1, request_with({"zz"}, false));
    for (int32_t id : test::byte_tokens("abz")) c.consume(token_event(id));
    EXPECT_EQ(c.take_text(), "ab");
    c.consume(done_event(finish_reason::length));
    EXPECT_EQ(c.finish_reason(), "length");
    EXPECT_EQ(c.take_text(), "z");
    EXPECT_EQ(c.n_generated(), 3);
}

TEST(ChoiceOutput, EndOfGenerationTokenIsNotShown) {
    test::fake_codec codec;
    choice_output c(codec, 0, request_with({}, true));
    c.consume(token_event(test::fake_codec::word_id("Hello")));
    c.consume(token_event(test::fake_codec::eos));
    c.consume(done_event(finish_reason::stop));
    EXPECT_EQ(c.text(), "Hello");
    EXPECT_EQ(c.finish_reason(), "stop");
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
    const nlohmann::json usage = chunk_usage(m, 5, 3);
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["total_tokens"], 8);
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
