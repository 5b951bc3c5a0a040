// Unicode helpers private to the tokenizer; categories, case and decomposition come from utf8proc
// (PCRE2 has no public API for them), the rest is plain UTF-8 arithmetic.
#include "engine/tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

namespace tandem::tok {

size_t utf8_len(char c) {
    static constexpr size_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[static_cast<uint8_t>(c) >> 4];
}

static bool is_cont(std::string_view s, size_t i) {
    return i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80;
}

uint32_t utf8_decode(std::string_view s, size_t& offset) {
    const auto b0 = static_cast<uint8_t>(s[offset]);
    const auto cont = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[offset + k]) & 0x3F); };
    if (b0 < 0x80) {
        offset += 1;
        return b0;
    }
    if ((b0 & 0xE0) == 0xC0 && is_cont(s, offset + 1)) {
        const uint32_t cpt = ((b0 & 0x1Fu) << 6) | cont(1);
        offset += 2;
        return cpt;
    }
    if ((b0 & 0xF0) == 0xE0 && is_cont(s, offset + 1) && is_cont(s, offset + 2)) {
        const uint32_t cpt = ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
        offset += 3;
        return cpt;
    }
    if ((b0 & 0xF8) == 0xF0 && is_cont(s, offset + 1) && is_cont(s, offset + 2) && is_cont(s, offset + 3)) {
        const uint32_t cpt = ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
        offset += 4;
        return cpt;
    }
    offset += 1;
    return 0xFFFD;
}

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
    std::vector<uint32_t> cpts;
    cpts.reserve(s.size());
    for (size_t off = 0; off < s.size();) {
        cpts.push_back(utf8_decode(s, off));
    }
    return cpts;
}

void utf8_append(std::string& out, uint32_t cpt) {
    if (cpt < 0x80) {
        out.push_back(static_cast<char>(cpt));
    } else if (cpt < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
        out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
    } else if (cpt < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
    } else if (cpt < 0x110000) {
        out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
    } else {
        out += "\xEF\xBF\xBD";
    }
}

// The Unicode White_Space property (PropList.txt), which is also llama.cpp's whitespace set.
static bool is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

cpt_flags cpt_flags_of(uint32_t cpt) {
    cpt_flags f;
    f.is_whitespace = is_white_space(cpt);
    if (cpt >= 0x110000) {
        return f;
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cpt))) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
            f.is_letter = true;
            break;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
            f.is_accent_mark = true;
            break;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            f.is_number = true;
            break;
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            f.is_punctuation = true;
            break;
        case UTF8PROC_CATEGORY_SM:
        case UTF8PROC_CATEGORY_SC:
        case UTF8PROC_CATEGORY_SK:
        case UTF8PROC_CATEGORY_SO:
            f.is_symbol = true;
            break;
        case UTF8PROC_CATEGORY_CC:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_CS:
        case UTF8PROC_CATEGORY_CO:
            f.is_control = true;
            break;
        default:
            break;
    }
    return f;
}

uint32_t cpt_tolower(uint32_t cpt) {
    if (cpt >= 0x110000) {
        return cpt;
    }
    return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cpt)));
}

uint32_t cpt_nfd_base(uint32_t cpt) {
    if (cpt < 0x80 || cpt >= 0x110000) {
        return cpt;
    }
    utf8proc_int32_t buf[8];
    const utf8proc_ssize_t n =
        utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cpt), buf, 8, UTF8PROC_DECOMPOSE, nullptr);
    return n >= 1 ? static_cast<uint32_t>(buf[0]) : cpt;
}

namespace {
struct byte_tables {
    std::array<std::string, 256> to_unicode;
    std::array<int16_t, 512> from_cpt{};  // every byte codepoint is < 512

    byte_tables() {
        from_cpt.fill(-1);
        const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
        int n_extra = 0;
        for (int b = 0; b < 256; ++b) {
            const uint32_t cpt = printable(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n_extra++);
            utf8_append(to_unicode[b], cpt);
            from_cpt[cpt] = static_cast<int16_t>(b);
        }
    }
};
const byte_tables& tables() {
    static const byte_tables t;
    return t;
}
}  // namespace

const std::string& byte_to_unicode(uint8_t byte) {
    return tables().to_unicode[byte];
}

int unicode_to_byte(uint32_t cpt) {
    return cpt < 512 ? tables().from_cpt[cpt] : -1;
}

}  // namespace tandem::tok
