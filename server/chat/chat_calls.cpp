// Per-family call grammars: JSON call objects, DeepSeek's and functionary's wrappers, Gemma 4's calls
// (arguments in its own syntax, rewritten by chat_args), Llama's <|python_tag|>. A section that
// cannot be read returns fail, and the caller keeps its text as content.
#include "server/chat/chat_calls.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "server/chat/chat_args.h"

namespace tandem {
namespace {

using ojson = nlohmann::ordered_json;
using status = call_section::status;

constexpr std::string_view ds_calls_begin = "<｜tool▁calls▁begin｜>", ds_calls_end = "<｜tool▁calls▁end｜>",
                           ds_call_begin = "<｜tool▁call▁begin｜>", ds_call_end = "<｜tool▁call▁end｜>",
                           ds_sep = "<｜tool▁sep｜>";

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

size_t skip_ws(std::string_view s, size_t i) {
    while (i < s.size() && is_space(s[i])) ++i;
    return i;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

bool is_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_name_char(c)) return false;
    return true;
}

call_section need_more_or_fail(bool final) {
    return call_section{final ? status::fail : status::need_more};
}

call_section fail() {
    return call_section{status::fail};
}

args_resume* args_of(section_resume* r) {
    return r ? &r->args : nullptr;
}

// A section of several calls: a resumed read starts after the calls read whole before (at `from`
// when there are none); the calls read whole are kept there; a section read whole has them first.
size_t resume_at(const section_resume* r, size_t from) {
    return r && !r->done.empty() ? r->done_end : from;
}

void keep_done(section_resume* r, std::vector<parsed_call>& calls, size_t end) {
    if (!r) return;
    for (parsed_call& c : calls) r->done.push_back(std::move(c));
    calls.clear();
    r->done_end = end;
}

call_section with_done(const section_resume* r, call_section out) {
    if (r) out.calls.insert(out.calls.begin(), r->done.begin(), r->done.end());
    return out;
}

// Arguments as OpenAI gives them: a JSON object's text (a string holding JSON is taken as that JSON).
bool arguments_text(const ojson& args, std::string& out) {
    if (args.is_object()) {
        out = args.dump();
        return true;
    }
    if (args.is_string()) {
        const ojson inner = ojson::parse(args.get<std::string>(), nullptr, false);
        if (inner.is_discarded() || !inner.is_object()) return false;
        out = inner.dump();
        return true;
    }
    return false;
}

// {"name": N, "arguments" | "parameters": {...}} (also wrapped as {"type": "function", "function": {...}}).
bool call_from_object(const ojson& obj, parsed_call& call) {
    if (!obj.is_object()) return false;
    if (obj.contains("function") && obj["function"].is_object()) return call_from_object(obj["function"], call);
    if (!obj.contains("name") || !obj["name"].is_string() || obj["name"].get<std::string>().empty()) return false;
    call.name = obj["name"].get<std::string>();
    for (const char* key : {"arguments", "parameters"})
        if (obj.contains(key)) return arguments_text(obj[key], call.arguments);
    call.arguments = "{}";
    return true;
}

// The JSON object at text[i] as a call; `end` is set past it. need_more while incomplete.
status object_call_at(std::string_view text, size_t i, bool final, parsed_call& call, size_t& end,
                      json_scan* resume = nullptr) {
    if (i >= text.size()) return final ? status::fail : status::need_more;
    if (text[i] != '{') return status::fail;
    end = json_value_end(text, i, resume);
    if (end == std::string_view::npos) return final ? status::fail : status::need_more;
    const ojson obj = ojson::parse(text.substr(i, end - i), nullptr, false);
    return !obj.is_discarded() && call_from_object(obj, call) ? status::ok : status::fail;
}

// Arguments object at text[i], in `syntax` (JSON unless given), rewritten as compact JSON.
status args_at(std::string_view text, size_t i, bool final, std::string& args, size_t& end, args_resume* resume,
               const gram::value_syntax& syntax = {}) {
    if (i >= text.size()) return final ? status::fail : status::need_more;
    if (text[i] != '{') return status::fail;
    args_rewrite r = rewrite_args_at(text, i, syntax, resume);
    if (r.bad) return status::fail;
    if (!r.whole()) return final ? status::fail : status::need_more;
    args = std::move(r.json);
    end = i + r.end;
    return status::ok;
}

// <tool_call>{...}</tool_call>
call_section hermes(std::string_view text, std::string_view marker, bool final, section_resume* resume) {
    constexpr std::string_view closer = "</tool_call>";
    const size_t from = std::max(marker.size(), resume ? resume->searched : 0);
    const size_t close = text.find(closer, from);
    if (close == std::string_view::npos) {
        if (resume && text.size() >= closer.size()) resume->searched = std::max(from, text.size() - closer.size() + 1);
        return need_more_or_fail(final);
    }
    const ojson obj = ojson::parse(trim(text.substr(marker.size(), close - marker.size())), nullptr, false);
    call_section out{status::ok, close + closer.size()};
    if (obj.is_discarded() || !call_from_object(obj, out.calls.emplace_back())) return fail();
    return out;
}

// <|tool_call>call:NAME{gemma args}<tool_call|>, read structurally (a string may hold "<tool_call|>").
call_section gemma4(std::string_view text, std::string_view marker, bool final, section_resume* resume) {
    constexpr std::string_view call = "call:", close = "<tool_call|>";
    size_t i = skip_ws(text, marker.size());
    const std::string_view rest = text.substr(i);
    if (!rest.starts_with(call)) return call.starts_with(rest) ? need_more_or_fail(final) : fail();
    i += call.size();
    size_t brace = i;
    while (brace < text.size() && is_name_char(text[brace])) ++brace;
    if (brace == text.size()) return need_more_or_fail(final);
    if (brace == i || text[brace] != '{') return fail();
    call_section out{status::ok};
    parsed_call& c = out.calls.emplace_back();
    c.name = std::string(text.substr(i, brace - i));
    size_t end = 0;
    const status st = args_at(text, brace, final, c.arguments, end, args_of(resume), gram::value_syntax_gemma4());
    if (st != status::ok) return call_section{st};
    end = skip_ws(text, end);
    const std::string_view after = text.substr(end);
    if (after.starts_with(close)) {
        out.consumed = end + close.size();
        return out;
    }
    return close.starts_with(after) ? need_more_or_fail(final) : fail();
}

// [TOOL_CALLS][{...}, ...]  or  [TOOL_CALLS]NAME[ARGS]{...}
call_section mistral(std::string_view text, std::string_view marker, bool final, section_resume* resume) {
    size_t i = skip_ws(text, marker.size());
    if (i >= text.size()) return need_more_or_fail(final);
    call_section out{status::ok};
    if (text[i] == '[') {
        const size_t end = json_value_end(text, i, resume ? &resume->value : nullptr);
        if (end == std::string_view::npos) return need_more_or_fail(final);
        const ojson arr = ojson::parse(text.substr(i, end - i), nullptr, false);
        if (arr.is_discarded() || !arr.is_array() || arr.empty()) return fail();
        for (const ojson& o : arr)
            if (!call_from_object(o, out.calls.emplace_back())) return fail();
        out.consumed = end;
        return out;
    }
    constexpr std::string_view args_tag = "[ARGS]";
    size_t tag = i;
    while (tag < text.size() && is_name_char(text[tag])) ++tag;
    if (tag == i) return fail();
    const std::string_view after = text.substr(tag);
    if (!after.starts_with(args_tag)) {
        // still writing the name or the tag: wait while it can be one
        return args_tag.starts_with(after) ? need_more_or_fail(final) : fail();
    }
    parsed_call& c = out.calls.emplace_back();
    c.name = std::string(text.substr(i, tag - i));
    if (!is_name(c.name)) return fail();
    size_t end = 0;
    const status st = args_at(text, skip_ws(text, tag + args_tag.size()), final, c.arguments, end, args_of(resume));
    if (st != status::ok) return call_section{st};
    out.consumed = end;
    return out;
}

// One DeepSeek call from <｜tool▁call▁begin｜> at text[i]: "function<｜tool▁sep｜>NAME\n```json\n{...}\n```"
// (V3, R1) or "NAME<｜tool▁sep｜>{...}" (V3.1), then <｜tool▁call▁end｜>.
status deepseek_call(std::string_view text, size_t i, bool final, parsed_call& c, size_t& end, args_resume* resume) {
    const auto more = [&] { return final ? status::fail : status::need_more; };
    i += ds_call_begin.size();
    const size_t sep = text.find(ds_sep, i);
    if (sep == std::string_view::npos) return more();
    std::string_view kind = trim(text.substr(i, sep - i));
    size_t j = sep + ds_sep.size();
    if (kind == "function") {
        const size_t nl = text.find('\n', j);
        if (nl == std::string_view::npos) return more();
        c.name = std::string(trim(text.substr(j, nl - j)));
        j = skip_ws(text, nl);
        if (text.substr(j).starts_with("```")) {
            const size_t fence_nl = text.find('\n', j);
            if (fence_nl == std::string_view::npos) return more();
            j = skip_ws(text, fence_nl);
        } else if (std::string_view("```").starts_with(text.substr(j))) {
            return more();
        }
    } else {
        c.name = std::string(kind);
    }
    if (!is_name(c.name)) return status::fail;
    size_t args_end = 0;
    const status st = args_at(text, j, final, c.arguments, args_end, resume);
    if (st != status::ok) return st;
    j = skip_ws(text, args_end);
    if (text.substr(j).starts_with("```")) j = skip_ws(text, j + 3);
    if (text.substr(j).starts_with(ds_call_end)) {
        end = j + ds_call_end.size();
        return status::ok;
    }
    return ds_call_end.starts_with(text.substr(j)) || std::string_view("```").starts_with(text.substr(j))
               ? more()
               : status::fail;
}

call_section deepseek(std::string_view text, std::string_view marker, bool final, section_resume* resume) {
    size_t i = resume_at(resume, marker == ds_calls_begin ? marker.size() : 0);
    call_section out{status::ok};
    for (;;) {
        const size_t j = skip_ws(text, i);
        const std::string_view rest = text.substr(j);
        if (rest.starts_with(ds_calls_end)) {
            out.consumed = j + ds_calls_end.size();
            return with_done(resume, std::move(out));
        }
        if (rest.starts_with(ds_call_begin)) {
            size_t end = 0;
            const status st = deepseek_call(text, j, final, out.calls.emplace_back(), end, args_of(resume));
            if (st != status::ok) return call_section{st};
            i = end;
            keep_done(resume, out.calls, end);
            continue;
        }
        // Text after the calls without the closing marker: the section ends at the last call.
        const bool could_be_marker = ds_calls_end.starts_with(rest) || ds_call_begin.starts_with(rest) || rest.empty();
        if (could_be_marker && !final) return call_section{status::need_more};
        out.consumed = i;
        out = with_done(resume, std::move(out));
        return out.calls.empty() ? fail() : out;
    }
}

// Python source as a call of the "python" tool (llama.cpp's convention for <|python_tag|> code).
parsed_call python_call(std::string_view code) {
    return parsed_call{"python", ojson{{"code", std::string(trim(code))}}.dump()};
}

// <|python_tag|> then, to the end of the answer: JSON call object(s) separated by ';', a builtin
// tool's NAME.call(key="value", ...), or Python code.
call_section python_tag(std::string_view text, std::string_view marker, bool final) {
    if (!final) return call_section{status::need_more};
    const std::string_view body = trim(text.substr(marker.size()));
    call_section out{status::ok, text.size()};
    if (body.empty()) return fail();
    if (body.front() == '{') {
        size_t i = 0;
        while (i < body.size()) {
            size_t end = 0;
            if (object_call_at(body, i, true, out.calls.emplace_back(), end) != status::ok) return fail();
            i = skip_ws(body, end);
            if (i < body.size() && body[i] == ';') i = skip_ws(body, i + 1);
        }
        return out;
    }
    const size_t dot = body.find(".call(");
    if (dot != std::string_view::npos && is_name(body.substr(0, dot)) && body.back() == ')') {
        // builtin tools: keyword arguments with string or number values
        ojson args = ojson::object();
        std::string_view rest = body.substr(dot + 6, body.size() - dot - 7);
        bool ok = true;
        while (ok && !trim(rest).empty()) {
            rest = trim(rest);
            const size_t eq = rest.find('=');
            if (eq == std::string_view::npos || !is_name(trim(rest.substr(0, eq)))) {
                ok = false;
                break;
            }
            const std::string key(trim(rest.substr(0, eq)));
            rest = trim(rest.substr(eq + 1));
            size_t vend = 0;
            if (!rest.empty() && rest.front() == '"') {
                vend = 1;
                while (vend < rest.size() && rest[vend] != '"') vend += rest[vend] == '\\' ? 2 : 1;
                if (vend >= rest.size()) {
                    ok = false;
                    break;
                }
                ++vend;
            } else {
                vend = rest.find(',');
                if (vend == std::string_view::npos) vend = rest.size();
            }
            const ojson v = ojson::parse(trim(rest.substr(0, vend)), nullptr, false);
            if (v.is_discarded()) ok = false;
            args[key] = v;
            rest = trim(rest.substr(vend));
            if (!rest.empty() && rest.front() == ',') rest.remove_prefix(1);
        }
        if (ok) {
            out.calls.push_back(parsed_call{std::string(body.substr(0, dot)), args.dump()});
            return out;
        }
    }
    out.calls.push_back(python_call(body));
    return out;
}

// <function=NAME>{...}</function>
call_section functionary_31(std::string_view text, std::string_view marker, bool final, section_resume* resume) {
    if (marker == "<|python_tag|>") return python_tag(text, marker, final);
    const size_t gt = text.find('>', marker.size());
    if (gt == std::string_view::npos) {
        const std::string_view partial = text.substr(marker.size());
        return partial.empty() || is_name(partial) ? need_more_or_fail(final) : fail();
    }
    call_section out{status::ok};
    parsed_call& c = out.calls.emplace_back();
    c.name = std::string(text.substr(marker.size(), gt - marker.size()));
    if (!is_name(c.name)) return fail();
    size_t end = 0;
    const status st = args_at(text, skip_ws(text, gt + 1), final, c.arguments, end, args_of(resume));
    if (st != status::ok) return call_section{st};
    constexpr std::string_view close = "</function>";
    const std::string_view rest = text.substr(end);
    if (rest.starts_with(close)) {
        out.consumed = end + close.size();
        return out;
    }
    return close.starts_with(rest) ? need_more_or_fail(final) : fail();
}

// [>>>]RECIPIENT\n then text ("all"), Python code ("python") or a JSON arguments object.
call_section functionary_32(std::string_view text, std::string_view marker, bool final, section_resume* resume) {
    const size_t nl = text.find('\n', marker.size());
    const std::string_view name =
        text.substr(marker.size(), nl == std::string_view::npos ? text.npos : nl - marker.size());
    if (!is_name(name)) return name.empty() && !final ? call_section{status::need_more} : fail();
    if (nl == std::string_view::npos) return need_more_or_fail(final);
    call_section out{status::ok, nl + 1};
    if (name == "all") {
        out.content_follows = true;
        return out;
    }
    if (name == "python") {
        const size_t next = text.find(">>>", nl);
        if (next == std::string_view::npos && !final) return call_section{status::need_more};
        const size_t end = next == std::string_view::npos ? text.size() : next;
        out.calls.push_back(python_call(text.substr(nl + 1, end - nl - 1)));
        out.consumed = end;
        return out;
    }
    parsed_call& c = out.calls.emplace_back();
    c.name = std::string(name);
    size_t end = 0;
    const status st = args_at(text, skip_ws(text, nl + 1), final, c.arguments, end, args_of(resume));
    if (st != status::ok) return call_section{st};
    out.consumed = end;
    return out;
}

// {"tool_call": {...}} or {"tool_calls": [{...}, ...]} (generic) as calls.
bool generic_calls(const ojson& obj, std::vector<parsed_call>& calls) {
    if (obj.is_discarded() || !obj.is_object()) return false;
    if (obj.contains("tool_call")) return call_from_object(obj["tool_call"], calls.emplace_back());
    const auto list = obj.find("tool_calls");
    if (list == obj.end() || !list->is_array() || list->empty()) return false;
    for (const ojson& o : *list)
        if (!call_from_object(o, calls.emplace_back())) return false;
    return true;
}

// generic: the whole answer is the object. What cannot become one fails as soon as it shows, so it
// streams as content: text that is not an object's beginning, an object that is not a call, text
// after the object. A call waits for the answer's end, as text may still follow it. The object read
// whole is kept in `resume` (its calls, its end), so the pushes after it cost no new read.
call_section generic_answer(std::string_view text, bool final, section_resume* resume) {
    const size_t i = skip_ws(text, 0);
    call_section out{status::ok};
    size_t end = resume ? resume->done_end : 0;
    if (end == 0) {
        const args_rewrite r = rewrite_args_at(text, i, {}, args_of(resume));
        if (r.bad) return fail();
        if (!r.whole()) return need_more_or_fail(final);
        end = i + r.end;
        if (!generic_calls(ojson::parse(text.substr(i, end - i), nullptr, false), out.calls)) return fail();
        keep_done(resume, out.calls, end);
    }
    if (skip_ws(text, end) < text.size()) return fail();
    if (!final) return call_section{status::need_more};
    out.consumed = text.size();
    return with_done(resume, std::move(out));
}

// Llama 3.x: the whole answer as {"name", "parameters"} objects, several joined by ';'.
call_section llama3_answer(std::string_view text, bool final, section_resume* resume) {
    call_section out{status::ok};
    size_t at = skip_ws(text, resume_at(resume, 0));
    for (;;) {
        size_t end = 0;
        const status st =
            object_call_at(text, at, final, out.calls.emplace_back(), end, resume ? &resume->value : nullptr);
        if (st != status::ok) return call_section{st};
        out.consumed = end;
        const size_t j = skip_ws(text, end);
        if (j == text.size() && !final) return call_section{status::need_more};  // a ';' may follow
        if (j < text.size() && text[j] == ';') {
            keep_done(resume, out.calls, j + 1);
            at = skip_ws(text, j + 1);
            if (at < text.size() || final) continue;
            return call_section{status::need_more};
        }
        return with_done(resume, std::move(out));
    }
}

}  // namespace

