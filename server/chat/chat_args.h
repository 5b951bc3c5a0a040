// Tool calls before their section is whole, so their arguments can stream as they are generated:
// the arguments rewritten as JSON token by token, and the calls at a section's start read in the
// family's tool_call_shapes, read on as the section grows. What they give is a function of the text
// so far (a resumed read gives what a fresh one does): the rewrite of a prefix is a prefix of the
// rewrite of the whole, whatever the chunking.
#pragma once

#include <cstdint>
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

// Where a rewrite stopped for more text, so a rewrite of the same text grown longer goes on from
// there instead of from the start (streaming a long argument token by token stays linear). A pure
// speed-up: the result is what a fresh rewrite gives, except that while the rewrite is open its text
// is `out` and the result's json is left empty (a copy per push would be quadratic again). Empty
// (start npos) until a rewrite stops open.
struct args_resume {
    size_t start = std::string_view::npos;  // the arguments' offset in the text read (the section's)
    size_t i = 0;                           // read up to here (a token or character boundary)
    std::string out;                        // written so far
    std::vector<uint8_t> stack;             // the open objects and arrays, in the writer's encoding
    uint8_t in_string = 0;                  // stopped inside a string: 1 JSON's, 2 a raw one
};

// `text` starts at the object's '{' and is written in `syntax` (JSON, or Gemma 4's {key:<|"|>..<|"|>}).
// `resume`: a stop of an earlier rewrite of a prefix of `text` (used when its stack is not empty),
// replaced by this rewrite's stop (cleared when it is not open; while open, the text is resume->out).
args_rewrite rewrite_args(std::string_view text, const gram::value_syntax& syntax, args_resume* resume = nullptr);

// rewrite_args of text[i, ...), going on from `resume` when its stop was made at that offset of the
// same (shorter) text; `resume` then holds this rewrite's stop if it is open. Null: a fresh rewrite.
args_rewrite rewrite_args_at(std::string_view text, size_t i, const gram::value_syntax& syntax, args_resume* resume);

// A call read from a section's start: its name, and its arguments so far.
struct call_head {
    std::string name;
    args_rewrite args;
};

// The calls at the start of a call section (from its `marker`, or the answer's start when the marker
// is empty) written in one of the family's shapes (s.shape, then s.other_shapes; the first to read a
// call's name is kept), read as the section grows: each read goes on from where the last stopped, so
// streaming a call costs its new text only. Every head but the last has whole arguments. Stops for
// good at the first text in no shape (the family's parser still decides the section).
class call_scan {
  public:
    call_scan(const chat_syntax& s, std::string marker);
    call_scan(const call_scan&);
    call_scan(call_scan&&) noexcept;
    call_scan& operator=(const call_scan&);
    call_scan& operator=(call_scan&&) noexcept;
    ~call_scan();

    // `text`: the section so far; each read's text begins with the last one's.
    void read(std::string_view text);
    size_t size() const { return heads().size(); }
    // The calls read; the last one's args.json is empty while its arguments are open (args() has them).
    const std::vector<call_head>& heads() const;
    std::string_view args(size_t j) const;  // the j-th call's arguments as compact JSON, as far as read

  private:
    class shape_reader;
    std::vector<shape_reader> readers_;  // one per shape until one reads a call, then that one
};

// The heads a fresh call_scan reads from `text` (for a whole section, and for tests).
std::vector<call_head> scan_call_heads(const chat_syntax& s, std::string_view text, std::string_view marker);

}  // namespace tandem
