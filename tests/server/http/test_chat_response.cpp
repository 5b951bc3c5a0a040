// Chat answers in OpenAI's shapes: reasoning_content, content (null when only tool calls), tool_calls
// and finish_reason "tool_calls", whole and as streamed deltas; the reasoning_format field and option.
#include <gtest/gtest.h>

#include <map>

#include "engine/grammar/parse_state.h"
#include "engine/grammar/token_mask.h"
#include "server/http/answer_grammar.h"
#include "server/http/chat_output_setup.h"
#include "server/http/errors.h"
#include "server/http/openai_response.h"
#include "tests/server/http/fake_engine.h"

namespace tandem {
namespace {

using json = nlohmann::json;

stream_event text_event(const std::string& text) {
    stream_event ev;
    ev.token = test::fake_codec::byte_id('x');
    ev.text = text;
    return ev;
}

stream_event done_event(finish_reason r) {
    stream_event ev;
    ev.what = stream_event::kind::done;
    ev.reason = r;
    return ev;
}

generation_request chat_request() {
    generation_request g;
    g.chat = true;
    return g;
}

const response_meta meta{"chatcmpl-1", "m", 0, true, false};

TEST(ChatResponse, ReasoningApartFromContent) {
    test::fake_codec codec;
    choice_output c(codec, 0, chat_request());
    c.set_parser(chat_syntax_detect("<tool_call> <think>"), chat_parse_options{});
    for (const char* piece : {"<thi", "nk>\nFirst, plan.", "\n</th", "ink>\n\nHello", "!"})
        c.consume(text_event(piece));
    c.consume(done_event(finish_reason::stop));
    const json r = response_json(meta, {c}, 3);
    const json& msg = r["choices"][0]["message"];
    EXPECT_EQ(msg["reasoning_content"], "First, plan.");
    EXPECT_EQ(msg["content"], "Hello!");
    EXPECT_FALSE(msg.contains("tool_calls"));
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(r["usage"]["completion_tokens"], 5);
}

TEST(ChatResponse, ToolCallsWhole) {
    test::fake_codec codec;
    choice_output c(codec, 0, chat_request());
    chat_parse_options o;
    o.parse_tools = true;
    c.set_parser(chat_syntax_detect("<tool_call>"), o);
    c.consume(
        text_event("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"));
    c.consume(done_event(finish_reason::stop));
    const json r = response_json(meta, {c}, 3);
    const json& msg = r["choices"][0]["message"];
    EXPECT_TRUE(msg["content"].is_null());
    ASSERT_EQ(msg["tool_calls"].size(), 1u);
    const json& call = msg["tool_calls"][0];
    EXPECT_TRUE(call["id"].get<std::string>().starts_with("call_"));
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["function"]["name"], "get_weather");
    EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));
    EXPECT_EQ(r["choices"][0]["finish_reason"], "tool_calls");
}

TEST(ChatResponse, StreamedToolCallDeltas) {
    const std::vector<tool_call_delta> pieces = {
        {2, "call_a", "f", ""}, {2, "", "", "{\"x\""}, {2, "", "", ":1}"}, {3, "call_b", "g", ""}, {3, "", "", "{}"}};
    const std::vector<json> d = tool_call_chunks(pieces);
    ASSERT_EQ(d.size(), 5u);
    const json& first = d[0]["tool_calls"][0];
    EXPECT_EQ(first["index"], 2);
    EXPECT_EQ(first["id"], "call_a");
    EXPECT_EQ(first["type"], "function");
    EXPECT_EQ(first["function"]["name"], "f");
    EXPECT_EQ(first["function"]["arguments"], "");
    const json& args = d[1]["tool_calls"][0];
    EXPECT_EQ(args["index"], 2);
    EXPECT_FALSE(args.contains("id"));
    EXPECT_EQ(args["function"]["arguments"], "{\"x\"");
    EXPECT_EQ(d[2]["tool_calls"][0]["function"]["arguments"], ":1}");
    EXPECT_EQ(d[3]["tool_calls"][0]["index"], 3);
    EXPECT_EQ(d[4]["tool_calls"][0]["function"]["arguments"], "{}");
    const json chunk = chunk_chat_delta(meta, 0, d[0], nullptr);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["choices"][0]["delta"], d[0]);
}

