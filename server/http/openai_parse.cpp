// Parsing of /v1/chat/completions and /v1/completions bodies, field by field: shapes and types (and
// the protocol's own limits: n, the number of stop strings and of prompts). Null counts as absent;
// a wrong type names its param. Value ranges are the engine's request rules (engine::check).
#include "server/http/openai_parse.h"

#include <cmath>
#include <limits>

#include "common/error.h"
#include "server/chat/chat_syntax.h"
#include "server/http/errors.h"

namespace tandem {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

template <typename Json>
const Json* field(const Json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

// A number's value (ranges are the engine's rules: engine::check).
std::optional<double> get_number(const json& obj, const char* key) {
    const json* v = field(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) throw_invalid(key, std::string("'") + key + "' must be a number");
    return v->get<double>();
}

bool integral(const json& v) {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    const double x = v.get<double>();
    return std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9.0e18;
}

int64_t as_int(const json& v) {
    return v.is_number_float() ? static_cast<int64_t>(v.get<double>()) : v.get<int64_t>();
}

std::optional<int64_t> get_int(const json& obj, const char* key, int64_t lo, int64_t hi) {
    const json* v = field(obj, key);
    if (!v) return std::nullopt;
    if (!integral(*v)) throw_invalid(key, std::string("'") + key + "' must be an integer");
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi))
        throw_invalid(key,
                      std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    const int64_t x = as_int(*v);
    if (x < lo || x > hi)
        throw_invalid(key,
                      std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
}

std::optional<bool> get_bool(const json& obj, const char* key) {
    const json* v = field(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) throw_invalid(key, std::string("'") + key + "' must be a boolean");
    return v->get<bool>();
}

void parse_stop(const json& obj, generation_request& r) {
    const json* v = field(obj, "stop");
    if (!v) return;
    if (v->is_string()) {
        if (!v->get<std::string>().empty()) r.stop.push_back(v->get<std::string>());
        return;
    }
    if (!v->is_array()) throw_invalid("stop", "'stop' must be a string or an array of strings");
    if (v->size() > 4) throw_invalid("stop", "'stop' takes at most 4 sequences");
    for (const json& s : *v) {
        if (!s.is_string()) throw_invalid("stop", "'stop' must be a string or an array of strings");
        if (!s.get<std::string>().empty()) r.stop.push_back(s.get<std::string>());
    }
}

void parse_logit_bias(const json& obj, generation_request& r) {
    const json* v = field(obj, "logit_bias");
    if (!v) return;
    if (!v->is_object()) throw_invalid("logit_bias", "'logit_bias' must be an object of token id -> bias");
    for (const auto& [key, bias] : v->items()) {
        size_t used = 0;
        long long id = -1;
        try {
            id = std::stoll(key, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != key.size() || id < 0 || id > std::numeric_limits<int32_t>::max())
            throw_invalid("logit_bias", "'logit_bias' keys must be token ids, got '" + key + "'");
        if (!bias.is_number()) throw_invalid("logit_bias", "'logit_bias' values must be numbers");
        r.sampling.logit_bias.emplace_back(static_cast<int32_t>(id), bias.get<float>());
    }
}

// The fields chat and completions share.
void parse_common(const json& obj, const parse_limits& limits, generation_request& r) {
    if (const json* m = field(obj, "model")) {
        if (!m->is_string()) throw_invalid("model", "'model' must be a string");
        r.model = m->get<std::string>();
    }
    sampling_params& s = r.sampling;
    constexpr int64_t i32_min = std::numeric_limits<int32_t>::min(), i32_max = std::numeric_limits<int32_t>::max();
    if (auto v = get_number(obj, "temperature")) s.temperature = static_cast<float>(*v);
    if (auto v = get_number(obj, "top_p")) s.top_p = static_cast<float>(*v);
    if (auto v = get_int(obj, "top_k", i32_min, i32_max)) s.top_k = static_cast<int32_t>(*v);
    if (auto v = get_number(obj, "min_p")) s.min_p = static_cast<float>(*v);
    if (auto v = get_number(obj, "presence_penalty")) s.presence_penalty = static_cast<float>(*v);
    if (auto v = get_number(obj, "frequency_penalty")) s.frequency_penalty = static_cast<float>(*v);
    if (auto v = get_number(obj, "repetition_penalty")) s.repetition_penalty = static_cast<float>(*v);
    if (auto v = get_int(obj, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
        s.seed = static_cast<uint64_t>(*v);
        r.seed_given = true;
    }
    if (auto v = get_int(obj, "max_tokens", i32_min, i32_max)) r.max_tokens = static_cast<int32_t>(*v);
    if (auto v = get_int(obj, "n", 1, limits.max_n)) r.n = static_cast<int32_t>(*v);
    if (auto v = get_bool(obj, "stream")) r.stream = *v;
    if (const json* so = field(obj, "stream_options")) {
        if (!so->is_object()) throw_invalid("stream_options", "'stream_options' must be an object");
        const json* iu = field(*so, "include_usage");
        if (iu && !iu->is_boolean()) throw_invalid("stream_options.include_usage", "'include_usage' must be a boolean");
        r.include_usage = iu && iu->get<bool>();
    }
    parse_stop(obj, r);
    parse_logit_bias(obj, r);
}

// Content as a string, or an array of {"type":"text","text":...} parts joined by newlines.
ojson normalize_content(const ojson& content, const std::string& param, const std::string& role, bool may_be_null) {
    if (content.is_null()) {
        if (may_be_null) return nullptr;  // an assistant turn that only calls tools
        throw_invalid(param, "'" + param + "' is required for role '" + role + "'");
    }
    if (content.is_string()) return content;
    if (!content.is_array()) throw_invalid(param, "'" + param + "' must be a string or an array of text parts");
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const ojson& part = content[i];
        const std::string p = param + "[" + std::to_string(i) + "]";
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
            throw_invalid(p, "'" + p + "' must be an object with a 'type'");
        if (part["type"] != "text") throw_invalid(p + ".type", "only 'text' content parts are supported");
        if (!part.contains("text") || !part["text"].is_string())
            throw_invalid(p + ".text", "'" + p + ".text' must be a string");
        if (i) text += "\n";
        text += part["text"].get<std::string>();
    }
    return text;
}

std::string string_field(const ojson& obj, const char* key, const std::string& param, bool required) {
    const ojson* v = field(obj, key);
    if (!v) {
        if (required) throw_invalid(param, "'" + param + "' is required");
        return "";
    }
    if (!v->is_string()) throw_invalid(param, "'" + param + "' must be a string");
    return v->get<std::string>();
}

// An assistant message's tool_calls: [{id, type: "function", function: {name, arguments: string}}].
ojson parse_tool_calls(const ojson& calls, const std::string& param) {
    if (!calls.is_array()) throw_invalid(param, "'" + param + "' must be an array");
    ojson out = ojson::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        const ojson& c = calls[i];
        const std::string p = param + "[" + std::to_string(i) + "]";
        if (!c.is_object()) throw_invalid(p, "'" + p + "' must be an object");
        const std::string type = string_field(c, "type", p + ".type", false);
        if (!type.empty() && type != "function") throw_invalid(p + ".type", "only 'function' tool calls are supported");
        const ojson* fn = field(c, "function");
        if (!fn || !fn->is_object()) throw_invalid(p + ".function", "'" + p + ".function' must be an object");
        if (string_field(*fn, "name", p + ".function.name", true).empty())
            throw_invalid(p + ".function.name", "'" + p + ".function.name' must not be empty");
        const ojson* args = field(*fn, "arguments");
        if (args && !args->is_string())
            throw_invalid(p + ".function.arguments", "'" + p + ".function.arguments' must be a JSON string");
        string_field(c, "id", p + ".id", false);
        ojson call = c;
        call["type"] = "function";
        if (!args) call["function"]["arguments"] = "{}";
        out.push_back(std::move(call));
    }
    return out;
}

ojson parse_messages(const ojson& obj) {
    const ojson* v = field(obj, "messages");
    if (!v) throw_invalid("messages", "'messages' is required");
    if (!v->is_array() || v->empty()) throw_invalid("messages", "'messages' must be a non-empty array");
    ojson out = ojson::array();
    for (size_t i = 0; i < v->size(); ++i) {
        const ojson& m = (*v)[i];
        const std::string p = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) throw_invalid(p, "'" + p + "' must be an object");
        if (!m.contains("role") || !m["role"].is_string())
            throw_invalid(p + ".role", "'" + p + ".role' must be a string");
        const std::string role = m["role"].get<std::string>();
        if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer")
            throw_invalid(p + ".role", "unknown role '" + role + "'");
        ojson msg = m;  // keeps name and the like for the template
        if (role == "developer") msg["role"] = "system";
        const ojson* calls = role == "assistant" ? field(m, "tool_calls") : nullptr;
        if (calls) {
            msg["tool_calls"] = parse_tool_calls(*calls, p + ".tool_calls");
            if (msg["tool_calls"].empty()) msg.erase("tool_calls");
        } else if (m.contains("tool_calls")) {
            msg.erase("tool_calls");
        }
        if (role == "tool") string_field(m, "tool_call_id", p + ".tool_call_id", true);
        if (role == "assistant") {
            const std::string reasoning = string_field(m, "reasoning_content", p + ".reasoning_content", false);
            if (reasoning.empty()) msg.erase("reasoning_content");
        }
        msg["content"] = normalize_content(m.contains("content") ? m["content"] : ojson(), p + ".content", role,
                                           role == "assistant");
        out.push_back(std::move(msg));
    }
    return out;
}

// tools: [{"type": "function", "function": {"name", "description"?, "parameters"?}}], names unique.
ojson parse_tools(const ojson& obj) {
    const ojson* v = field(obj, "tools");
    if (!v) return nullptr;
    if (!v->is_array()) throw_invalid("tools", "'tools' must be an array");
    std::vector<std::string> names;
    for (size_t i = 0; i < v->size(); ++i) {
        const ojson& t = (*v)[i];
        const std::string p = "tools[" + std::to_string(i) + "]";
        if (!t.is_object()) throw_invalid(p, "'" + p + "' must be an object");
        if (string_field(t, "type", p + ".type", true) != "function")
            throw_invalid(p + ".type", "only 'function' tools are supported");
        const ojson* fn = field(t, "function");
        if (!fn || !fn->is_object()) throw_invalid(p + ".function", "'" + p + ".function' must be an object");
        const std::string name = string_field(*fn, "name", p + ".function.name", true);
        if (name.empty()) throw_invalid(p + ".function.name", "'" + p + ".function.name' must not be empty");
        for (const std::string& n : names)
            if (n == name) throw_invalid(p + ".function.name", "tool name '" + name + "' is given twice");
        names.push_back(name);
        string_field(*fn, "description", p + ".function.description", false);
        const ojson* params = field(*fn, "parameters");
        if (params && !params->is_object())
            throw_invalid(p + ".function.parameters", "'" + p + ".function.parameters' must be a JSON Schema object");
    }
    return v->empty() ? ojson() : *v;
}

// tool_choice: "auto" | "none" | "required" | {"type": "function", "function": {"name"}} naming a tool.
void parse_tool_choice(const ojson& obj, generation_request& r) {
    const ojson* v = field(obj, "tool_choice");
    if (!v) return;
    if (v->is_string()) {
        const std::string c = v->get<std::string>();
        if (c != "auto" && c != "none" && c != "required")
            throw_invalid("tool_choice", "'tool_choice' must be 'auto', 'none', 'required' or a function");
        if (c == "required" && r.tools.is_null())
            throw_invalid("tool_choice", "'tool_choice' is 'required' but no 'tools' are given");
        r.tool_choice = c;
        return;
    }
    if (!v->is_object()) throw_invalid("tool_choice", "'tool_choice' must be a string or an object");
    if (string_field(*v, "type", "tool_choice.type", true) != "function")
        throw_invalid("tool_choice.type", "'tool_choice.type' must be 'function'");
    const ojson* fn = field(*v, "function");
    if (!fn || !fn->is_object()) throw_invalid("tool_choice.function", "'tool_choice.function' must be an object");
    const std::string name = string_field(*fn, "name", "tool_choice.function.name", true);
    bool known = false;
    if (r.tools.is_array())
        for (const ojson& t : r.tools) known = known || t["function"]["name"] == name;
    if (!known)
        throw_invalid("tool_choice.function.name", "'tool_choice' names '" + name + "', which is not in 'tools'");
    r.tool_choice = "function";
    r.tool_choice_name = name;
}

// The chat template's inputs beyond the messages: tools, tool_choice, parallel_tool_calls,
// chat_template_kwargs, reasoning_effort.
void parse_template_fields(const json& obj, const ojson& ordered, generation_request& r) {
    r.tools = parse_tools(ordered);
    parse_tool_choice(ordered, r);
    if (auto v = get_bool(obj, "parallel_tool_calls")) r.parallel_tool_calls = *v;
    if (const json* v = field(obj, "chat_template_kwargs")) {
        if (!v->is_object()) throw_invalid("chat_template_kwargs", "'chat_template_kwargs' must be an object");
        r.chat_template_kwargs = *v;
    }
    if (const json* v = field(obj, "reasoning_effort")) {
        if (!v->is_string() || (*v != "low" && *v != "medium" && *v != "high"))
            throw_invalid("reasoning_effort", "'reasoning_effort' must be 'low', 'medium' or 'high'");
        r.reasoning_effort = v->get<std::string>();
    }
}

// reasoning_format (llama-server's field): "none" keeps the thinking inline in content; "auto" and
// "deepseek" return it as reasoning_content. Absent: the server's --reasoning-format.
void parse_reasoning_format(const json& obj, generation_request& r) {
    const json* v = field(obj, "reasoning_format");
    if (!v) return;
    if (!v->is_string()) throw_invalid("reasoning_format", "'reasoning_format' must be a string");
    const std::string f = v->get<std::string>();
    if (!reasoning_format_valid(f))
        throw_invalid("reasoning_format", "'reasoning_format' must be 'none', 'auto' or 'deepseek', got '" + f + "'");
    r.reasoning_format = f;
}

}  // namespace

