// The tool-call grammars of the families (chat_syntax's tool_format): given the answer text from a
// call marker on, each says whether a whole, well-formed call section is there yet. Internal to
// chat_output; pure functions, so every chunk split of an answer reaches the same decisions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/chat/chat_args.h"
#include "server/chat/chat_syntax.h"

namespace tandem {

struct parsed_call {
    std::string name;
    std::string arguments;  // a JSON object, as text
};

struct call_section {
    enum class status { need_more, fail, ok };
    call_section() = default;
    call_section(status s, size_t n = 0) : what(s), consumed(n) {}
    status what = status::fail;
    size_t consumed = 0;  // ok: bytes of the section, marker included
    std::vector<parsed_call> calls;
    bool content_follows = false;  // functionary v3.2 "all\n": the section opened plain text
};

// Where json_value_end stopped for more text in a value that grows.
struct json_scan {
    size_t start = std::string_view::npos;  // the value's offset in the text
    size_t i = 0;                           // read up to here
    int32_t depth = 0;
    bool in_string = false;
};

// What the family parsers keep between reads of the same call section as it grows, so each read goes
// on where the last one stopped instead of from the marker (streaming a long call stays linear). A
// pure speed-up: the result is what a fresh read gives. Offsets are into the section's text.
struct section_resume {
    args_resume args;     // the open call's arguments (rewrite_args_at)
    json_scan value;      // the JSON value whose end is looked for
    size_t searched = 0;  // a closing marker is not in the text before this offset
    // A section of several calls (DeepSeek's, Llama 3's joined by ';'): those read whole so far, and
    // where the text after them starts.
    std::vector<parsed_call> done;
    size_t done_end = 0;
};

// The markers that open a call section in running text (empty for formats without one).
std::vector<std::string> tool_call_markers(tool_format f);

// Parses the call section starting at `text` (which begins with `marker`, possibly empty for the
// formats that open at the answer's start). `final`: no more text will come. `resume`: kept by the
// caller while the same section grows (see section_resume).
call_section parse_call_section(tool_format f, std::string_view text, std::string_view marker, bool final,
                                section_resume* resume = nullptr);

// At the answer's start, formats whose calls have no marker (Llama 3 JSON, functionary v3.2's
// recipient line, the generic JSON object): whether to try a section at `text` (white space skipped).
bool tool_call_at_start(tool_format f, std::string_view text);

// The end of the JSON value (object or array) that starts at text[i]; npos while incomplete.
// `resume`: goes on from its stop when that was made in the value at i (of the same, shorter text),
// and holds this scan's stop when the value is incomplete.
size_t json_value_end(std::string_view text, size_t i, json_scan* resume = nullptr);

}  // namespace tandem
