// JSON schema -> grammar (grammar.h), for structured output (OpenAI's response_format and tool
// arguments). Supported: type (object, array, string, number, integer, boolean, null, and unions
// of them), properties, required, additionalProperties (false or a schema; absent: not allowed in
// strict mode or when properties are given), items, prefixItems, minItems/maxItems, enum, const,
// anyOf/oneOf (oneOf as anyOf), allOf of one schema, $ref into the document (recursive refs
// included), nullable, string minLength/maxLength, format date / time / date-time / uuid / email and
// pattern (string_pattern.h's subset), minimum/maximum/exclusiveMinimum/exclusiveMaximum on integers
// (exact ranges) and numbers (whole-number bounds; written without an exponent; number_range.h).
// Annotations (title, description, default, examples, ...) are ignored. Anything else is refused
// with a tandem::error naming the keyword and where it is. Properties come in the schema's order.
// Whitespace between tokens is bounded (k_max_indent) so a model cannot loop on it forever. Values
// are written as JSON or in another value_syntax (a family's own tool-argument syntax).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "engine/grammar/grammar.h"
#include "engine/grammar/value_syntax.h"

namespace tandem::gram {

constexpr int k_max_indent = 16;         // between two JSON tokens: "", " ", or "\n" and up to this many spaces or tabs
constexpr int64_t k_max_repeat = 4096;   // largest bounded count (maxLength, maxItems) compiled
constexpr size_t k_max_rules = 200'000;  // a schema compiling to more is refused as too large

// Builds JSON grammars into a grammar_builder, so callers can combine them with literals (tool calls).
class json_grammar {
  public:
    json_grammar(grammar_builder& b, bool strict, value_syntax syntax = {})
        : b_(b), strict_(strict), syntax_(std::move(syntax)) {}

    // A rule matching the JSON texts valid against `schema`. Throws tandem::error on an unsupported
    // or malformed schema. `$ref`s resolve against `schema` itself (its $defs / definitions).
    // Several schemas may be compiled into one builder, each its own $ref root.
    uint32_t schema(const nlohmann::ordered_json& schema);
    uint32_t any_value();   // any JSON value
    uint32_t any_object();  // any JSON object (response_format json_object)
    uint32_t ws();          // "", " ", or "\n" and up to k_max_indent spaces or tabs ("" without spaces)

  private:
    uint32_t compile(const nlohmann::ordered_json& s, const std::string& at);
    uint32_t compile_typed(const nlohmann::ordered_json& s, const std::string& type, const std::string& at);
    uint32_t object(const nlohmann::ordered_json& s, const std::string& at);
    uint32_t array(const nlohmann::ordered_json& s, const std::string& at);
    uint32_t string(const nlohmann::ordered_json& s, const std::string& at);
    uint32_t ref(const std::string& target, const std::string& at);
    std::string literal_text(const nlohmann::ordered_json& v, const std::string& at) const;
    std::string key_text(const std::string& key, const std::string& at) const;
    uint32_t key_any();
    uint32_t string_char();
    uint32_t utf8_multibyte();
    uint32_t string_any();
    uint32_t raw_string(int64_t min, int64_t max);
    uint32_t number();
    uint32_t integer();
    uint32_t format(const std::string& name, const std::string& at);

    grammar_builder& b_;
    bool strict_;
    value_syntax syntax_;
    const nlohmann::ordered_json* root_ = nullptr;
    std::vector<std::pair<std::string, uint32_t>> refs_;
    // Shared rules, made on first use (UINT32_MAX: not yet).
    uint32_t ws_ = UINT32_MAX, char_ = UINT32_MAX, str_ = UINT32_MAX, num_ = UINT32_MAX, int_ = UINT32_MAX;
    uint32_t value_ = UINT32_MAX, object_ = UINT32_MAX, multibyte_ = UINT32_MAX, key_ = UINT32_MAX;
};

// Free text a grammar lets through before the constrained answer: a thinking model's reasoning, so
// the constraint binds after it. `end` empty: none. `open` (the prompt opened the block, R1's
// "<think>\n"): any text up to and including the first `end` comes first. Otherwise the answer may
// start with a block `start` ... `end` (a model that opens its reasoning itself: Qwen3, Gemma 4,
// gpt-oss). A block is followed by `after`, and the answer, with or without a block before it, opens
// with `answer_start` (gpt-oss: the analysis message ends with <|end|>, the next message's header
// "<|start|>assistant" follows, and an answer in text is the final channel's message).
struct reasoning_lead {
    std::string start, end;
    bool open = false;
    std::string after, answer_start;
    bool empty() const { return end.empty(); }
    std::string key() const;  // distinguishes grammars in a cache key ("" when there is nothing to let through)
};
// A rule matching the lead, then `body`.
uint32_t lead_then(grammar_builder& b, const reasoning_lead& lead, const seq& body);

// response_format json_schema: the schema's texts; json_object: any object; after `lead`.
grammar grammar_from_json_schema(const nlohmann::ordered_json& schema, bool strict, const reasoning_lead& lead = {});
grammar grammar_json_object(const reasoning_lead& lead = {});

// For forced tool calls (tool_choice "required" or a named function): `prefix`, then between
// min_items and max_items (max < 0: no bound) values of `schema`, each written as item_prefix
// value item_suffix, with `separator` between them, then `suffix`. E.g. Hermes: prefix "",
// item_prefix "<tool_call>\n", item_suffix "\n</tool_call>", separator "\n"; the schema an anyOf
// over tools of {"name": {"const": name}, "arguments": parameters} (tool_calls_schema).
struct sequence_spec {
    std::string prefix, item_prefix, item_suffix, separator, suffix;
    int64_t min_items = 1, max_items = 1;
    reasoning_lead lead;  // before the prefix
};
grammar grammar_from_sequence(const nlohmann::ordered_json& schema, const sequence_spec& spec, bool strict);
// How one tool call is written. An object {"<name_key>": "<function name>", "<args_key>": ARGS}
// (keys in that order), or, with name_key empty, the name inline: NAME name_suffix ARGS (DeepSeek,
// functionary, gpt-oss, Gemma 4 write the name in the call's wrapper). ARGS is written in `args`.
struct call_form {
    std::string name_key = "name", args_key = "arguments";
    std::string name_suffix;
    value_syntax args;
};
// The same with the item being one call of one of `tools` (OpenAI `tools` entries), its arguments
// valid against that function's parameters: an alternation over the tools, each name followed by
// its own arguments. Each tool's parameters keep their own $defs (their $refs resolve against the
// parameters schema). Throws tandem::error naming the tool on an unsupported schema.
grammar grammar_from_tool_calls(const nlohmann::ordered_json& tools, const sequence_spec& spec, bool strict,
                                const call_form& form = {});
// {"anyOf": [{"type":"object","properties":{"name":{"const":N},"arguments":P},"required":[...]}, ...]}
// over OpenAI `tools` entries ({"type":"function","function":{"name","parameters"}}).
nlohmann::ordered_json tool_calls_schema(const nlohmann::ordered_json& tools);

}  // namespace tandem::gram
