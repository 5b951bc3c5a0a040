// The output formats of the model families, as data: how a model marks its reasoning and wraps its
// tool calls. One table entry per family; the family is detected from the chat template's source
// (the markers it contains), so a model served with its own template gets its own format.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/value_syntax.h"

namespace tandem {

// How a family writes tool calls (each value names one call grammar in chat_output.cpp).
enum class tool_format {
    none,     // the template knows no tools: no call is parsed
    hermes,   // <tool_call>{"name": N, "arguments": {...}}</tool_call> (Hermes, Qwen 2.5 / 3)
    llama3,   // {"name": N, "parameters": {...}} as the whole answer, or <|python_tag|>...
    mistral,  // [TOOL_CALLS][{"name": N, "arguments": {...}}, ...] or [TOOL_CALLS]N[ARGS]{...}
    deepseek,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>N\n```json\n{...}\n```...
    functionary_31,  // <function=N>{...}</function> and <|python_tag|>code
    functionary_32,  // the prompt ends with ">>>": "all\n" text, or N\n{...}; later calls after ">>>"
    gemma4,          // <|tool_call>call:N{key:<|"|>text<|"|>,n:1}<tool_call|>
    harmony,         // gpt-oss: <|channel|>commentary to=functions.N <|constrain|>json<|message|>{...}<|call|>
    generic,         // the whole answer is {"tool_call": {"name", "arguments"}} / {"tool_calls": [...]}
};

// Where a call's arguments sit, for a grammar that forces a call (tool_choice "required").
enum class tool_args_at {
    arguments,   // {"name": N, "arguments": {...}}
    parameters,  // {"name": N, "parameters": {...}}
    inline_,     // the name is written in the wrapper and the arguments object follows it
};

// The shape of a tool call as the family writes it: the answer is prefix, then one or more calls
// separated by `separator`, then suffix. A call is call_prefix, then either a JSON object
// {"name": N, <args key>: {...}} (args_at arguments / parameters) or, for inline_, the function
// name, name_suffix and the arguments object; then call_suffix. A forced call (tool_choice
// "required") is generated in this shape, and a call written in it streams its arguments as they come.
struct tool_call_shape {
    std::string prefix, separator, suffix;
    std::string call_prefix, name_suffix, call_suffix;
    tool_args_at args_at = tool_args_at::arguments;
    gram::value_syntax args;  // how the arguments object is written (JSON; Gemma 4 its own syntax)
};

struct chat_syntax {
    std::string name;  // "hermes", "qwen3", "deepseek-r1", ... (logs, /props)
    // Reasoning: an answer that starts with think_start (after white space) reasons until think_end;
    // empty markers: the family does not reason in text. A constrained answer (response_format, forced
    // calls) is generated after the reasoning: think_next follows think_end, and an answer in text
    // opens with content_start (gpt-oss: "<|start|>assistant", then "<|channel|>final<|message|>").
    std::string think_start, think_end, think_next, content_start;
    bool thinks_always = false;  // it reasons whatever the template's switches (gpt-oss: reasoning_effort)
    tool_format tools = tool_format::none;
    tool_call_shape shape;
    // Other shapes the family writes calls in: read (so their calls stream), never generated.
    std::vector<tool_call_shape> other_shapes;
    // Control tokens the parser must see in the text (the engine renders them for such requests).
    std::vector<std::string> preserved_tokens;
};

// The family a template writes for, from the markers its source contains (llama.cpp's rule).
chat_syntax chat_syntax_detect(std::string_view template_source);

// Whether a rendered prompt leaves the reasoning block open (DeepSeek-R1's "<think>\n" generation
// prompt, Qwen3 with thinking forced): the answer then starts inside the reasoning.
bool chat_prompt_opens_reasoning(const chat_syntax& s, std::string_view prompt);

// A reasoning format's name (llama.cpp's): "none" keeps thinking inline in the content; "auto" and
// "deepseek" return it apart (reasoning_content).
bool reasoning_format_valid(std::string_view name);

}  // namespace tandem
