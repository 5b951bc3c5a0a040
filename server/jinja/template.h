// Public API of the chat-template interpreter: parse a model's `tokenizer.chat_template` once,
// render it per request with a JSON context (messages, tools, bos_token, add_generation_prompt...).
// Semantics follow transformers' apply_chat_template: Jinja2 with trim_blocks and lstrip_blocks on,
// loop controls (break/continue), `tojson` as json.dumps(ensure_ascii=False), raise_exception and
// strftime_now globals. Undefined values are Jinja2's: they render empty and are falsy, and looking
// into one (x.y, x[k]) raises.
#pragma once

#include <cstddef>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace tandem::jinja {

struct stmt;

// Bounds that keep a hostile template from hanging or exhausting memory; exceeding one is a
// tandem::error for that request.
struct render_options {
    size_t max_output_bytes = size_t{8} << 20;  // also bounds every intermediate string
    size_t max_iterations = 1'000'000;          // loop iterations + range() items, whole render
    size_t max_work = 50'000'000;               // abstract work units (expressions, copied bytes / 16)
    int max_depth = 32;                         // macro recursion / nested captures
    std::optional<std::time_t> now;             // clock for strftime_now (tests fix it); unset: real time
};

class chat_template {
  public:
    // Parses; throws tandem::error with line/column on syntax errors.
    explicit chat_template(std::string source);
    ~chat_template();
    chat_template(chat_template&&) noexcept;
    chat_template& operator=(chat_template&&) noexcept;

    // Throws tandem::error on runtime errors, including raise_exception(msg) and exceeded limits.
    std::string render(const nlohmann::json& context) const;
    std::string render(const nlohmann::json& context, const render_options& options) const;
    // Same, keeping the caller's key order for objects (json.dumps of tools preserves it in Python).
    std::string render(const nlohmann::ordered_json& context, const render_options& options = {}) const;

    const std::string& source() const { return source_; }

  private:
    struct impl;
    std::string source_;
    std::unique_ptr<impl> impl_;
};

// A ChatML prompt template (the fallback when a model ships no template).
std::string chatml_source();

}  // namespace tandem::jinja
