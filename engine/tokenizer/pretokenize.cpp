// Pre-tokenizer regex chains per tokenizer.ggml.pre name, and the PCRE2 splitter that runs them.
// Regexes and per-name flags follow llama.cpp's llama-vocab.cpp (llm_tokenizer_bpe, impl::load).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/pretokenize.h"

#include <pcre2.h>

#include <initializer_list>

#include "common/error.h"
#include "engine/tokenizer/unicode.h"

namespace tandem::tok {

namespace {

// GPT-2's own split, also the core of most older vocabs.
const char* const k_gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3 (and ChatGLM-4, DBRX, Smaug): contractions spelled case-insensitively, numbers in 1-3 digits.
const char* const k_llama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but single digits.
const char* const k_qwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const k_qwen35 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const k_gpt4o =
    R"([^\r\n\p{L}\p{N}]?(?:(?=[\p{L}])[^a-z])*(?:(?=[\p{L}])[^A-Z])+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?(?:(?=[\p{L}])[^a-z])+(?:(?=[\p{L}])[^A-Z])*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const k_tekken =
    R"([^\r\n\p{L}\p{N}]?(?:(?=[\p{L}])[^a-z])*(?:(?=[\p{L}])[^A-Z])+|[^\r\n\p{L}\p{N}]?(?:(?=[\p{L}])[^a-z])+(?:(?=[\p{L}])[^A-Z])*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const k_seed_coder =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const k_bailingmoe =
    R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
const char* const k_poro = R"( ?[^(\s|.,!?…。，、।۔،)]+)";
const char* const k_deepseek_v3_words =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM's cased-letter class, written as escapes: pasted literally, editors and tools may
// NFC-normalize singletons such as U+2126 OHM SIGN into other codepoints.
const char* const k_deepseek_llm_letters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943}]+)";
const char* const k_cjk_hangul = R"([一-龥ࠀ-一가-퟿]+)";

struct pre_entry {
    std::initializer_list<const char*> names;
    std::initializer_list<const char*> regexes;
    bool clean_spaces;
    bool ignore_merges;
    bool add_bos;
};

