// utf8_stream: never emits half a character, holds incomplete tails, replaces invalid bytes with
// U+FFFD. Checked against hand-written cases and an independent validity check on random bytes.
#include <gtest/gtest.h>

#include <random>

#include "engine/tokenizer/tokenizer.h"

namespace tandem {
namespace {

const std::string k_fffd = "\xEF\xBF\xBD";

// Independent strict validator (RFC 3629 table), written separately from utf8_stream.
bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<uint8_t>(s[i]);
        int n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (i + n >= s.size()) return false;
        for (int k = 1; k <= n; ++k) {
            const auto d = static_cast<uint8_t>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

TEST(utf8_stream, ascii_passes_through) {
    utf8_stream s;
    EXPECT_EQ(s.push("Hello"), "Hello");
    EXPECT_EQ(s.push(", world"), ", world");
    EXPECT_EQ(s.flush(), "");
}

TEST(utf8_stream, holds_a_split_character_until_complete) {
    utf8_stream s;
    const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
    EXPECT_EQ(s.push(" \xF0"), " ");
    EXPECT_EQ(s.push("\x9F"), "");
    EXPECT_EQ(s.push("\x98"), "");
    EXPECT_EQ(s.push("\x80!"), emoji + "!");
    EXPECT_EQ(s.flush(), "");
}

TEST(utf8_stream, invalid_bytes_become_replacement_characters) {
    utf8_stream s;
    EXPECT_EQ(s.push("a\xFF"
                     "b"),
              "a" + k_fffd + "b");
    EXPECT_EQ(s.push("\x80"), k_fffd);               // stray continuation byte
    EXPECT_EQ(s.push("\xC0\x80"), k_fffd + k_fffd);  // overlong NUL: invalid lead, stray byte
    EXPECT_EQ(s.push("\xE2\x82"
                     "A"),
              k_fffd + "A");                                                                // truncated 3-byte sequence
    EXPECT_EQ(s.push("\xED\xA0\x80"), k_fffd + k_fffd + k_fffd);                            // surrogate U+D800
    EXPECT_EQ(s.push("\xF4\x90\x80\x80"), std::string(k_fffd) + k_fffd + k_fffd + k_fffd);  // > U+10FFFF
}

TEST(utf8_stream, flush_replaces_an_incomplete_tail) {
    utf8_stream s;
    EXPECT_EQ(s.push("x\xE4\xBD"), "x");
    EXPECT_EQ(s.flush(), k_fffd);
    EXPECT_EQ(s.flush(), "");
    EXPECT_EQ(s.push("\xE4\xBD\xA0"), "\xE4\xBD\xA0");  // fresh state after flush
}

TEST(utf8_stream, random_chunks_of_valid_text_round_trip) {
    const std::string text = "Héllo wörld 123 — 😀 нещо 我想在apple工作 ✅ 🦙";
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        utf8_stream s;
        std::string out;
        for (size_t pos = 0; pos < text.size();) {
            const size_t n = std::min<size_t>(text.size() - pos, rng() % 5);
            const std::string piece = s.push(std::string_view(text).substr(pos, n));
            EXPECT_TRUE(valid_utf8(piece));
            out += piece;
            pos += n;
        }
        out += s.flush();
        EXPECT_EQ(out, text);
    }
}

TEST(utf8_stream, random_bytes_always_give_valid_utf8) {
    std::mt19937 rng(11);
    for (int trial = 0; trial < 500; ++trial) {
        utf8_stream s;
        std::string out;
        const int n_pushes = 1 + static_cast<int>(rng() % 8);
        for (int p = 0; p < n_pushes; ++p) {
            std::string bytes;
            const int n = static_cast<int>(rng() % 6);
            for (int k = 0; k < n; ++k) {
                // bias towards UTF-8 structure bytes so partial/invalid sequences are common
                static const uint8_t pool[] = {0x41, 0x80, 0xBF, 0xC2, 0xC0, 0xE0, 0xED, 0xA0, 0xF0, 0xF4, 0x90, 0xFF};
                bytes.push_back(static_cast<char>(rng() % 3 ? pool[rng() % 12] : rng() % 256));
            }
            const std::string piece = s.push(bytes);
            EXPECT_TRUE(valid_utf8(piece)) << "trial " << trial;
            out += piece;
        }
        const std::string tail = s.flush();
        EXPECT_TRUE(valid_utf8(tail));
    }
}

}  // namespace
}  // namespace tandem
