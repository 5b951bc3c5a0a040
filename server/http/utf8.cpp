// UTF-8 holding for token streams: emit only whole, valid characters; repair the rest as U+FFFD.
#include "server/http/text_codec.h"

namespace tandem {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";

// Length a lead byte announces, or 0 if it cannot start a sequence.
size_t lead_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

// Whether byte `i` (1-based position inside the sequence) may follow `lead` (RFC 3629 table).
bool cont_ok(unsigned char lead, size_t i, unsigned char c) {
    if (i == 1) {
        if (lead == 0xE0) return c >= 0xA0 && c <= 0xBF;
        if (lead == 0xED) return c >= 0x80 && c <= 0x9F;
        if (lead == 0xF0) return c >= 0x90 && c <= 0xBF;
        if (lead == 0xF4) return c >= 0x80 && c <= 0x8F;
    }
    return c >= 0x80 && c <= 0xBF;
}

// Decodes as much of `s` as is complete into `out`; returns how many bytes were consumed (the rest is
// a prefix of a possibly valid sequence). With `final`, an unfinished tail becomes U+FFFD.
size_t decode(std::string_view s, std::string& out, bool final) {
    size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        const size_t len = lead_len(lead);
        if (len == 0) { out += replacement; ++i; continue; }
        if (len == 1) { out += s[i]; ++i; continue; }
        size_t k = 1;
        while (k < len && i + k < s.size() && cont_ok(lead, k, static_cast<unsigned char>(s[i + k]))) ++k;
        if (k == len) { out.append(s.substr(i, len)); i += len; continue; }
        if (i + k == s.size() && !final) return i;  // maybe completed by the next token
        out += replacement;                          // a broken sequence: replace what was read
        i += k;
    }
    return i;
}

}  // namespace

std::string utf8_holder::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    const size_t used = decode(pending_, out, false);
    pending_.erase(0, used);
    return out;
}

std::string utf8_holder::flush() {
    std::string out;
    decode(pending_, out, true);
    pending_.clear();
    return out;
}

bool utf8_valid(std::string_view s) {
    std::string out;
    return decode(s, out, true) == s.size() && out.size() == s.size() && out == s;
}

}  // namespace tandem
