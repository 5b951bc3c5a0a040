// Tool calls before their section is whole, so their arguments can stream as they are generated:
// the arguments rewritten as JSON token by token, and the calls at a section's start read in the
// family's tool_call_shape. Pure functions of the text so far: the rewrite of a prefix is a prefix
// of the rewrite of the whole, whatever the chunking.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/chat/chat_syntax.h"

namespace tandem {

// An arguments object as compact JSON (nlohmann's dump form: no white space, strings escaped as it
// escapes them, numbers as it prints them), as far as the text has it: only whole tokens (a string's
// whole characters) are written.
struct args_rewrite {
    std::string json;
    size_t end = std::string_view::npos;  // past the object's closing brace; npos while it is open
    bool bad = false;                     // the text is not such an object (json: the text up to the error)
    bool whole() const { return !bad && end != std::string_view::npos; }
};

// `text` starts at the object's '{' and is written in `syntax` (JSON, or Gemma 4's {key:<|"|>..<|"|>}).
args_rewrite rewrite_args(std::string_view text, const gram::value_syntax& syntax);

// A call read from a section's start: its name, and its arguments so far.
struct call_head {
    std::string name;
    args_rewrite args;
};

// The calls at the start of `text` (a call section from its `marker`, or the answer's start when the
// marker is empty) written in s.shape, as far as the text goes: every head but the last has whole
// arguments. Stops at the first text not in the shape (the family's parser still decides the section).
std::vector<call_head> scan_call_heads(const chat_syntax& s, std::string_view text, std::string_view marker);

}  // namespace tandem
