// Request parsing: each field's wrong type is a 400 naming that param, as are the protocol's own limits
// (n, stop count); unknown fields are ignored; content parts, roles, stop and logit_bias shapes.
#include <gtest/gtest.h>

#include "server/http/errors.h"
#include "server/http/openai_parse.h"

namespace tandem {
namespace {

const parse_limits limits{4};

std::string chat_body(const std::string& extra) {
    return R"({"model":"m","messages":[{"role":"user","content":"hi"}])" + (extra.empty() ? "" : "," + extra) + "}";
}

// The param named by the 400 the body provokes ("" if it parsed).
std::string chat_error_param(const std::string& extra) {
    try {
        parse_chat_request(chat_body(extra), limits);
    } catch (const api_exception& e) {
        EXPECT_EQ(e.err.status, 400);
        EXPECT_EQ(e.err.type, "invalid_request_error");
        return e.err.param.value_or("<none>");
    }
    return "";
}

std::string completion_error_param(const std::string& body) {
    try {
        parse_completion_request(body, limits);
    } catch (const api_exception& e) {
        EXPECT_EQ(e.err.status, 400);
        return e.err.param.value_or("<none>");
    }
    return "";
}

TEST(OpenaiParse, ValidChatRequestFillsEveryField) {
    const generation_request r = parse_chat_request(
        chat_body(R"("temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,"presence_penalty":1.5,)"
                  R"("frequency_penalty":-1,"repetition_penalty":1.1,"seed":42,"max_completion_tokens":7,)"
                  R"("stop":["a","bb"],"logit_bias":{"15":-100,"7":2.5},"n":3,"logprobs":true,"top_logprobs":2,)"
                  R"("stream":true,"stream_options":{"include_usage":true},"unknown_field":{"x":1})"),
        limits);
    EXPECT_TRUE(r.chat);
    EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
    EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
    EXPECT_EQ(r.sampling.top_k, 40);
    EXPECT_FLOAT_EQ(r.sampling.min_p, 0.05f);
    EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 1.5f);
    EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, -1.0f);
    EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
    EXPECT_EQ(r.sampling.seed, 42u);
    EXPECT_TRUE(r.seed_given);
    EXPECT_EQ(r.max_tokens, 7);
    EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bb"}));
    ASSERT_EQ(r.sampling.logit_bias.size(), 2u);
    EXPECT_EQ(r.n, 3);
    EXPECT_TRUE(r.logprobs);
    EXPECT_EQ(r.n_top_logprobs, 2);
    EXPECT_TRUE(r.stream);
    EXPECT_TRUE(r.include_usage);
}

TEST(OpenaiParse, TypeErrorsNameTheParam) {
    EXPECT_EQ(chat_error_param(R"("temperature":"hot")"), "temperature");
    EXPECT_EQ(chat_error_param(R"("top_p":true)"), "top_p");
    EXPECT_EQ(chat_error_param(R"("top_k":1.5)"), "top_k");
    EXPECT_EQ(chat_error_param(R"("min_p":[0.1])"), "min_p");
    EXPECT_EQ(chat_error_param(R"("presence_penalty":"1")"), "presence_penalty");
    EXPECT_EQ(chat_error_param(R"("frequency_penalty":{})"), "frequency_penalty");
    EXPECT_EQ(chat_error_param(R"("repetition_penalty":"x")"), "repetition_penalty");
    EXPECT_EQ(chat_error_param(R"("seed":"42")"), "seed");
    EXPECT_EQ(chat_error_param(R"("max_tokens":"10")"), "max_tokens");
    EXPECT_EQ(chat_error_param(R"("max_completion_tokens":2.5)"), "max_completion_tokens");
    EXPECT_EQ(chat_error_param(R"("stop":5)"), "stop");
    EXPECT_EQ(chat_error_param(R"("stop":["a",1])"), "stop");
    EXPECT_EQ(chat_error_param(R"("logit_bias":[1])"), "logit_bias");
    EXPECT_EQ(chat_error_param(R"("logit_bias":{"abc":1})"), "logit_bias");
    EXPECT_EQ(chat_error_param(R"("n":"2")"), "n");
    EXPECT_EQ(chat_error_param(R"("logprobs":1)"), "logprobs");
    EXPECT_EQ(chat_error_param(R"("stream":"yes")"), "stream");
    EXPECT_EQ(chat_error_param(R"("stream_options":{"include_usage":1})"), "stream_options.include_usage");
    EXPECT_EQ(chat_error_param(R"("model":5)"), "model");
}