TEST(ChatResponse, TakenDeltasAddUpToTheWhole) {
    test::fake_codec codec;
    choice_output c(codec, 0, chat_request());
    chat_parse_options o;
    o.parse_tools = true;
    o.reasoning_open = true;  // the prompt opened <think>
    c.set_parser(chat_syntax_detect("<tool_call> <think>"), o);
    const std::string answer =
        "Let me look.\n</think>\n\nOne moment.<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n"
        "<tool_call>\n{\"name\": \"b\", \"arguments\": {\"k\": [1, 2]}}\n</tool_call>";
    std::string reasoning, content;
    std::map<int32_t, tool_call> calls;  // by stream index
    int n_argument_chunks = 0;
    auto take = [&] {
        reasoning += c.take_reasoning();
        content += c.take_text();
        for (const json& d : tool_call_chunks(c.take_call_deltas())) {
            const json& t = d["tool_calls"][0];
            tool_call& call = calls[t["index"].get<int32_t>()];
            if (t.contains("id")) {
                call.id = t["id"];
                call.name = t["function"]["name"];
            } else {
                ++n_argument_chunks;
            }
            call.arguments += t["function"]["arguments"].get<std::string>();
        }
    };
    for (size_t i = 0; i < answer.size(); i += 3) {
        c.consume(text_event(answer.substr(i, 3)));
        take();
    }
    c.consume(done_event(finish_reason::stop));
    take();
    EXPECT_EQ(reasoning, "Let me look.");
    EXPECT_EQ(content, "One moment.");
    EXPECT_EQ(reasoning, c.reasoning());
    EXPECT_EQ(content, c.text());
    ASSERT_EQ(calls.size(), 2u);
    ASSERT_EQ(c.tool_calls().size(), 2u);
    for (int32_t k = 0; k < 2; ++k) {
        EXPECT_EQ(calls[k].id, c.tool_calls()[k].id);
        EXPECT_EQ(calls[k].name, c.tool_calls()[k].name);
        EXPECT_EQ(calls[k].arguments, c.tool_calls()[k].arguments);
    }
    EXPECT_EQ(calls[1].arguments, "{\"k\":[1,2]}");
    EXPECT_GT(n_argument_chunks, 3);  // the arguments came as they were written, in 3-byte pieces
}

TEST(ChatResponse, ReasoningFormatField) {
    const std::string base = R"({"messages": [{"role": "user", "content": "hi"}])";
    EXPECT_EQ(parse_chat_request(base + "}", {}).reasoning_format, "");
    EXPECT_EQ(parse_chat_request(base + R"(, "reasoning_format": "none"})", {}).reasoning_format, "none");
    EXPECT_EQ(parse_chat_request(base + R"(, "reasoning_format": "deepseek"})", {}).reasoning_format, "deepseek");
    for (const char* bad : {R"("bogus")", "1"}) {
        try {
            parse_chat_request(base + ", \"reasoning_format\": " + bad + "}", {});
            ADD_FAILURE() << bad;
        } catch (const api_exception& e) {
            EXPECT_EQ(e.err.status, 400);
            EXPECT_EQ(e.err.param.value_or(""), "reasoning_format");
        }
    }
}

