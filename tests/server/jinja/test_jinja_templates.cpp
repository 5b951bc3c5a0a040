// Real model chat templates (tests/server/jinja/templates, sources in its README) rendered on
// representative conversations. Expected prompts are written by hand from each family's documented
// format and the template text, never pasted from this interpreter's output.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "server/jinja/template.h"

namespace {

using tandem::jinja::chat_template;
using ojson = nlohmann::ordered_json;

std::string load(const std::string& name) {
    std::string path = std::string(TANDEM_JINJA_TEMPLATE_DIR) + "/" + name;
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("missing template test data: " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// 2025-03-14 09:30 UTC: strftime_now must see this, not the real clock.
tandem::jinja::render_options fixed_clock() {
    setenv("TZ", "UTC", 1);
    tzset();
    tandem::jinja::render_options opt;
    opt.now = 1741944600;
    return opt;
}

std::string render(const std::string& file, const ojson& ctx) {
    return chat_template(load(file)).render(ctx, fixed_clock());
}

ojson chat(bool with_system) {
    ojson m = ojson::array();
    if (with_system) m.push_back({{"role", "system"}, {"content", "You are helpful."}});
    m.push_back({{"role", "user"}, {"content", "Hi"}});
    m.push_back({{"role", "assistant"}, {"content", "Hello!"}});
    m.push_back({{"role", "user"}, {"content", "How are you?"}});
    return m;
}

ojson weather_tool() {
    return {{"type", "function"},
            {"function",
             {{"name", "get_weather"},
              {"description", "Get weather"},
              {"parameters",
               {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}, {"required", {"city"}}}}}}};
}

ojson tool_call_message(const ojson& arguments, const ojson& content) {
    ojson call = {{"type", "function"}, {"function", {{"name", "get_weather"}, {"arguments", arguments}}}};
    return {{"role", "assistant"}, {"content", content}, {"tool_calls", {call}}};
}

// --- Llama 3.x -------------------------------------------------------------------------------------

TEST(JinjaTemplates, Llama31Chat) {
    ojson ctx = {{"messages", chat(true)}, {"bos_token", "<|begin_of_text|>"}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("llama-3.1.jinja", ctx),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
              "You are helpful.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    ctx["add_generation_prompt"] = false;
    ctx["date_string"] = "01 Jan 2025";
    std::string out = render("llama-3.1.jinja", ctx);
    EXPECT_NE(out.find("Today Date: 01 Jan 2025\n\n"), std::string::npos);
    EXPECT_TRUE(out.ends_with("<|end_header_id|>\n\nHow are you?<|eot_id|>")) << out;
}

TEST(JinjaTemplates, Llama31ToolCall) {
    ojson messages = ojson::array();
    messages.push_back({{"role", "system"}, {"content", "You are helpful."}});
    messages.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
    messages.push_back(tool_call_message({{"city", "Paris"}}, nullptr));
    messages.push_back({{"role", "tool"}, {"content", "22C"}});
    ojson ctx = {{"messages", messages},
                 {"tools", {weather_tool()}},
                 {"bos_token", "<|begin_of_text|>"},
                 {"add_generation_prompt", true}};
    EXPECT_EQ(render("llama-3.1.jinja", ctx),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "Environment: ipython\n"
              "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
              "You are helpful.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\n"
              "Given the following functions, please respond with a JSON for a function call "
              "with its proper arguments that best answers the given prompt.\n\n"
              "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its "
              "value}.Do not use variables.\n\n"
              "{\n"
              "    \"type\": \"function\",\n"
              "    \"function\": {\n"
              "        \"name\": \"get_weather\",\n"
              "        \"description\": \"Get weather\",\n"
              "        \"parameters\": {\n"
              "            \"type\": \"object\",\n"
              "            \"properties\": {\n"
              "                \"city\": {\n"
              "                    \"type\": \"string\"\n"
              "                }\n"
              "            },\n"
              "            \"required\": [\n"
              "                \"city\"\n"
              "            ]\n"
              "        }\n"
              "    }\n"
              "}\n\n"
              "Weather in Paris?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n"
              "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
              // A string tool result is `iterable`, so Llama 3.1 JSON-quotes it.
              "<|start_header_id|>ipython<|end_header_id|>\n\n\"22C\"<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(JinjaTemplates, Llama31RejectsParallelToolCalls) {
    ojson call = tool_call_message({{"city", "Paris"}}, nullptr);
    call["tool_calls"].push_back(call["tool_calls"][0]);
    ojson ctx = {{"messages", {{{"role", "user"}, {"content", "x"}}, call}}, {"bos_token", ""}};
    try {
        render("llama-3.1.jinja", ctx);
        FAIL() << "expected raise_exception";
    } catch (const tandem::error& e) {
        EXPECT_NE(std::string(e.what()).find("This model only supports single tool-calls at once!"), std::string::npos);
    }
}

TEST(JinjaTemplates, Llama32DateFromStrftimeNow) {
    ojson ctx = {{"messages", chat(false)}, {"bos_token", "<|begin_of_text|>"}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("llama-3.2.jinja", ctx),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "Cutting Knowledge Date: December 2023\nToday Date: 14 Mar 2025\n\n<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// --- Qwen ------------------------------------------------------------------------------------------

TEST(JinjaTemplates, Qwen25Chat) {
    ojson ctx = {{"messages", chat(true)}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("qwen2.5.jinja", ctx),
              "<|im_start|>system\nYou are helpful.<|im_end|>\n"
              "<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\nHello!<|im_end|>\n"
              "<|im_start|>user\nHow are you?<|im_end|>\n"
              "<|im_start|>assistant\n");
    ctx = {{"messages", chat(false)}, {"add_generation_prompt", false}};
    EXPECT_EQ(render("qwen2.5.jinja", ctx),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\nHello!<|im_end|>\n"
              "<|im_start|>user\nHow are you?<|im_end|>\n");
}

const char* k_qwen_tools_preamble =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get weather\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": "
    "[\"city\"]}}}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call><|im_end|>\n";

TEST(JinjaTemplates, Qwen25ToolCall) {
    ojson messages = ojson::array();
    messages.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
    messages.push_back(tool_call_message({{"city", "Paris"}}, nullptr));
    messages.push_back({{"role", "tool"}, {"content", "22C"}});
    ojson ctx = {{"messages", messages}, {"tools", {weather_tool()}}, {"add_generation_prompt", true}};
    EXPECT_EQ(
        render("qwen2.5.jinja", ctx),
        std::string("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n") +
            k_qwen_tools_preamble +
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
            "\"Paris\"}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\n22C\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(JinjaTemplates, Qwen3DropsOldReasoningAndHonoursEnableThinking) {
    ojson messages = chat(true);
    messages[2]["content"] = "<think>\nLet me greet.\n</think>\n\nHello!";
    ojson ctx = {{"messages", messages}, {"add_generation_prompt", true}};
    const std::string history =
        "<|im_start|>system\nYou are helpful.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nHow are you?<|im_end|>\n"
        "<|im_start|>assistant\n";
    EXPECT_EQ(render("qwen3.jinja", ctx), history);
    ctx["enable_thinking"] = false;
    EXPECT_EQ(render("qwen3.jinja", ctx), history + "<think>\n\n</think>\n\n");
}

TEST(JinjaTemplates, Qwen3KeepsReasoningAfterLastQuery) {
    ojson messages = ojson::array();
    messages.push_back({{"role", "user"}, {"content", "Hi"}});
    messages.push_back({{"role", "assistant"}, {"content", "Hello!"}, {"reasoning_content", "\nGreet back.\n"}});
    ojson ctx = {{"messages", messages}, {"add_generation_prompt", false}};
    EXPECT_EQ(render("qwen3.jinja", ctx),
              "<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\n<think>\nGreet back.\n</think>\n\nHello!<|im_end|>\n");
}

TEST(JinjaTemplates, Qwen3ToolCall) {
    ojson messages = ojson::array();
    messages.push_back({{"role", "system"}, {"content", "You are helpful."}});
    messages.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
    messages.push_back(tool_call_message({{"city", "Paris"}}, ""));
    messages.push_back({{"role", "tool"}, {"content", "22C"}});
    ojson ctx = {{"messages", messages}, {"tools", {weather_tool()}}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("qwen3.jinja", ctx),
              std::string("<|im_start|>system\nYou are helpful.\n\n") + k_qwen_tools_preamble +
                  "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
                  "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                  "\"Paris\"}}\n</tool_call><|im_end|>\n"
                  "<|im_start|>user\n<tool_response>\n22C\n</tool_response><|im_end|>\n"
                  "<|im_start|>assistant\n");
}

// --- Gemma -----------------------------------------------------------------------------------------

TEST(JinjaTemplates, Gemma3Chat) {
    ojson ctx = {{"messages", chat(true)}, {"bos_token", "<bos>"}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("gemma3.jinja", ctx),
              "<bos><start_of_turn>user\nYou are helpful.\n\nHi<end_of_turn>\n"
              "<start_of_turn>model\nHello!<end_of_turn>\n"
              "<start_of_turn>user\nHow are you?<end_of_turn>\n"
              "<start_of_turn>model\n");
}

TEST(JinjaTemplates, Gemma3MultimodalContentAndRoleCheck) {
    ojson parts = {{{"type", "text"}, {"text", "  Describe  "}}, {{"type", "image"}}};
    ojson ctx = {{"messages", {{{"role", "user"}, {"content", parts}}}},
                 {"bos_token", "<bos>"},
                 {"add_generation_prompt", false}};
    EXPECT_EQ(render("gemma3.jinja", ctx), "<bos><start_of_turn>user\nDescribe<start_of_image><end_of_turn>\n");
    ojson bad = {{"messages", {{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}}},
                 {"bos_token", "<bos>"}};
    try {
        render("gemma3.jinja", bad);
        FAIL() << "expected raise_exception";
    } catch (const tandem::error& e) {
        EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate user/assistant/user/assistant/..."),
                  std::string::npos);
    }
}

TEST(JinjaTemplates, Gemma4Chat) {
    ojson messages = chat(true);
    messages[2]["content"] = "<|channel>thought\nGreet.<channel|>Hello!";
    ojson ctx = {{"messages", messages}, {"bos_token", "<bos>"}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("gemma4.jinja", ctx),
              "<bos><|turn>system\nYou are helpful.<turn|>\n"
              "<|turn>user\nHi<turn|>\n"
              "<|turn>model\nHello!<turn|>\n"
              "<|turn>user\nHow are you?<turn|>\n"
              "<|turn>model\n<|channel>thought\n<channel|>");
}

TEST(JinjaTemplates, Gemma4ToolDeclarationAndCall) {
    ojson tool = weather_tool();
    tool["function"]["parameters"]["properties"]["city"]["description"] = "City name";
    ojson messages = ojson::array();
    messages.push_back({{"role", "system"}, {"content", "You are helpful."}});
    messages.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
    messages.push_back(tool_call_message({{"city", "Paris"}}, ""));
    ojson ctx = {{"messages", messages}, {"tools", {tool}}, {"bos_token", "<bos>"}, {"add_generation_prompt", false}};
    EXPECT_EQ(render("gemma4.jinja", ctx),
              "<bos><|turn>system\nYou are helpful."
              "<|tool>declaration:get_weather{description:<|\"|>Get weather<|\"|>,parameters:{properties:{"
              "city:{description:<|\"|>City name<|\"|>,type:<|\"|>STRING<|\"|>}},"
              "required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n"
              "<|turn>user\nWeather in Paris?<turn|>\n"
              "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|><turn|>\n");
}

// --- Mistral ---------------------------------------------------------------------------------------

TEST(JinjaTemplates, MistralV1) {
    ojson ctx = {{"messages", chat(false)}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    EXPECT_EQ(render("mistral-v1.jinja", ctx), "<s>[INST] Hi [/INST]Hello!</s> [INST] How are you? [/INST]");
    ctx["messages"] = chat(true);
    EXPECT_THROW(render("mistral-v1.jinja", ctx), tandem::error);  // no system role in v1
}

TEST(JinjaTemplates, MistralNemoSystemGoesToLastUserMessage) {
    ojson ctx = {{"messages", chat(true)}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    EXPECT_EQ(render("mistral-nemo.jinja", ctx),
              "<s>[INST]Hi[/INST]Hello!</s>[INST]You are helpful.\n\nHow are you?[/INST]");
}

TEST(JinjaTemplates, MistralNemoTools) {
    ojson call = tool_call_message({{"city", "Paris"}}, nullptr);
    call["tool_calls"][0] = {{"id", "abc123xyz"}, {"function", call["tool_calls"][0]["function"]}};
    ojson messages = ojson::array();
    messages.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
    messages.push_back(call);
    messages.push_back({{"role", "tool"}, {"content", "22"}, {"tool_call_id", "abc123xyz"}});
    ojson ctx = {{"messages", messages}, {"tools", {weather_tool()}}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    EXPECT_EQ(
        render("mistral-nemo.jinja", ctx),
        "<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
        "\"description\": \"Get weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
        "{\"type\": \"string\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS]"
        "[INST]Weather in Paris?[/INST]"
        "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abc123xyz\"}]</s>"
        "[TOOL_RESULTS]{\"content\": 22, \"call_id\": \"abc123xyz\"}[/TOOL_RESULTS]");
    messages[2]["tool_call_id"] = "short";
    ctx["messages"] = messages;
    EXPECT_THROW(render("mistral-nemo.jinja", ctx), tandem::error);
}

TEST(JinjaTemplates, MistralSmall31) {
    ojson ctx = {{"messages", chat(true)}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    EXPECT_EQ(render("mistral-small-3.1.jinja", ctx),
              "<s>[SYSTEM_PROMPT]You are helpful.[/SYSTEM_PROMPT][INST]Hi[/INST]Hello!</s>[INST]How are you?[/INST]");
    // Without a system message the default prompt carries today's date. Its backslash-newline
    // sequences are Python string continuations, so they vanish.
    ctx["messages"] = chat(false);
    EXPECT_EQ(render("mistral-small-3.1.jinja", ctx),
              "<s>[SYSTEM_PROMPT]You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a French "
              "startup headquartered in Paris.Your knowledge base was last updated on 2023-10-01. The current date "
              "is 2025-03-14.When you're not sure about some information, you say that you don't have the "
              "information and don't make up anything.If the user's question is not clear, ambiguous, or does not "
              "provide enough context for you to accurately answer the question, you do not try to answer it right "
              "away and you rather ask the user to clarify their request (e.g. \"What are some good restaurants "
              "around me?\" => \"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where do you travel "
              "from?\")[/SYSTEM_PROMPT][INST]Hi[/INST]Hello!</s>[INST]How are you?[/INST]");
}

// --- Phi, DeepSeek, ChatML -------------------------------------------------------------------------

TEST(JinjaTemplates, Phi35) {
    ojson ctx = {{"messages", chat(true)}, {"eos_token", "<|endoftext|>"}, {"add_generation_prompt", true}};
    const std::string body =
        "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
        "<|user|>\nHow are you?<|end|>\n";
    EXPECT_EQ(render("phi-3.5.jinja", ctx), body + "<|assistant|>\n");
    ctx["add_generation_prompt"] = false;
    EXPECT_EQ(render("phi-3.5.jinja", ctx), body + "<|endoftext|>");
}

TEST(JinjaTemplates, Phi4) {
    ojson ctx = {{"messages", chat(true)}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("phi-4.jinja", ctx),
              "<|im_start|>system<|im_sep|>You are helpful.<|im_end|>"
              "<|im_start|>user<|im_sep|>Hi<|im_end|>"
              "<|im_start|>assistant<|im_sep|>Hello!<|im_end|>"
              "<|im_start|>user<|im_sep|>How are you?<|im_end|>"
              "<|im_start|>assistant<|im_sep|>");
}

TEST(JinjaTemplates, DeepSeekR1DistillStripsThinking) {
    ojson messages = chat(true);
    messages[2]["content"] = "<think>\nhmm\n</think>\n\nHello!";
    ojson ctx = {{"messages", messages}, {"bos_token", "<｜begin▁of▁sentence｜>"}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("deepseek-r1-distill.jinja", ctx),
              "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi<｜Assistant｜>\n\nHello!<｜end▁of▁sentence｜>"
              "<｜User｜>How are you?<｜Assistant｜><think>\n");
}

TEST(JinjaTemplates, DeepSeekR1DistillToolCall) {
    ojson messages = ojson::array();
    messages.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
    messages.push_back(tool_call_message("{\"city\": \"Paris\"}", nullptr));
    messages.push_back({{"role", "tool"}, {"content", "22C"}});
    ojson ctx = {{"messages", messages}, {"bos_token", "<｜begin▁of▁sentence｜>"}, {"add_generation_prompt", true}};
    EXPECT_EQ(render("deepseek-r1-distill.jinja", ctx),
              "<｜begin▁of▁sentence｜><｜User｜>Weather in Paris?"
              "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
              "```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
              "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>22C<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
}

TEST(JinjaTemplates, ChatMLFallback) {
    ojson messages = chat(true);
    messages[3]["content"] = {{{"type", "text"}, {"text", "How are you?"}}};
    ojson ctx = {{"messages", messages}, {"add_generation_prompt", true}};
    EXPECT_EQ(chat_template(tandem::jinja::chatml_source()).render(ctx),
              "<|im_start|>system\nYou are helpful.<|im_end|>\n"
              "<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\nHello!<|im_end|>\n"
              "<|im_start|>user\nHow are you?<|im_end|>\n"
              "<|im_start|>assistant\n");
}

}  // namespace
