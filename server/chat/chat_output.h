// A chat answer split as it is decoded: reasoning, content and tool calls, for any chat_syntax
// family. Fed text pieces in order; a marker cut by a piece boundary is held back until decided, so
// every split of an answer yields the same reasoning, content and calls. Malformed output (an
// unclosed call, bad JSON) is kept as content, never an error.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "server/chat/chat_syntax.h"

namespace tandem {

struct tool_call {
    std::string id;         // "call_" + 24 letters and digits
    std::string name;       // the function's name
    std::string arguments;  // a JSON object, as text
};

// What one push made: text to append to each part, and the calls completed (in order).
struct chat_delta {
    std::string reasoning, content;
    std::vector<tool_call> calls;
    bool empty() const { return reasoning.empty() && content.empty() && calls.empty(); }
};

struct chat_parse_options {
    bool split_reasoning = true;      // false (reasoning_format none): thinking stays in content
    bool reasoning_open = false;      // the prompt opened the reasoning block (chat_prompt_opens_reasoning)
    bool parse_tools = false;         // the request offers tools and tool_choice is not "none"
    bool parallel_tool_calls = true;  // false: calls after the first are dropped
    uint64_t id_seed = 0;             // call ids' generator; 0: random
};

class chat_output_parser {
  public:
    chat_output_parser(chat_syntax syntax, chat_parse_options opts);

    chat_delta push(std::string_view text);
    chat_delta finish();  // the answer ended: everything held back is decided

  private:
    enum class mode { start, reasoning, content_start, content, harmony_header, harmony_body };
    enum class body_kind { reasoning, content, call };

    void run(bool final, chat_delta& out);
    bool step_start(bool final);
    bool step_reasoning(bool final, chat_delta& out);
    bool step_content_start(bool final, chat_delta& out);
    bool step_content(bool final, chat_delta& out);
    bool step_harmony_header(bool final, chat_delta& out);
    bool step_harmony_body(bool final, chat_delta& out);
    // Tries the call section at pos_ (`marker` its opening text); false: wait for more text.
    bool take_section(std::string_view marker, bool final, chat_delta& out);
    void add_call(std::string name, std::string arguments, chat_delta& out);
    void emit_content(std::string_view text, chat_delta& out);
    std::string new_call_id();

    chat_syntax syntax_;
    chat_parse_options opts_;
    std::vector<std::string> call_markers_;
    std::string buf_;  // the answer so far; [0, pos_) is decided
    size_t pos_ = 0;
    mode mode_ = mode::start;
    bool trim_content_ws_ = false;  // after reasoning or a call: the content's leading white space goes
    bool reasoning_started_ = false;
    int32_t n_calls_ = 0;
    body_kind harmony_kind_ = body_kind::content;
    std::string harmony_recipient_;
    std::mt19937_64 rng_;
};

}  // namespace tandem