TEST(ChatResponse, OutputSetupFollowsTemplateRequestAndOptions) {
    served_model b = test::fake_model({}, nullptr);
    b.chat_template = "{{ '<|im_start|>' }}<tool_call><think>";
    server_config cfg;
    generation_request g = chat_request();
    const std::vector<int32_t> open = b.codec->encode("<|im_start|>assistant\n<think>\n", false, true);
    const std::vector<int32_t> closed = b.codec->encode("<|im_start|>assistant\n", false, true);
    output_setup o = chat_output_setup(b, cfg, g, open);
    EXPECT_EQ(o.syntax.name, "qwen3");
    EXPECT_TRUE(o.opts.reasoning_open);
    EXPECT_TRUE(o.opts.split_reasoning);
    EXPECT_FALSE(o.opts.parse_tools);  // no tools offered
    EXPECT_EQ(o.reasoning.limit, -1);
    EXPECT_FALSE(chat_output_setup(b, cfg, g, closed).opts.reasoning_open);

    g.tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
    EXPECT_TRUE(chat_output_setup(b, cfg, g, closed).opts.parse_tools);
    g.tool_choice = "none";
    EXPECT_FALSE(chat_output_setup(b, cfg, g, closed).opts.parse_tools);

    cfg.reasoning_format = "none";
    EXPECT_FALSE(chat_output_setup(b, cfg, g, closed).opts.split_reasoning);
    g.reasoning_format = "auto";  // the request's choice wins
    EXPECT_TRUE(chat_output_setup(b, cfg, g, closed).opts.split_reasoning);

    cfg.reasoning_budget = 5;
    o = chat_output_setup(b, cfg, g, open);
    EXPECT_EQ(o.reasoning.limit, 5);
    EXPECT_TRUE(o.reasoning.open);
    EXPECT_EQ(o.reasoning.end_tokens, b.codec->encode("</think>", false, true));
    EXPECT_EQ(o.reasoning.start, "<think>");
    EXPECT_EQ(o.reasoning.end, "</think>");
}

bool grammar_accepts(const gram::compiled_grammar& cg, const std::string& text) {
    const gram::parse_state st = gram::parse_advance(cg.rules(), gram::parse_start(cg.rules()), text);
    return !st.dead() && st.accept;
}

// gpt-oss: its analysis message is the reasoning (it reasons whatever the template's switches), so
// a json answer is generated after it, in the final channel of the next message; the answer splits
// into reasoning_content and content whole and streamed.
TEST(ChatResponse, GptOssAnswersAfterItsAnalysis) {
    served_model b = test::fake_model({}, nullptr);
    b.chat_template = "{{ '<|start|>assistant' }}<|channel|>final<|message|>";
    server_config cfg;
    generation_request g = chat_request();
    g.json_answer = true;  // response_format json_object
    const output_setup o = chat_output_setup(b, cfg, g, b.codec->encode("<|start|>assistant", false, true));
    EXPECT_EQ(o.syntax.name, "gpt-oss");
    EXPECT_EQ(o.lead.start, "<|channel|>analysis<|message|>");
    EXPECT_EQ(o.lead.end, "<|end|>");
    EXPECT_EQ(o.lead.after, "<|start|>assistant");
    EXPECT_FALSE(o.lead.open);
    const auto grammar = answer_grammar(g, &o.syntax, o.lead);
    ASSERT_TRUE(grammar);
    const std::string answer =
        "<|channel|>analysis<|message|>The user wants JSON.<|end|><|start|>assistant<|channel|>final<|message|>"
        "{\"a\": [1, 2]}";
    EXPECT_TRUE(grammar_accepts(*grammar, answer));
    EXPECT_TRUE(grammar_accepts(*grammar, "<|channel|>final<|message|>{}"));
    EXPECT_FALSE(grammar_accepts(*grammar, "{}"));
    EXPECT_FALSE(grammar_accepts(*grammar, "<|channel|>analysis<|message|>{}"));

    test::fake_codec codec;
    choice_output whole(codec, 0, g), streamed(codec, 0, g);
    whole.set_parser(o.syntax, o.opts);
    streamed.set_parser(o.syntax, o.opts);
    whole.consume(text_event(answer));
    whole.consume(done_event(finish_reason::stop));
    const json msg = response_json(meta, {whole}, 3)["choices"][0]["message"];
    EXPECT_EQ(msg["reasoning_content"], "The user wants JSON.");
    EXPECT_EQ(msg["content"], "{\"a\": [1, 2]}");
    std::string reasoning, content;
    for (size_t i = 0; i < answer.size(); i += 5) {
        streamed.consume(text_event(answer.substr(i, 5)));
        reasoning += streamed.take_reasoning();
        content += streamed.take_text();
    }
    streamed.consume(done_event(finish_reason::stop));
    reasoning += streamed.take_reasoning();
    content += streamed.take_text();
    EXPECT_EQ(reasoning, msg["reasoning_content"]);
    EXPECT_EQ(content, msg["content"]);

    // a prompt that opened the analysis message (a prefill), read however many tokens it takes
    EXPECT_TRUE(
        chat_output_setup(b, cfg, g, b.codec->encode("<|start|>assistant<|channel|>analysis<|message|>\n", false, true))
            .opts.reasoning_open);
    // a reasoning budget ends the analysis message and opens the next one
    cfg.reasoning_budget = 4;
    EXPECT_EQ(chat_output_setup(b, cfg, g, {}).reasoning.end_tokens,
              b.codec->encode("<|end|><|start|>assistant", false, true));
}

