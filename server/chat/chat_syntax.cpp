// The family table and its detection. Formats from the families' model cards and chat templates and
// from llama.cpp's docs/function-calling.md (facts only); the markers are matched in the template.
#include "server/chat/chat_syntax.h"

namespace tandem {
namespace {

bool has(std::string_view s, std::string_view marker) {
    return s.find(marker) != std::string_view::npos;
}

chat_syntax think_tags(chat_syntax s) {
    s.think_start = "<think>";
    s.think_end = "</think>";
    return s;
}

chat_syntax harmony() {
    chat_syntax s;
    s.name = "gpt-oss";
    // The analysis channel is the reasoning; the parser reads the channels themselves (chat_output),
    // these are for a constrained answer and the reasoning budget.
    s.think_start = "<|channel|>analysis<|message|>";
    s.think_end = "<|end|>";
    s.think_next = "<|start|>assistant";
    s.content_start = "<|channel|>final<|message|>";
    s.thinks_always = true;
    s.tools = tool_format::harmony;
    // Each call is a message of its own: the ones after the first open with the assistant's role.
    s.shape.separator = "<|start|>assistant";
    s.shape.call_prefix = "<|channel|>commentary to=functions.";
    s.shape.name_suffix = " <|constrain|>json<|message|>";
    s.shape.call_suffix = "<|call|>";
    s.shape.args_at = tool_args_at::inline_;
    s.preserved_tokens = {"<|channel|>", "<|message|>", "<|start|>", "<|end|>", "<|constrain|>", "<|call|>"};
    return s;
}

chat_syntax gemma4() {
    chat_syntax s;
    s.name = "gemma4";
    s.think_start = "<|channel>thought";
    s.think_end = "<channel|>";
    s.tools = tool_format::gemma4;
    s.shape.call_prefix = "<|tool_call>call:";
    s.shape.call_suffix = "<tool_call|>";
    s.shape.args_at = tool_args_at::inline_;
    s.shape.args = gram::value_syntax_gemma4();
    s.preserved_tokens = {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\"|>"};
    return s;
}

chat_syntax deepseek(bool thinks) {
    chat_syntax s;
    s.name = thinks ? "deepseek-r1" : "deepseek-v3";
    if (thinks) s = think_tags(s);
    s.tools = tool_format::deepseek;
    s.shape.prefix = "<｜tool▁calls▁begin｜>";
    s.shape.suffix = "<｜tool▁calls▁end｜>";
    s.shape.call_prefix = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>";
    s.shape.name_suffix = "\n```json\n";
    s.shape.call_suffix = "\n```<｜tool▁call▁end｜>";
    s.shape.args_at = tool_args_at::inline_;
    s.preserved_tokens = {"<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>",
                          "<｜tool▁calls▁end｜>"};
    return s;
}

chat_syntax functionary_32() {
    chat_syntax s;
    s.name = "functionary-v3.2";
    s.tools = tool_format::functionary_32;
    s.shape.separator = ">>>";
    s.shape.name_suffix = "\n";
    s.shape.args_at = tool_args_at::inline_;
    return s;
}

chat_syntax functionary_31() {
    chat_syntax s;
    s.name = "functionary-v3.1";
    s.tools = tool_format::functionary_31;
    s.shape.call_prefix = "<function=";
    s.shape.name_suffix = ">";
    s.shape.call_suffix = "</function>";
    s.shape.args_at = tool_args_at::inline_;
    s.preserved_tokens = {"<|python_tag|>"};
    return s;
}

chat_syntax mistral() {
    chat_syntax s;
    s.name = "mistral";
    s.tools = tool_format::mistral;
    s.shape.prefix = "[TOOL_CALLS][";
    s.shape.separator = ", ";
    s.shape.suffix = "]";
    tool_call_shape named;  // [TOOL_CALLS]NAME[ARGS]{...} (Mistral Small 3.2, Magistral, Devstral)
    named.call_prefix = "[TOOL_CALLS]";
    named.name_suffix = "[ARGS]";
    named.args_at = tool_args_at::inline_;
    s.other_shapes = {named};
    s.preserved_tokens = {"[TOOL_CALLS]", "[ARGS]"};
    return s;
}

chat_syntax llama3() {
    chat_syntax s;
    s.name = "llama3";
    s.tools = tool_format::llama3;
    s.shape.separator = ";";  // several calls are joined by ';' (chat_calls' llama3_answer)
    s.shape.args_at = tool_args_at::parameters;
    s.preserved_tokens = {"<|python_tag|>"};
    return s;
}

chat_syntax hermes(bool thinks) {
    chat_syntax s;
    s.name = thinks ? "qwen3" : "hermes";
    if (thinks) s = think_tags(s);
    s.tools = tool_format::hermes;
    s.shape.call_prefix = "<tool_call>\n";
    s.shape.call_suffix = "\n</tool_call>";
    s.shape.separator = "\n";
    s.preserved_tokens = {"<tool_call>", "</tool_call>", "<think>", "</think>"};
    return s;
}

chat_syntax generic() {
    chat_syntax s = think_tags({});
    s.name = "generic";
    s.tools = tool_format::generic;
    s.shape.prefix = "{\"tool_calls\": [";
    s.shape.separator = ", ";
    s.shape.suffix = "]}";
    tool_call_shape one;  // {"tool_call": {"name": N, "arguments": {...}}}
    one.prefix = "{\"tool_call\": ";
    one.suffix = "}";
    s.other_shapes = {one};
    return s;
}

}  // namespace

chat_syntax chat_syntax_detect(std::string_view t) {
    const bool thinks = has(t, "<think>") || has(t, "</think>");
    if (has(t, "<|channel|>")) return harmony();
    if (has(t, "<|tool_call>") || has(t, "<|channel>")) return gemma4();
    if (has(t, "tool▁calls▁begin")) return deepseek(thinks);
    if (has(t, ">>>all")) return functionary_32();
    if (has(t, "<function=") && has(t, "<|start_header_id|>")) return functionary_31();
    if (has(t, "[TOOL_CALLS]")) return mistral();
    if (has(t, "<|start_header_id|>") && (has(t, "ipython") || has(t, "<|python_tag|>"))) return llama3();
    if (has(t, "<tool_call>")) return hermes(thinks);
    chat_syntax s = generic();
    if (thinks) s.name = "generic-think";
    return s;
}

bool chat_prompt_opens_reasoning(const chat_syntax& s, std::string_view prompt) {
    if (s.think_start.empty()) return false;
    while (!prompt.empty() && (prompt.back() == ' ' || prompt.back() == '\n' || prompt.back() == '\r'))
        prompt.remove_suffix(1);
    return prompt.ends_with(s.think_start);
}

bool reasoning_format_valid(std::string_view name) {
    return name == "none" || name == "auto" || name == "deepseek";
}

}  // namespace tandem
