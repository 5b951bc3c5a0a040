// The answer parser on model outputs of each family, written from the formats' documentation (model
// cards, chat templates, llama.cpp's docs/function-calling.md). Each is parsed whole and in random
// chunk splits (many seeds, down to single bytes): every split must give the expected result.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "server/chat/chat_args.h"
#include "server/chat/chat_calls.h"
#include "server/chat/chat_output.h"

namespace tandem {
namespace {

struct call_text {
    std::string name, arguments;
    bool operator==(const call_text&) const = default;
};

struct result {
    std::string reasoning, content;
    std::vector<call_text> calls;
    bool operator==(const result&) const = default;
};

std::ostream& operator<<(std::ostream& os, const result& r) {
    os << "{reasoning: \"" << r.reasoning << "\", content: \"" << r.content << "\", calls: [";
    for (const call_text& c : r.calls) os << c.name << "(" << c.arguments << ") ";
    return os << "]}";
}

void add(result& r, const chat_delta& d) {
    r.reasoning += d.reasoning;
    r.content += d.content;
    for (const tool_call& c : d.calls) {
        EXPECT_EQ(c.id.size(), 29u);
        EXPECT_TRUE(c.id.starts_with("call_"));
        r.calls.push_back({c.name, c.arguments});
    }
}

// The calls as streamed: by stream index, the first piece's id and name and the argument pieces.
struct streamed {
    std::string id, name, arguments;
    int n_pieces = 0;
};

void add_pieces(std::map<int32_t, streamed>& st, const chat_delta& d) {
    for (const tool_call_delta& p : d.call_deltas) {
        if (!p.name.empty()) {
            EXPECT_FALSE(st.contains(p.index)) << "call " << p.index << " begun twice";
            EXPECT_TRUE(p.arguments.empty());
            st[p.index] = {p.id, p.name, "", 0};
            continue;
        }
        ASSERT_TRUE(st.contains(p.index)) << "arguments before the call's name";
        st[p.index].arguments += p.arguments;
        ++st[p.index].n_pieces;
    }
}

// Every completed call was streamed, in order: its id and name first, then pieces adding up to its
// arguments (calls begun and dropped in between are skipped).
void expect_streamed_as_completed(const std::map<int32_t, streamed>& st, const std::vector<tool_call>& calls) {
    auto it = st.begin();
    for (const tool_call& c : calls) {
        while (it != st.end() &&
               !(it->second.id == c.id && it->second.name == c.name && it->second.arguments == c.arguments))
            ++it;
        ASSERT_NE(it, st.end()) << "call " << c.name << "(" << c.arguments << ") not streamed as completed";
        ++it;
    }
}

// Feeds `text` in pieces cut at random places (seed 0: whole). `n_pieces`: the argument pieces the
// calls streamed in. `cut`: the answer ends at max_tokens (finish(true)).
result parse(const chat_syntax& s, const chat_parse_options& o, const std::string& text, uint32_t seed,
             int* n_pieces = nullptr, bool cut = false) {
    chat_output_parser p(s, o);
    result r;
    std::vector<tool_call> calls;
    std::map<int32_t, streamed> st;
    auto take = [&](const chat_delta& d) {
        add(r, d);
        calls.insert(calls.end(), d.calls.begin(), d.calls.end());
        add_pieces(st, d);
    };
    std::mt19937 rng(seed);
    size_t i = 0;
    while (i < text.size()) {
        const size_t max_piece = seed % 3 == 0 ? 1 : seed % 3 == 1 ? 4 : 16;
        const size_t n = seed == 0 ? text.size() : 1 + rng() % max_piece;
        take(p.push(std::string_view(text).substr(i, n)));
        i += n;
    }
    take(p.finish(cut));
    expect_streamed_as_completed(st, calls);
    if (n_pieces) {
        *n_pieces = 0;
        for (const auto& [index, c] : st) *n_pieces += c.n_pieces;
    }
    return r;
}

chat_syntax family(std::string_view template_markers) {
    return chat_syntax_detect(template_markers);
}

chat_parse_options tools_on() {
    chat_parse_options o;
    o.parse_tools = true;
    return o;
}

void expect_all_splits(const chat_syntax& s, const chat_parse_options& o, const std::string& text, const result& want) {
    for (uint32_t seed = 0; seed < 300; ++seed) {
        const result got = parse(s, o, text, seed);
        ASSERT_EQ(got, want) << "seed " << seed << " family " << s.name << "\ntext: " << text;
    }
}

const chat_syntax qwen3 = family("<tool_call> <think>");
const chat_syntax hermes = family("<tool_call>");

TEST(ChatOutput, Qwen3ThinksThenAnswers) {
    chat_parse_options o;
    expect_all_splits(qwen3, o, "<think>\nThe user greets me. I should greet back.\n</think>\n\nHello! How can I help?",
                      {"The user greets me. I should greet back.", "Hello! How can I help?", {}});
    // reasoning_format none: all of it is content
    o.split_reasoning = false;
    expect_all_splits(qwen3, o, "<think>\nhm\n</think>\n\nHi", {"", "<think>\nhm\n</think>\n\nHi", {}});
}

TEST(ChatOutput, UnclosedReasoningIsAllReasoning) {
    expect_all_splits(qwen3, {}, "<think>\nStill thinking about 2 + 2 =", {"Still thinking about 2 + 2 =", "", {}});
    expect_all_splits(qwen3, {}, "<thi", {"", "<thi", {}});  // not a marker after all
    expect_all_splits(qwen3, {}, "No thinking <think> here", {"", "No thinking <think> here", {}});
}

TEST(ChatOutput, DeepSeekR1PromptOpenedTheThinking) {
    const chat_syntax r1 = family("<｜tool▁calls▁begin｜> </think>");
    chat_parse_options o;
    o.reasoning_open = true;
    expect_all_splits(r1, o, "Okay, 9.11 vs 9.9: 9.9 is larger.\n</think>\n\n**9.9** is larger than 9.11.",
                      {"Okay, 9.11 vs 9.9: 9.9 is larger.", "**9.9** is larger than 9.11.", {}});
    expect_all_splits(r1, o, "never closed  \n", {"never closed", "", {}});
}

TEST(ChatOutput, HermesToolCalls) {
    const std::string text =
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris, France\", \"unit\": "
        "\"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": "
        "\"Europe/Paris\"}}\n</tool_call>";
    const result want{"",
                      "",
                      {{"get_weather", R"({"location":"Paris, France","unit":"celsius"})"},
                       {"get_time", R"({"tz":"Europe/Paris"})"}}};
    expect_all_splits(hermes, tools_on(), text, want);
    chat_parse_options single = tools_on();
    single.parallel_tool_calls = false;
    expect_all_splits(hermes, single, text, {"", "", {want.calls[0]}});
    // without tools in the request the text is content
    expect_all_splits(hermes, {}, text, {"", text, {}});
}

TEST(ChatOutput, Qwen3ThinksThenCalls) {
    expect_all_splits(
        qwen3, tools_on(),
        "<think>\nI need the weather.\n</think>\n\nLet me check.\n<tool_call>\n{\"name\": \"get_weather\", "
        "\"arguments\": {\"city\": \"東京\"}}\n</tool_call>",
        {"I need the weather.", "Let me check.\n", {{"get_weather", R"({"city":"東京"})"}}});
}

TEST(ChatOutput, MalformedCallsStayText) {
    const std::string unclosed = "Sure <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}";
    expect_all_splits(hermes, tools_on(), unclosed, {"", unclosed, {}});
    const std::string bad_json = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call> done";
    expect_all_splits(hermes, tools_on(), bad_json, {"", bad_json, {}});
    const std::string no_name = "<tool_call>{\"arguments\": {}}</tool_call>";
    expect_all_splits(hermes, tools_on(), no_name, {"", no_name, {}});
}

TEST(ChatOutput, Llama3JsonAndPythonTag) {
    const chat_syntax l = family("<|start_header_id|>ipython<|end_header_id|>");
    expect_all_splits(
        l, tools_on(),
        "{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco, CA\", "
        "\"unit\": \"Fahrenheit\"}}",
        {"", "", {{"get_current_conditions", R"({"location":"San Francisco, CA","unit":"Fahrenheit"})"}}});
    expect_all_splits(l, tools_on(), "<|python_tag|>brave_search.call(query=\"current weather in Menlo Park\")",
                      {"", "", {{"brave_search", R"({"query":"current weather in Menlo Park"})"}}});
    expect_all_splits(l, tools_on(), "<|python_tag|>import math\nprint(math.sqrt(2))",
                      {"", "", {{"python", R"j({"code":"import math\nprint(math.sqrt(2))"})j"}}});
    expect_all_splits(l, tools_on(), "The answer is {not a call}.", {"", "The answer is {not a call}.", {}});
    expect_all_splits(l, tools_on(), "{\"answer\": 42}", {"", "{\"answer\": 42}", {}});
}

TEST(ChatOutput, MistralToolCalls) {
    const chat_syntax m = family("[TOOL_CALLS]");
    expect_all_splits(m, tools_on(),
                      "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": "
                      "\"a1b2c3d4e\"}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lyon\"}}]",
                      {"", "", {{"get_weather", R"({"city":"Paris"})"}, {"get_weather", R"({"city":"Lyon"})"}}});
    expect_all_splits(m, tools_on(), "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Nice\"}",
                      {"", "", {{"get_weather", R"({"city":"Nice"})"}}});
    expect_all_splits(m, tools_on(), "[TOOL_CALLS][{\"name\": ", {"", "[TOOL_CALLS][{\"name\": ", {}});
}

TEST(ChatOutput, DeepSeekToolCalls) {
    const chat_syntax d = family("<｜tool▁calls▁begin｜>");
    expect_all_splits(
        d, tools_on(),
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"location\": "
        "\"Tokyo\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜"
        "tool▁call▁end｜><｜tool▁calls▁end｜>",
        {"", "", {{"get_weather", R"({"location":"Tokyo"})"}, {"get_time", "{}"}}});
    // V3.1: the name before the separator, the arguments right after it
    expect_all_splits(d, tools_on(),
                      "Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"location\": "
                      "\"Oslo\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
                      {"", "Checking.", {{"get_weather", R"({"location":"Oslo"})"}}});
}

TEST(ChatOutput, DeepSeekR1ThinksThenCalls) {
    const chat_syntax r1 = family("<｜tool▁calls▁begin｜> <think>");
    chat_parse_options o = tools_on();
    o.reasoning_open = true;
    expect_all_splits(r1, o,
                      "Need weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                      "get_weather\n```json\n{\"location\": \"Rome\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
                      {"Need weather.", "", {{"get_weather", R"({"location":"Rome"})"}}});
}

TEST(ChatOutput, FunctionaryV31) {
    const chat_syntax f = family("<|start_header_id|> <function=");
    expect_all_splits(f, tools_on(), "<function=get_weather>{\"location\": \"Berlin\"}</function>",
                      {"", "", {{"get_weather", R"({"location":"Berlin"})"}}});
    expect_all_splits(f, tools_on(), "Use <function= wisely", {"", "Use <function= wisely", {}});
}

TEST(ChatOutput, FunctionaryV32) {
    const chat_syntax f = family(">>>all");
    expect_all_splits(f, tools_on(), "all\nI will look it up.>>>get_weather\n{\"location\": \"Madrid\"}",
                      {"", "I will look it up.", {{"get_weather", R"({"location":"Madrid"})"}}});
    expect_all_splits(f, tools_on(), "get_weather\n{\"location\": \"A\"}>>>get_weather\n{\"location\": \"B\"}",
                      {"", "", {{"get_weather", R"({"location":"A"})"}, {"get_weather", R"({"location":"B"})"}}});
    expect_all_splits(f, tools_on(), "Hello there, no recipient", {"", "Hello there, no recipient", {}});
}

TEST(ChatOutput, Gemma4ThoughtAndCalls) {
    const chat_syntax g = family("<|tool_call> <|channel>");
    expect_all_splits(g, tools_on(),
                      "<|channel>thought\nThe user wants weather in London.<channel|>"
                      "<|tool_call>call:get_weather{location:<|\"|>London, UK<|\"|>,days:3,metric:true,"
                      "hours:[9,12]}<tool_call|>",
                      {"The user wants weather in London.",
                       "",
                       {{"get_weather", R"({"location":"London, UK","days":3,"metric":true,"hours":[9,12]})"}}});
    // a thought left open goes straight into a call
    expect_all_splits(g, tools_on(), "<|channel>thought\nCall it.<|tool_call>call:ping{}<tool_call|>Done.",
                      {"Call it.", "Done.", {{"ping", "{}"}}});
    expect_all_splits(g, tools_on(), "<|tool_call>call:f{a:<|\"|>x}<tool_call|>",
                      {"", "<|tool_call>call:f{a:<|\"|>x}<tool_call|>", {}});
}

TEST(ChatOutput, GptOssHarmony) {
    const chat_syntax h = family("<|channel|>");
    expect_all_splits(h, tools_on(),
                      "<|channel|>analysis<|message|>User asks weather; call the tool.<|end|><|start|>assistant"
                      "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":"
                      "\"San Francisco\"}<|call|>",
                      {"User asks weather; call the tool.", "", {{"get_weather", R"({"location":"San Francisco"})"}}});
    expect_all_splits(h, {},
                      "<|channel|>analysis<|message|>Simple.<|end|><|start|>assistant<|channel|>final<|message|>"
                      "2 + 2 = 4.<|return|>",
                      {"Simple.", "2 + 2 = 4.", {}});
    expect_all_splits(h, {}, "Plain text, no channels.", {"", "Plain text, no channels.", {}});
    // the recipient in the message header instead of the channel's
    expect_all_splits(h, tools_on(),
                      "<|channel|>analysis<|message|>Look it up.<|end|><|start|>assistant to=functions.lookup"
                      "<|channel|>commentary json<|message|>{\"q\": \"x\"}<|call|>",
                      {"Look it up.", "", {{"lookup", R"({"q":"x"})"}}});
    // reasoning_format none: see GptOssInlineReasoning
    // the constrained answer's form (answer_grammar): analysis, the next header, the final channel
    expect_all_splits(h, {},
                      "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>"
                      "{\"a\":1}",
                      {"Think.", "{\"a\":1}", {}});
    // a call whose body is not a JSON object stays text as written, header and end marker included
    expect_all_splits(
        h, tools_on(),
        "<|channel|>analysis<|message|>Call.<|end|><|start|>assistant<|channel|>commentary "
        "to=functions.f <|constrain|>json<|message|>not json<|call|>",
        {"Call.", "<|channel|>commentary to=functions.f <|constrain|>json<|message|>not json<|call|>", {}});
    expect_all_splits(
        h, tools_on(), "<|start|>assistant to=functions.f<|channel|>commentary json<|message|>{\"k\": 2} extra<|call|>",
        {"", "<|start|>assistant to=functions.f<|channel|>commentary json<|message|>{\"k\": 2} extra<|call|>", {}});
    // a prompt that opened the analysis message: the answer starts inside it
    chat_parse_options open = tools_on();
    open.reasoning_open = true;
    expect_all_splits(h, open,
                      "Still thinking.<|end|><|start|>assistant<|channel|>commentary to=functions.f <|constrain|>"
                      "json<|message|>{\"k\": 2}<|call|>",
                      {"Still thinking.", "", {{"f", R"({"k":2})"}}});
}

// reasoning_format none: the analysis message stays in the content as written, header and end marker
// included, and the answer follows it without its own header, as llama-server (--jinja, reasoning
// format none) gives it: "<|channel|>analysis<|message|>Hm.<|end|>Hi." for the first text below.
TEST(ChatOutput, GptOssInlineReasoning) {
    const chat_syntax h = family("<|channel|>");
    chat_parse_options inline_ = tools_on();
    inline_.split_reasoning = false;
    expect_all_splits(h, inline_,
                      "<|channel|>analysis<|message|>Hm.<|end|><|start|>assistant<|channel|>final<|message|>Hi.",
                      {"", "<|channel|>analysis<|message|>Hm.<|end|>Hi.", {}});
    expect_all_splits(
        h, inline_,
        "<|channel|>analysis<|message|>Hm.<|end|><|start|>assistant<|channel|>analysis<|message|>More."
        "<|end|><|start|>assistant<|channel|>final<|message|>Hi.<|return|>",
        {"", "<|channel|>analysis<|message|>Hm.<|end|><|channel|>analysis<|message|>More.<|end|>Hi.", {}});
    // the constrained answer's form; and a call after the analysis is still a call
    expect_all_splits(h, inline_,
                      "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>"
                      "{\"a\":1}",
                      {"", "<|channel|>analysis<|message|>Think.<|end|>{\"a\":1}", {}});
    expect_all_splits(h, inline_,
                      "<|channel|>analysis<|message|>Call f.<|end|><|start|>assistant<|channel|>commentary "
                      "to=functions.f <|constrain|>json<|message|>{\"k\": 2}<|call|>",
                      {"", "<|channel|>analysis<|message|>Call f.<|end|>", {{"f", R"({"k":2})"}}});
    // an unfinished analysis message: as far as it was written
    expect_all_splits(h, inline_, "<|channel|>analysis<|message|>Hm, let",
                      {"", "<|channel|>analysis<|message|>Hm, let", {}});
    // a prompt that opened the analysis message: its text and end marker (the header is the prompt's)
    inline_.reasoning_open = true;
    expect_all_splits(h, inline_, "Still.<|end|><|start|>assistant<|channel|>final<|message|>Done.",
                      {"", "Still.<|end|>Done.", {}});
    // without tools a call message is text, kept as written too
    chat_parse_options no_tools;
    no_tools.split_reasoning = false;
    expect_all_splits(h, no_tools,
                      "<|channel|>analysis<|message|>Hm.<|end|><|start|>assistant<|channel|>commentary to=functions.f "
                      "<|constrain|>json<|message|>{\"k\": 2}<|call|>",
                      {"",
                       "<|channel|>analysis<|message|>Hm.<|end|><|channel|>commentary to=functions.f <|constrain|>json"
                       "<|message|>{\"k\": 2}<|call|>",
                       {}});
}

TEST(ChatOutput, GenericJson) {
    const chat_syntax g = family("{{ messages }}");
    expect_all_splits(g, tools_on(), "{\"tool_call\": {\"name\": \"lookup\", \"arguments\": {\"q\": \"x\"}}}",
                      {"", "", {{"lookup", R"({"q":"x"})"}}});
    expect_all_splits(g, tools_on(), "{\"response\": \"hi\"}", {"", "{\"response\": \"hi\"}", {}});
    expect_all_splits(g, tools_on(), "Hi {there}", {"", "Hi {there}", {}});
}

// The content pushed so far, in random chunks (seed 0: whole), before the answer ends.
std::string content_before_end(const chat_syntax& s, const chat_parse_options& o, const std::string& text,
                               uint32_t seed) {
    chat_output_parser p(s, o);
    std::mt19937 rng(seed);
    std::string content;
    for (size_t i = 0, n = 0; i < text.size(); i += n) {
        n = seed == 0 ? text.size() : 1 + rng() % 6;
        content += p.push(std::string_view(text).substr(i, n)).content;
    }
    return content;
}

// With tools offered, a generic answer that opens like a call object streams as content once it
// cannot be one (not an object, an object that is no call, text after the object), not at its end;
// a call, and an object still open, wait.
TEST(ChatOutput, GenericJsonStreamsWhatCannotBeACall) {
    const chat_syntax g = family("{{ messages }}");
    const std::string call = R"({"tool_call": {"name": "f", "arguments": {"q": 1}}})";
    for (const std::string& text : {std::string("{there} once upon a time"), std::string(R"({"response": "hi"})"),
                                    std::string(R"( {"response": "hi"} and more)"), call + " and more",
                                    std::string(R"({"tool_call": {"name": "f", "arguments": [1]}})")}) {
        expect_all_splits(g, tools_on(), text, {"", text, {}});
        for (uint32_t seed = 0; seed < 50; ++seed)
            ASSERT_EQ(content_before_end(g, tools_on(), text, seed), text) << "seed " << seed;
    }
    expect_all_splits(g, tools_on(), call, {"", "", {{"f", R"({"q":1})"}}});
    // another key first is still a call
    expect_all_splits(g, tools_on(), R"({"a": 0, "tool_call": {"name": "f", "arguments": {"q": 1}}})",
                      {"", "", {{"f", R"({"q":1})"}}});
    for (const std::string& text : {call, call.substr(0, 20), std::string(R"({"response": "hi)")})
        for (uint32_t seed = 0; seed < 50; ++seed) ASSERT_EQ(content_before_end(g, tools_on(), text, seed), "");
}

// The shape a forced call is generated in (chat_syntax's tool_call_shape, which answer_grammar turns
// into a grammar) is read back by the family's parser: two calls, joined as the shape joins them.
TEST(ChatOutput, ForcedCallShapesParse) {
    for (const char* markers :
         {"<tool_call> <think>", "<|start_header_id|>ipython", "[TOOL_CALLS]", "<｜tool▁calls▁begin｜>",
          "<|start_header_id|> <function=", ">>>all", "<|tool_call>", "<|channel|>", "{{ x }}"}) {
        const chat_syntax s = family(markers);
        const tool_call_shape& sh = s.shape;
        const bool gemma = sh.args.raw_strings;
        const std::string args = gemma ? "{k:<|\"|>v, w<|\"|>,n:1}" : "{\"k\": \"v, w\", \"n\": 1}";
        auto call = [&](const std::string& name) {
            const std::string body = sh.args_at == tool_args_at::inline_
                                         ? name + sh.name_suffix + args
                                         : "{\"name\": \"" + name + "\", \"" +
                                               (sh.args_at == tool_args_at::parameters ? "parameters" : "arguments") +
                                               "\": " + args + "}";
            return sh.call_prefix + body + sh.call_suffix;
        };
        const std::string text = sh.prefix + call("get_a") + sh.separator + call("get_b") + sh.suffix;
        const std::string want_args = R"({"k":"v, w","n":1})";
        expect_all_splits(s, tools_on(), text, {"", "", {{"get_a", want_args}, {"get_b", want_args}}});
        // byte by byte, each call's arguments stream as they are written (not once whole)
        int n_pieces = 0;
        (void)parse(s, tools_on(), text, 3, &n_pieces);
        EXPECT_GE(n_pieces, 2 * 8) << s.name;
    }
}

// A call that begins streaming and then turns out malformed is dropped: its text is content, it is
// not among the calls, and the next call gets the id it would have had without it.
TEST(ChatOutput, StreamedCallThatBreaksIsDropped) {
    const std::string bad = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": }}\n</tool_call>";
    const std::string good = "<tool_call>\n{\"name\": \"g\", \"arguments\": {\"c\": \"x\"}}\n</tool_call>";
    expect_all_splits(hermes, tools_on(), bad + " then " + good,
                      {"",
                       bad + " then ",
                       {{"g", R"({"c":"x")"
                              "}"}}});
    chat_parse_options o = tools_on();
    o.id_seed = 42;
    chat_output_parser whole(hermes, o), bytes(hermes, o);
    const chat_delta w = whole.push(good);
    std::vector<tool_call_delta> pieces;
    std::vector<tool_call> calls;
    const std::string text = bad + good;
    for (size_t i = 0; i < text.size(); ++i) {
        chat_delta d = bytes.push(text.substr(i, 1));
        pieces.insert(pieces.end(), d.call_deltas.begin(), d.call_deltas.end());
        calls.insert(calls.end(), d.calls.begin(), d.calls.end());
    }
    ASSERT_EQ(w.calls.size(), 1u);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].id, w.calls[0].id);
    ASSERT_FALSE(pieces.empty());
    EXPECT_EQ(pieces.front().name, "f");  // begun in the stream before it broke
    EXPECT_EQ(pieces.front().index, 0);
    EXPECT_EQ(pieces.back().index, 1);
}

// An answer cut by max_tokens inside a call, at every byte: the calls streamed so far stay calls (their
// pieces add up to their arguments: parse checks it), named as the whole call and with a prefix of its
// arguments, the same for every chunk split; where no call was streamed yet, the text is content. When
// the model itself stopped there, the unfinished call is text.
TEST(ChatOutput, CutCallsStayCalls) {
    struct sample {
        chat_syntax syntax;
        std::string before, call;
    };
    const std::vector<sample> samples = {
        {hermes, "Let me check. ",
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": "
         "[1, 2]}}\n</tool_call>"},
        {family("[TOOL_CALLS]"), "",
         "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}]"},
        {family("<|tool_call> <|channel>"), "Checking. ",
         "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:3}<tool_call|>"},
        {family("<|channel|>"), "<|channel|>analysis<|message|>Call it.<|end|><|start|>assistant",
         "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\", "
         "\"days\": 3}<|call|>"},
    };
    for (const sample& s : samples) {
        const result whole = parse(s.syntax, tools_on(), s.before + s.call, 0);
        ASSERT_EQ(whole.calls.size(), 1u) << s.syntax.name;
        const std::string answer = s.before + s.call;
        int n_kept = 0;
        for (size_t k = s.before.size(); k < answer.size(); ++k) {
            const std::string text = answer.substr(0, k);
            const result got = parse(s.syntax, tools_on(), text, 0, nullptr, true);
            for (uint32_t seed = 1; seed < 12; ++seed) {
                ASSERT_EQ(parse(s.syntax, tools_on(), text, seed, nullptr, true), got) << s.syntax.name << ": " << text;
            }
            const result stopped = parse(s.syntax, tools_on(), text, 0);
            EXPECT_TRUE(stopped.calls.empty() || stopped == whole) << s.syntax.name << ": " << text;
            if (got.calls.empty()) {
                if (s.syntax.tools != tool_format::harmony) {
                    EXPECT_EQ(got.content, text);
                }
                continue;
            }
            ++n_kept;
            ASSERT_EQ(got.calls.size(), 1u) << text;
            EXPECT_EQ(got.calls[0].name, whole.calls[0].name) << text;
            EXPECT_TRUE(whole.calls[0].arguments.starts_with(got.calls[0].arguments))
                << text << "\n -> " << got.calls[0].arguments;
            EXPECT_EQ(got.reasoning, whole.reasoning) << text;
            EXPECT_EQ(got.content, whole.content) << text;
        }
        // every cut inside the arguments keeps the call
        EXPECT_GE(n_kept, static_cast<int>(whole.calls[0].arguments.size())) << s.syntax.name;
    }
}

// Random answers built from every family's marker fragments, JSON pieces and text: for each family
// and option set, every chunk split gives the same result as the whole (and nothing throws).
TEST(ChatOutput, RandomAnswersAreSplitInvariant) {
    const std::vector<std::string> parts = {"<think>",
                                            "</think>",
                                            "<tool_call>",
                                            "</tool_call>",
                                            "{\"name\": \"f\", \"arguments\": {\"a\": 1}}",
                                            "{\"name\": \"g\", \"parameters\": {}}",
                                            "[TOOL_CALLS]",
                                            "[ARGS]",
                                            "<|python_tag|>",
                                            "<function=f>",
                                            "</function>",
                                            ">>>",
                                            "all\n",
                                            "f\n",
                                            "<|channel>thought",
                                            "<channel|>",
                                            "<|tool_call>call:f{a:1}",
                                            "<tool_call|>",
                                            "<|channel|>",
                                            "analysis",
                                            "final",
                                            " to=functions.f",
                                            "<|message|>",
                                            "<|end|>",
                                            "<|start|>assistant",
                                            "<|call|>",
                                            "<｜tool▁calls▁begin｜>",
                                            "<｜tool▁call▁begin｜>",
                                            "function<｜tool▁sep｜>f\n",
                                            "```json\n",
                                            "\n```",
                                            "<｜tool▁call▁end｜>",
                                            "<｜tool▁calls▁end｜>",
                                            "{",
                                            "}",
                                            "[",
                                            "]",
                                            "\"",
                                            "\n",
                                            "  ",
                                            "hello",
                                            "<",
                                            "|",
                                            ">",
                                            "é",
                                            "東京"};
    const std::vector<std::string> templates = {"<tool_call> <think>",
                                                "<|start_header_id|>ipython",
                                                "[TOOL_CALLS]",
                                                "<｜tool▁calls▁begin｜> <think>",
                                                "<|start_header_id|> <function=",
                                                ">>>all",
                                                "<|tool_call>",
                                                "<|channel|>",
                                                "{{ x }}"};
    std::mt19937 rng(7);
    for (int n = 0; n < 400; ++n) {
        std::string text;
        const int n_parts = 1 + static_cast<int>(rng() % 12);
        for (int i = 0; i < n_parts; ++i) text += parts[rng() % parts.size()];
        const chat_syntax s = family(templates[rng() % templates.size()]);
        chat_parse_options o;
        o.parse_tools = rng() % 4 != 0;
        o.split_reasoning = rng() % 4 != 0;
        o.reasoning_open = rng() % 3 == 0;
        o.parallel_tool_calls = rng() % 3 != 0;
        const result whole = parse(s, o, text, 0);
        for (uint32_t seed = 1; seed < 30; ++seed)
            ASSERT_EQ(parse(s, o, text, seed), whole) << "seed " << seed << " family " << s.name << "\ntext: " << text;
    }
}

// A long argument streams in pieces as it is written, in every family's call shapes (also those it
// reads but never generates: Mistral's [ARGS] calls, the generic single "tool_call").
TEST(ChatOutput, LongArgumentsStreamInEveryFamily) {
    const std::string text(600, 'x');
    const std::string json_args = "{\"text\": \"" + text + "\", \"n\": 1}";
    const std::string want_args = R"({"text":")" + text + R"(","n":1})";
    const struct {
        const char* markers;
        std::string answer;
    } cases[] = {
        {"<tool_call>", "<tool_call>\n{\"name\": \"w\", \"arguments\": " + json_args + "}\n</tool_call>"},
        {"[TOOL_CALLS]", "[TOOL_CALLS][{\"name\": \"w\", \"arguments\": " + json_args + "}]"},
        {"[TOOL_CALLS]", "[TOOL_CALLS]w[ARGS]" + json_args},
        {"<|start_header_id|>ipython", "{\"name\": \"w\", \"parameters\": " + json_args + "}"},
        {"{{ x }}", "{\"tool_calls\": [{\"name\": \"w\", \"arguments\": " + json_args + "}]}"},
        {"{{ x }}", "{\"tool_call\": {\"name\": \"w\", \"arguments\": " + json_args + "}}"},
        {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>w\n```json\n" +
                                       json_args + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
        {"<|tool_call>", "<|tool_call>call:w{text:<|\"|>" + text + "<|\"|>,n:1}<tool_call|>"},
        {"<|channel|>", "<|channel|>commentary to=functions.w <|constrain|>json<|message|>" + json_args + "<|call|>"},
    };
    for (const auto& c : cases) {
        const chat_syntax s = family(c.markers);
        expect_all_splits(s, tools_on(), c.answer, {"", "", {{"w", want_args}}});
        int n_pieces = 0;
        (void)parse(s, tools_on(), c.answer, 3, &n_pieces);  // byte by byte
        EXPECT_GE(n_pieces, 500) << s.name << ": " << c.answer;
    }
}

// The family parsers read a growing section on from their last read (section_resume): at every
// length they decide what a fresh read decides.
TEST(ChatCalls, ResumedSectionReadsAgree) {
    const std::string args = R"({"s": "a \"}\" ]", "v": [1, {"w": "\\"}]})";
    const struct {
        tool_format f;
        std::string marker, text;
    } cases[] = {
        {tool_format::hermes, "<tool_call>",
         "<tool_call>\n{\"name\": \"f\", \"arguments\": " + args + "}\n</tool_call> x"},
        {tool_format::hermes, "<tool_call>", "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}</tool_call"},
        {tool_format::mistral, "[TOOL_CALLS]", "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": " + args + "}] x"},
        {tool_format::mistral, "[TOOL_CALLS]", "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": " + args + "]"},
        {tool_format::mistral, "[TOOL_CALLS]", "[TOOL_CALLS]f[ARGS]" + args + " x"},
        {tool_format::llama3, "",
         "{\"name\": \"f\", \"parameters\": " + args + "}; {\"name\": \"g\", \"parameters\": " + args + "} x"},
        {tool_format::llama3, "", "{\"name\": \"f\", \"parameters\": " + args + "}}"},
        {tool_format::generic, "", "{\"tool_call\": {\"name\": \"f\", \"arguments\": " + args + "}}"},
        {tool_format::deepseek, "<｜tool▁calls▁begin｜>",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n" + args +
             "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
        {tool_format::deepseek, "<｜tool▁calls▁begin｜>",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n" + args +
             "\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>g<｜tool▁sep｜>{}<｜tool▁call▁end｜> x"},
        {tool_format::gemma4, "<|tool_call>", "<|tool_call>call:f{a:<|\"|>x}<|\"|>,b:[1]}<tool_call|>"},
    };
    auto same = [](const call_section& a, const call_section& b) {
        if (a.what != b.what || a.consumed != b.consumed || a.calls.size() != b.calls.size()) return false;
        for (size_t j = 0; j < a.calls.size(); ++j)
            if (a.calls[j].name != b.calls[j].name || a.calls[j].arguments != b.calls[j].arguments) return false;
        return true;
    };
    for (const auto& c : cases) {
        for (uint32_t seed = 1; seed <= 5; ++seed) {
            std::mt19937 rng(seed);
            section_resume resume;
            for (size_t k = c.marker.size();; k = std::min(c.text.size(), k + 1 + rng() % 7)) {
                const std::string_view prefix = std::string_view(c.text).substr(0, k);
                const bool final = k == c.text.size();
                const call_section fresh = parse_call_section(c.f, prefix, c.marker, final);
                const call_section goes_on = parse_call_section(c.f, prefix, c.marker, final, &resume);
                ASSERT_TRUE(same(fresh, goes_on)) << "prefix " << k << " of " << c.text;
                if (final || fresh.what != call_section::status::need_more) break;
            }
        }
    }
}

TEST(ChatCalls, GemmaArguments) {
    const std::string text = "{a:{b:<|\"|>c, d<|\"|>},e:[],f:null,g:-1.5} extra";
    const args_rewrite r = rewrite_args(text, gram::value_syntax_gemma4());
    ASSERT_TRUE(r.whole());
    EXPECT_EQ(r.json, R"({"a":{"b":"c, d"},"e":[],"f":null,"g":-1.5})");
    EXPECT_EQ(r.end, text.find(" extra"));
    EXPECT_TRUE(rewrite_args("{a:}", gram::value_syntax_gemma4()).bad);
    EXPECT_TRUE(rewrite_args("{a b:1}", gram::value_syntax_gemma4()).bad);
    EXPECT_EQ(rewrite_args("{ k :<|\"|>x<tool_call|><|\"|>,<|\"|>q k<|\"|>:true}", gram::value_syntax_gemma4()).json,
              R"({"k":"x<tool_call|>","q k":true})");
}

TEST(ChatCalls, JsonValueEnd) {
    EXPECT_EQ(json_value_end(R"({"a":"}"})", 0), 9u);
    EXPECT_EQ(json_value_end(R"({"a":"\"}"})", 0), 11u);
    EXPECT_EQ(json_value_end(R"({"a":[1,)", 0), std::string_view::npos);
    // read on from a stop: inside a string, after a backslash, in nested values
    const std::string text = R"(x {"a":"\"}\\", "b": [{"c": "]"}]} y)";
    for (size_t cut = 3; cut < text.size(); ++cut) {
        json_scan resume;
        const size_t first = json_value_end(std::string_view(text).substr(0, cut), 2, &resume);
        if (first != std::string_view::npos) continue;
        EXPECT_EQ(json_value_end(text, 2, &resume), text.size() - 2) << "cut at " << cut;
    }
}

}  // namespace
}  // namespace tandem