// gpt-oss: forced parallel calls are consecutive messages, each after the first opened by the
// assistant's role as harmony writes them; all come back as calls, whole and streamed.
TEST(ChatResponse, GptOssForcedParallelCalls) {
    const chat_syntax s = chat_syntax_detect("<|channel|>");
    generation_request g = chat_request();
    g.tools = nlohmann::ordered_json::parse(R"([
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object",
         "properties": {"a": {"type": "integer"}}, "required": ["a"]}}},
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}])");
    g.tool_choice = "required";
    const gram::reasoning_lead lead{s.think_start, s.think_end, false, s.think_next, ""};
    const std::string one = "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\": 1}<|call|>";
    const std::string two = "<|channel|>analysis<|message|>Both.<|end|><|start|>assistant" + one +
                            "<|start|>assistant<|channel|>commentary to=functions.g <|constrain|>json<|message|>{}"
                            "<|call|>";
    g.parallel_tool_calls = true;
    const auto parallel = tool_call_grammar(g, s, lead);
    ASSERT_TRUE(parallel);
    EXPECT_TRUE(grammar_accepts(*parallel, one));
    EXPECT_TRUE(grammar_accepts(*parallel, two));
    EXPECT_FALSE(grammar_accepts(*parallel, one + one));  // a later call opens its own message
    g.parallel_tool_calls = false;
    const auto single = tool_call_grammar(g, s, lead);
    EXPECT_TRUE(grammar_accepts(*single, one));
    EXPECT_FALSE(grammar_accepts(*single, two));

    chat_parse_options o;
    o.parse_tools = true;
    test::fake_codec codec;
    choice_output c(codec, 0, g);
    c.set_parser(s, o);
    for (size_t i = 0; i < two.size(); i += 3) c.consume(text_event(two.substr(i, 3)));
    c.consume(done_event(finish_reason::stop));
    const json r = response_json(meta, {c}, 3);
    const json& calls = r["choices"][0]["message"]["tool_calls"];
    ASSERT_EQ(calls.size(), 2u) << r.dump();
    EXPECT_EQ(calls[0]["function"]["name"], "f");
    EXPECT_EQ(calls[0]["function"]["arguments"], R"({"a":1})");
    EXPECT_EQ(calls[1]["function"]["name"], "g");
    EXPECT_EQ(calls[1]["function"]["arguments"], "{}");
    EXPECT_EQ(r["choices"][0]["finish_reason"], "tool_calls");
}

}  // namespace
}  // namespace tandem
