// tokenizer: loading the vocab from GGUF metadata (types, special ids, llama.cpp's per-model
// defaults) and encode/decode around the algorithms in algorithms.cpp.
// Defaults and quirks follow llama.cpp's src/llama-vocab.cpp (llama_vocab::impl::load) at the commit
// the golden files name (d32676d7).
#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab.h"
#include "models/gguf/gguf.h"

namespace tandem {

namespace {

constexpr std::string_view k_space_marker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
        out.append(s, pos, hit - pos);
        out.append(to);
    }
    out.append(s, pos, std::string::npos);
    s.swap(out);
}

// tokenizer.ggml.token_type values (gguf-py TokenType) -> attribute bits.
uint32_t attr_from_type(int64_t type) {
    switch (type) {
        case 1:
            return tok::attr_normal;
        case 2:
            return tok::attr_unknown;
        case 3:
            return tok::attr_control;
        case 4:
            return tok::attr_user_defined;
        case 5:
            return tok::attr_unused;
        case 6:
            return tok::attr_byte;
        default:
            return tok::attr_undefined;
    }
}

std::string where(const gguf::file& f, std::string_view key) {
    return f.path() + ": " + std::string(key);
}

}  // namespace

tokenizer::tokenizer() : vocab_(std::make_unique<tok::vocab>()) {}
tokenizer::~tokenizer() = default;

std::unique_ptr<tokenizer> tokenizer::from_gguf(const gguf::file& f) {
    std::unique_ptr<tokenizer> t(new tokenizer());
    t->load_kind(f);
    t->load_tokens(f);
    t->load_special(f);
    t->finish_special(f);
    return t;
}

void tokenizer::load_kind(const gguf::file& f) {
    const auto model = f.get_string("tokenizer.ggml.model");
    if (!model) {
        throw error(where(f, "tokenizer.ggml.model") + " is missing (the file has no vocabulary)");
    }
    const std::string pre(f.get_string("tokenizer.ggml.pre").value_or(""));
    if (*model == "llama") {
        kind_ = kind::spm;
        bos_id_ = 1, eos_id_ = 2, vocab_->unk_id = 0;
        add_space_prefix_ = true, clean_spaces_ = false, add_bos_ = true, add_eos_ = false;
    } else if (*model == "bert") {
        kind_ = kind::wpm;
        bos_id_ = 101, eos_id_ = -1, vocab_->unk_id = 100, sep_id_ = 102;
        add_space_prefix_ = false, clean_spaces_ = true, add_bos_ = true, add_eos_ = false, add_sep_ = true;
        wpm_lowercase_ = f.get_bool("tokenizer.ggml.normalizer.lowercase").value_or(true);
        wpm_strip_accents_ = f.get_bool("tokenizer.ggml.normalizer.strip_accents").value_or(wpm_lowercase_);
    } else if (*model == "gpt2") {
        kind_ = kind::bpe;
        bos_id_ = 11, eos_id_ = 11, vocab_->unk_id = -1;
        tok::pre_config cfg;
        try {
            cfg = tok::pre_config_for(pre);
        } catch (const error& e) {
            throw error(where(f, "tokenizer.ggml.pre") + ": " + e.what());
        }
        splitter_ = std::make_unique<tok::regex_splitter>(cfg.regexes);
        add_space_prefix_ = false, clean_spaces_ = cfg.clean_spaces, ignore_merges_ = cfg.ignore_merges;
        add_bos_ = cfg.add_bos, add_eos_ = false;
        if (pre == "glm4" || pre == "chatglm-bpe") {
            bos_id_ = -1;
        }
    } else if (*model == "gemma4") {
        // SPM-style BPE: spaces become U+2581, merges run on raw UTF-8 split only at newlines,
        // byte fallback through <0xNN> tokens; BOS is always added (llama.cpp PR 21500).
        kind_ = kind::bpe;
        bos_id_ = -1, eos_id_ = -1, vocab_->unk_id = -1;
        splitter_ = std::make_unique<tok::regex_splitter>(std::vector<std::string>{"[^\\n]+|[\\n]+"});
        add_space_prefix_ = false, clean_spaces_ = true, add_bos_ = true, add_eos_ = false;
        escape_spaces_ = true, byte_level_ = false;
    } else {
        throw error(where(f, "tokenizer.ggml.model") + " = '" + std::string(*model) +
                    "' is not supported (supported: llama, gpt2, gemma4, bert)");
    }
    add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(add_space_prefix_);
}

