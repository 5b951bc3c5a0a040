// The answer-splitting state machine. All decisions are made on the text from pos_ on: a marker is
// only acted on once whole, text that may still begin one is held, and a call section is taken only
// when its grammar (chat_calls.cpp) has read it whole, so chunk boundaries never change a result.
#include "server/chat/chat_output.h"

#include <nlohmann/json.hpp>

#include "server/chat/chat_args.h"
#include "server/chat/chat_calls.h"

namespace tandem {
namespace {

constexpr std::string_view k_message = "<|message|>", k_channel = "<|channel|>", k_start = "<|start|>";

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

size_t skip_ws(const std::string& s, size_t i) {
    while (i < s.size() && is_space(s[i])) ++i;
    return i;
}

struct marker_hit {
    size_t at = std::string::npos;
    size_t index = 0;
};

// The first marker at or after `from` (each marker searched only as far as an earlier hit).
marker_hit find_first(const std::string& s, size_t from, const std::vector<std::string>& markers) {
    marker_hit hit;
    for (size_t m = 0; m < markers.size(); ++m) {
        const std::string_view within =
            std::string_view(s).substr(0, hit.at == std::string::npos ? s.size() : hit.at + markers[m].size());
        const size_t at = within.find(markers[m], from);
        if (at < hit.at) hit = {at, m};
    }
    return hit;
}

// The first position at or after `from` from which the rest of `s` could still grow into a marker.
size_t held_from(const std::string& s, size_t from, const std::vector<std::string>& markers) {
    size_t longest = 0;
    for (const std::string& m : markers) longest = std::max(longest, m.size());
    for (size_t j = std::max(from, s.size() >= longest ? s.size() - longest + 1 : 0); j < s.size(); ++j) {
        const size_t tail = s.size() - j;
        for (const std::string& m : markers)
            if (m.size() > tail && m.compare(0, tail, s, j, tail) == 0) return j;
    }
    return s.size();
}

bool prefix_of(std::string_view whole, std::string_view part) {
    return whole.size() > part.size() && whole.starts_with(part);
}

// A header word after `key` (a channel name, a recipient), ending at white space or a marker.
std::string header_word(std::string_view header, std::string_view key) {
    const size_t at = header.find(key);
    if (at == std::string_view::npos) return "";
    size_t i = at + key.size(), end = i;
    while (end < header.size() && !is_space(header[end]) && header[end] != '<') ++end;
    return std::string(header.substr(i, end - i));
}

}  // namespace

chat_output_parser::chat_output_parser(chat_syntax syntax, chat_parse_options opts)
    : syntax_(std::move(syntax)), opts_(opts), rng_(opts.id_seed ? opts.id_seed : std::random_device{}()) {
    if (opts_.parse_tools) call_markers_ = tool_call_markers(syntax_.tools);
}

chat_delta chat_output_parser::push(std::string_view text) {
    if (pos_ > 4096 && mode_ != mode::harmony_body) {  // the decided text is no longer needed
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_ += text;
    chat_delta out;
    run(false, out);
    return out;
}

chat_delta chat_output_parser::finish(bool cut) {
    chat_delta out;
    cut_ = cut;
    run(true, out);
    if (pos_ < buf_.size()) emit_content(std::string_view(buf_).substr(pos_), out);  // nothing should be left
    pos_ = buf_.size();
    return out;
}

void chat_output_parser::run(bool final, chat_delta& out) {
    for (;;) {
        bool progressed = false;
        switch (mode_) {
            case mode::start:
                progressed = step_start(final);
                break;
            case mode::reasoning:
                progressed = step_reasoning(final, out);
                break;
            case mode::content_start:
                progressed = step_content_start(final, out);
                break;
            case mode::content:
                progressed = step_content(final, out);
                break;
            case mode::harmony_header:
                progressed = step_harmony_header(final, out);
                break;
            case mode::harmony_body:
                progressed = step_harmony_body(final, out);
                break;
        }
        if (!progressed) return;
    }
}

// The answer's first text: does it open the reasoning block?
bool chat_output_parser::step_start(bool final) {
    if (syntax_.tools == tool_format::harmony) {
        mode_ = mode::harmony_header;
        if (opts_.reasoning_open) {  // the prompt opened the analysis message
            harmony_kind_ = opts_.split_reasoning ? body_kind::reasoning : body_kind::as_written;
            harmony_searched_ = pos_;
            mode_ = mode::harmony_body;
        }
        return true;
    }
    if (!opts_.split_reasoning || syntax_.think_start.empty()) {
        mode_ = mode::content_start;
        return true;
    }
    if (opts_.reasoning_open) {
        mode_ = mode::reasoning;
        return true;
    }
    const size_t i = skip_ws(buf_, pos_);
    const std::string_view rest = std::string_view(buf_).substr(i);
    if (rest.starts_with(syntax_.think_start)) {
        pos_ = i + syntax_.think_start.size();
        mode_ = mode::reasoning;
        return true;
    }
    if ((rest.empty() || prefix_of(syntax_.think_start, rest)) && !final) return false;
    mode_ = mode::content_start;
    return true;
}

// Reasoning text up to the end marker (Gemma 4: or a tool call), trimmed of white space at both ends.
bool chat_output_parser::step_reasoning(bool final, chat_delta& out) {
    std::vector<std::string> stops = {syntax_.think_end};
    if (syntax_.tools == tool_format::gemma4) stops.push_back("<|tool_call>");
    if (!reasoning_started_) {
        pos_ = skip_ws(buf_, pos_);
        if (pos_ == buf_.size()) return false;
        reasoning_started_ = true;
    }
    const marker_hit hit = find_first(buf_, pos_, stops);
    size_t end = hit.at != std::string::npos ? hit.at : final ? buf_.size() : held_from(buf_, pos_, stops);
    size_t shown = end;
    while (shown > pos_ && is_space(buf_[shown - 1])) --shown;  // trailing white space waits for more text
    out.reasoning.append(buf_, pos_, shown - pos_);
    pos_ = shown;
    if (hit.at != std::string::npos) {
        pos_ = hit.at + (hit.index == 0 ? stops[0].size() : 0);
        mode_ = mode::content_start;
        trim_content_ws_ = true;
        return true;
    }
    if (final) pos_ = buf_.size();
    return false;
}

// The content's start: formats whose calls open the answer without a marker are tried here.
bool chat_output_parser::step_content_start(bool final, chat_delta& out) {
    if (trim_content_ws_) pos_ = skip_ws(buf_, pos_);
    if (opts_.parse_tools && syntax_.tools != tool_format::none) {
        const bool recipient_line = syntax_.tools == tool_format::functionary_32;
        const size_t i = skip_ws(buf_, pos_);
        if (i == buf_.size() && !final) return false;
        if (recipient_line || tool_call_at_start(syntax_.tools, std::string_view(buf_).substr(pos_))) {
            if (!take_section("", final, out)) return false;
            if (mode_ == mode::content) return true;
        }
    }
    mode_ = mode::content;
    return true;
}

bool chat_output_parser::step_content(bool final, chat_delta& out) {
    if (trim_content_ws_) {
        pos_ = skip_ws(buf_, pos_);
        if (pos_ == buf_.size()) return false;
        trim_content_ws_ = false;
    }
    const marker_hit hit = find_first(buf_, pos_, call_markers_);
    if (hit.at != std::string::npos) {
        emit_content(std::string_view(buf_).substr(pos_, hit.at - pos_), out);
        pos_ = hit.at;
        return take_section(call_markers_[hit.index], final, out);
    }
    const size_t end = final ? buf_.size() : held_from(buf_, pos_, call_markers_);
    emit_content(std::string_view(buf_).substr(pos_, end - pos_), out);
    pos_ = end;
    return false;
}

bool chat_output_parser::take_section(std::string_view marker, bool final, chat_delta& out) {
    const std::string marker_text(marker);  // call_markers_ may be the marker's owner; keep a copy
    const std::string_view rest = std::string_view(buf_).substr(pos_);
    call_section sec = parse_call_section(syntax_.tools, rest, marker_text, final, &section_);
    if (sec.what == call_section::status::need_more && !final) {
        if (!scan_) scan_.emplace(syntax_, marker_text);
        scan_->read(rest);
        for (size_t j = 0; j < scan_->size() && may_add_call(j); ++j)
            stream_call(j, scan_->heads()[j].name, scan_->args(j), out);
        return false;
    }
    section_ = {};  // the section is decided: the next one starts afresh
    scan_.reset();
    mode_ = mode::content;
    // (A malformed section fails while text still comes; one open at the end was cut short.)
    if (sec.what != call_section::status::ok && final && keep_cut_calls(out)) return false;
    if (sec.what != call_section::status::ok) {  // not a call after all: the text stays content
        open_.clear();
        emit_content(marker_text, out);
        pos_ += marker_text.size();
        return true;
    }
    complete_calls(sec.calls, scan_call_heads(syntax_, rest.substr(0, sec.consumed), marker_text), out);
    pos_ += sec.consumed;
    trim_content_ws_ = !sec.content_follows;
    return true;
}

bool chat_output_parser::may_add_call(size_t j) const {
    return opts_.parallel_tool_calls || n_calls_ + static_cast<int32_t>(j) == 0;
}

bool chat_output_parser::keep_cut_calls(chat_delta& out) {
    if (!cut_ || open_.empty()) return false;
    for (open_call& o : open_) {
        out.calls.push_back({call_id(static_cast<size_t>(n_calls_)), std::move(o.name), std::move(o.sent)});
        ++n_calls_;
    }
    open_.clear();
    pos_ = buf_.size();
    return true;
}

// The section's j-th call begins in the stream (id and name) if it has not, and sends the argument
// text it added. Called for j = 0, 1, ... in order.
void chat_output_parser::stream_call(size_t j, const std::string& name, std::string_view args, chat_delta& out) {
    if (j == open_.size()) {
        open_.push_back({n_streamed_++, name, ""});
        out.call_deltas.push_back({open_.back().index, call_id(static_cast<size_t>(n_calls_) + j), name, ""});
    }
    open_call& c = open_[j];
    // A call's name and arguments only grow as its section does (test_chat_args checks the scan);
    // comparing the whole text sent on every push would make streaming quadratic.
    if (c.name != name || args.size() < c.sent.size()) return;
    if (args.size() > c.sent.size()) {
        const std::string_view added = args.substr(c.sent.size());
        out.call_deltas.push_back({c.index, "", "", std::string(added)});
        c.sent.append(added);
    }
}

// The section's calls, whole. Arguments are the heads' rewrite where the shape read the call (so a
// streamed call's pieces add up to them), else the family parser's; a streamed call ends with the
// rest of its arguments, the others are sent whole.
void chat_output_parser::complete_calls(std::vector<parsed_call>& calls, const std::vector<call_head>& heads,
                                        chat_delta& out) {
    const std::vector<open_call> open = std::move(open_);
    open_.clear();
    for (size_t j = 0; j < calls.size() && may_add_call(0); ++j) {
        parsed_call& c = calls[j];
        if (j < heads.size() && heads[j].name == c.name && heads[j].args.whole()) c.arguments = heads[j].args.json;
        const open_call* o = j < open.size() ? &open[j] : nullptr;
        if (o && (o->name != c.name || !c.arguments.starts_with(o->sent))) o = nullptr;  // begun wrong: anew
        tool_call t{call_id(static_cast<size_t>(n_calls_)), std::move(c.name), std::move(c.arguments)};
        if (o) {
            if (t.arguments.size() > o->sent.size())
                out.call_deltas.push_back({o->index, "", "", t.arguments.substr(o->sent.size())});
        } else {
            const int32_t index = n_streamed_++;
            out.call_deltas.push_back({index, t.id, t.name, ""});
            out.call_deltas.push_back({index, "", "", t.arguments});
        }
        ++n_calls_;
        out.calls.push_back(std::move(t));
    }
}

// gpt-oss: [<|start|>assistant[ to=...]]<|channel|>CHANNEL[ to=functions.NAME][ <|constrain|>json]<|message|>
bool chat_output_parser::step_harmony_header(bool final, chat_delta& out) {
    const size_t i = skip_ws(buf_, pos_);
    const std::string_view rest = std::string_view(buf_).substr(i);
    if (rest.empty()) {
        if (final) pos_ = buf_.size();
        return false;
    }
    const bool opens = rest.starts_with(k_channel) || rest.starts_with(k_start);
    if (!opens) {
        if ((prefix_of(k_channel, rest) || prefix_of(k_start, rest)) && !final) return false;
        mode_ = mode::content;  // not harmony text: the rest is plain content
        return true;
    }
    const size_t m = buf_.find(k_message, i);
    if (m == std::string::npos) {
        if (!final) return false;
        emit_content(rest, out);
        pos_ = buf_.size();
        return false;
    }
    const std::string_view header = std::string_view(buf_).substr(i, m - i);
    const std::string channel = header_word(header, k_channel);
    std::string recipient = header_word(header, "to=");
    if (recipient.starts_with("functions.")) recipient.erase(0, 10);
    harmony_recipient_ = recipient;
    harmony_searched_ = m + k_message.size();
    harmony_resume_ = {};
    harmony_args_ = {};
    if (!recipient.empty())
        harmony_kind_ = opts_.parse_tools ? body_kind::call : body_kind::as_written;
    else if (channel == "analysis")
        harmony_kind_ = opts_.split_reasoning ? body_kind::reasoning : body_kind::as_written;
    else
        harmony_kind_ = body_kind::content;
    // Shown from its channel on, as llama-server shows it: "<|start|>assistant" only separates the
    // messages (a recipient written there stays). A call keeps it until its body proves to be one.
    constexpr std::string_view role = "<|start|>assistant";
    size_t from = i;
    if (header.starts_with(role) && header.substr(role.size()).starts_with(k_channel)) from += role.size();
    const std::string_view written = std::string_view(buf_).substr(from, m + k_message.size() - from);
    harmony_header_.clear();
    if (harmony_kind_ == body_kind::as_written) emit_content(written, out);
    if (harmony_kind_ == body_kind::call) harmony_header_ = written;
    pos_ = m + k_message.size();
    mode_ = mode::harmony_body;
    return true;
}

bool chat_output_parser::step_harmony_body(bool final, chat_delta& out) {
    static const std::vector<std::string> ends = {"<|end|>", "<|call|>", "<|return|>", std::string(k_start),
                                                  std::string(k_channel)};
    const marker_hit hit = find_first(buf_, std::max(pos_, harmony_searched_), ends);
    const bool closed = hit.at != std::string::npos;
    if (!closed) harmony_searched_ = std::max(harmony_searched_, held_from(buf_, harmony_searched_, ends));
    if (harmony_kind_ == body_kind::call) {
        const size_t end = closed ? hit.at : buf_.size();
        const std::string_view body = std::string_view(buf_).substr(pos_, end - pos_);
        if (!closed && !final) {
            stream_harmony_call(body, out);
            return false;
        }
        if (!closed && !harmony_args_.bad && keep_cut_calls(out)) {
            mode_ = mode::harmony_header;
            return false;
        }
        std::vector<call_head> heads;
        const size_t i = skip_ws(buf_, pos_);
        if (i < end && buf_[i] == '{') {
            call_head h{harmony_recipient_, rewrite_args(std::string_view(buf_).substr(i, end - i), {})};
            if (!h.args.bad) heads.push_back(std::move(h));
        }
        const nlohmann::ordered_json args = nlohmann::ordered_json::parse(body, nullptr, false);
        if (!args.is_discarded() && args.is_object()) {
            std::vector<parsed_call> calls{{harmony_recipient_, args.dump()}};
            complete_calls(calls, heads, out);
        } else {  // not a call: the message as written, header and end marker included
            open_.clear();
            emit_content(harmony_header_, out);
            emit_content(body, out);
            if (closed && hit.index < 3) emit_content(ends[hit.index], out);
        }
        pos_ = end;
    } else {
        const size_t end = closed ? hit.at : final ? buf_.size() : held_from(buf_, pos_, ends);
        std::string& dst = harmony_kind_ == body_kind::reasoning ? out.reasoning : out.content;
        dst.append(buf_, pos_, end - pos_);
        pos_ = end;
        if (!closed) return false;
        if (harmony_kind_ == body_kind::as_written && hit.index < 3) dst += ends[hit.index];  // its end marker too
    }
    if (closed && hit.index < 3) pos_ += ends[hit.index].size();  // <|end|>, <|call|>, <|return|> close it
    mode_ = mode::harmony_header;
    return closed;
}

// A call body before its end marker: its arguments read on from where the last push stopped.
void chat_output_parser::stream_harmony_call(std::string_view body, chat_delta& out) {
    size_t i = 0;
    while (i < body.size() && is_space(body[i])) ++i;
    if (i == body.size() || body[i] != '{' || harmony_args_.bad || !may_add_call(0)) return;
    if (!harmony_args_.whole()) {
        args_rewrite r = rewrite_args_at(body, i, {}, &harmony_resume_);
        if (r.bad || r.whole()) harmony_args_ = std::move(r);
        if (harmony_args_.bad) return;
    }
    stream_call(0, harmony_recipient_, harmony_args_.whole() ? harmony_args_.json : harmony_resume_.out, out);
}

void chat_output_parser::emit_content(std::string_view text, chat_delta& out) {
    out.content += text;
}

const std::string& chat_output_parser::call_id(size_t k) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    while (ids_.size() <= k) {
        std::string id = "call_";
        for (int i = 0; i < 24; ++i) id += alphabet[rng_() % (sizeof(alphabet) - 1)];
        ids_.push_back(std::move(id));
    }
    return ids_[k];
}

}  // namespace tandem
