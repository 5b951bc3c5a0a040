// The streaming arguments rewriter against nlohmann as the oracle: a whole object's rewrite is what
// parsing and dumping it gives, every prefix's rewrite is a prefix of it, and whatever nlohmann
// refuses is never whole. Gemma 4's syntax is checked through a writer of it (its template's
// format_argument). Also the call heads read in each family's shape.
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "server/chat/chat_args.h"

namespace tandem {
namespace {

using ojson = nlohmann::ordered_json;

const gram::value_syntax json_syntax{};

// Prefixes of `text` growing by 1 to 7 bytes, each rewritten on from where the last one stopped
// (args_resume), give what a fresh rewrite of each gives: the resume changes only the work (while the
// object is open its text is the resume's, not copied into the result).
void expect_resume_agrees(const std::string& text, const gram::value_syntax& syn, uint32_t seed) {
    std::mt19937 rng(seed);
    args_resume resume;
    for (size_t k = 0;; k = std::min(text.size(), k + 1 + rng() % 7)) {
        const std::string_view prefix = std::string_view(text).substr(0, k);
        const args_rewrite fresh = rewrite_args(prefix, syn);
        const args_rewrite goes_on = rewrite_args(prefix, syn, &resume);
        const bool open = !resume.stack.empty();
        ASSERT_EQ(open ? resume.out : goes_on.json, fresh.json) << "prefix " << k << " of " << text;
        ASSERT_TRUE(!open || goes_on.json.empty()) << "prefix " << k << " of " << text;
        ASSERT_EQ(goes_on.bad, fresh.bad) << "prefix " << k << " of " << text;
        ASSERT_EQ(goes_on.end, fresh.end) << "prefix " << k << " of " << text;
        if (k == text.size()) break;
    }
}

// Every prefix of `text` rewrites to a prefix of the whole's rewrite, never bad and never whole
// before the object closes at `end`.
void expect_prefixes_grow(const std::string& text, const gram::value_syntax& syn, const std::string& whole,
                          size_t end) {
    for (uint32_t seed = 1; seed <= 3; ++seed) expect_resume_agrees(text, syn, seed);
    for (size_t k = 0; k < text.size(); ++k) {
        const args_rewrite r = rewrite_args(std::string_view(text).substr(0, k), syn);
        ASSERT_FALSE(r.bad) << "prefix " << k << " of " << text;
        ASSERT_TRUE(whole.starts_with(r.json)) << "prefix " << k << ": " << r.json << " vs " << whole;
        ASSERT_EQ(r.whole(), k >= end) << "prefix " << k << " of " << text;
    }
}

void expect_like_nlohmann(const std::string& text) {
    const ojson v = ojson::parse(text);
    const args_rewrite r = rewrite_args(text, json_syntax);
    ASSERT_TRUE(r.whole()) << text;
    EXPECT_EQ(r.json, v.dump()) << text;
    EXPECT_EQ(text.find_first_not_of(" \n\r\t", r.end), std::string::npos) << text;
    expect_prefixes_grow(text, json_syntax, r.json, r.end);
}

TEST(ChatArgs, JsonAsNlohmannDumpsIt) {
    for (
        const char* text : {
            "{}",
            "{\n} ",
            R"({"a":1})",
            R"({ "city" : "Paris" , "unit":"c" })",
            R"({"n": [1, -0, 2.50, 1e5, 1E+2, -3.25e-3, 12345678901234567890, 0.1], "t": true, "f": false, "z": null})",
            R"({"s": "tab\tnl\nq\"bs\\sl\/ctl\u0001\u001f é 東京 \u00e9\u6771 \ud83d\ude00 😀 \u0000"})",
            R"({"deep": {"a": [[], [{}], [[1, [2, {"b": "c"}]]]], "e": {"f": {}}}})",
            "{\"k\":\t[\r\n1 ,\n 2 ]\n}",
            R"({"": "", "x y": "}", "z": "]"})",
        }) {
        SCOPED_TRACE(text);
        expect_like_nlohmann(text);
    }
}