void tokenizer::load_tokens(const gguf::file& f) {
    auto texts = f.get_string_array("tokenizer.ggml.tokens");
    if (!texts || texts->empty()) {
        throw error(where(f, "tokenizer.ggml.tokens") + " is missing or empty");
    }
    const size_t n = texts->size();
    std::vector<double> scores;
    if (const gguf::kv_entry* kv = f.find_kv("tokenizer.ggml.scores")) {
        if (kv->type == gguf::value_type::array && kv->elem_type == gguf::value_type::i32) {
            const std::vector<int64_t> ints = f.get_int_array("tokenizer.ggml.scores").value_or(std::vector<int64_t>{});
            scores.assign(ints.begin(), ints.end());
        } else {
            scores = *f.get_float_array("tokenizer.ggml.scores");
        }
        if (scores.size() < n) {
            throw error(where(f, "tokenizer.ggml.scores") + " has " + std::to_string(scores.size()) + " entries for " +
                        std::to_string(n) + " tokens");
        }
    }
    const auto types = f.get_int_array("tokenizer.ggml.token_type");
    if (types && types->size() < n) {
        throw error(where(f, "tokenizer.ggml.token_type") + " has " + std::to_string(types->size()) + " entries for " +
                    std::to_string(n) + " tokens");
    }
    tok::vocab& v = *vocab_;
    v.text.resize(n);
    v.score.assign(n, 0.0f);
    v.attrs.assign(n, tok::attr_normal);
    v.token_to_id.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        std::string word((*texts)[i]);
        if (word.empty()) {
            word = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp, so every id has a distinct text
        }
        if (!v.token_to_id.emplace(word, static_cast<int32_t>(i)).second) {
            throw error(where(f, "tokenizer.ggml.tokens") + ": duplicate token '" + word + "' at ids " +
                        std::to_string(v.token_to_id.find(word)->second) + " and " + std::to_string(i));
        }
        v.max_token_len = std::max(v.max_token_len, word.size());
        v.text[i] = std::move(word);
        if (!scores.empty()) v.score[i] = static_cast<float>(scores[i]);
        if (types) v.attrs[i] = attr_from_type((*types)[i]);
    }
    if (kind_ == kind::bpe) {
        const auto merges = f.get_string_array("tokenizer.ggml.merges");
        if (!merges) {
            throw error(where(f, "tokenizer.ggml.merges") + " is missing (required by the gpt2 tokenizer)");
        }
        v.bpe_ranks.reserve(merges->size());
        for (size_t i = 0; i < merges->size(); ++i) {
            const std::string_view m = (*merges)[i];
            if (m.find(' ', 1) != std::string_view::npos) {
                v.bpe_ranks.emplace(std::string(m), static_cast<int32_t>(i));  // first rank wins
            }
        }
    }
}

void tokenizer::load_special(const gguf::file& f) {
    const int32_t n = n_vocab();
    // A default outside the vocab is dropped; a key outside the vocab (4294967295 = "none" in many
    // converters) keeps the default, as llama.cpp does.
    const auto read_id = [&](std::string_view key, int32_t& id) {
        if (id >= n) id = -1;
        const auto value = f.get_i64(key);
        if (value && *value >= 0 && *value < n) id = static_cast<int32_t>(*value);
    };
    read_id("tokenizer.ggml.bos_token_id", bos_id_);
    read_id("tokenizer.ggml.eos_token_id", eos_id_);
    read_id("tokenizer.ggml.eot_token_id", eot_id_);
    read_id("tokenizer.ggml.eom_token_id", eom_id_);
    read_id("tokenizer.ggml.unknown_token_id", vocab_->unk_id);
    read_id("tokenizer.ggml.seperator_token_id", sep_id_);
    add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(add_bos_);
    add_eos_ = f.get_bool("tokenizer.ggml.add_eos_token").value_or(add_eos_);
    add_sep_ = f.get_bool("tokenizer.ggml.add_sep_token").value_or(add_sep_);
    if (escape_spaces_) add_bos_ = true;  // gemma4: llama.cpp overrides a false add_bos_token
    if (add_bos_ && bos_id_ < 0) {
        throw error(where(f, "tokenizer.ggml.add_bos_token") + " is true but there is no BOS token");
    }
    if (add_eos_ && eos_id_ < 0) {
        throw error(where(f, "tokenizer.ggml.add_eos_token") + " is true but there is no EOS token");
    }
}

