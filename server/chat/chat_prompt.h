// The chat prompt of a request: the template context llama.cpp gives a chat template (messages with
// tool calls and tool results, tools, chat_template_kwargs, enable_thinking, bos/eos tokens), the
// rules around it (a template without a system role gets the system message folded into the first
// user turn; a template without tool support gets the tools as a system message; a template that
// takes tool results as `tool_responses` gets them so), and the BOS rule.
#pragma once

#include <ctime>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http/openai_parse.h"

namespace tandem {

// Renders the chat template with a context; throws tandem::error on a template error.
using chat_render_fn = std::function<std::string(const nlohmann::ordered_json& context)>;

// What a template does with the inputs, found by rendering it on probe messages (as llama.cpp's
// chat_template_caps): a false here changes how the prompt is built.
struct chat_template_caps {
    bool system_role = false;       // renders a system message's text
    bool tools = false;             // renders the `tools` it is given
    bool tool_calls = false;        // renders an assistant message's tool_calls
    bool object_arguments = false;  // takes tool_calls[].function.arguments as an object (else the JSON string)
    bool thinking = false;          // enable_thinking changes the prompt
    bool tool_responses = false;    // takes tool results as the calling message's tool_responses (Gemma 4)
    // How the template wraps an assistant message's reasoning_content ("" and "" when it drops it):
    // an assistant prefill opens with an empty, closed reasoning block, as llama.cpp's does.
    std::string reasoning_start, reasoning_end;
};

chat_template_caps chat_template_detect(const chat_render_fn& render);
nlohmann::json chat_template_caps_json(const chat_template_caps& caps);  // llama.cpp's /props names

// Whether the request has the model think: its template reacts to enable_thinking (caps.thinking)
// and enable_thinking is on (llama.cpp's default), as the server's chat_template_kwargs `defaults`
// and then the request's own set it.
bool chat_thinking_enabled(const chat_template_caps& caps, const nlohmann::json& defaults, const generation_request& g);

// The vocabulary's side of the prompt.
struct chat_vocab {
    std::string bos_text;  // "" when the vocab has no BOS
    std::string eos_text;
    bool add_bos = false;  // tokenizer.ggml.add_bos_token: encoding adds BOS itself
};

// The prompt text of a chat request, ready to encode with add_special = vocab.add_bos: when the
// encoder adds BOS, a BOS the template printed first is dropped here, so the prompt never has two.
// A final assistant message with add_generation_prompt false is a prefill (llama.cpp's rule, and
// continue_final_message): the conversation before it, the template's generation prompt, an empty
// reasoning block, then that message's text, open. `defaults` are the server's
// chat_template_kwargs, which the request's own override; `now` gives date_string.
// Throws api_exception (400) when the template fails on the request.
std::string chat_prompt_build(const chat_render_fn& render, const chat_template_caps& caps, const chat_vocab& vocab,
                              const generation_request& g, const nlohmann::json& defaults = nullptr,
                              std::time_t now = std::time(nullptr));

// The template context of `messages` (normalized as generation_request::messages) with the
// request's other inputs: what chat_prompt_build renders.
nlohmann::ordered_json chat_prompt_context(const chat_template_caps& caps, const chat_vocab& vocab,
                                           const generation_request& g, const nlohmann::ordered_json& messages,
                                           bool add_generation_prompt, const nlohmann::json& defaults, std::time_t now);

}  // namespace tandem
