// The server over real sockets on 127.0.0.1 (ephemeral port) with the fake engine: HTTP limits
// (413 from Content-Length, 431, 408), 404/405 shapes, auth, CORS, health while loading, chat and
// completions (plain and SSE), stop strings, n, 429, context errors, disconnect -> abort, drain.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/engine.h"
#include "server/http/http_server.h"
#include "server/http/http_session.h"
#include "server/http/static_files.h"
#include "tests/server/http/fake_engine.h"

namespace tandem {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using test::fake_script;

struct reply {
    int status = 0;
    std::string head;  // status line and headers
    std::string body;  // de-chunked
    std::string header(const std::string& name) const {
        std::string lower_head = head, key = name + ":";
        for (auto& c : lower_head) c = static_cast<char>(std::tolower(c));
        for (auto& c : key) c = static_cast<char>(std::tolower(c));
        const size_t at = lower_head.find("\r\n" + key);
        if (at == std::string::npos) return "";
        const size_t start = at + 2 + key.size();
        std::string v = head.substr(start, head.find("\r\n", start) - start);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        return v;
    }
    json json_body() const { return json::parse(body); }
};

std::string dechunk(const std::string& raw) {
    std::string out;
    size_t pos = 0;
    while (pos < raw.size()) {
        const size_t eol = raw.find("\r\n", pos);
        if (eol == std::string::npos) break;
        const size_t n = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
        if (n == 0) break;
        out += raw.substr(eol + 2, n);
        pos = eol + 2 + n + 2;
    }
    return out;
}

// Sends raw bytes on a fresh connection and reads until the server closes (or `timeout`).
reply raw_exchange(uint16_t port, const std::string& bytes, std::chrono::milliseconds pause_after = {},
                   const std::string& more = "") {
    net::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect({net::ip::make_address("127.0.0.1"), port});
    net::write(sock, net::buffer(bytes));
    if (pause_after.count()) std::this_thread::sleep_for(pause_after);
    boost::system::error_code ec;
    if (!more.empty()) net::write(sock, net::buffer(more), ec);
    std::string raw;
    std::array<char, 4096> buf;
    for (;;) {
        const size_t n = sock.read_some(net::buffer(buf), ec);
        raw.append(buf.data(), n);
        if (ec) break;
    }
    reply r;
    const size_t split = raw.find("\r\n\r\n");
    if (split == std::string::npos) return r;
    r.head = raw.substr(0, split);
    r.status = std::stoi(raw.substr(9, 3));
    const std::string body = raw.substr(split + 4);
    r.body = r.header("Transfer-Encoding") == "chunked" ? dechunk(body) : body;
    return r;
}

reply request(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
              const std::string& extra_headers = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers;
    if (!body.empty() || method == "POST")
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    return raw_exchange(port, req);
}

// The `data:` payloads of an SSE body, in order (comments kept as ": ping").
std::vector<std::string> sse_events(const std::string& body) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < body.size()) {
        const size_t end = body.find("\n\n", pos);
        if (end == std::string::npos) break;
        std::string ev = body.substr(pos, end - pos);
        out.push_back(ev.rfind("data: ", 0) == 0 ? ev.substr(6) : ev);
        pos = end + 2;
    }
    return out;
}

server_config test_config() {
    server_config c;
    c.model_path = "fake.gguf";
    c.port = 0;
    c.io_threads = 2;
    c.max_body_bytes = 4096;
    c.max_header_bytes = 2048;
    c.read_timeout = 0.3;
    c.idle_timeout = 2;
    c.drain_timeout = 1;
    c.ping_interval = 0.05;
    c.max_n = 4;
    return c;
}

class ServerTest : public ::testing::Test {
  protected:
    void start(fake_script script, server_config cfg = test_config(), int32_t n_ctx = 64) {
        server_ = std::make_unique<http_server>(cfg);
        server_->start();
        server_->set_model(test::fake_model(std::move(script), &eng_, n_ctx));
        port_ = server_->port();
    }
    void TearDown() override {
        if (server_) server_->stop();
    }
    fake_script hello() { return {{test::fake_codec::word_id("Hello"), test::fake_codec::word_id(" world")}}; }

    std::unique_ptr<http_server> server_;
    test::fake_engine* eng_ = nullptr;
    uint16_t port_ = 0;
};

const std::string chat_hi = R"({"messages":[{"role":"user","content":"hi"}])";

