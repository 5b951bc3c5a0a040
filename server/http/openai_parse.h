// OpenAI request bodies -> validated generation requests. Every type or range error is a 400 that
// names the offending `param`; unknown fields are ignored.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sample/sampling_params.h"

namespace tandem {

namespace gram {
class compiled_grammar;
}

struct parse_limits {
    int32_t max_n = 8;
    int32_t max_prompts = 16;  // completions: prompts per request
    int32_t max_choices = 32;  // prompts x n
};

// One completions prompt: text, or token ids.
struct prompt_input {
    std::string text;
    std::vector<int32_t> tokens;
    bool is_tokens = false;
};

struct generation_request {
    bool chat = false;
    // chat: normalized messages (content always a string or null), in the request's key order (as
    // llama.cpp's, what a template's tojson prints)
    nlohmann::ordered_json messages;
    std::vector<prompt_input> prompts;  // completions: one or more; choice p * n + i is prompt p's i-th
    std::string model;
    sampling_params sampling;
    bool seed_given = false;
    int32_t max_tokens = -1;        // -1: until the context ends
    std::vector<std::string> stop;  // up to 4, non-empty
    int32_t n = 1;
    bool logprobs = false;
    int32_t n_top_logprobs = 0;  // alternatives per token (chat: top_logprobs; completions: logprobs)
    bool stream = false;
    bool include_usage = false;
    bool echo = false;                    // completions only
    bool add_generation_prompt = true;    // chat: the template opens the assistant's turn
    bool continue_final_message = false;  // chat: the prompt ends inside the last (assistant) message

    // Chat features of issue 14. Each is parsed and validated by the part that uses it.
    nlohmann::ordered_json tools;      // null, or the validated `tools` array (function tools only), key order kept
    std::string tool_choice = "auto";  // "auto", "none", "required" or "function" (a named function)
    std::string tool_choice_name;      // tool_choice == "function": the function's name
    bool parallel_tool_calls = true;   // false: at most one tool call per answer
    nlohmann::json response_format;    // null, or {"type": "json_object"} / {"type": "json_schema", ...}
    // response_format json_object or json_schema: the answer is JSON, valid against json_schema when
    // that is not null (kept in the request's key order: properties are generated in it).
    bool json_answer = false;
    nlohmann::ordered_json json_schema;
    bool json_strict = false;
    // The grammar the answers are generated under (answer_grammar, once the prompt is known: a
    // thinking model's reasoning comes first); null: unconstrained.
    std::shared_ptr<const gram::compiled_grammar> grammar;
    nlohmann::json chat_template_kwargs;  // null, or an object of extra template variables
    std::string reasoning_effort;         // "", "low", "medium" or "high"
    std::string reasoning_format;         // "": the server's --reasoning-format; else "none", "auto", ...
};

// `body` is the raw request body; throws api_exception.
generation_request parse_chat_request(const std::string& body, const parse_limits& limits);
generation_request parse_completion_request(const std::string& body, const parse_limits& limits);

// Parses a body that must be a JSON object; throws api_exception (400) otherwise.
nlohmann::json parse_json_object(const std::string& body);

}  // namespace tandem
