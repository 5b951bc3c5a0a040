// A chat answer split as it is decoded: reasoning, content and tool calls, for any chat_syntax
// family. Fed text pieces in order; a marker cut by a piece boundary is held back until decided, so
// every split of an answer yields the same reasoning, content and calls. Malformed output (an
// unclosed call, bad JSON) is kept as content, never an error. A call written in the family's
// tool_call_shape also streams while it is written: its name once read, then its arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "server/chat/chat_args.h"
#include "server/chat/chat_calls.h"
#include "server/chat/chat_syntax.h"

namespace tandem {

struct tool_call {
    std::string id;         // "call_" + 24 letters and digits
    std::string name;       // the function's name
    std::string arguments;  // a JSON object, as text
};

// A streamed piece of a call: the first piece of each call has its id and name (and no arguments),
// the next ones add argument text. The pieces of a call that completes add up to its arguments. A
// call that turns out malformed after it began stops there: its text comes back as content and it
// is not among the completed calls (a call the answer's cut ends is kept: see finish).
struct tool_call_delta {
    int32_t index = 0;      // the call's place among the calls begun in this answer's stream
    std::string id, name;   // the first piece only
    std::string arguments;  // text to append
};

// What one push made: text to append to each part, the calls completed (in order: the whole
// answer's tool_calls) and the calls' streamed pieces.
struct chat_delta {
    std::string reasoning, content;
    std::vector<tool_call> calls;
    std::vector<tool_call_delta> call_deltas;
    bool empty() const { return reasoning.empty() && content.empty() && calls.empty() && call_deltas.empty(); }
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
    // The answer ended: everything held back is decided. `cut`: it ended at max_tokens or the
    // context's end, not where the model stopped; calls streamed from an unfinished call section
    // then stay calls with the arguments sent so far (as OpenAI returns a call cut by max_tokens,
    // with finish_reason "length"), so the streamed and whole answers agree.
    chat_delta finish(bool cut = false);

  private:
    enum class mode { start, reasoning, content_start, content, harmony_header, harmony_body };
    // A harmony message's text: reasoning (analysis), the answer (final, commentary), a call, or kept
    // in the content as written, header and end marker included (analysis with reasoning_format
    // none, a call when the request offers no tools).
    enum class body_kind { reasoning, content, call, as_written };

    void run(bool final, chat_delta& out);
    bool step_start(bool final);
    bool step_reasoning(bool final, chat_delta& out);
    bool step_content_start(bool final, chat_delta& out);
    bool step_content(bool final, chat_delta& out);
    bool step_harmony_header(bool final, chat_delta& out);
    bool step_harmony_body(bool final, chat_delta& out);
    // Tries the call section at pos_ (`marker` its opening text); false: wait for more text.
    bool take_section(std::string_view marker, bool final, chat_delta& out);
    // Streaming the calls of the section at pos_ before it is whole (the j-th as read so far: its
    // name and arguments), completing them when it is, or dropping them when it turns out not to be calls.
    void stream_call(size_t j, const std::string& name, std::string_view args, chat_delta& out);
    void stream_harmony_call(std::string_view body, chat_delta& out);
    void complete_calls(std::vector<parsed_call>& calls, const std::vector<call_head>& heads, chat_delta& out);
    bool may_add_call(size_t j) const;     // parallel_tool_calls: the section's j-th call is kept
    bool keep_cut_calls(chat_delta& out);  // finish(cut) in a call section: its streamed calls stay
    void emit_content(std::string_view text, chat_delta& out);
    const std::string& call_id(size_t k);  // the answer's k-th call's id

    chat_syntax syntax_;
    chat_parse_options opts_;
    std::vector<std::string> call_markers_;
    std::string buf_;  // the answer so far; [0, pos_) is decided
    size_t pos_ = 0;
    mode mode_ = mode::start;
    bool trim_content_ws_ = false;  // after reasoning or a call: the content's leading white space goes
    bool reasoning_started_ = false;
    bool cut_ = false;     // finish(true)
    int32_t n_calls_ = 0;  // calls completed
    // The section's calls streamed before it is whole: their place in the stream, name, argument
    // text sent so far.
    struct open_call {
        int32_t index;
        std::string name, sent;
    };
    std::vector<open_call> open_;
    // The open section as read so far: by the family's parser, and by the call-head scan that streams it.
    section_resume section_;
    std::optional<call_scan> scan_;
    int32_t n_streamed_ = 0;        // calls begun in the stream (dropped ones included)
    std::vector<std::string> ids_;  // by a completed call's place: a dropped call's id goes to the next
    body_kind harmony_kind_ = body_kind::content;
    std::string harmony_recipient_;
    std::string harmony_header_;   // a call message's header as written, shown if its body is no call
    size_t harmony_searched_ = 0;  // the body's end markers are not in buf_ before this offset
    args_resume harmony_resume_;   // a call body's arguments as read so far (offsets from its start)
    args_rewrite harmony_args_;    // ... once whole or bad
    std::mt19937_64 rng_;
};

}  // namespace tandem
