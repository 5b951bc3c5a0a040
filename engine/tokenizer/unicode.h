// Unicode helpers private to the tokenizer: lenient UTF-8 decoding (as llama.cpp does it),
// codepoint categories (utf8proc), GPT-2's byte <-> codepoint map, simple lowercase and NFD base.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::tok {

// Length of the UTF-8 sequence that starts with byte `c`, judged by its high bits only (1 for
// stray continuation bytes, as llama.cpp's unicode_len_utf8).
size_t utf8_len(char c);

// Decodes one codepoint at `offset` and advances it. An invalid or truncated sequence consumes one
// byte and yields U+FFFD. Overlong forms are accepted (they decode to their value), matching llama.cpp.
uint32_t utf8_decode(std::string_view s, size_t& offset);
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
void utf8_append(std::string& out, uint32_t cpt);

// Category flags, with llama.cpp's meaning of each (\p{L}, \p{N}, ...).
struct cpt_flags {
    bool is_letter = false;
    bool is_number = false;
    bool is_punctuation = false;
    bool is_symbol = false;
    bool is_accent_mark = false;
    bool is_control = false;
    bool is_whitespace = false;
};
cpt_flags cpt_flags_of(uint32_t cpt);

uint32_t cpt_tolower(uint32_t cpt);
// The first codepoint of the canonical decomposition (what BERT's accent stripping keeps).
uint32_t cpt_nfd_base(uint32_t cpt);

// GPT-2 byte-level BPE: every byte is shown as one printable codepoint (space -> U+0120 'Ġ').
const std::string& byte_to_unicode(uint8_t byte);
// The byte a codepoint stands for, or -1 if it is not one of the 256 byte codepoints.
int unicode_to_byte(uint32_t cpt);

}  // namespace tandem::tok