// The protocol's own limits; value ranges are the engine's rules (test_http_server: EngineRules...).
TEST(OpenaiParse, ProtocolLimitsNameTheParam) {
    EXPECT_EQ(chat_error_param(R"("n":0)"), "n");
    EXPECT_EQ(chat_error_param(R"("n":5)"), "n");  // above the configured max_n of 4
    EXPECT_EQ(chat_error_param(R"("stop":["a","b","c","d","e"])"), "stop");
    EXPECT_EQ(chat_error_param(R"("top_logprobs":2)"), "top_logprobs");  // needs logprobs
    EXPECT_EQ(chat_error_param(R"("temperature":2.5,"top_p":7,"max_tokens":0)"), "") << "ranges are not the parser's";
}

TEST(OpenaiParse, NullMeansAbsentAndUnknownFieldsAreIgnored) {
    const generation_request r = parse_chat_request(chat_body(R"("temperature":null,"whatever":[1,2])"), limits);
    EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
    EXPECT_EQ(chat_error_param(R"("seed":7.0)"), "");  // an integral float is an integer
}

TEST(OpenaiParse, MessagesAndContentParts) {
    const generation_request r = parse_chat_request(
        R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},)"
        R"({"type":"text","text":"b"}]},{"role":"assistant","content":null,"tool_calls":[]},)"
        R"({"role":"tool","content":"r","tool_call_id":"x"}]})",
        limits);
    ASSERT_EQ(r.messages.size(), 4u);
    EXPECT_EQ(r.messages[1]["content"], "a\nb");
    EXPECT_TRUE(r.messages[2]["content"].is_null());
    EXPECT_EQ(r.messages[3]["tool_call_id"], "x");
    auto param_of = [](const std::string& body) {
        try {
            parse_chat_request(body, limits);
        } catch (const api_exception& e) {
            return e.err.param.value_or("<none>");
        }
        return std::string();
    };
    EXPECT_EQ(param_of(R"({"messages":[]})"), "messages");
    EXPECT_EQ(param_of(R"({})"), "messages");
    EXPECT_EQ(param_of(R"({"messages":[{"role":"robot","content":"x"}]})"), "messages[0].role");
    EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":5}]})"), "messages[0].content");
    EXPECT_EQ(param_of(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})"),
              "messages[0].content[0].type");
    EXPECT_EQ(param_of(R"({"messages":[{"role":"user"}]})"), "messages[0].content");
}

// The param named by the 400 a whole chat body provokes ("" if it parsed).
std::string body_error_param(const std::string& body) {
    try {
        parse_chat_request(body, limits);
    } catch (const api_exception& e) {
        return e.err.param.value_or("<none>");
    }
    return "";
}

