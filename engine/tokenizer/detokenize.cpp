// Token ids -> bytes: per-token pieces (llama_token_to_piece), whole-sequence decoding with
// llama.cpp's space clean-up (llama_detokenize), and the streaming UTF-8 guard.
#include <cstdio>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab.h"

namespace tandem {

namespace {

// Byte-level BPE text -> bytes. A codepoint outside the 256 byte codepoints is kept visible the
// way llama.cpp's llama_decode_text does it.
std::string bpe_text_to_bytes(std::string_view text) {
    std::string out;
    for (size_t off = 0; off < text.size();) {
        const uint32_t cpt = tok::utf8_decode(text, off);
        const int b = tok::unicode_to_byte(cpt);
        if (b >= 0) {
            out.push_back(static_cast<char>(b));
            continue;
        }
        std::string utf8;
        tok::utf8_append(utf8, cpt);
        out += "[UNK_BYTE_0x";
        for (const char c : utf8) {
            char hex[3];
            std::snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned>(static_cast<uint8_t>(c)));
            out += hex;
        }
        out += std::string(text) + "]";
    }
    return out;
}

uint8_t hex_byte(std::string_view text) {  // "<0xNN>"
    if (text.size() < 5) return 0;
    const auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return 0;
    };
    return static_cast<uint8_t>(nib(text[3]) * 16 + nib(text[4]));
}

// llama_detokenize's clean_spaces passes, done in place on the same indices as the original so
// that every corner case (" ' ", "' s", ...) comes out identical.
void clean_spaces(std::string& text) {
    int32_t total = static_cast<int32_t>(text.size());
    // pass 1: " ?" " !" " ." " ," lose the space
    const int32_t total1 = total;
    total = total ? 1 : 0;
    for (int32_t i = 1; i < total1; ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
        text[total++] = x;
    }
    // pass 2: a single apostrophe between spaces loses both spaces
    const int32_t total2 = total;
    total = total ? 1 : 0;
    for (int32_t i = 1; i < total2; ++i) {
        const char x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            --total;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    // pass 3: " 's" " 'm" " 're" " 've" lose the space (" 't" " 'd" " 'll" keep it)
    const int32_t total3 = total;
    total = total ? 1 : 0;
    for (int32_t i = 1; i < total3; ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            const char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --total;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                const char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
            }
        }
        text[total++] = x;
    }
    text.resize(total);
}

}  // namespace

std::string tokenizer::token_piece(int32_t id, bool special) const {
    if (id < 0 || id >= n_vocab()) return {};
    const uint32_t a = vocab_->attrs[id];
    const std::string& text = vocab_->text[id];
    if (a & (tok::attr_unknown | tok::attr_control)) {
        return special ? text : std::string();
    }
    if (a & tok::attr_user_defined) return text;
    if (a & tok::attr_normal) {
        if (kind_ == kind::bpe && !escape_spaces_) return bpe_text_to_bytes(text);
        std::string s;
        s.reserve(text.size());
        for (size_t pos = 0;;) {  // U+2581 -> ' '
            const size_t hit = text.find("\xE2\x96\x81", pos);
            s.append(text, pos, hit == std::string::npos ? std::string::npos : hit - pos);
            if (hit == std::string::npos) break;
            s.push_back(' ');
            pos = hit + 3;
        }
        return s;
    }
    if (a & tok::attr_byte) return std::string(1, static_cast<char>(hex_byte(text)));
    return {};  // unused / undefined types render as nothing
}

std::string tokenizer::decode(std::span<const int32_t> ids, bool remove_special) const {
    bool remove_space = add_space_prefix_;
    if (remove_special && add_bos_ && !ids.empty() && ids.front() == bos_id_) {
        remove_space = false;
        ids = ids.subspan(1);
    }
    if (remove_special && add_eos_ && !ids.empty() && ids.back() == eos_id_) {
        ids = ids.first(ids.size() - 1);
    }
    std::string out;
    for (const int32_t id : ids) {
        std::string piece = token_piece(id, false);
        if (remove_space && !piece.empty() && piece.front() == ' ') piece.erase(0, 1);
        remove_space = false;
        out += piece;
    }
    if (clean_spaces_) clean_spaces(out);
    return out;
}

std::string utf8_stream::push(std::string_view bytes) {
    std::string out;
    pending_.append(bytes);
    size_t i = 0;
    const size_t n = pending_.size();
    while (i < n) {
        const auto b0 = static_cast<uint8_t>(pending_[i]);
        size_t len = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || (len == 2 && b0 < 0xC2) || (len == 4 && b0 > 0xF4)) {  // stray or never-valid lead
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        // Check the continuation bytes present so far, with the second-byte limits of RFC 3629
        // (no overlongs, no surrogates, nothing above U+10FFFF).
        size_t k = 1;
        bool bad = false;
        for (; k < len && i + k < n; ++k) {
            const auto c = static_cast<uint8_t>(pending_[i + k]);
            uint8_t lo = 0x80, hi = 0xBF;
            if (k == 1) {
                if (b0 == 0xE0) lo = 0xA0;
                if (b0 == 0xED) hi = 0x9F;
                if (b0 == 0xF0) lo = 0x90;
                if (b0 == 0xF4) hi = 0x8F;
            }
            if (c < lo || c > hi) {
                bad = true;
                break;
            }
        }
        if (bad) {  // the maximal valid prefix becomes one U+FFFD; resume at the offending byte
            out += "\xEF\xBF\xBD";
            i += k;
            continue;
        }
        if (k < len) break;  // incomplete: hold it for the next push
        out.append(pending_, i, len);
        i += len;
    }
    pending_.erase(0, i);
    return out;
}

std::string utf8_stream::flush() {
    std::string out = push({});
    if (!pending_.empty()) {
        out += "\xEF\xBF\xBD";
        pending_.clear();
    }
    return out;
}

bool utf8_valid(std::string_view s) {
    utf8_stream u;
    std::string out = u.push(s);
    out += u.flush();
    return out == s;
}

}  // namespace tandem
