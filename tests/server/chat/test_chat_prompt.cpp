// chat_prompt on small hand-written templates: capability probes, system folding, the BOS rule,
// chat_template_kwargs and their defaults, tool calls as objects or strings, the tools fallback and
// the assistant prefill. (test_prompt_identity.cpp checks real templates against llama-server.)
#include <gtest/gtest.h>

#include "server/chat/chat_prompt.h"
#include "server/http/errors.h"
#include "server/jinja/template.h"

namespace tandem {
namespace {

struct fixture {
    jinja::chat_template tmpl;
    chat_render_fn render;
    chat_template_caps caps;

    explicit fixture(const std::string& source) : tmpl(source) {
        render = [this](const nlohmann::ordered_json& ctx) { return tmpl.render(ctx); };
        caps = chat_template_detect(render);
    }
    std::string build(const std::string& body, const chat_vocab& vocab = {"<s>", "</s>", false},
                      const nlohmann::json& defaults = nullptr) const {
        return chat_prompt_build(render, caps, vocab, parse_chat_request(body, parse_limits{}), defaults, 0);
    }
};

// ChatML with tools, tool calls (arguments through tojson) and reasoning.
const char* k_full =
    "{{ bos_token }}{% if tools %}TOOLS{{ tools | tojson }}\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>"
    "{% if m.reasoning_content %}[think]{{ m.reasoning_content }}[/think]{% endif %}{{ m.content }}"
    "{% for c in m.tool_calls %}CALL {{ c.function.name }} {{ c.function.arguments | tojson }}{% endfor %}"
    "{% if m.tool_call_id %}({{ m.tool_call_id }}){% endif %}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% if enable_thinking is false %}[think][/think]{% endif %}{% endif %}";

// Gemma 2's rule: no system role, and the arguments only as a string.
const char* k_plain =
    "{{ bos_token }}{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}"
    "{% for c in m.tool_calls %}CALL {{ c.function.name + ' ' + c.function.arguments }}{% endfor %}</>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}";

TEST(ChatPrompt, CapabilitiesAreProbed) {
    const fixture full(k_full), plain(k_plain);
    EXPECT_TRUE(full.caps.system_role);
    EXPECT_TRUE(full.caps.tools);
    EXPECT_TRUE(full.caps.tool_calls);
    EXPECT_TRUE(full.caps.object_arguments);
    EXPECT_TRUE(full.caps.thinking);
    EXPECT_EQ(full.caps.reasoning_start, "[think]");
    EXPECT_EQ(full.caps.reasoning_end, "[/think]");
    EXPECT_FALSE(plain.caps.system_role);
    EXPECT_FALSE(plain.caps.tools);
    EXPECT_TRUE(plain.caps.tool_calls);
    EXPECT_FALSE(plain.caps.object_arguments);  // `+` on an object raises
    EXPECT_FALSE(plain.caps.thinking);
}

TEST(ChatPrompt, SystemFoldsIntoTheFirstUserTurnWithoutASystemRole) {
    const std::string body = R"({"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},)"
                             R"({"role":"assistant","content":"Yo"},{"role":"user","content":"More"}]})";
    EXPECT_EQ(fixture(k_plain).build(body), "<s><user>Be brief.\nHi</><assistant>Yo</><user>More</><assistant>");
    EXPECT_EQ(fixture(k_full).build(body),
              "<s><|system|>Be brief.<|end|>\n<|user|>Hi<|end|>\n<|assistant|>Yo<|end|>\n<|user|>More<|end|>\n"
              "<|assistant|>");
}

TEST(ChatPrompt, BosIsNeverDoubled) {
    const fixture f(k_plain);
    const std::string body = R"({"messages":[{"role":"user","content":"Hi"}]})";
    EXPECT_EQ(f.build(body, {"<s>", "</s>", true}), "<user>Hi</><assistant>");  // the encoder adds it
    EXPECT_EQ(f.build(body, {"<s>", "</s>", false}), "<s><user>Hi</><assistant>");
    EXPECT_EQ(f.build(body, {"", "", true}), "<user>Hi</><assistant>");  // a vocab without BOS
    const fixture no_bos("{% for m in messages %}{{ m.content }}{% endfor %}");
    EXPECT_EQ(no_bos.build(body, {"<s>", "</s>", true}), "Hi");
}

TEST(ChatPrompt, KwargsOverrideTheServerDefaultsAndEnableThinkingDefaultsToTrue) {
    const fixture f(k_full);
    const std::string body = R"({"messages":[{"role":"user","content":"Hi"}])";
    EXPECT_EQ(f.build(body + "}"), "<s><|user|>Hi<|end|>\n<|assistant|>");
    const nlohmann::json off = {{"enable_thinking", false}};
    EXPECT_EQ(f.build(body + "}", {"<s>", "</s>", false}, off), "<s><|user|>Hi<|end|>\n<|assistant|>[think][/think]");
    EXPECT_EQ(f.build(body + R"(,"chat_template_kwargs":{"enable_thinking":true}})", {"<s>", "</s>", false}, off),
              "<s><|user|>Hi<|end|>\n<|assistant|>");
    const fixture vars("{{ greeting }} {{ reasoning_effort }}");
    EXPECT_EQ(vars.build(body + R"(,"chat_template_kwargs":{"greeting":"hey"},"reasoning_effort":"high"})"),
              "hey high");
}