// clang-format off
const pre_entry k_pre_table[] = {
    {{"", "default"}, {R"([\p{P}\$\+<=>\^~\|]+)", k_gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, true, false, false},
    {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
      "modern-bert", "exaone4", "mpt", "olmo", "jina-v1-en", "jina-v2-code", "roberta-bpe"},
     {k_gpt2}, true, false, false},
    {{"trillion", "granite-docling"}, {k_gpt2}, false, false, false},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
     {k_llama3}, true, true, true},
    {{"dbrx", "smaug-bpe", "glm4", "chatglm-bpe"}, {k_llama3}, true, false, false},
    {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan"}, {k_qwen2}, false, false, false},
    {{"stablelm2", "megrez"}, {k_qwen2}, true, false, false},
    {{"qwen35"}, {k_qwen35}, false, false, false},
    {{"gpt-4o", "llama4", "kanana2"}, {k_gpt4o}, false, false, false},
    {{"tekken"}, {k_tekken}, false, true, true},
    {{"seed-coder"}, {k_seed_coder}, false, false, false},
    {{"grok-2"}, {k_qwen2}, false, false, false},
    {{"bailingmoe", "bailingmoe2", "llada-moe"}, {k_bailingmoe}, false, false, false},
    {{"deepseek-llm"},
     {R"([\r\n])", k_deepseek_llm_letters, R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)", R"(\s+$)", k_cjk_hangul, R"(\p{N}+)"},
     false, false, false},
    {{"deepseek-coder"}, {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", k_cjk_hangul, R"(\p{N})"}, false, false, false},
    {{"deepseek-v3"}, {R"(\p{N}{1,3})", R"([一-龥぀-ゟ゠-ヿ]+)", k_deepseek_v3_words}, false, false, false},
    {{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", k_gpt2, "[0-9][0-9][0-9]"}, true, false, false},
    {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b"}, {R"(\p{N})", k_gpt2}, true, false, false},
    {{"command-r", "smollm"}, {R"(\p{N})", k_gpt2}, false, false, false},
    {{"poro-chat"}, {k_poro}, false, false, false},
    {{"bloom", "gpt3-finnish"}, {k_poro}, true, false, false},
    {{"viking"}, {k_poro, R"(\p{N})"}, false, false, false},
};
// clang-format on

}  // namespace

pre_config pre_config_for(std::string_view pre) {
    for (const auto& e : k_pre_table) {
        for (const char* name : e.names) {
            if (pre == name) {
                pre_config c;
                for (const char* r : e.regexes) {
                    c.regexes.emplace_back(r);
                }
                c.clean_spaces = e.clean_spaces;
                c.ignore_merges = e.ignore_merges;
                c.add_bos = e.add_bos;
                return c;
            }
        }
    }
    throw error("unsupported pre-tokenizer tokenizer.ggml.pre = '" + std::string(pre) + "'");
}

struct regex_splitter::compiled {
    pcre2_code* code = nullptr;
    ~compiled() { pcre2_code_free(code); }
};

regex_splitter::regex_splitter(const std::vector<std::string>& regexes) {
    for (const auto& r : regexes) {
        int err = 0;
        PCRE2_SIZE err_off = 0;
        // DOLLAR_ENDONLY: '$' means the end of the piece, as in std::regex's ECMAScript grammar.
        pcre2_code* code =
            pcre2_compile(reinterpret_cast<PCRE2_SPTR>(r.data()), r.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
        if (code == nullptr) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            throw error("pre-tokenizer regex '" + r + "' does not compile at offset " + std::to_string(err_off) + ": " +
                        reinterpret_cast<const char*>(msg));
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
        auto c = std::make_unique<compiled>();
        c->code = code;
        regexes_.push_back(std::move(c));
    }
}

regex_splitter::~regex_splitter() = default;

std::vector<std::pair<size_t, size_t>> regex_splitter::split(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> pieces;
    if (text.empty()) {
        return pieces;
    }
    pieces.emplace_back(0, text.size());
    std::vector<std::pair<size_t, size_t>> next;
    // Lookahead-heavy regexes (gpt-4o, tekken) recurse per character under JIT: give them room.
    pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(mctx, nullptr, jit_stack);
    for (const auto& re : regexes_) {
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
        next.clear();
        for (const auto& [b, e] : pieces) {
            // Each piece is the whole subject: lookarounds and '$' do not see past its ends.
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + b);
            const size_t len = e - b;
            size_t pos = 0;
            size_t last_end = 0;
            while (pos < len) {
                int rc = pcre2_match(re->code, subject, len, pos, PCRE2_NO_UTF_CHECK, md, mctx);
                if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {  // JIT limits: retry with the interpreter
                    rc = pcre2_match(re->code, subject, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, mctx);
                }
                if (rc < 0) {
                    break;  // no match, or a resource limit even so: the rest stays one piece
                }
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                const size_t m_begin = ov[0];
                const size_t m_end = ov[1];
                if (m_end == m_begin) {  // empty match: skip one character
                    pos = m_end + utf8_len(text[b + m_end]);
                    continue;
                }
                if (m_begin > last_end) {
                    next.emplace_back(b + last_end, b + m_begin);
                }
                next.emplace_back(b + m_begin, b + m_end);
                last_end = pos = m_end;
            }
            if (last_end < len) {
                next.emplace_back(b + last_end, e);
            }
        }
        pcre2_match_data_free(md);
        pieces.swap(next);
    }
    pcre2_match_context_free(mctx);
    pcre2_jit_stack_free(jit_stack);
    return pieces;
}

std::string sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
        const size_t start = off;
        uint32_t cpt = utf8_decode(text, off);
        const bool canonical_len = (off - start) == (cpt < 0x80 ? 1u : cpt < 0x800 ? 2u : cpt < 0x10000 ? 3u : 4u);
        if ((cpt >= 0xD800 && cpt <= 0xDFFF) || cpt >= 0x110000) {
            cpt = 0xFFFD;
        }
        if (canonical_len && cpt != 0xFFFD) {
            out.append(text.substr(start, off - start));
        } else {
            utf8_append(out, cpt);
        }
    }
    return out;
}

}  // namespace tandem::tok