json parse_json_object(const std::string& body) {
    json obj = json::parse(body, nullptr, false);
    if (obj.is_discarded())
        throw api_exception{api_error{400, "The request body is not valid JSON.", "invalid_request_error", std::nullopt,
                                      std::nullopt, 0}};
    if (!obj.is_object())
        throw api_exception{api_error{400, "The request body must be a JSON object.", "invalid_request_error",
                                      std::nullopt, std::nullopt, 0}};
    return obj;
}

// response_format: {"type": "text"}, {"type": "json_object"} (llama.cpp's extension: with a
// "schema"), or {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}; answer_grammar
// compiles the schema. It is read again from the body in its own key order, since properties are
// generated in the order the schema lists them.
void parse_response_format(const json& obj, const std::string& body, generation_request& r) {
    const json* rf = field(obj, "response_format");
    if (!rf) return;
    const char* param = "response_format";
    if (!rf->is_object()) throw_invalid(param, "'response_format' must be an object");
    const json* type = field(*rf, "type");
    if (!type || !type->is_string())
        throw_invalid(param, "'response_format.type' must be one of 'text', 'json_object', 'json_schema'");
    const std::string t = type->get<std::string>();
    r.response_format = *rf;
    if (t == "text") return;
    if (t != "json_object" && t != "json_schema")
        throw_invalid(param,
                      "'response_format.type' must be one of 'text', 'json_object', 'json_schema', got '" + t + "'");
    const json* js = t == "json_schema" ? field(*rf, "json_schema") : nullptr;
    if (t == "json_schema") {
        if (!js || !js->is_object()) throw_invalid(param, "'response_format.json_schema' must be an object");
        if (const json* n = field(*js, "name"); n && !n->is_string())
            throw_invalid(param, "'response_format.json_schema.name' must be a string");
    }
    const json& holder = js ? *js : *rf;
    const json* schema = field(holder, "schema");
    bool strict = false;
    if (const json* s = field(holder, "strict")) {
        if (!s->is_boolean()) throw_invalid(param, "'response_format.json_schema.strict' must be a boolean");
        strict = s->get<bool>();
    }
    r.json_answer = true;
    r.json_strict = strict;
    if (!schema) {
        if (t == "json_schema") throw_invalid(param, "'response_format.json_schema.schema' is required");
        return;
    }
    if (!schema->is_object() && !schema->is_boolean())
        throw_invalid(param, "'response_format' schema must be a JSON object");
    const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(body)["response_format"];
    r.json_schema = js ? ordered["json_schema"]["schema"] : ordered["schema"];
}