// Token texts that llama.cpp takes for end-of-turn / end-of-generation when the metadata does not
// say (llama-vocab.cpp, "auto-detect special tokens by text").
// clang-format off
constexpr std::string_view k_eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["};
// clang-format on

// End-of-generation ids: eos/eot/eom plus the texts above (marked control, as llama.cpp does).
void tokenizer::detect_eog() {
    tok::vocab& v = *vocab_;
    const auto mark_control = [&](int32_t id) { v.attrs[id] |= tok::attr_control; };
    if (eot_id_ < 0) {
        for (std::string_view t : k_eot_texts) {
            if (const int32_t id = v.find(t); id >= 0) {
                eot_id_ = id, mark_control(id);
                break;
            }
        }
    }
    if (eom_id_ < 0) {
        if (const int32_t id = v.find("<|eom_id|>"); id >= 0) eom_id_ = id, mark_control(id);
    }
    for (std::string_view t : k_eog_texts) {
        if (const int32_t id = v.find(t); id >= 0) {
            eog_ids_.push_back(id), mark_control(id);
        }
    }
    for (const int32_t id : {eos_id_, eot_id_, eom_id_}) {
        if (id >= 0) eog_ids_.push_back(id);
    }
    // Harmony (gpt-oss) and solar-open: "<|end|>" ends a message, not the generation.
    const auto has = [&](std::string_view t) { return v.find(t) >= 0; };
    if (const int32_t end = v.find("<|end|>");
        end >= 0 && ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")))) {
        std::erase(eog_ids_, end);
        v.attrs[end] = tok::attr_user_defined;
    }
    // Gemma 4 (and paddleocr): "</s>" is an ordinary token there.
    if (const int32_t s = v.find("</s>"); s >= 0 && has("<|tool_response>")) {
        std::erase(eog_ids_, s);
        v.attrs[s] = tok::attr_normal;
    }
    std::sort(eog_ids_.begin(), eog_ids_.end());
    eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
}

// The special-token cache that encode() splits on, and per-model attribute fixes.
void tokenizer::finish_special(const gguf::file& f) {
    detect_eog();
    tok::vocab& v = *vocab_;
    for (int32_t id = 0; id < n_vocab(); ++id) {
        if ((v.attrs[id] & tok::attr_control) && v.text[id].find("unused") != std::string::npos) {
            v.attrs[id] |= tok::attr_unused;
        }
        if (v.attrs[id] & (tok::attr_control | tok::attr_user_defined | tok::attr_unknown)) {
            special_ids_.push_back(id);
        }
    }
    std::stable_sort(special_ids_.begin(), special_ids_.end(),
                     [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });

    // Phi-3 strips whitespace right of its special tokens (llama.cpp keys this on general.name).
    std::string name(f.get_string("general.name").value_or(""));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
        for (const int32_t id : special_ids_) v.attrs[id] |= tok::attr_rstrip;
        for (std::string_view t : {"</s>"}) {
            if (const int32_t id = v.find(t); id >= 0) v.attrs[id] |= tok::attr_rstrip;
        }
        for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) {
            if (const int32_t id = v.find(t); id >= 0) v.attrs[id] &= ~tok::attr_rstrip;
        }
    }
}

int32_t tokenizer::n_vocab() const {
    return vocab_->n_vocab();
}
int32_t tokenizer::unk_id() const {
    return vocab_->unk_id;
}

