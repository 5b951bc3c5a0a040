// The arguments rewriter (an explicit stack, so deep nesting cannot overflow the call stack) and the
// call-head scanner. Scalars and strings are re-serialised by nlohmann itself, so a whole object's
// rewrite equals what parsing it and dumping it gives (keys in the text's order, duplicates kept).
#include "server/chat/chat_args.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "common/utf8.h"

namespace tandem {
namespace {

using ojson = nlohmann::ordered_json;
enum class step { ok, more, bad };

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

size_t skip_ws(std::string_view s, size_t i) {
    while (i < s.size() && is_space(s[i])) ++i;
    return i;
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Text as the inside of a JSON string (valid UTF-8 in, nlohmann's escapes out).
std::string escaped(const std::string& raw) {
    const std::string q = nlohmann::json(raw).dump();
    return q.substr(1, q.size() - 2);
}

// The length of the UTF-8 sequence at s[i] (the well-formed table, as JSON parsers check it);
// 0: invalid; npos: cut off by the end of s.
size_t utf8_length(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (size_t k = 1; k < n; ++k) {
        if (i + k >= s.size()) return std::string_view::npos;
        const unsigned char x = b(i + k);
        if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xBF)) return 0;
    }
    return n;
}

// Four hex digits at s[i] as a code unit; -1 if not hex, -2 if cut off.
int32_t hex4(std::string_view s, size_t i) {
    int32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
        if (i + k >= s.size()) return -2;
        const char c = s[i + k];
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

class args_writer {
  public:
    args_writer(std::string_view in, const gram::value_syntax& syn) : in_(in), syn_(syn) {}
    args_rewrite run(args_resume* resume);

  private:
    enum class expect { key_or_close, key, colon, value_or_close, value, comma_or_close };
    struct frame {
        bool object;
        expect next;
    };
    step value();
    step key();
    step open(char c);
    step close(char c);
    step json_string();
    step json_string_body();
    step raw_string();
    step raw_string_body();
    void load(args_resume& r);  // takes r's output
    void save(args_resume& r);  // gives its output to r
    step bare_key();
    step scalar();

    std::string_view in_;
    const gram::value_syntax& syn_;
    size_t i_ = 0;
    std::string out_;
    std::vector<frame> stack_;
    uint8_t in_string_ = 0;  // the last step stopped for more text inside a string (args_resume)
};

// A frame as one byte: bit 3 object, bits 0-2 what it expects next.
void args_writer::load(args_resume& r) {
    i_ = r.i;
    out_ = std::move(r.out);
    stack_.clear();
    for (uint8_t b : r.stack) stack_.push_back({(b & 8) != 0, static_cast<expect>(b & 7)});
}

void args_writer::save(args_resume& r) {
    r.i = i_;
    r.out = std::move(out_);
    r.stack.clear();
    for (const frame& f : stack_)
        r.stack.push_back(static_cast<uint8_t>((f.object ? 8 : 0) | static_cast<int>(f.next)));
    r.in_string = in_string_;
}

// With `resume`, a stop inside a string goes on in that string; any other stop goes back to the
// token it was reading (its checkpoint: position, output length, the top frame's expectation).
args_rewrite args_writer::run(args_resume* resume) {
    args_rewrite r;
    step st;
    if (resume && !resume->stack.empty()) {
        load(*resume);
        st = resume->in_string == 0 ? step::ok : resume->in_string == 1 ? json_string_body() : raw_string_body();
    } else {
        st = in_.empty() ? step::more : in_[0] == '{' ? open('{') : step::bad;
    }
    struct checkpoint {
        size_t i, n_out;
        frame top;
    } cp{i_, out_.size(), {}};
    while (st == step::ok && !stack_.empty()) {
        i_ = skip_ws(in_, i_);
        cp = {i_, out_.size(), stack_.back()};
        in_string_ = 0;
        if (i_ >= in_.size()) {
            st = step::more;
            break;
        }
        frame& f = stack_.back();
        const char c = in_[i_];
        const char closer = f.object ? '}' : ']';
        switch (f.next) {
            case expect::key_or_close:
            case expect::value_or_close:
                if (c == closer) {
                    st = close(c);
                    break;
                }
                f.next = f.object ? expect::key : expect::value;
                break;
            case expect::key:
                f.next = expect::colon;
                st = key();
                break;
            case expect::colon:
                if (c != ':') {
                    st = step::bad;
                    break;
                }
                out_ += ':';
                ++i_;
                f.next = expect::value;
                break;
            case expect::value:
                f.next = expect::comma_or_close;  // before value(), which may push a frame
                st = value();
                break;
            case expect::comma_or_close:
                if (c == closer) {
                    st = close(c);
                } else if (c == ',') {
                    out_ += ',';
                    ++i_;
                    f.next = f.object ? expect::key : expect::value;
                } else {
                    st = step::bad;
                }
                break;
        }
    }
    bool saved = false;
    if (resume) {
        *resume = args_resume{};
        if (st == step::more && !stack_.empty()) {  // the stop to go on from; its text stays there
            if (in_string_ == 0) {
                i_ = cp.i;
                out_.resize(cp.n_out);  // (nothing is written between a checkpoint and such a stop)
                stack_.back() = cp.top;
            }
            save(*resume);
            saved = true;
        }
    }
    if (!saved) r.json = std::move(out_);
    r.bad = st == step::bad;
    if (st == step::ok) r.end = i_;
    return r;
}

step args_writer::open(char c) {
    out_ += c;
    ++i_;
    stack_.push_back({c == '{', c == '{' ? expect::key_or_close : expect::value_or_close});
    return step::ok;
}

step args_writer::close(char c) {
    out_ += c;
    ++i_;
    stack_.pop_back();
    return step::ok;
}

step args_writer::value() {
    const std::string_view rest = in_.substr(i_);
    if (rest.starts_with(syn_.quote)) return syn_.raw_strings ? raw_string() : json_string();
    if (syn_.quote.starts_with(rest)) return step::more;  // a quote cut off
    if (rest[0] == '{' || rest[0] == '[') return open(rest[0]);
    return scalar();
}

step args_writer::key() {
    const std::string_view rest = in_.substr(i_);
    if (rest.starts_with(syn_.quote)) return syn_.raw_strings ? raw_string() : json_string();
    if (syn_.bare_keys) return syn_.quote.starts_with(rest) ? step::more : bare_key();
    return step::bad;
}

// "..." with JSON's escapes; the characters read so far are written (escaping is per character, so
// a string may stop at any character and go on later).
step args_writer::json_string() {
    out_ += '"';
    ++i_;
    return json_string_body();
}

step args_writer::json_string_body() {
    std::string raw;
    const auto stop = [&](step s) {
        out_ += escaped(raw);
        if (s == step::more) in_string_ = 1;  // i_ is at the first character not written
        return s;
    };
    while (i_ < in_.size()) {
        const char c = in_[i_];
        if (c == '"') {
            out_ += escaped(raw) + '"';
            ++i_;
            return step::ok;
        }
        if (static_cast<unsigned char>(c) < 0x20) return stop(step::bad);
        if (c != '\\') {
            const size_t n = utf8_length(in_, i_);
            if (n == 0) return stop(step::bad);
            if (n == std::string_view::npos) return stop(step::more);
            raw.append(in_.substr(i_, n));
            i_ += n;
            continue;
        }
        if (i_ + 1 >= in_.size()) return stop(step::more);
        const char e = in_[i_ + 1];
        static constexpr std::string_view simple = "\"\\/bfnrt", meaning = "\"\\/\b\f\n\r\t";
        if (const size_t k = simple.find(e); k != std::string_view::npos) {
            raw += meaning[k];
            i_ += 2;
            continue;
        }
        if (e != 'u') return stop(step::bad);
        int32_t cp = hex4(in_, i_ + 2);
        if (cp < 0) return stop(cp == -2 ? step::more : step::bad);
        size_t used = 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return stop(step::bad);  // a low surrogate first
        if (cp >= 0xD800 && cp <= 0xDBFF) {                        // a pair: \uD8xx\uDCxx
            const std::string_view next = in_.substr(i_ + 6);
            if (next.size() < 2) return stop(std::string_view("\\u").starts_with(next) ? step::more : step::bad);
            if (!next.starts_with("\\u")) return stop(step::bad);
            const int32_t lo = hex4(in_, i_ + 8);
            if (lo < 0) return stop(lo == -2 ? step::more : step::bad);
            if (lo < 0xDC00 || lo > 0xDFFF) return stop(step::bad);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            used = 12;
        }
        append_utf8(raw, static_cast<uint32_t>(cp));
        i_ += used;
    }
    return stop(step::more);
}

// quote, any text without the quote (no escapes), quote. Held back while open: the text that may
// begin the quote and a cut UTF-8 sequence.
step args_writer::raw_string() {
    i_ += syn_.quote.size();
    out_ += '"';
    return raw_string_body();
}

step args_writer::raw_string_body() {
    const std::string& q = syn_.quote;
    const size_t close = in_.find(q, i_);
    std::string_view text = in_.substr(i_, close == std::string_view::npos ? std::string_view::npos : close - i_);
    if (close == std::string_view::npos) {
        for (size_t k = std::min(text.size(), q.size() - 1); k > 0; --k) {
            if (text.ends_with(std::string_view(q).substr(0, k))) {
                text.remove_suffix(k);
                break;
            }
        }
    }
    size_t valid = 0;
    while (valid < text.size()) {
        const size_t n = utf8_length(text, valid);
        if (n == 0) return step::bad;
        if (n == std::string_view::npos) {
            if (close != std::string_view::npos) return step::bad;  // cut by the closing quote
            break;
        }
        valid += n;
    }
    out_ += escaped(std::string(text.substr(0, valid)));
    if (close == std::string_view::npos) {
        i_ += valid;  // the held-back end (a quote's start, a cut character) is read again
        in_string_ = 2;
        return step::more;
    }
    out_ += '"';
    i_ = close + q.size();
    return step::ok;
}

// A key written as a name (Gemma 4): up to the ':', white space around it.
step args_writer::bare_key() {
    const size_t colon = in_.find(':', i_);
    std::string_view k = in_.substr(i_, colon == std::string_view::npos ? std::string_view::npos : colon - i_);
    size_t n = 0;
    while (n < k.size() && is_name_char(k[n])) ++n;
    if (skip_ws(k, n) != k.size()) return step::bad;  // something other than a name and white space
    if (colon == std::string_view::npos) return step::more;
    if (n == 0) return step::bad;
    out_ += '"' + escaped(std::string(k.substr(0, n))) + '"';
    i_ = colon;
    return step::ok;
}

// A number, true, false or null, printed by nlohmann once its end is seen.
step args_writer::scalar() {
    size_t e = i_;
    while (e < in_.size() && !is_space(in_[e]) && in_[e] != ',' && in_[e] != '}' && in_[e] != ']') ++e;
    if (e == in_.size()) return step::more;
    const ojson v = ojson::parse(in_.substr(i_, e - i_), nullptr, false);
    if (v.is_discarded() || v.is_structured() || v.is_string()) return step::bad;
    out_ += v.dump();
    i_ = e;
    return step::ok;
}

// Matches `lit` at text[i] ignoring white space in both: 1 matched (i moves past it), 0 the text
// ends first, -1 something else.
int match_loose(std::string_view text, size_t& i, std::string_view lit) {
    size_t j = i;
    for (char c : lit) {
        if (is_space(c)) continue;
        j = skip_ws(text, j);
        if (j >= text.size()) return 0;
        if (text[j] != c) return -1;
        ++j;
    }
    i = j;
    return 1;
}

// A JSON string at text[i] (white space first) as a non-empty name: 1 read (i moves past it), 0 the
// text ends first, -1 something else.
int json_name(std::string_view text, size_t& i, std::string& name) {
    size_t j = skip_ws(text, i);
    if (j >= text.size()) return 0;
    if (text[j] != '"') return -1;
    size_t e = j + 1;
    while (e < text.size() && text[e] != '"') e += text[e] == '\\' ? 2 : 1;
    if (e >= text.size()) return 0;
    const ojson v = ojson::parse(text.substr(j, e + 1 - j), nullptr, false);
    if (v.is_discarded() || !v.is_string() || v.get<std::string>().empty()) return -1;
    name = v.get<std::string>();
    i = e + 1;
    return 1;
}

// A call's head up to its arguments' '{': the name inline, or {"name": N, "arguments"|"parameters":.
// 1 read (i moves past it), 0 the text ends first, -1 not the shape.
int read_head(const tool_call_shape& sh, std::string_view text, size_t& i, std::string& name) {
    if (sh.args_at == tool_args_at::inline_) {
        size_t j = skip_ws(text, i), e = j;
        while (e < text.size() && is_name_char(text[e])) ++e;
        if (e >= text.size()) return 0;
        if (e == j) return -1;
        name = std::string(text.substr(j, e - j));
        i = e;
        return match_loose(text, i, sh.name_suffix);
    }
    for (int m : {match_loose(text, i, "{\"name\":"), json_name(text, i, name), match_loose(text, i, ",")})
        if (m != 1) return m;
    size_t j = i;
    int m = match_loose(text, j, "\"arguments\":");
    if (m < 0) {
        j = i;
        m = match_loose(text, j, "\"parameters\":");
    }
    if (m == 1) i = j;
    return m;
}

}  // namespace

// One shape's reading of a section: the calls read so far, the last one's arguments maybe open.
class call_scan::shape_reader {
  public:
    shape_reader(tool_call_shape sh, std::string marker) : sh_(std::move(sh)), marker_(std::move(marker)) {}
    void read(std::string_view text);
    bool off() const { return phase_ == phase::off; }
    const std::vector<call_head>& heads() const { return heads_; }
    std::string_view args(size_t j) const {
        return j + 1 == heads_.size() && phase_ == phase::args ? std::string_view(resume_.out) : heads_[j].args.json;
    }