generation_request parse_chat_request(const std::string& body, const parse_limits& limits) {
    const json obj = parse_json_object(body);
    generation_request r;
    r.chat = true;
    // Messages and tools keep the request's key order (a template's tojson prints them).
    const ojson ordered = ojson::parse(body, nullptr, false);
    r.messages = parse_messages(ordered);
    parse_template_fields(obj, ordered, r);
    parse_common(obj, limits, r);
    if (auto v = get_int(obj, "max_completion_tokens", std::numeric_limits<int32_t>::min(),
                         std::numeric_limits<int32_t>::max()))
        r.max_tokens = static_cast<int32_t>(*v);
    // Continuing the final assistant message (vLLM's field names): the prompt ends inside that turn.
    if (auto v = get_bool(obj, "continue_final_message")) r.continue_final_message = *v;
    r.add_generation_prompt = !r.continue_final_message;
    if (auto v = get_bool(obj, "add_generation_prompt")) r.add_generation_prompt = *v;
    if (r.continue_final_message) {
        if (r.add_generation_prompt)
            throw_invalid("add_generation_prompt",
                          "'continue_final_message' and 'add_generation_prompt' cannot both be true");
        const json& last = r.messages.back();
        if (last["role"] != "assistant" || !last["content"].is_string() || last["content"].get<std::string>().empty())
            throw_invalid("continue_final_message",
                          "'continue_final_message' needs the last message to be the assistant's, with text");
    }
    parse_reasoning_format(obj, r);
    parse_response_format(obj, body, r);
    if (auto v = get_bool(obj, "logprobs")) r.logprobs = *v;
    if (auto v =
            get_int(obj, "top_logprobs", std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())) {
        if (!r.logprobs) throw_invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
        r.n_top_logprobs = static_cast<int32_t>(*v);
    }
    return r;
}