size_t json_value_end(std::string_view s, size_t start, json_scan* resume) {
    json_scan at{start, start, 0, false};
    if (resume && resume->start == start) at = *resume;
    size_t i = at.i;
    int32_t depth = at.depth;
    bool in_string = at.in_string;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                if (resume && resume->start == start) *resume = {};
                return i + 1;
            }
        }
    }
    if (resume) *resume = {start, i, depth, in_string};  // i is past the end after a final backslash
    return std::string_view::npos;
}

std::vector<std::string> tool_call_markers(tool_format f) {
    switch (f) {
        case tool_format::hermes:
            return {"<tool_call>"};
        case tool_format::llama3:
            return {"<|python_tag|>"};
        case tool_format::mistral:
            return {"[TOOL_CALLS]"};
        case tool_format::deepseek:
            return {std::string(ds_calls_begin), std::string(ds_call_begin)};
        case tool_format::functionary_31:
            return {"<function=", "<|python_tag|>"};
        case tool_format::functionary_32:
            return {">>>"};
        case tool_format::gemma4:
            return {"<|tool_call>"};
        case tool_format::none:
        case tool_format::harmony:
        case tool_format::generic:
            break;
    }
    return {};
}

bool tool_call_at_start(tool_format f, std::string_view text) {
    const size_t i = skip_ws(text, 0);
    if (f == tool_format::functionary_32) return true;
    if (f != tool_format::llama3 && f != tool_format::generic) return false;
    return i < text.size() && text[i] == '{';
}

call_section parse_call_section(tool_format f, std::string_view text, std::string_view marker, bool final,
                                section_resume* resume) {
    switch (f) {
        case tool_format::hermes:
            return hermes(text, marker, final, resume);
        case tool_format::gemma4:
            return gemma4(text, marker, final, resume);
        case tool_format::mistral:
            return mistral(text, marker, final, resume);
        case tool_format::deepseek:
            return deepseek(text, marker, final, resume);
        case tool_format::functionary_31:
            return functionary_31(text, marker, final, resume);
        case tool_format::functionary_32:
            return functionary_32(text, marker, final, resume);
        case tool_format::llama3:
            return marker.empty() ? llama3_answer(text, final, resume) : python_tag(text, marker, final);
        case tool_format::generic:
            return generic_answer(text, final, resume);
        case tool_format::none:
        case tool_format::harmony:
            break;
    }
    return fail();
}

}  // namespace tandem