TEST(OpenaiParse, ToolsAndToolChoice) {
    const std::string tool = R"({"type":"function","function":{"name":"f","parameters":{"type":"object"}}})";
    const std::string tool_g = R"({"type":"function","function":{"name":"g"}})";
    const generation_request r =
        parse_chat_request(chat_body(R"("tools":[)" + tool + "," + tool_g +
                                     R"(],"tool_choice":{"type":"function","function":{"name":"g"}},)"
                                     R"("parallel_tool_calls":false,"chat_template_kwargs":{"enable_thinking":false},)"
                                     R"("reasoning_effort":"low")"),
                           limits);
    ASSERT_EQ(r.tools.size(), 2u);
    EXPECT_EQ(r.tools[0]["function"].begin().key(), "name");  // the request's key order is kept
    EXPECT_EQ(r.tool_choice, "function");
    EXPECT_EQ(r.tool_choice_name, "g");
    EXPECT_FALSE(r.parallel_tool_calls);
    EXPECT_EQ(r.chat_template_kwargs["enable_thinking"], false);
    EXPECT_EQ(r.reasoning_effort, "low");
    EXPECT_EQ(parse_chat_request(chat_body(R"("tools":[],"tool_choice":"none")"), limits).tools, nullptr);

    EXPECT_EQ(chat_error_param(R"("tools":{})"), "tools");
    EXPECT_EQ(chat_error_param(R"("tools":[{"type":"code","function":{"name":"f"}}])"), "tools[0].type");
    EXPECT_EQ(chat_error_param(R"("tools":[{"type":"function"}])"), "tools[0].function");
    EXPECT_EQ(chat_error_param(R"("tools":[{"type":"function","function":{"name":""}}])"), "tools[0].function.name");
    EXPECT_EQ(chat_error_param(R"("tools":[)" + tool + "," + tool + "]"), "tools[1].function.name");
    EXPECT_EQ(chat_error_param(R"("tools":[{"type":"function","function":{"name":"f","parameters":3}}])"),
              "tools[0].function.parameters");
    EXPECT_EQ(chat_error_param(R"("tool_choice":"maybe")"), "tool_choice");
    EXPECT_EQ(chat_error_param(R"("tool_choice":"required")"), "tool_choice");  // no tools to call
    EXPECT_EQ(
        chat_error_param(R"("tools":[)" + tool + R"(],"tool_choice":{"type":"function","function":{"name":"x"}})"),
        "tool_choice.function.name");
    EXPECT_EQ(chat_error_param(R"("parallel_tool_calls":1)"), "parallel_tool_calls");
    EXPECT_EQ(chat_error_param(R"("chat_template_kwargs":"x")"), "chat_template_kwargs");
    EXPECT_EQ(chat_error_param(R"("reasoning_effort":"max")"), "reasoning_effort");
}

TEST(OpenaiParse, ToolCallsAndToolMessages) {
    const generation_request r =
        parse_chat_request(R"({"messages":[{"role":"user","content":"w?"},)"
                           R"({"role":"assistant","content":null,"reasoning_content":"think","tool_calls":[)"
                           R"({"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},)"
                           R"({"role":"tool","tool_call_id":"c1","content":"42"}]})",
                           limits);
    EXPECT_TRUE(r.messages[1]["content"].is_null());
    EXPECT_EQ(r.messages[1]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
    EXPECT_EQ(r.messages[1]["reasoning_content"], "think");
    EXPECT_EQ(r.messages[2]["tool_call_id"], "c1");

    const std::string u = R"({"messages":[{"role":"user","content":"x"},)";
    EXPECT_EQ(body_error_param(u + R"({"role":"assistant","tool_calls":{}}]})"), "messages[1].tool_calls");
    EXPECT_EQ(body_error_param(u + R"({"role":"assistant","tool_calls":[{"type":"function"}]}]})"),
              "messages[1].tool_calls[0].function");
    EXPECT_EQ(body_error_param(u + R"({"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]})"),
              "messages[1].tool_calls[0].function.name");
    EXPECT_EQ(body_error_param(u + R"({"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{}}}]}]})"),
              "messages[1].tool_calls[0].function.arguments");
    EXPECT_EQ(body_error_param(u + R"({"role":"tool","content":"42"}]})"), "messages[1].tool_call_id");
    EXPECT_EQ(body_error_param(u + R"({"role":"tool","tool_call_id":7,"content":"42"}]})"), "messages[1].tool_call_id");
    EXPECT_EQ(body_error_param(u + R"({"role":"tool","tool_call_id":"c","content":null}]})"), "messages[1].content");
    EXPECT_EQ(body_error_param(u + R"({"role":"assistant","content":"a","reasoning_content":1}]})"),
              "messages[1].reasoning_content");
}