TEST_F(ServerTest, HealthIs503WhileLoadingThen200) {
    http_server srv(test_config());
    srv.start();
    reply r = request(srv.port(), "GET", "/health");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.json_body()["error"]["code"], "model_loading");
    EXPECT_EQ(request(srv.port(), "POST", "/v1/chat/completions", chat_hi + "}").status, 503);
    srv.set_model(test::fake_model(hello(), nullptr));
    r = request(srv.port(), "GET", "/health");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json_body()["status"], "ok");
    srv.stop();
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowedInOpenaiShape) {
    start(hello());
    reply r = request(port_, "GET", "/v1/nope");
    EXPECT_EQ(r.status, 404);
    for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(r.json_body()["error"].contains(k));
    r = request(port_, "GET", "/v1/chat/completions");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.json_body()["error"]["type"], "invalid_request_error");
    EXPECT_NE(r.header("Allow").find("POST"), std::string::npos);
}

TEST_F(ServerTest, BodyLimitDecidedFromContentLength) {
    start(hello());
    // Only the header is sent: the 413 must come without the body ever arriving.
    const reply r = raw_exchange(port_, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(r.json_body().contains("error"));
}

TEST_F(ServerTest, HeaderLimitIs431) {
    start(hello());
    const std::string big(3000, 'a');
    const reply r = raw_exchange(port_, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
    EXPECT_EQ(r.status, 431);
}

TEST_F(ServerTest, HeaderFieldCountIs431) {
    start(hello());
    std::string fields;
    for (int i = 0; i < 150; ++i) fields += "X-F" + std::to_string(i) + ": 1\r\n";
    const reply r = raw_exchange(port_, "GET /health HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
    EXPECT_EQ(r.status, 431);
    EXPECT_NE(r.body.find("header fields"), std::string::npos) << r.body;
    EXPECT_EQ(r.json_body()["error"]["type"], "invalid_request_error");
    std::string few;
    for (int i = 0; i < 90; ++i) few += "X-F" + std::to_string(i) + ": 1\r\n";
    EXPECT_EQ(raw_exchange(port_, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + few + "\r\n").status,
              200);
}

TEST_F(ServerTest, ChunkedBodiesAreBoundedInTheirFramingNotJustTheirData) {
    server_config cfg = test_config();
    cfg.max_body_bytes = 2 << 20;
    start(hello(), cfg);
    // A 1 MiB body, plain and chunked, passes the session's bounded read buffer.
    const std::string content(1 << 20, 'a');
    const std::string body = R"({"content":")" + content + R"("})";
    EXPECT_EQ(request(port_, "POST", "/tokenize", body).status, 200);
    std::string chunked =
        "POST /tokenize HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += 100000) {
        const std::string part = body.substr(at, 100000);
        char size[16];
        std::snprintf(size, sizeof(size), "%zx", part.size());
        chunked += std::string(size) + "\r\n" + part + "\r\n";
    }
    EXPECT_EQ(raw_exchange(port_, chunked + "0\r\n\r\n").status, 200);
    // Trailers that never end: refused once past the bound, not buffered until the read timeout.
    std::string trailers = "POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
    for (int i = 0; i < 20000; ++i) trailers += "X-T" + std::to_string(i) + ": 1\r\n";
    const reply r = raw_exchange(port_, trailers);
    EXPECT_EQ(r.status, 431);  // an unbounded buffer waits out the read timeout instead: 408
}

TEST_F(ServerTest, HeadGetsNoBodyEvenAsAnError) {
    start(hello());
    for (const char* target : {"/health", "/nope", "/v1/models", "/v1/completions"}) {
        const reply r = request(port_, "HEAD", target);
        EXPECT_NE(r.status, 0) << target;
        EXPECT_TRUE(r.body.empty()) << target << ": " << r.body;
    }
    // GET routes answer HEAD (a monitor probing /health); the length is that of the GET's body.
    const reply head = request(port_, "HEAD", "/health");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(request(port_, "GET", "/health").body.size()));
    const reply post_only = request(port_, "HEAD", "/v1/completions");
    EXPECT_EQ(post_only.status, 405);
    EXPECT_EQ(post_only.header("Allow"), "POST, OPTIONS");
    EXPECT_EQ(request(port_, "DELETE", "/health").header("Allow"), "GET, HEAD, OPTIONS");
}

TEST_F(ServerTest, SlowClientGets408) {
    start(hello());
    const auto t0 = std::chrono::steady_clock::now();
    const reply r = raw_exchange(port_, "GET /health HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
    EXPECT_EQ(r.status, 408);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    // A body that stalls gets 408 too.
    const reply b = raw_exchange(port_, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{");
    EXPECT_EQ(b.status, 408);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    start(hello());
    const std::string one = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    const reply r = raw_exchange(port_, one + one + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    size_t n = 0;
    for (size_t p = r.body.find("HTTP/1.1 200"); p != std::string::npos; p = r.body.find("HTTP/1.1 200", p + 1)) ++n;
    EXPECT_EQ(n, 2u);  // the two pipelined replies after the first
}

TEST_F(ServerTest, ApiKeysGuardEverythingButHealth) {
    server_config cfg = test_config();
    cfg.api_keys = {"sekret"};
    start(hello(), cfg);
    EXPECT_EQ(request(port_, "GET", "/health").status, 200);
    reply r = request(port_, "GET", "/v1/models");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.json_body()["error"]["code"], "invalid_api_key");
    EXPECT_EQ(request(port_, "GET", "/v1/models", "", "Authorization: Bearer wrong\r\n").status, 401);
    EXPECT_EQ(request(port_, "GET", "/v1/models", "", "Authorization: Bearer sekret\r\n").status, 200);
    EXPECT_EQ(request(port_, "GET", "/metrics", "", "X-Api-Key: sekret\r\n").status, 200);
}

TEST_F(ServerTest, CorsOnlyForListedOrigins) {
    server_config cfg = test_config();
    cfg.cors_origins = {"https://ok.example"};
    start(hello(), cfg);
    reply r = request(port_, "OPTIONS", "/v1/chat/completions", "",
                      "Origin: https://ok.example\r\nAccess-Control-Request-Method: POST\r\n");
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://ok.example");
    EXPECT_NE(r.header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
    r = request(port_, "OPTIONS", "/v1/chat/completions", "", "Origin: https://evil.example\r\n");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
    r = request(port_, "GET", "/v1/models", "", "Origin: https://ok.example\r\n");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://ok.example");
    r = request(port_, "GET", "/v1/models", "", "Origin: https://evil.example\r\n");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
}

TEST_F(ServerTest, ChatCompletionNonStreaming) {
    start(hello());
    const reply r = request(port_, "POST", "/v1/chat/completions", chat_hi + R"(,"seed":5,"temperature":0})");
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.json_body();
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["model"], "fake-model");
    EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello world");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    // Prompt: BOS + "<|im_start|>" "user\nhi" "<|im_end|>" "\n" "<|im_start|>" "assistant\n" as fake tokens.
    const int64_t n_prompt = 1 + 1 + 7 + 1 + 1 + 1 + 10;
    EXPECT_EQ(j["usage"]["prompt_tokens"], n_prompt);
    EXPECT_EQ(j["usage"]["completion_tokens"], 2);
    EXPECT_EQ(j["usage"]["total_tokens"], n_prompt + 2);
    ASSERT_EQ(eng_->submitted().size(), 1u);
    EXPECT_EQ(eng_->submitted()[0].sampling.seed, 5u);
    EXPECT_EQ(eng_->submitted()[0].sampling.temperature, 0.0f);
}

// A request the engine ends with an error (a failed forward, a lost device) is a 500 in OpenAI's shape,
// not a connection closed without a reply (the error once went unsent after the disconnect watch).
TEST_F(ServerTest, EngineErrorIsA500NotASilentClose) {
    fake_script script = hello();
    script.end = finish_reason::error;
    start(script);
    const reply r = request(port_, "POST", "/v1/chat/completions", chat_hi + "}");
    ASSERT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.json_body()["error"]["type"], "server_error");
}

TEST_F(ServerTest, ChatStreamingIsOpenaiFramed) {
    start(hello());
    const reply r = request(port_, "POST", "/v1/chat/completions",
                            chat_hi + R"(,"stream":true,"stream_options":{"include_usage":true}})");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
    const std::vector<std::string> ev = sse_events(r.body);
    ASSERT_GE(ev.size(), 5u) << r.body;
    EXPECT_EQ(ev.back(), "[DONE]");
    const json role = json::parse(ev[0]);
    EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
    std::string text;
    int n_finish = 0;
    json usage;
    for (size_t i = 1; i + 1 < ev.size(); ++i) {
        if (ev[i] == ": ping") continue;
        const json c = json::parse(ev[i]);
        if (c["choices"].empty()) {
            usage = c["usage"];
            continue;
        }
        EXPECT_TRUE(c["usage"].is_null());
        if (c["choices"][0]["delta"].contains("content"))
            text += c["choices"][0]["delta"]["content"].get<std::string>();
        if (!c["choices"][0]["finish_reason"].is_null()) ++n_finish;
    }
    EXPECT_EQ(text, "Hello world");
    EXPECT_EQ(n_finish, 1);
    EXPECT_EQ(usage["completion_tokens"], 2);
    EXPECT_TRUE(json::parse(ev[ev.size() - 2])["choices"].empty());  // usage is the last chunk before [DONE]
}

TEST_F(ServerTest, StreamingHoldsStopStringsAndUtf8AcrossTokens) {
    // "caf\xC3\xA9 <EN" + "D>" split byte by byte; stop "<END>" never appears; "é" is never split.
    start(fake_script{test::byte_tokens("caf\xC3\xA9 <END> tail")});
    const reply r = request(port_, "POST", "/v1/completions", R"({"prompt":"x","stream":true,"stop":["<END>"]})");
    ASSERT_EQ(r.status, 200);
    std::string text;
    std::string finish;
    for (const std::string& e : sse_events(r.body)) {
        if (e == "[DONE]" || e == ": ping") continue;
        const json c = json::parse(e);
        const std::string piece = c["choices"][0]["text"];
        EXPECT_TRUE(utf8_valid(piece)) << piece;
        text += piece;
        if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(text, "caf\xC3\xA9 ");
    EXPECT_EQ(finish, "stop");
    // The engine was given the stop strings and cut the text there (the fake uses the engine's text_stream).
    ASSERT_EQ(eng_->submitted().size(), 1u);
    EXPECT_EQ(eng_->submitted()[0].stop, std::vector<std::string>{"<END>"});
}

TEST_F(ServerTest, PingsWhileThePromptIsPrefilled) {
    fake_script s = hello();
    s.prefill = std::chrono::milliseconds(300);
    start(s);
    const reply r = request(port_, "POST", "/v1/chat/completions", chat_hi + R"(,"stream":true})");
    const std::vector<std::string> ev = sse_events(r.body);
    size_t first_ping = 0, first_content = 0;
    for (size_t i = 0; i < ev.size(); ++i) {
        if (ev[i] == ": ping" && !first_ping) first_ping = i;
        if (ev[i].find("Hello") != std::string::npos && !first_content) first_content = i;
    }
    EXPECT_GT(first_ping, 0u) << r.body;
    EXPECT_GT(first_content, first_ping);
}

TEST_F(ServerTest, CompletionsWithNChoicesUseSeedPlusI) {
    start(hello());
    const reply r = request(port_, "POST", "/v1/completions", R"({"prompt":"ab","n":3,"seed":100,"logprobs":1})");
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.json_body();
    EXPECT_EQ(j["object"], "text_completion");
    ASSERT_EQ(j["choices"].size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(j["choices"][i]["index"], i);
        EXPECT_EQ(j["choices"][i]["text"], "Hello world");
        EXPECT_EQ(j["choices"][i]["logprobs"]["tokens"], json::array({"Hello", " world"}));
    }
    EXPECT_EQ(j["usage"]["prompt_tokens"], 3);  // BOS a b
    EXPECT_EQ(j["usage"]["completion_tokens"], 6);
    std::vector<uint64_t> seeds;
    for (const auto& p : eng_->submitted()) seeds.push_back(p.sampling.seed);
    EXPECT_EQ(seeds, (std::vector<uint64_t>{100, 101, 102}));
    EXPECT_EQ(eng_->submitted()[0].n_logprobs, 1);
}

TEST_F(ServerTest, CompletionsWithSeveralPromptsGiveChoicesPromptMajor) {
    start(hello());
    const reply r =
        request(port_, "POST", "/v1/completions", R"({"prompt":["ab",[7,8,9]],"n":2,"seed":10,"echo":true})");
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.json_body();
    ASSERT_EQ(j["choices"].size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_EQ(j["choices"][0]["text"], "abHello world");  // echo: each choice starts with its own prompt
    EXPECT_EQ(j["choices"][1]["text"], "abHello world");
    EXPECT_EQ(j["usage"]["prompt_tokens"], 3 + 3);  // BOS a b, then the 3 given ids
    EXPECT_EQ(j["usage"]["completion_tokens"], 8);
    const auto& sub = eng_->submitted();
    ASSERT_EQ(sub.size(), 4u);
    EXPECT_EQ(sub[0].prompt, sub[1].prompt);
    EXPECT_EQ(sub[2].prompt, (std::vector<int32_t>{7, 8, 9}));
    EXPECT_EQ(sub[3].prompt, (std::vector<int32_t>{7, 8, 9}));
    std::vector<uint64_t> seeds;
    for (const auto& p : sub) seeds.push_back(p.sampling.seed);
    EXPECT_EQ(seeds, (std::vector<uint64_t>{10, 11, 12, 13}));
}

TEST_F(ServerTest, ValidationErrorsNameTheParam) {
    start(hello());
    reply r = request(port_, "POST", "/v1/chat/completions", chat_hi + R"(,"temperature":"hot"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json_body()["error"]["param"], "temperature");
    r = request(port_, "POST", "/v1/completions", R"({"prompt":"x","logit_bias":{"999999":1}})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json_body()["error"]["param"], "logit_bias");
    r = request(port_, "POST", "/v1/chat/completions", R"({"messages":[{"role":"tool","content":"x"}]})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json_body()["error"]["param"], "messages[0].tool_call_id");
    r = request(port_, "POST", "/v1/chat/completions",
                R"({"messages":[{"role":"tool","tool_call_id":"call_1","content":"x"}]})");
    EXPECT_EQ(r.status, 400);  // the template raised
    EXPECT_EQ(r.json_body()["error"]["code"], "template_error");
}

// Values outside the engine's request rules: a 400 naming the field, and nothing submitted (not even
// the first of n choices).
TEST_F(ServerTest, EngineRulesAre400sNamingTheParam) {
    start(hello());
    const std::pair<std::string, std::string> cases[] = {
        {R"("temperature":2.5)", "temperature"},
        {R"("temperature":-0.1)", "temperature"},
        {R"("top_p":1.01)", "top_p"},
        {R"("top_k":-1)", "top_k"},
        {R"("min_p":2)", "min_p"},
        {R"("presence_penalty":2.1)", "presence_penalty"},
        {R"("frequency_penalty":-3)", "frequency_penalty"},
        {R"("repetition_penalty":0)", "repetition_penalty"},
        {R"("max_tokens":0)", "max_tokens"},
        {R"("logit_bias":{"3":101})", "logit_bias"},
        {R"("logprobs":true,"top_logprobs":21)", "top_logprobs"},
    };
    for (const auto& [field, param] : cases) {
        const reply r = request(port_, "POST", "/v1/chat/completions", chat_hi + R"(,"n":2,)" + field + "}");
        EXPECT_EQ(r.status, 400) << field;
        EXPECT_EQ(r.json_body()["error"]["param"], param) << field;
        EXPECT_EQ(r.json_body()["error"]["type"], "invalid_request_error") << field;
    }
    reply r = request(port_, "POST", "/v1/completions", R"({"prompt":[5, 99999]})");
    EXPECT_EQ(r.json_body()["error"]["param"], "prompt");
    r = request(port_, "POST", "/v1/completions", R"({"prompt":"x","logprobs":21})");
    EXPECT_EQ(r.json_body()["error"]["param"], "logprobs");  // the completions name of top_logprobs
    EXPECT_TRUE(eng_->submitted().empty());
}

TEST_F(ServerTest, PromptLongerThanTheContextIs400WithCounts) {
    start(hello(), test_config(), 16);
    const reply r = request(port_, "POST", "/v1/completions", R"({"prompt":"this prompt is far too long"})");
    EXPECT_EQ(r.status, 400);
    const json e = r.json_body()["error"];
    EXPECT_EQ(e["code"], "context_length_exceeded");
    EXPECT_NE(e["message"].get<std::string>().find("16"), std::string::npos);
    EXPECT_NE(e["message"].get<std::string>().find("28"), std::string::npos);  // BOS + 27 bytes
    EXPECT_TRUE(eng_->submitted().empty());
}

TEST_F(ServerTest, QueueFullIs429WithRetryAfter) {
    start(hello());
    eng_->queue_full_ = true;
    const reply r = request(port_, "POST", "/v1/chat/completions", chat_hi + "}");
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("Retry-After"), "1");
    EXPECT_EQ(r.json_body()["error"]["type"], "rate_limit_error");
}

TEST_F(ServerTest, TokenizeAndDetokenize) {
    start(hello());
    reply r = request(port_, "POST", "/tokenize", R"({"content":"Hello!","with_pieces":true})");
    ASSERT_EQ(r.status, 200) << r.body;
    const json t = r.json_body()["tokens"];
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0]["id"], test::fake_codec::word_id("Hello"));
    EXPECT_EQ(t[1]["piece"], "!");
    r = request(port_, "POST", "/detokenize",
                json{{"tokens", {test::fake_codec::word_id("Hello"), test::fake_codec::word_id(" world")}}}.dump());
    EXPECT_EQ(r.json_body()["content"], "Hello world");
    r = request(port_, "GET", "/v1/models");
    EXPECT_EQ(r.json_body()["data"][0]["id"], "fake-model");
}

// Opens a request, then closes the socket before the reply; the engine request must be aborted.
void disconnect_midway(uint16_t port, const std::string& body) {
    net::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect({net::ip::make_address("127.0.0.1"), port});
    const std::string req =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    net::write(sock, net::buffer(req));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sock.close();
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
}

TEST_F(ServerTest, ClientDisconnectAbortsTheEngineRequest) {
    fake_script s = hello();
    s.hang = true;
    start(s);
    disconnect_midway(port_, chat_hi + "}");  // non-streaming: the watchdog read notices
    EXPECT_TRUE(wait_for([&] { return eng_->aborted().size() == 1; }));
    disconnect_midway(port_, chat_hi + R"(,"stream":true})");
    EXPECT_TRUE(wait_for([&] { return eng_->aborted().size() == 2; }));
    EXPECT_TRUE(wait_for([&] { return eng_->n_active() == 0; }));
    // A request cut short is still counted: its prompt (and whatever it generated).
    EXPECT_TRUE(wait_for([&] {
        return request(port_, "GET", "/metrics").body.find("tandem_prompt_tokens_total 0\n") == std::string::npos;
    }));
}

TEST_F(ServerTest, DrainEndsHangingStreamsWithAnErrorEvent) {
    fake_script s = hello();
    s.hang = true;
    server_config cfg = test_config();
    cfg.drain_timeout = 0.2;
    start(s, cfg);
    reply r;
    std::thread client([&] { r = request(port_, "POST", "/v1/chat/completions", chat_hi + R"(,"stream":true})"); });
    ASSERT_TRUE(wait_for([&] { return eng_->n_active() == 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto t0 = std::chrono::steady_clock::now();
    server_->stop();
    client.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    EXPECT_EQ(r.status, 200);
    const std::vector<std::string> ev = sse_events(r.body);
    ASSERT_FALSE(ev.empty());
    EXPECT_NE(ev.back().find("\"error\""), std::string::npos) << r.body;
    EXPECT_NE(ev.back().find("shutting_down"), std::string::npos);
    server_.reset();
}

TEST_F(ServerTest, MetricsCountRequestsAndTokens) {
    start(hello());
    request(port_, "POST", "/v1/chat/completions", chat_hi + "}");
    request(port_, "GET", "/nope");
    const reply r = request(port_, "GET", "/metrics");
    EXPECT_NE(r.body.find("tandem_requests_total{code=\"200\"} 1"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("tandem_requests_total{code=\"404\"} 1"), std::string::npos);
    EXPECT_NE(r.body.find("tandem_generation_tokens_total 2"), std::string::npos);
    EXPECT_NE(r.body.find("tandem_kv_blocks_used 7"), std::string::npos);
    EXPECT_NE(r.body.find("tandem_time_to_first_token_seconds_count 1"), std::string::npos);
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(ServerSignals, SigtermEndsTheWaitAndStopDrains) {
    server_config cfg = test_config();
    http_server srv(cfg);
    srv.start();
    srv.set_model(test::fake_model(test::fake_script{}, nullptr));
    srv.handle_signals();
    std::thread waiter([&] { srv.wait_for_signal(); });
    ::kill(::getpid(), SIGTERM);
    waiter.join();  // returns only because the signal arrived
    srv.stop();
    // The listener is closed: a new connection is refused.
    net::io_context ioc;
    tcp::socket sock(ioc);
    boost::system::error_code ec;
    sock.connect({net::ip::make_address("127.0.0.1"), srv.port()}, ec);
    EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

// A host whose handler fails in the ways a route can: before and after an SSE stream started.
struct failing_host final : session_host {
    session_limits lim;
    std::atomic<int> n_closed{0};
    const session_limits& limits() const override { return lim; }
    bool stopping() const override { return false; }
    bool forcing() const override { return false; }
    void on_response(int) override {}
    void on_request(bool) override {}
    void on_session_closed() override { ++n_closed; }
    net::awaitable<void> handle(http_session& s, const http_request& req) override {
        const bool stream = req.target() == "/stream-then-fail";
        const bool api = req.target() != "/std-exception";
        if (stream) {
            co_await s.send_sse_head();
            co_await s.send_chunk("data: {\"partial\":true}\n\n");
        }
        if (api) throw api_exception{error_internal("the handler failed")};
        throw std::runtime_error("unexpected");
    }
};

// Serves one connection with `host` and returns the client's reply to `target`.
reply exchange_with_session(failing_host& host, const std::string& target) {
    net::io_context ioc;
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
    acceptor.async_accept(net::make_strand(ioc), [&](boost::system::error_code ec, tcp::socket sock) {
        if (!ec) std::make_shared<http_session>(host, std::move(sock))->start();
    });
    std::thread io([&] { ioc.run(); });
    const reply r = request(acceptor.local_endpoint().port(), "GET", target);
    io.join();  // the session ends after the request (Connection: close), then the context runs dry
    return r;
}

TEST(HttpSession, AnErrorAfterTheSseHeadEndsTheStreamWithAnErrorEvent) {
    failing_host host;
    const reply r = exchange_with_session(host, "/stream-then-fail");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
    EXPECT_EQ(r.head.find("HTTP/1.1 500"), std::string::npos);
    const std::vector<std::string> ev = sse_events(r.body);
    ASSERT_EQ(ev.size(), 2u) << r.body;  // the partial event, then the error; no second HTTP response inside
    EXPECT_EQ(ev[0], "{\"partial\":true}");
    EXPECT_EQ(json::parse(ev[1])["error"]["message"], "the handler failed");
    EXPECT_EQ(r.body.find("HTTP/1.1"), std::string::npos) << r.body;
    EXPECT_EQ(host.n_closed.load(), 1);
}

TEST(HttpSession, AnErrorBeforeAnyResponseIsAnOpenaiErrorResponse) {
    failing_host host;
    const reply api = exchange_with_session(host, "/api-exception");
    EXPECT_EQ(api.status, 500);
    EXPECT_EQ(api.json_body()["error"]["message"], "the handler failed");
    const reply other = exchange_with_session(host, "/std-exception");
    EXPECT_EQ(other.status, 500);
    EXPECT_EQ(other.json_body()["error"]["type"], "server_error");
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    EXPECT_TRUE(in) << "missing " << p;
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

const std::filesystem::path dist = std::filesystem::path(TANDEM_SOURCE_DIR) / "webui" / "dist";

TEST_F(ServerTest, WebUiIsTheCommittedBundleGzippedWithCachingAndCsp) {
    start(hello());
    const std::string index = gunzip(read_file(dist / "index.html.gz"));
    const reply gz = request(port_, "GET", "/", "", "Accept-Encoding: br, gzip;q=0.8\r\n");
    ASSERT_EQ(gz.status, 200);
    EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
    EXPECT_EQ(gunzip(gz.body), index);
    EXPECT_EQ(gz.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(gz.header("Cache-Control"), "no-cache");
    EXPECT_EQ(gz.header("Content-Security-Policy"), webui_content_security_policy);
    EXPECT_NE(gz.header("Content-Security-Policy").find("script-src 'self';"), std::string::npos);
    EXPECT_EQ(gz.header("Vary"), "Accept-Encoding");
    // A client without gzip gets the same page inflated, under its own ETag.
    const reply plain = request(port_, "GET", "/index.html", "", "Accept-Encoding: gzip;q=0\r\n");
    EXPECT_EQ(plain.status, 200);
    EXPECT_EQ(plain.header("Content-Encoding"), "");
    EXPECT_EQ(plain.body, index);
    EXPECT_NE(plain.header("ETag"), gz.header("ETag"));
    // Revalidation: 304 with no body.
    const reply again =
        request(port_, "GET", "/", "", "Accept-Encoding: gzip\r\nIf-None-Match: " + gz.header("ETag") + "\r\n");
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    // Every hashed asset: immutable, its type from its extension, bytes as committed.
    int n_assets = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dist / "assets")) {
        std::string name = entry.path().filename().string();
        ASSERT_TRUE(name.ends_with(".gz")) << name;
        name.resize(name.size() - 3);
        const reply a = request(port_, "GET", "/assets/" + name, "", "Accept-Encoding: gzip\r\n");
        EXPECT_EQ(a.status, 200) << name;
        EXPECT_EQ(a.body, read_file(entry.path())) << name;
        EXPECT_EQ(a.header("Cache-Control"), "public, max-age=31536000, immutable") << name;
        const std::string want = name.ends_with(".js")    ? "text/javascript; charset=utf-8"
                                 : name.ends_with(".css") ? "text/css; charset=utf-8"
                                                          : a.header("Content-Type");
        EXPECT_EQ(a.header("Content-Type"), want) << name;
        ++n_assets;
    }
    EXPECT_GE(n_assets, 2);
    EXPECT_EQ(request(port_, "GET", "/assets/missing.js").status, 404);
    const reply post = request(port_, "POST", "/", "{}");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("Allow"), "GET, HEAD");
    // HEAD: the headers a GET gets, Content-Length included, and no body.
    const reply head = request(port_, "HEAD", "/", "", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(gz.body.size()));
    EXPECT_EQ(head.header("ETag"), gz.header("ETag"));
    EXPECT_TRUE(head.body.empty());
}

TEST_F(ServerTest, WithApiKeysTheWebUiStaysPublicAndPropsNeedsTheKey) {
    server_config cfg = test_config();
    cfg.api_keys = {"k-123"};
    start(hello(), cfg);
    EXPECT_EQ(request(port_, "GET", "/").status, 200);
    EXPECT_EQ(request(port_, "GET", "/props").status, 401);
    const reply props = request(port_, "GET", "/props", "", "Authorization: Bearer k-123\r\n");
    ASSERT_EQ(props.status, 200);
    const json p = props.json_body();
    EXPECT_EQ(p["n_ctx"], 64);
    EXPECT_EQ(p["parallel"], cfg.parallel);
    EXPECT_EQ(p["default_generation_settings"]["temperature"], 1.0);
    EXPECT_TRUE(p["default_generation_settings"]["seed"].is_null());
    EXPECT_EQ(p["speculative"]["type"], "none");
    EXPECT_FALSE(p.dump().find("k-123") != std::string::npos);      // no secrets
    EXPECT_FALSE(p.dump().find("fake.gguf") != std::string::npos);  // no paths
}

TEST_F(ServerTest, CorsKeepsTheStaticFilesVary) {
    server_config cfg = test_config();
    cfg.cors_origins = {"https://app.example"};
    start(hello(), cfg);
    const reply r = request(port_, "GET", "/", "", "Origin: https://app.example\r\nAccept-Encoding: gzip\r\n");
    EXPECT_EQ(r.header("Vary"), "Accept-Encoding, Origin");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://app.example");
}

TEST_F(ServerTest, NoWebuiMeansNoPage) {
    server_config cfg = test_config();
    cfg.webui = false;
    start(hello(), cfg);
    const reply r = request(port_, "GET", "/");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.json_body()["error"]["code"], "unknown_url");
}

TEST_F(ServerTest, WebuiPathServesADirectoryAndNothingOutsideIt) {
    const std::filesystem::path root =
        std::filesystem::temp_directory_path() / ("tandem-webui-" + std::to_string(getpid()));
    std::filesystem::create_directories(root / "assets");
    std::ofstream(root / "index.html") << "<p>dev page</p>";
    std::ofstream(root.parent_path() / "tandem-secret.txt") << "secret";
    {
        const std::string gz = read_file(dist / "index.html.gz");  // any gzip file will do
        std::ofstream(root / "assets" / "app.js.gz", std::ios::binary) << gz;
    }
    server_config cfg = test_config();
    cfg.webui_path = root.string();
    start(hello(), cfg);
    const reply page = request(port_, "GET", "/", "", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, "<p>dev page</p>");
    EXPECT_EQ(page.header("Content-Encoding"), "");
    const reply js = request(port_, "GET", "/assets/app.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.body, gunzip(read_file(dist / "index.html.gz")));
    EXPECT_EQ(js.header("Cache-Control"), "no-cache");  // a directory under development is never immutable
    std::ofstream(root / ".env") << "KEY=1";
    std::filesystem::create_symlink(root.parent_path() / "tandem-secret.txt", root / "leak.txt");
    for (const char* bad : {"/../tandem-secret.txt", "/assets/../../tandem-secret.txt", "/%2e%2e/tandem-secret.txt",
                            "//etc/passwd", "/assets/..\\..\\x", "/.env", "/leak.txt"})
        EXPECT_EQ(request(port_, "GET", bad).status, 404) << bad;
    std::filesystem::remove_all(root);
    std::filesystem::remove(root.parent_path() / "tandem-secret.txt");
}

TEST(StaticFiles, GzipNegotiationAndInflation) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
    EXPECT_TRUE(accepts_gzip("*"));
    EXPECT_TRUE(accepts_gzip("x-gzip"));
    EXPECT_FALSE(accepts_gzip(""));
    EXPECT_FALSE(accepts_gzip("br, deflate"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
    EXPECT_FALSE(accepts_gzip("gzipx"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0, *"));  // the explicit refusal wins over the wildcard
    EXPECT_TRUE(accepts_gzip("GZIP"));
    EXPECT_TRUE(accepts_gzip("br;q=1, *;q=0.1"));
    EXPECT_FALSE(accepts_gzip("*;q=0"));
    const std::string gz = read_file(dist / "index.html.gz");
    EXPECT_NE(gunzip(gz).find("<html"), std::string::npos);
    EXPECT_THROW(gunzip(gz.substr(0, gz.size() / 2)), error);
    EXPECT_THROW(gunzip("not gzip at all"), error);
}

}  // namespace
}  // namespace tandem