// Thinking is on when the template reacts to enable_thinking and it is true: what lets a grammar
// wait for the reasoning block a model may open itself.
TEST(ChatPrompt, ThinkingIsOnWhenTheTemplateHasItAndKwargsDoNotTurnItOff) {
    const fixture full(k_full), plain(k_plain);
    auto req = [](const std::string& extra) {
        return parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}])" + extra + "}", parse_limits{});
    };
    const nlohmann::json off = {{"enable_thinking", false}};
    EXPECT_TRUE(chat_thinking_enabled(full.caps, nullptr, req("")));
    EXPECT_FALSE(chat_thinking_enabled(full.caps, off, req("")));
    EXPECT_TRUE(chat_thinking_enabled(full.caps, off, req(R"(,"chat_template_kwargs":{"enable_thinking":true})")));
    EXPECT_FALSE(
        chat_thinking_enabled(full.caps, nullptr, req(R"(,"chat_template_kwargs":{"enable_thinking":false})")));
    EXPECT_FALSE(chat_thinking_enabled(plain.caps, nullptr, req("")));  // the template knows no thinking
}

TEST(ChatPrompt, ToolCallsAndResultsReachTheTemplate) {
    const std::string body =
        R"({"messages":[{"role":"user","content":"W?"},{"role":"assistant","content":null,"tool_calls":[)"
        R"({"id":"c1","type":"function","function":{"name":"get","arguments":"{\"city\": \"Oslo\", \"a\": 1}"}}]},)"
        R"({"role":"tool","tool_call_id":"c1","content":"7 C"}],)"
        R"("tools":[{"type":"function","function":{"name":"get","parameters":{"type":"object"}}}]})";
    // Object arguments in the request's key order, as json.dumps prints them.
    EXPECT_EQ(fixture(k_full).build(body),
              "<s>TOOLS[{\"type\": \"function\", \"function\": {\"name\": \"get\", \"parameters\": {\"type\": "
              "\"object\"}}}]\n<|user|>W?<|end|>\n<|assistant|>CALL get {\"city\": \"Oslo\", \"a\": 1}<|end|>\n"
              "<|tool|>7 C(c1)<|end|>\n<|assistant|>");
    // A template that concatenates the arguments gets the string; the tools come as a system message,
    // folded into the first user turn here.
    const std::string plain = fixture(k_plain).build(body);
    EXPECT_TRUE(plain.starts_with("<s><user>You can call any of the following tools")) << plain;
    EXPECT_NE(plain.find("\"name\": \"get\""), std::string::npos) << plain;
    EXPECT_NE(plain.find("\nW?</><assistant>CALL get {\"city\": \"Oslo\", \"a\": 1}</><tool>7 C</><assistant>"),
              std::string::npos)
        << plain;
}

TEST(ChatPrompt, ToolResultsBecomeToolResponsesForTemplatesThatTakeThem) {
    const fixture f(
        "{% for m in messages %}<{{ m.role }}>{% for c in m.tool_calls %}CALL {{ c.function.name }};{% endfor %}"
        "{% for r in m.tool_responses %}RESP {{ r.name }}={{ r.response | tojson }};{% endfor %}{{ m.content }}"
        "</>{% endfor %}");
    EXPECT_TRUE(f.caps.tool_responses);
    EXPECT_FALSE(fixture(k_full).caps.tool_responses);
    const std::string body =
        R"({"messages":[{"role":"user","content":"W?"},{"role":"assistant","content":"Checking.","tool_calls":[)"
        R"({"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},)"
        R"({"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]},)"
        R"({"role":"tool","tool_call_id":"b","content":"{\"t\": 1}"},{"role":"tool","tool_call_id":"a","content":"x"},)"
        R"({"role":"assistant","content":"Done."},{"role":"user","content":"ok"}],"add_generation_prompt":false})";
    // As llama.cpp: results matched to their calls by id, JSON objects parsed, the answer after them
    // merged into the calling message.
    EXPECT_EQ(f.build(body), "<user>W?</><assistant>CALL f;CALL g;RESP g={\"t\": 1};RESP f=\"x\";Done.</><user>ok</>");
}

TEST(ChatPrompt, AFinalAssistantMessageIsAPrefill) {
    const std::string body =
        R"({"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Once upon"}],)"
        R"("continue_final_message":true})";
    // The generation prompt, an empty reasoning block, then the text, left open.
    EXPECT_EQ(fixture(k_full).build(body), "<s><|user|>Hi<|end|>\n<|assistant|>[think][/think]Once upon");
    EXPECT_EQ(fixture(k_plain).build(body), "<s><user>Hi</><assistant>Once upon");
    // add_generation_prompt true keeps the message closed and opens a new turn.
    EXPECT_EQ(fixture(k_plain).build(R"({"messages":[{"role":"user","content":"Hi"},)"
                                     R"({"role":"assistant","content":"Yo"}]})"),
              "<s><user>Hi</><assistant>Yo</><assistant>");
}

TEST(ChatPrompt, TemplateErrorsAre400s) {
    const fixture f("{{ raise_exception('no') }}");
    try {
        f.build(R"({"messages":[{"role":"user","content":"Hi"}]})");
        FAIL() << "no error";
    } catch (const api_exception& e) {
        EXPECT_EQ(e.err.status, 400);
        EXPECT_EQ(e.err.param, "messages");
    }
}

}  // namespace
}  // namespace tandem
