// Events -> text and logprobs per choice; OpenAI chunk and response JSON (chat and completions shapes).
#include "server/http/openai_response.h"

#include <algorithm>

namespace tandem {

using json = nlohmann::json;

std::string piece_text(const text_codec& codec, int32_t id) {
    return codec.decode(std::span<const int32_t>(&id, 1));
}

namespace {

json bytes_of(const std::string& raw) {
    json b = json::array();
    for (unsigned char c : raw) b.push_back(static_cast<int>(c));
    return b;
}

}  // namespace

choice_output::choice_output(const text_codec& codec, int32_t index, const generation_request& g)
    : codec_(codec), index_(index), chat_(g.chat), logprobs_(g.logprobs) {
    all_logprobs_ = empty_logprobs();
    delta_logprobs_ = empty_logprobs();
}

json choice_output::empty_logprobs() const {
    if (!logprobs_) return nullptr;
    if (chat_) return {{"content", json::array()}};
    return {{"tokens", json::array()},
            {"token_logprobs", json::array()},
            {"top_logprobs", json::array()},
            {"text_offset", json::array()}};
}

void choice_output::set_prefix(const std::string& text) {
    text_ = text + text_;
    delta_text_ = text + delta_text_;
    text_offset_ += static_cast<int64_t>(text.size());
}

void choice_output::set_parser(chat_syntax syntax, const chat_parse_options& opts) {
    parser_.emplace(std::move(syntax), opts);
}

void choice_output::add_text(const std::string& text) {
    if (parser_) return add_parsed(parser_->push(text));
    text_ += text;
    delta_text_ += text;
}

void choice_output::add_parsed(const chat_delta& d) {
    text_ += d.content;
    delta_text_ += d.content;
    reasoning_ += d.reasoning;
    delta_reasoning_ += d.reasoning;
    calls_.insert(calls_.end(), d.calls.begin(), d.calls.end());
    delta_calls_.insert(delta_calls_.end(), d.call_deltas.begin(), d.call_deltas.end());
}

void choice_output::add_logprob(const stream_event& ev) {
    if (!logprobs_) return;
    const std::string tok = piece_text(codec_, ev.token);
    if (chat_) {
        json top = json::array();
        for (const token_logprob& t : ev.top) {
            const std::string s = piece_text(codec_, t.id);
            top.push_back({{"token", s}, {"logprob", t.logprob}, {"bytes", bytes_of(codec_.token_piece(t.id))}});
        }
        json entry = {{"token", tok},
                      {"logprob", ev.logprob},
                      {"bytes", bytes_of(codec_.token_piece(ev.token))},
                      {"top_logprobs", top}};
        all_logprobs_["content"].push_back(entry);
        delta_logprobs_["content"].push_back(entry);
        return;
    }
    json top = json::object();
    for (const token_logprob& t : ev.top) top[piece_text(codec_, t.id)] = t.logprob;
    for (json* dst : {&all_logprobs_, &delta_logprobs_}) {
        (*dst)["tokens"].push_back(tok);
        (*dst)["token_logprobs"].push_back(ev.logprob);
        (*dst)["top_logprobs"].push_back(top);
        (*dst)["text_offset"].push_back(text_offset_);
    }
    text_offset_ += static_cast<int64_t>(tok.size());
}

void choice_output::consume(const stream_event& ev) {
    if (finished()) return;
    add_text(ev.text);
    if (ev.what == stream_event::kind::token) {
        ++n_generated_;
        add_logprob(ev);
        return;
    }
    if (parser_) add_parsed(parser_->finish(ev.reason == finish_reason::length));
    timings_ = {ev.n_draft_tokens, ev.n_draft_accepted, ev.n_prompt_cached, ev.first_token_seconds,
                ev.generation_seconds};
    switch (ev.reason) {
        case finish_reason::stop:
            finish_ = calls_.empty() ? "stop" : "tool_calls";
            break;
        case finish_reason::length:
            finish_ = "length";
            break;
        case finish_reason::aborted:
            error_ = "the request was aborted";
            finish_ = "stop";
            break;
        case finish_reason::error:
            error_ = ev.error.empty() ? "generation failed" : ev.error;
            finish_ = "stop";
            break;
    }
}

std::string choice_output::take_text() {
    return std::exchange(delta_text_, std::string());
}

std::string choice_output::take_reasoning() {
    return std::exchange(delta_reasoning_, std::string());
}

std::vector<tool_call_delta> choice_output::take_call_deltas() {
    return std::exchange(delta_calls_, {});
}

json choice_output::take_logprobs() {
    if (!logprobs_) return nullptr;
    json out = std::exchange(delta_logprobs_, empty_logprobs());
    const bool empty = chat_ ? out["content"].empty() : out["tokens"].empty();
    return empty ? json(nullptr) : out;
}

json usage_json(int64_t n_prompt, int64_t n_completion, int64_t n_cached) {
    return {{"prompt_tokens", n_prompt},
            {"completion_tokens", n_completion},
            {"total_tokens", n_prompt + n_completion},
            {"prompt_tokens_details", {{"cached_tokens", n_cached}}}};
}

namespace {

json chunk_base(const response_meta& m) {
    json j = {{"id", m.id},
              {"object", m.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", m.created},
              {"model", m.model},
              {"system_fingerprint", "tandem"}};
    if (m.include_usage) j["usage"] = nullptr;
    return j;
}

}  // namespace

json chunk_role(const response_meta& m, int32_t index) {
    json j = chunk_base(m);
    j["choices"] = json::array({{{"index", index},
                                 {"delta", {{"role", "assistant"}, {"content", ""}}},
                                 {"logprobs", nullptr},
                                 {"finish_reason", nullptr}}});
    return j;
}

json chunk_delta(const response_meta& m, int32_t index, const std::string& text,
                 const std::optional<std::string>& finish, const json& logprobs) {
    json j = chunk_base(m);
    json choice = {{"index", index}, {"logprobs", logprobs}, {"finish_reason", nullptr}};
    if (finish) choice["finish_reason"] = *finish;
    if (m.chat)
        choice["delta"] = text.empty() && finish ? json::object() : json{{"content", text}};
    else
        choice["text"] = text;
    j["choices"] = json::array({choice});
    return j;
}

json chunk_chat_delta(const response_meta& m, int32_t index, json delta, const json& logprobs) {
    json j = chunk_base(m);
    j["choices"] = json::array(
        {{{"index", index}, {"delta", std::move(delta)}, {"logprobs", logprobs}, {"finish_reason", nullptr}}});
    return j;
}

std::vector<json> tool_call_chunks(const std::vector<tool_call_delta>& deltas) {
    std::vector<json> out;
    for (const tool_call_delta& d : deltas) {
        if (!d.name.empty()) {
            out.push_back({{"tool_calls", json::array({{{"index", d.index},
                                                        {"id", d.id},
                                                        {"type", "function"},
                                                        {"function", {{"name", d.name}, {"arguments", ""}}}}})}});
            continue;
        }
        out.push_back(
            {{"tool_calls", json::array({{{"index", d.index}, {"function", {{"arguments", d.arguments}}}}})}});
    }
    return out;
}

json chunk_usage(const response_meta& m, int64_t n_prompt, int64_t n_completion, int64_t n_cached) {
    json j = chunk_base(m);
    j["choices"] = json::array();
    j["usage"] = usage_json(n_prompt, n_completion, n_cached);
    return j;
}

json timings_json(std::span<const choice_output> choices) {
    int64_t n_draft = 0, n_accepted = 0, n_generated = 0;
    double gen_s = 0, first_s = 0;
    for (const choice_output& c : choices) {
        n_draft += c.timings().n_draft;
        n_accepted += c.timings().n_draft_accepted;
        n_generated += c.n_generated();
        gen_s = std::max(gen_s, c.timings().generation_seconds);  // choices run side by side
        first_s = std::max(first_s, c.timings().first_token_seconds);
    }
    return {{"predicted_n", n_generated},
            {"predicted_ms", gen_s * 1e3},
            {"first_token_ms", first_s * 1e3},
            {"draft_n", n_draft},
            {"draft_n_accepted", n_accepted}};
}

namespace {

bool all_space(const std::string& s) {
    return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

// The assistant message: content (null when the answer is only tool calls), reasoning_content when
// the model reasoned, tool_calls when it called.
json message_json(const choice_output& c) {
    json msg = {{"role", "assistant"}, {"content", c.text()}};
    if (!c.tool_calls().empty() && all_space(c.text())) msg["content"] = nullptr;
    if (!c.reasoning().empty()) msg["reasoning_content"] = c.reasoning();
    if (!c.tool_calls().empty()) {
        json calls = json::array();
        for (const tool_call& t : c.tool_calls())
            calls.push_back(
                {{"id", t.id}, {"type", "function"}, {"function", {{"name", t.name}, {"arguments", t.arguments}}}});
        msg["tool_calls"] = calls;
    }
    return msg;
}

}  // namespace

json response_json(const response_meta& m, const std::vector<choice_output>& choices, int64_t n_prompt,
                   int64_t n_cached) {
    json out = {{"id", m.id},
                {"object", m.chat ? "chat.completion" : "text_completion"},
                {"created", m.created},
                {"model", m.model},
                {"system_fingerprint", "tandem"}};
    json arr = json::array();
    int64_t n_completion = 0;
    for (const choice_output& c : choices) {
        json choice = {{"index", c.index()}, {"logprobs", c.logprobs()}, {"finish_reason", c.finish_reason()}};
        if (m.chat)
            choice["message"] = message_json(c);
        else
            choice["text"] = c.text();
        arr.push_back(choice);
        n_completion += c.n_generated();
    }
    out["choices"] = arr;
    out["usage"] = usage_json(n_prompt, n_completion, n_cached);
    out["timings"] = timings_json(choices);
    return out;
}

}  // namespace tandem