  private:
    // What is read next: the prefix, a call (separator, call prefix, head up to the arguments' '{'),
    // the open call's arguments, what closes the call; off: the text left the shape.
    enum class phase { prefix, call, args, suffix, off };
    int read_call(std::string_view text);  // 1 a head was read, 0 more text is needed, -1 off
    int read_suffix(std::string_view text);

    tool_call_shape sh_;
    std::string marker_;
    phase phase_ = phase::prefix;
    std::vector<call_head> heads_;  // the last one's json is empty while its arguments are open
    size_t at_ = 0;                 // phase call: where the next call (its separator) starts
    size_t args_at_ = 0;            // phase args: the open call's '{'; phase suffix: past its '}'
    args_resume resume_;            // phase args: where its arguments were read to, their text so far
};

void call_scan::shape_reader::read(std::string_view text) {
    for (;;) {
        int m = 0;
        switch (phase_) {
            case phase::prefix: {
                // A section that opens at its separator (functionary v3.2's ">>>") starts right after it.
                size_t i = !marker_.empty() && sh_.prefix.empty() && marker_ == sh_.separator ? marker_.size() : 0;
                m = match_loose(text, i, sh_.prefix);
                if (m == 1) {
                    at_ = i;
                    phase_ = phase::call;
                }
                break;
            }
            case phase::call:
                m = read_call(text);
                if (m == 1) phase_ = phase::args;
                break;
            case phase::args: {
                args_rewrite r = rewrite_args_at(text, args_at_, sh_.args, &resume_);
                if (r.bad) {
                    heads_.pop_back();
                    m = -1;
                } else if (r.whole()) {
                    args_at_ += r.end;
                    heads_.back().args = std::move(r);
                    phase_ = phase::suffix;
                    m = 1;
                }
                break;
            }
            case phase::suffix:
                m = read_suffix(text);
                if (m == 1) phase_ = phase::call;
                break;
            case phase::off:
                return;
        }
        if (m < 0) phase_ = phase::off;
        if (m != 1) return;
    }
}

int call_scan::shape_reader::read_call(std::string_view text) {
    size_t i = at_;
    call_head h;
    if (!heads_.empty())
        if (const int m = match_loose(text, i, sh_.separator); m != 1) return m;
    if (const int m = match_loose(text, i, sh_.call_prefix); m != 1) return m;
    if (const int m = read_head(sh_, text, i, h.name); m != 1) return m;
    i = skip_ws(text, i);
    if (i >= text.size()) return 0;
    if (text[i] != '{') return -1;
    args_at_ = i;
    resume_ = {};
    heads_.push_back(std::move(h));
    return 1;
}

int call_scan::shape_reader::read_suffix(std::string_view text) {
    size_t i = args_at_;
    if (sh_.args_at != tool_args_at::inline_)
        if (const int m = match_loose(text, i, "}"); m != 1) return m;
    const int m = match_loose(text, i, sh_.call_suffix);
    if (m == 1) at_ = i;
    return m;
}

call_scan::call_scan(const chat_syntax& s, std::string marker) {
    readers_.emplace_back(s.shape, marker);
    for (const tool_call_shape& sh : s.other_shapes) readers_.emplace_back(sh, marker);
}

call_scan::call_scan(const call_scan&) = default;
call_scan::call_scan(call_scan&&) noexcept = default;
call_scan& call_scan::operator=(const call_scan&) = default;
call_scan& call_scan::operator=(call_scan&&) noexcept = default;
call_scan::~call_scan() = default;

// The shapes are read side by side until one has read a call's name; the family's shapes differ
// before that (so which one is kept does not depend on how the text was cut).
void call_scan::read(std::string_view text) {
    for (shape_reader& r : readers_) r.read(text);
    if (readers_.size() < 2) return;
    for (size_t k = 0; k < readers_.size(); ++k) {
        if (readers_[k].heads().empty()) continue;
        shape_reader kept = std::move(readers_[k]);
        readers_.clear();
        readers_.push_back(std::move(kept));
        return;
    }
    std::erase_if(readers_, [](const shape_reader& r) { return r.off(); });
}

const std::vector<call_head>& call_scan::heads() const {
    static const std::vector<call_head> none;
    return readers_.empty() ? none : readers_[0].heads();  // (no reader has a head while several are left)
}

std::string_view call_scan::args(size_t j) const {
    return readers_[0].args(j);
}

args_rewrite rewrite_args(std::string_view text, const gram::value_syntax& syntax, args_resume* resume) {
    return args_writer(text, syntax).run(resume);
}

args_rewrite rewrite_args_at(std::string_view text, size_t i, const gram::value_syntax& syntax, args_resume* resume) {
    if (!resume) return rewrite_args(text.substr(i), syntax);
    const bool same = resume->start == i;
    args_resume next;
    args_rewrite r = rewrite_args(text.substr(i), syntax, same ? resume : &next);
    if (!same && !next.stack.empty()) *resume = std::move(next);  // an open call: its stop replaces the last
    if (!resume->stack.empty() && (same || resume->start == std::string_view::npos)) resume->start = i;
    return r;
}

std::vector<call_head> scan_call_heads(const chat_syntax& s, std::string_view text, std::string_view marker) {
    call_scan scan(s, std::string(marker));
    scan.read(text);
    if (scan.size() == 0) return {};
    std::vector<call_head> heads = scan.heads();
    heads.back().args.json = std::string(scan.args(heads.size() - 1));
    return heads;
}

}  // namespace tandem