bool tokenizer::is_eog(int32_t id) const {
    return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

bool tokenizer::is_control(int32_t id) const {
    return id >= 0 && id < n_vocab() && (vocab_->attrs[id] & tok::attr_control);
}

std::string_view tokenizer::token_text(int32_t id) const {
    return id >= 0 && id < n_vocab() ? std::string_view(vocab_->text[id]) : std::string_view();
}

std::vector<tokenizer::fragment> tokenizer::partition(std::string_view text, bool parse_special) const {
    std::vector<fragment> frags;
    if (!text.empty()) frags.push_back({-1, 0, text.size()});
    std::vector<fragment> next;
    const auto is_space = [&](size_t i) { return std::isspace(static_cast<unsigned char>(text[i])) != 0; };
    for (const int32_t id : special_ids_) {
        const uint32_t a = vocab_->attrs[id];
        if (!parse_special && (a & (tok::attr_control | tok::attr_unknown))) {
            continue;  // user-defined tokens are matched even then (HF tokenizers do the same)
        }
        const std::string& st = vocab_->text[id];
        next.clear();
        for (const fragment& fr : frags) {
            size_t b = fr.begin;
            size_t hit;
            if (fr.token >= 0 || (hit = text.substr(0, fr.end).find(st, b)) == std::string_view::npos) {
                next.push_back(fr);
                continue;
            }
            do {
                size_t left_end = hit;
                if (a & tok::attr_lstrip) {
                    while (left_end > b && is_space(left_end - 1)) --left_end;
                }
                if (left_end > b) next.push_back({-1, b, left_end});
                next.push_back({id, hit, hit + st.size()});
                b = hit + st.size();
                if (a & tok::attr_rstrip) {
                    while (b < fr.end && is_space(b)) ++b;
                }
            } while (b < fr.end && (hit = text.substr(0, fr.end).find(st, b)) != std::string_view::npos);
            if (b < fr.end) next.push_back({-1, b, fr.end});
        }
        frags.swap(next);
    }
    return frags;
}

void tokenizer::encode_bpe_fragment(std::string_view text, std::vector<int32_t>& out) const {
    std::string clean = tok::sanitize_utf8(text);
    if (escape_spaces_) replace_all(clean, " ", k_space_marker);
    std::string word;
    for (const auto& [b, e] : splitter_->split(clean)) {
        if (!byte_level_) {
            word.assign(clean, b, e - b);
            // gemma4: a run of newlines that is itself a token is taken whole (llama.cpp PR 21343)
            const int32_t id = word.find_first_not_of('\n') == std::string::npos ? vocab_->find(word) : -1;
            if (id >= 0) {
                out.push_back(id);
            } else {
                tok::bpe_encode_word(*vocab_, word, ignore_merges_, false, out);
            }
            continue;
        }
        word.clear();
        for (size_t i = b; i < e; ++i) word += tok::byte_to_unicode(static_cast<uint8_t>(clean[i]));
        tok::bpe_encode_word(*vocab_, word, ignore_merges_, true, out);
    }
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    std::vector<int32_t> out;
    const std::vector<fragment> frags = partition(text, parse_special);
    if (add_special && (add_bos_ || kind_ == kind::wpm) && bos_id_ >= 0) out.push_back(bos_id_);
    bool prev_special = true;  // SPM: the first raw fragment gets the leading space too
    for (const fragment& fr : frags) {
        if (fr.token >= 0) {
            out.push_back(fr.token);
            prev_special = true;
            continue;
        }
        const std::string_view raw = text.substr(fr.begin, fr.end - fr.begin);
        switch (kind_) {
            case kind::spm: {
                std::string s = add_space_prefix_ && prev_special ? " " : "";
                s += raw;
                replace_all(s, " ", k_space_marker);
                tok::spm_encode(*vocab_, s, out);
                break;
            }
            case kind::bpe:
                encode_bpe_fragment(raw, out);
                break;
            case kind::wpm:
                tok::wpm_encode(*vocab_, raw, wpm_lowercase_, wpm_strip_accents_, out);
                break;
        }
        prev_special = false;
    }
    if (add_special && kind_ == kind::wpm && sep_id_ >= 0) out.push_back(sep_id_);
    if (add_special && kind_ != kind::wpm && add_eos_ && eos_id_ >= 0) out.push_back(eos_id_);
    return out;
}

}  // namespace tandem