TEST(ChatArgs, RefusedAsNlohmannRefuses) {
    for (const char* text : {R"({"a":1,})", R"({"a" 1})", "{'a':1}", R"({"a":01})", "{\"a\":\"\x01\"}",
                             R"({"a":"\ud800"})", R"({"a":"\udc00"})", R"({"a":"\ud800\u0041"})", R"({"a":tru})",
                             R"({"a":"\x"})", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", R"({"a":[1,]})",
                             R"({"a":1 2})", R"({1:2})", R"({"a":+1})", R"({"a":.5})", R"({"a":"x"]})"}) {
        SCOPED_TRACE(text);
        EXPECT_TRUE(ojson::parse(text, nullptr, false).is_discarded());
        EXPECT_FALSE(rewrite_args(text, json_syntax).whole());
    }
    EXPECT_TRUE(rewrite_args("[1]", json_syntax).bad);  // an object only
    EXPECT_TRUE(rewrite_args("{\"a\":1,}", json_syntax).bad);
}

// Strings stream character by character; an escape, a surrogate pair or a UTF-8 sequence only once whole.
TEST(ChatArgs, StringsStreamByWholeCharacters) {
    EXPECT_EQ(rewrite_args(R"({"s":"abc)", json_syntax).json, R"({"s":"abc)");
    EXPECT_EQ(rewrite_args(R"({"s":"ab\)", json_syntax).json, R"({"s":"ab)");
    EXPECT_EQ(rewrite_args(R"({"s":"a\u00)", json_syntax).json, R"({"s":"a)");
    EXPECT_EQ(rewrite_args(R"({"s":"a\ud83d\ude)", json_syntax).json, R"({"s":"a)");
    EXPECT_EQ(rewrite_args("{\"s\":\"a\xe6\x9d", json_syntax).json, R"({"s":"a)");
    EXPECT_EQ(rewrite_args(R"({"n":12)", json_syntax).json, "{\"n\":");  // a number once its end is seen
    EXPECT_EQ(rewrite_args(R"({"n":12,)", json_syntax).json, "{\"n\":12,");
    const gram::value_syntax g = gram::value_syntax_gemma4();
    EXPECT_EQ(rewrite_args("{s:<|\"|>ab<|", g).json, R"({"s":"ab)");  // maybe the closing marker
    EXPECT_EQ(rewrite_args("{s:<|\"|>ab<|x", g).json, R"({"s":"ab<|x)");
    EXPECT_EQ(rewrite_args("{s:<|", g).json, R"({"s":)");
}

// A random JSON value of nesting depth at most `depth`.
ojson random_value(std::mt19937& rng, int depth) {
    static const std::vector<std::string> words = {
        "",  "a", "city", "x y", "東京", "é", "\"q\"", "back\\slash", "new\nline", "<|tool_call>",
        "}", "]", ",",    ":",   "\t",   "😀"};
    const int kind = static_cast<int>(rng() % (depth > 0 ? 8 : 6));
    switch (kind) {
        case 0:
            return words[rng() % words.size()];
        case 1:
            return static_cast<int64_t>(rng() % 2001) - 1000;
        case 2:
            return static_cast<double>(static_cast<int64_t>(rng() % 20001) - 10000) / 64.0;
        case 3:
            return rng() % 2 == 0;
        case 4:
            return nullptr;
        case 5:
            return words[rng() % words.size()] + words[rng() % words.size()];
        case 6: {
            ojson a = ojson::array();
            for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random_value(rng, depth - 1));
            return a;
        }
        default: {
            ojson o = ojson::object();
            for (int i = static_cast<int>(rng() % 4); i > 0; --i)
                o["k" + std::to_string(rng() % 100) + words[rng() % words.size()]] = random_value(rng, depth - 1);
            return o;
        }
    }
}

// Gemma 4's writing of a value (its template's format_argument: keys bare, strings between <|"|>).
std::string gemma_text(const ojson& v) {
    std::string out;
    if (v.is_string()) return "<|\"|>" + v.get<std::string>() + "<|\"|>";
    if (v.is_object()) {
        for (const auto& [k, x] : v.items()) {
            const bool bare = !k.empty() && k.find_first_not_of(
                                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
                                                std::string::npos;
            out += (out.empty() ? "" : ",") + (bare ? k : "<|\"|>" + k + "<|\"|>") + ":" + gemma_text(x);
        }
        return "{" + out + "}";
    }
    if (v.is_array()) {
        for (const ojson& x : v) out += (out.empty() ? "" : ",") + gemma_text(x);
        return "[" + out + "]";
    }
    return v.dump();
}

TEST(ChatArgs, RandomObjectsJsonAndGemma) {
    std::mt19937 rng(11);
    for (int n = 0; n < 300; ++n) {
        ojson v = ojson::object();
        for (int i = 1 + static_cast<int>(rng() % 4); i > 0; --i) v["p" + std::to_string(i)] = random_value(rng, 3);
        const std::string want = v.dump();
        const std::string indented = v.dump(static_cast<int>(rng() % 3));
        SCOPED_TRACE(indented);
        expect_like_nlohmann(indented);
        const std::string g = gemma_text(v);
        const args_rewrite r = rewrite_args(g, gram::value_syntax_gemma4());
        ASSERT_TRUE(r.whole()) << g;
        EXPECT_EQ(r.json, want) << g;
        EXPECT_EQ(r.end, g.size());
        expect_prefixes_grow(g, gram::value_syntax_gemma4(), want, g.size());
    }
}

// Byte mutations of valid objects: whenever the rewrite calls a text whole, nlohmann reads the same
// object from it, and whenever nlohmann reads an object the rewrite is whole.
TEST(ChatArgs, MutationsAgreeWithNlohmann) {
    std::mt19937 rng(5);
    const std::string alphabet = "{}[]\":,\\ u0123456789.eE+-tfn\xc3\xa9\xe6";
    for (int n = 0; n < 3000; ++n) {
        ojson v = ojson::object();
        v["a"] = random_value(rng, 2);
        std::string text = v.dump(rng() % 2 ? -1 : 1);
        for (int m = 1 + static_cast<int>(rng() % 3); m > 0; --m) {
            const size_t at = rng() % text.size();
            if (rng() % 2)
                text[at] = alphabet[rng() % alphabet.size()];
            else
                text.erase(at, 1);
            if (text.empty()) text = "{";
        }
        if (text[0] != '{') continue;
        expect_resume_agrees(text, json_syntax, static_cast<uint32_t>(n));
        const args_rewrite r = rewrite_args(text, json_syntax);
        const ojson parsed = ojson::parse(text, nullptr, false);
        const bool nl_object = !parsed.is_discarded() && parsed.is_object();
        if (r.whole() && text.find_first_not_of(" \n\r\t", r.end) == std::string::npos) {
            ASSERT_TRUE(nl_object) << text;
            EXPECT_EQ(ojson::parse(r.json), parsed) << text;
        } else {
            ASSERT_FALSE(nl_object) << text << " -> " << r.json;
        }
    }
}

// The heads of calls written in each family's shape, read byte by byte: the name once whole, the
// arguments growing.
TEST(ChatArgs, CallHeadsInEachShape) {
    const chat_syntax hermes = chat_syntax_detect("<tool_call>");
    const std::string h = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
    std::vector<call_head> heads = scan_call_heads(hermes, h, "<tool_call>");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].name, "get_weather");
    EXPECT_EQ(heads[0].args.json, R"({"city":"Oslo"})");
    EXPECT_TRUE(scan_call_heads(hermes, h.substr(0, h.find("get_w") + 5), "<tool_call>").empty());  // name cut
    heads = scan_call_heads(hermes, h.substr(0, h.find("Os") + 2), "<tool_call>");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].args.json, R"({"city":"Os)");
    // the name after the arguments: not the shape, nothing to stream
    EXPECT_TRUE(scan_call_heads(hermes, "<tool_call>{\"arguments\": {}, \"name\": \"f\"}", "<tool_call>").empty());
    const chat_syntax gemma = chat_syntax_detect("<|tool_call>");
    heads = scan_call_heads(gemma, "<|tool_call>call:f{a:1}<tool_call|><|tool_call>call:g{b:<|\"|>x", "<|tool_call>");
    ASSERT_EQ(heads.size(), 2u);
    EXPECT_EQ(heads[1].name, "g");
    EXPECT_EQ(heads[1].args.json, R"({"b":"x)");
    const chat_syntax f32 = chat_syntax_detect(">>>all");
    heads = scan_call_heads(f32, ">>>get_time\n{\"zone\": 3}", ">>>");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].name, "get_time");
    EXPECT_TRUE(scan_call_heads(f32, "all\nHello", "").empty());
    const chat_syntax generic = chat_syntax_detect("{{ x }}");
    heads = scan_call_heads(generic, "{\"tool_calls\": [{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", ", "");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_TRUE(heads[0].args.whole());
}

// A call_scan fed a section as it grows (by 1 to 7 bytes) reads, at every length, what a fresh
// scan of that much text reads: going on from the last read changes only the work.
void expect_scan_reads_on(const chat_syntax& s, const std::string& text, const std::string& marker) {
    for (uint32_t seed = 1; seed <= 5; ++seed) {
        std::mt19937 rng(seed);
        call_scan scan(s, marker);
        for (size_t k = 0;; k = std::min(text.size(), k + 1 + rng() % 7)) {
            const std::string_view prefix = std::string_view(text).substr(0, k);
            scan.read(prefix);
            const std::vector<call_head> fresh = scan_call_heads(s, prefix, marker);
            ASSERT_EQ(scan.size(), fresh.size()) << s.name << " prefix " << k << " of " << text;
            for (size_t j = 0; j < fresh.size(); ++j) {
                ASSERT_EQ(scan.heads()[j].name, fresh[j].name) << s.name << " prefix " << k << " of " << text;
                ASSERT_EQ(scan.args(j), fresh[j].args.json) << s.name << " prefix " << k << " of " << text;
                ASSERT_EQ(scan.heads()[j].args.whole(), fresh[j].args.whole()) << s.name << " prefix " << k;
            }
            if (k == text.size()) break;
        }
    }
}

TEST(ChatArgs, CallScanReadsOnAsAFreshScan) {
    const std::string args = R"({"city": "Oslo, \"NO\"", "days": [1, 2], "deep": {"x": null}})";
    const struct {
        const char* markers;
        std::string marker, text;
    } cases[] = {
        {"<tool_call>", "<tool_call>",
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + args +
             "}\n</tool_call>\n<tool_call>\n"
             "{\"name\": \"t\", \"arguments\": {}}\n</tool_call>"},
        {"[TOOL_CALLS]", "[TOOL_CALLS]",
         "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": " + args + "}, {\"name\": \"b\", \"arguments\": {}}]"},
        {"[TOOL_CALLS]", "[TOOL_CALLS]", "[TOOL_CALLS]get_weather[ARGS]" + args + "[TOOL_CALLS]b[ARGS]{}"},
        {"<|start_header_id|>ipython", "",
         "{\"name\": \"a\", \"parameters\": " + args +
             "}; {\"name\": \"b\", "
             "\"parameters\": {}}"},
        {"{{ x }}", "", "{\"tool_calls\": [{\"name\": \"a\", \"arguments\": " + args + "}]}"},
        {"{{ x }}", "", "{\"tool_call\": {\"name\": \"a\", \"arguments\": " + args + "}}"},
        {"{{ x }}", "", "{\"tool_call\": {\"name\": \"a\", \"arguments\": {\"k\": ]}}"},  // broken arguments
        {"{{ x }}", "", "{\"response\": \"not a call\"}"},
        {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁begin｜>",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>a\n```json\n" + args +
             "\n```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>b\n```json\n{}\n```<"
             "｜tool▁call▁end｜>"},
        {"<|tool_call>", "<|tool_call>",
         "<|tool_call>call:f{a:<|\"|>x, "
         "y<|\"|>,b:[1,2]}<tool_call|><|tool_call>call:g{c:<|\"|>東京<|\"|>}<tool_call|>"},
        {">>>all", ">>>", ">>>get_time\n" + args + ">>>b\n{}"},
    };
    for (const auto& c : cases) expect_scan_reads_on(chat_syntax_detect(c.markers), c.text, c.marker);
}

}  // namespace
}  // namespace tandem