generation_request parse_completion_request(const std::string& body, const parse_limits& limits) {
    const json obj = parse_json_object(body);
    generation_request r;
    const json* p = field(obj, "prompt");
    if (!p) throw_invalid("prompt", "'prompt' is required");
    // A string, an array of token ids, or an array of either (one prompt each).
    auto one_prompt = [&](const json& v) {
        prompt_input in;
        if (v.is_string()) {
            in.text = v.get<std::string>();
        } else if (v.is_array() && !v.empty()) {
            for (const json& t : v) {
                if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
                    t.get<int64_t>() > std::numeric_limits<int32_t>::max())
                    throw_invalid("prompt", "'prompt' token arrays must hold token ids");
                in.tokens.push_back(t.get<int32_t>());
            }
            in.is_tokens = true;
        } else {
            throw_invalid("prompt",
                          "'prompt' must be a string, an array of token ids, or an array of strings or of token-id "
                          "arrays");
        }
        r.prompts.push_back(std::move(in));
    };
    if (p->is_array() && !p->empty() && !(*p)[0].is_number()) {
        if (p->size() > static_cast<size_t>(limits.max_prompts))
            throw_invalid("prompt", "at most " + std::to_string(limits.max_prompts) + " prompts per request");
        for (const json& v : *p) {
            if (v.is_number()) throw_invalid("prompt", "'prompt' arrays must not mix token ids and prompts");
            one_prompt(v);
        }
    } else {
        one_prompt(*p);
    }
    parse_common(obj, limits, r);
    if (static_cast<int64_t>(r.prompts.size()) * r.n > limits.max_choices)
        throw_invalid("n", "prompts x n must be at most " + std::to_string(limits.max_choices));
    if (auto v = get_int(obj, "logprobs", 0, std::numeric_limits<int32_t>::max())) {
        r.logprobs = true;
        r.n_top_logprobs = static_cast<int32_t>(*v);
    }
    if (auto v = get_bool(obj, "echo")) r.echo = *v;
    parse_response_format(obj, body, r);
    return r;
}

}  // namespace tandem