TEST(OpenaiParse, CompletionPromptShapesAndLogprobs) {
    generation_request r = parse_completion_request(R"({"prompt":"abc","logprobs":3,"echo":true})", limits);
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_EQ(r.prompts[0].text, "abc");
    EXPECT_FALSE(r.prompts[0].is_tokens);
    EXPECT_TRUE(r.logprobs);
    EXPECT_EQ(r.n_top_logprobs, 3);
    EXPECT_TRUE(r.echo);
    r = parse_completion_request(R"({"prompt":[1,2,3]})", limits);
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_TRUE(r.prompts[0].is_tokens);
    EXPECT_EQ(r.prompts[0].tokens, (std::vector<int32_t>{1, 2, 3}));
    r = parse_completion_request(R"({"prompt":["one"]})", limits);
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_EQ(r.prompts[0].text, "one");
    // Several prompts: strings or token-id arrays, in order.
    r = parse_completion_request(R"({"prompt":["a",[5,6],"c"],"n":2})", limits);
    ASSERT_EQ(r.prompts.size(), 3u);
    EXPECT_EQ(r.prompts[0].text, "a");
    EXPECT_EQ(r.prompts[1].tokens, (std::vector<int32_t>{5, 6}));
    EXPECT_EQ(r.prompts[2].text, "c");
    EXPECT_EQ(r.n, 2);
    EXPECT_EQ(completion_error_param(R"({"prompt":5})"), "prompt");
    EXPECT_EQ(completion_error_param(R"({})"), "prompt");
    EXPECT_EQ(completion_error_param(R"({"prompt":[]})"), "prompt");
    EXPECT_EQ(completion_error_param(R"({"prompt":["a",5]})"), "prompt");
    EXPECT_EQ(completion_error_param(R"({"prompt":[["a"]]})"), "prompt");
    EXPECT_EQ(completion_error_param(R"({"prompt":["a",[]]})"), "prompt");
    EXPECT_EQ(completion_error_param(R"({"prompt":[1,-2]})"), "prompt");
    EXPECT_EQ(
        completion_error_param(R"({"prompt":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]})"),
        "prompt");                                                                        // 17 > max_prompts
    EXPECT_EQ(completion_error_param(R"({"prompt":["a","b","c","d","e"],"n":8})"), "n");  // 40 choices > 32
    EXPECT_EQ(completion_error_param(R"({"prompt":"a","logprobs":-1})"), "logprobs");
    EXPECT_EQ(completion_error_param(R"({"prompt":"a","echo":"no"})"), "echo");
}

TEST(OpenaiParse, MalformedBodies) {
    for (const char* body : {"not json", "[1,2]", "\"str\""}) {
        try {
            parse_chat_request(body, limits);
            ADD_FAILURE() << body;
        } catch (const api_exception& e) {
            EXPECT_EQ(e.err.status, 400);
        }
    }
}

TEST(Errors, OpenaiShape) {
    const nlohmann::json j = api_error_json(error_not_found("/nope"));
    ASSERT_TRUE(j.contains("error"));
    for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(j["error"].contains(k)) << k;
    EXPECT_TRUE(j["error"]["param"].is_null());
    const nlohmann::json c = api_error_json(error_context_exceeded(64, 80, "messages"));
    EXPECT_EQ(c["error"]["code"], "context_length_exceeded");
    EXPECT_EQ(c["error"]["param"], "messages");
    EXPECT_NE(c["error"]["message"].get<std::string>().find("64"), std::string::npos);
    EXPECT_NE(c["error"]["message"].get<std::string>().find("80"), std::string::npos);
}

}  // namespace
}  // namespace tandem
