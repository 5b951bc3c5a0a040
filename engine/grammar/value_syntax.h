// How a grammar writes JSON values: as JSON, or in a model family's own syntax for tool arguments
// (Gemma 4: {key:<|"|>text<|"|>,n:1}). Plain data, so a family table outside the grammar library
// (server/chat/chat_syntax.h) can hold one without linking it.
#pragma once

#include <string>

namespace tandem::gram {

struct value_syntax {
    std::string quote = "\"";  // opens and closes a string (ASCII)
    bool raw_strings = false;  // no escapes: a string's text is any text in which `quote` does not occur
    bool bare_keys = false;    // object keys that are names (letters, digits, _ - .) are written unquoted
    bool spaces = true;        // white space between tokens (json_grammar::ws); false: none
};

// Gemma 4's argument syntax (its chat template's format_argument, and chat_calls' reader of it).
inline value_syntax value_syntax_gemma4() {
    return value_syntax{"<|\"|>", true, true, false};
}

}  // namespace tandem::gram
