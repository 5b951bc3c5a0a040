// The schema compiler and the byte recognizer: documents that are valid against a schema (by the
// JSON Schema spec, written out by hand) are accepted, and broken ones are rejected at the byte where
// they go wrong; unsupported keywords are refused by name.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/parse_state.h"

namespace tandem::gram {
namespace {

using json = nlohmann::ordered_json;

// How many bytes of `text` the grammar takes before no parse is left (text.size() + 1 when all of it
// is a complete sentence, text.size() when all of it is only a prefix of one).
size_t taken(const grammar& g, const std::string& text) {
    parse_state st = parse_start(g);
    for (size_t i = 0; i < text.size(); ++i) {
        st = parse_advance(g, st, text.substr(i, 1));
        if (st.dead()) return i;
        if (!st.can_continue() && i + 1 < text.size()) return i + 1;
    }
    return st.accept ? text.size() + 1 : text.size();
}

bool accepts(const grammar& g, const std::string& text) {
    return taken(g, text) == text.size() + 1;
}

grammar schema(const char* text, bool strict = true) {
    return grammar_from_json_schema(json::parse(text), strict);
}

TEST(JsonSchema, AnyObject) {
    const grammar g = grammar_json_object();
    for (const char* ok : {"{}", "{ }", R"({"a":1})", R"({"a": [1, 2.5, -3e+2, true, null, "x\n\u00e9"], "b": {}})",
                           "{\n  \"k\": {\"n\": [[], [{}]]}\n}", "{\"\xc3\xa9\": \"\xe2\x82\xac\"}"}) {
        EXPECT_TRUE(accepts(g, ok)) << ok;
    }
    EXPECT_EQ(taken(g, "[1]"), 0u);  // an object, not any value
    EXPECT_EQ(taken(g, R"({"a":01})"), 6u);
    EXPECT_EQ(taken(g, R"({"a":1,})"), 7u);
    EXPECT_EQ(taken(g, R"({'a':1})"), 1u);
    EXPECT_EQ(taken(g, "{\"a\":\"\x01\"}"), 6u);  // control bytes must be escaped
    EXPECT_EQ(taken(g, "{\"\xc0\xaf\":1}"), 2u);  // overlong UTF-8
    EXPECT_EQ(taken(g, R"({"a":1}})"), 7u);       // nothing after the object
    EXPECT_EQ(taken(g, R"({"a":1)"), 6u);         // a prefix only
    // Whitespace is bounded.
    EXPECT_TRUE(accepts(g, "{\n" + std::string(k_max_indent, ' ') + "}"));
    EXPECT_EQ(taken(g, "{\n" + std::string(k_max_indent + 1, ' ') + "}"), static_cast<size_t>(k_max_indent + 2));
    EXPECT_EQ(taken(g, "{  }"), 2u);
    EXPECT_EQ(taken(g, "{\n\n}"), 2u);
}

TEST(JsonSchema, DeepNesting) {
    const grammar g = grammar_json_object();
    const size_t depth = 1500;
    EXPECT_TRUE(accepts(g, "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}"));
    EXPECT_FALSE(accepts(g, "{\"a\":" + std::string(depth, '[') + std::string(depth - 1, ']') + "}"));
}

TEST(JsonSchema, ObjectPropertiesRequiredAndOrder) {
    const grammar g = schema(R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
        "tags":{"type":"array","items":{"type":"string"}}},"required":["name"],"additionalProperties":false})");
    EXPECT_TRUE(accepts(g, R"({"name":"a"})"));
    EXPECT_TRUE(accepts(g, R"({"name":"a","age":3})"));
    EXPECT_TRUE(accepts(g, R"({"name":"a","tags":["x","y"]})"));
    EXPECT_TRUE(accepts(g, R"({ "name" : "a" , "age" : -12 , "tags" : [ ] })"));
    EXPECT_FALSE(accepts(g, R"({"age":3})"));               // name is required
    EXPECT_FALSE(accepts(g, R"({"name":"a","age":3.5})"));  // an integer
    EXPECT_FALSE(accepts(g, R"({"name":"a","other":1})"));  // no additional properties
    EXPECT_FALSE(accepts(g, R"({"name":"a",})"));
    EXPECT_FALSE(accepts(g, R"({"name":1})"));
    EXPECT_FALSE(accepts(g, R"({"name":"a","tags":[1]})"));
}

TEST(JsonSchema, AdditionalPropertiesSchema) {
    const grammar g = schema(R"({"type":"object","properties":{"a":{"type":"boolean"}},
        "additionalProperties":{"type":"number"}})");
    EXPECT_TRUE(accepts(g, R"({})"));
    EXPECT_TRUE(accepts(g, R"({"a":true,"x":1,"y":2.5})"));
    EXPECT_TRUE(accepts(g, R"({"x":1})"));
    EXPECT_FALSE(accepts(g, R"({"x":"s"})"));
    // Absent: allowed only for a non-strict schema without properties.
    EXPECT_FALSE(accepts(schema(R"({"type":"object"})"), R"({"x":1})"));
    EXPECT_TRUE(accepts(schema(R"({"type":"object"})", false), R"({"x":1})"));
    EXPECT_FALSE(accepts(schema(R"({"type":"object","properties":{"a":{}}})", false), R"({"x":1})"));
}

TEST(JsonSchema, ArraysBoundsAndPrefixItems) {
    const grammar g = schema(R"({"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3})");
    EXPECT_FALSE(accepts(g, "[1]"));
    EXPECT_TRUE(accepts(g, "[1,2]"));
    EXPECT_TRUE(accepts(g, "[1, 2, 3]"));
    EXPECT_FALSE(accepts(g, "[1,2,3,4]"));
    EXPECT_FALSE(accepts(g, "[]"));
    const grammar p = schema(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"items":false})");
    EXPECT_TRUE(accepts(p, R"(["a",true])"));
    EXPECT_TRUE(accepts(p, R"(["a"])"));
    EXPECT_TRUE(accepts(p, R"([])"));
    EXPECT_FALSE(accepts(p, R"([true])"));
    EXPECT_FALSE(accepts(p, R"(["a",true,1])"));
    const grammar q = schema(R"({"type":"array","prefixItems":[{"const":1}],"items":{"type":"null"},"minItems":2})");
    EXPECT_TRUE(accepts(q, "[1,null]"));
    EXPECT_TRUE(accepts(q, "[1,null,null]"));
    EXPECT_FALSE(accepts(q, "[1]"));
}

TEST(JsonSchema, EnumConstAnyOfNullable) {
    const grammar e = schema(R"({"enum":["red","green",3,null,{"a":[1]}]})");
    for (const char* ok : {R"("red")", R"("green")", "3", "null", R"({"a":[1]})"}) EXPECT_TRUE(accepts(e, ok)) << ok;
    EXPECT_FALSE(accepts(e, R"("blue")"));
    EXPECT_FALSE(accepts(e, "4"));
    const grammar u = schema(R"({"anyOf":[{"type":"string","maxLength":2},{"type":"integer"}]})");
    EXPECT_TRUE(accepts(u, R"("ab")"));
    EXPECT_TRUE(accepts(u, "42"));
    EXPECT_FALSE(accepts(u, R"("abc")"));
    EXPECT_FALSE(accepts(u, "true"));
    const grammar t = schema(R"({"type":["string","null"]})");
    EXPECT_TRUE(accepts(t, "null"));
    EXPECT_TRUE(accepts(t, R"("")"));
    const grammar n = schema(R"({"type":"boolean","nullable":true})");
    EXPECT_TRUE(accepts(n, "null"));
    EXPECT_TRUE(accepts(n, "false"));
}

TEST(JsonSchema, StringsLengthsAndFormats) {
    const grammar g = schema(R"({"type":"string","minLength":2,"maxLength":3})");
    EXPECT_FALSE(accepts(g, R"("a")"));
    EXPECT_TRUE(accepts(g, R"("ab")"));
    EXPECT_TRUE(accepts(g, "\"\xc3\xa9\\n\\u0041\""));  // length counts characters, not bytes
    EXPECT_FALSE(accepts(g, R"("abcd")"));
    const grammar d = schema(R"({"type":"string","format":"date"})");
    EXPECT_TRUE(accepts(d, R"("2024-02-29")"));
    EXPECT_FALSE(accepts(d, R"("2024-13-01")"));
    EXPECT_FALSE(accepts(d, R"("24-01-01")"));
    const grammar dt = schema(R"({"type":"string","format":"date-time"})");
    EXPECT_TRUE(accepts(dt, R"("2024-02-29T23:59:07Z")"));
    EXPECT_TRUE(accepts(dt, R"("2024-02-29T23:59:07.123+05:30")"));
    EXPECT_FALSE(accepts(dt, R"("2024-02-29 23:59:07Z")"));
    const grammar u = schema(R"({"type":"string","format":"uuid"})");
    EXPECT_TRUE(accepts(u, R"("123e4567-e89b-12d3-a456-426614174000")"));
    EXPECT_FALSE(accepts(u, R"("123e4567-e89b-12d3-a456-42661417400")"));
    const grammar m = schema(R"({"type":"string","format":"email"})");
    EXPECT_TRUE(accepts(m, R"("a.b+c@example.co.uk")"));
    EXPECT_FALSE(accepts(m, R"("a@b")"));
    EXPECT_FALSE(accepts(m, R"("@example.com")"));
}

TEST(JsonSchema, NumbersAreBounded) {
    const grammar n = schema(R"({"type":"number"})");
    for (const char* ok : {"0", "-0", "1.5", "-12.25e-3", "1E9", "1234567890123456"}) EXPECT_TRUE(accepts(n, ok)) << ok;
    for (const char* bad : {"01", "1.", ".5", "+1", "1e", "12345678901234567", "--1"})
        EXPECT_FALSE(accepts(n, bad)) << bad;
}

TEST(JsonSchema, RecursiveRefs) {
    const grammar g = schema(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
        "value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
        "required":["value","children"],"additionalProperties":false}}})");
    EXPECT_TRUE(accepts(g, R"({"value":1,"children":[]})"));
    EXPECT_TRUE(accepts(g, R"({"value":1,"children":[{"value":2,"children":[{"value":3,"children":[]}]}]})"));
    EXPECT_FALSE(accepts(g, R"({"value":1,"children":[{"value":2}]})"));
    const grammar d = schema(R"({"type":"object","properties":{"a":{"$ref":"#/definitions/x"}},"required":["a"],
        "definitions":{"x":{"enum":[1,2]}}})");
    EXPECT_TRUE(accepts(d, R"({"a":2})"));
    EXPECT_FALSE(accepts(d, R"({"a":3})"));
}

std::string refusal(const char* text) {
    try {
        (void)schema(text);
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

TEST(JsonSchema, RefusesWhatItDoesNotDo) {
    EXPECT_NE(refusal(R"({"type":"string","not":{"const":"a"}})").find("'not'"), std::string::npos);
    EXPECT_NE(refusal(R"({"type":"object","properties":{"n":{"type":"integer","multipleOf":2}}})").find("'multipleOf'"),
              std::string::npos);
    EXPECT_NE(
        refusal(R"({"type":"object","properties":{"n":{"type":"integer","multipleOf":2}}})").find("/properties/n"),
        std::string::npos);
    EXPECT_NE(refusal(R"({"type":"thing"})").find("unknown type"), std::string::npos);
    EXPECT_NE(refusal(R"({"$ref":"#/$defs/missing"})").find("points nowhere"), std::string::npos);
    EXPECT_NE(refusal(R"({"type":"string","format":"uri"})").find("'uri'"), std::string::npos);
    EXPECT_NE(refusal(R"({"$ref":"#"})").find("left recursion"), std::string::npos);
    EXPECT_NE(refusal(R"({"type":"array","maxItems":99999})").find("maxItems"), std::string::npos);
    EXPECT_NE(refusal(R"([1])").find("must be an object"), std::string::npos);
}

TEST(JsonSchema, SequenceForToolCalls) {
    const json tools = json::parse(R"([{"type":"function","function":{"name":"get_weather","parameters":{
        "type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
        {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}])");
    sequence_spec spec;
    spec.item_prefix = "<tool_call>\n";
    spec.item_suffix = "\n</tool_call>";
    spec.separator = "\n";
    spec.min_items = 1;
    spec.max_items = -1;
    const grammar g = grammar_from_sequence(tool_calls_schema(tools), spec, true);
    EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\":\"now\",\"arguments\":{}}\n</tool_call>"));
    EXPECT_TRUE(accepts(g,
                        "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}\n</tool_call>\n"
                        "<tool_call>\n{\"name\":\"now\",\"arguments\":{}}\n</tool_call>"));
    EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{}}\n</tool_call>"));
    EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\":\"other\",\"arguments\":{}}\n</tool_call>"));
    EXPECT_FALSE(accepts(g, ""));
}

TEST(JsonSchema, FreeTextUntilAMarker) {
    sequence_spec spec;
    spec.lead = {"<think>", "</think>", true, "", ""};
    spec.prefix = "\n";
    const grammar g = grammar_from_sequence(json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}},
        "required":["a"]})"),
                                            spec, true);
    EXPECT_TRUE(accepts(g, "</think>\n{\"a\":1}"));
    EXPECT_TRUE(accepts(g, "Let me see: <b> </thin </think </think>\n{\"a\":2}"));
    EXPECT_TRUE(accepts(g, "<</</t</th</thi</thin</think</think>\n{\"a\":3}"));  // every partial match
    EXPECT_FALSE(accepts(g, "</think>\n</think>\n{\"a\":1}"));                   // JSON right after the first
    EXPECT_FALSE(accepts(g, "no marker {\"a\":1}"));
    EXPECT_FALSE(accepts(g, "</think>{\"a\":1}"));  // the prefix
}

// A model that opens its reasoning itself (Qwen3, Gemma 4 with thinking on): the block is optional,
// the answer is the same either way, and nothing may come before the block.
TEST(JsonSchema, OptionalReasoningBlockBeforeTheAnswer) {
    const json schema = json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})");
    const reasoning_lead lead{"<|channel>thought", "<channel|>", false, "", ""};
    const grammar g = grammar_from_json_schema(schema, true, lead);
    EXPECT_TRUE(accepts(g, "{\"a\":1}"));
    EXPECT_TRUE(accepts(g, "<|channel>thought\nhm {\"a\": <channel|>{\"a\":2}"));
    EXPECT_TRUE(accepts(g, "<|channel>thought<channel|>{\"a\":3}"));
    EXPECT_FALSE(accepts(g, "<|channel>thought\nno end {\"a\":1}"));
    EXPECT_FALSE(accepts(g, "text <|channel>thought<channel|>{\"a\":1}"));
    EXPECT_FALSE(accepts(g, "<|channel>thought<channel|>{\"a\":\"x\"}"));
    const grammar o = grammar_json_object(lead);
    EXPECT_TRUE(accepts(o, "<|channel>thought\n{<channel|>{\"k\": []}"));
    EXPECT_FALSE(accepts(o, "<|channel>thought\n<channel|>[]"));
    // Opened by the prompt: the reasoning is not optional (the answer starts inside it).
    const grammar open = grammar_json_object({"<think>", "</think>", true, "", ""});
    EXPECT_TRUE(accepts(open, "so {}</think>{}"));
    EXPECT_FALSE(accepts(open, "{}"));
    EXPECT_EQ(reasoning_lead{}.key(), "");
    EXPECT_NE(lead.key(), (reasoning_lead{"<|channel>thought", "<channel|>", true, "", ""}.key()));
}

// gpt-oss: the reasoning is an analysis message; the answer follows in the next message's final
// channel, whether or not the model reasoned first.
TEST(JsonSchema, HarmonyReasoningThenTheFinalChannel) {
    const json schema = json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})");
    reasoning_lead lead{"<|channel|>analysis<|message|>", "<|end|>", false, "<|start|>assistant", ""};
    lead.answer_start = "<|channel|>final<|message|>";
    const grammar g = grammar_from_json_schema(schema, true, lead);
    EXPECT_TRUE(accepts(g,
                        "<|channel|>analysis<|message|>Need {a}.<|end|><|start|>assistant<|channel|>final"
                        "<|message|>{\"a\":1}"));
    EXPECT_TRUE(accepts(g, "<|channel|>final<|message|>{\"a\":2}"));
    EXPECT_FALSE(accepts(g, "{\"a\":1}"));  // the final channel's header first
    EXPECT_FALSE(accepts(g, "<|channel|>analysis<|message|>x<|end|><|channel|>final<|message|>{\"a\":1}"));
    EXPECT_FALSE(accepts(g, "<|channel|>analysis<|message|>x<|end|><|start|>assistant{\"a\":1}"));
    // a forced call has its own channel header (the shape's call prefix): no answer_start
    sequence_spec spec;
    spec.lead = {"<|channel|>analysis<|message|>", "<|end|>", false, "<|start|>assistant", ""};
    spec.item_prefix = "<|channel|>commentary to=functions.f <|constrain|>json<|message|>";
    spec.item_suffix = "<|call|>";
    const grammar calls = grammar_from_sequence(schema, spec, true);
    EXPECT_TRUE(accepts(calls,
                        "<|channel|>analysis<|message|>Call f.<|end|><|start|>assistant<|channel|>commentary "
                        "to=functions.f <|constrain|>json<|message|>{\"a\":3}<|call|>"));
    EXPECT_TRUE(accepts(calls, "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\":3}<|call|>"));
    EXPECT_NE(lead.key(), spec.lead.key());
    EXPECT_NE((reasoning_lead{"", "", false, "", "<|channel|>final<|message|>"}.key()), "");
}

TEST(JsonSchema, ToolCallsKeepTheirOwnDefs) {
    const json tools = json::parse(R"([{"type":"function","function":{"name":"add","parameters":{
        "type":"object","properties":{"item":{"$ref":"#/$defs/item"}},"required":["item"],
        "$defs":{"item":{"enum":["a","b"]}}}}},
        {"type":"function","function":{"name":"tag","parameters":{"type":"object","properties":{
        "t":{"$ref":"#/$defs/item"}},"required":["t"],"$defs":{"item":{"type":"integer"}}}}}])");
    sequence_spec spec;
    spec.prefix = "[";
    spec.separator = ", ";
    spec.suffix = "]";
    spec.max_items = 2;
    const grammar g = grammar_from_tool_calls(tools, spec, true);
    EXPECT_TRUE(accepts(g, R"([{"name": "add", "arguments": {"item": "a"}}])"));
    EXPECT_TRUE(accepts(g, R"([{"name":"add","arguments":{"item":"b"}}, {"name":"tag","arguments":{"t":7}}])"));
    EXPECT_FALSE(accepts(g, R"([{"name":"tag","arguments":{"t":"a"}}])"));  // tag's item is an integer
    EXPECT_FALSE(accepts(g, R"([{"name":"add","arguments":{"item":1}}])"));
    EXPECT_FALSE(accepts(g, R"([])"));
    const grammar p = grammar_from_tool_calls(tools, spec, true, call_form{"name", "parameters", "", {}});
    EXPECT_TRUE(accepts(p, R"([{"name":"tag","parameters":{"t":1}}])"));
    try {
        (void)grammar_from_tool_calls(
            json::parse(
                R"([{"type":"function","function":{"name":"f","parameters":{"type":"string","multipleOf":2}}}])"),
            spec, true);
        ADD_FAILURE() << "multipleOf was accepted";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("tool 'f'"), std::string::npos) << e.what();
    }
}

// Gemma 4's argument syntax: strings between <|"|> markers with no escapes (any text but the marker),
// keys bare when they are names, no white space; lengths count characters.
TEST(JsonSchema, GemmaArgumentSyntax) {
    grammar_builder b;
    json_grammar jg(b, true, value_syntax_gemma4());
    const grammar g = b.finish(jg.schema(json::parse(R"({"type":"object","properties":{
        "city":{"type":"string","maxLength":5},"unit":{"enum":["c","f"]},"n":{"type":"integer"},
        "tags":{"type":"array","items":{"type":"string"}},"when":{"type":"string","format":"date"},
        "my key":{"const":{"a b":[true,null]}}},"required":["city"]})")));
    const std::string q = "<|\"|>";
    EXPECT_TRUE(accepts(g, "{city:" + q + "Paris" + q + "}"));
    EXPECT_TRUE(accepts(g, "{city:" + q + "" + q + ",unit:" + q + "f" + q + ",n:-12}"));
    EXPECT_TRUE(accepts(g, "{city:" + q + "a\"b\\<" + q + "}"));  // no escapes; '<' alone is text
    EXPECT_TRUE(accepts(g, "{city:" + q + "<|\"|" + q + "}"));    // the marker's prefix is text
    EXPECT_TRUE(accepts(g, "{city:" + q + "東京é" + q + "}"));    // characters, not bytes
    EXPECT_TRUE(accepts(g, "{city:" + q + "x" + q + ",tags:[" + q + "a" + q + "," + q + q + "]}"));
    EXPECT_TRUE(accepts(g, "{city:" + q + "x" + q + ",when:" + q + "2026-04-01" + q + "}"));
    EXPECT_TRUE(accepts(g, "{city:" + q + "x" + q + "," + q + "my key" + q + ":{" + q + "a b" + q +
                               ":[true,null]}}"));                // keys that are not names are quoted
    EXPECT_FALSE(accepts(g, "{city:" + q + "Zurich" + q + "}"));  // 6 > maxLength 5
    EXPECT_FALSE(accepts(g, "{\"city\":\"Paris\"}"));             // JSON is not this syntax
    EXPECT_FALSE(accepts(g, "{city: " + q + "Paris" + q + "}"));  // no white space
    EXPECT_FALSE(accepts(g, "{city:" + q + "x" + q + ",unit:" + q + "k" + q + "}"));
    EXPECT_FALSE(accepts(g, "{city:" + q + "a" + q + "b" + q + "}"));  // the marker ends the string
    EXPECT_FALSE(accepts(g, "{city:" + q + "a\x01" + q + "}"));        // control bytes
    // a string with the marker inside cannot be written raw
    grammar_builder b2;
    json_grammar jg2(b2, true, value_syntax_gemma4());
    EXPECT_THROW((void)jg2.schema(json::parse(R"({"const":"a<|\"|>b"})")), error);
}

// A quote with a border ("aa"): closing must not complete an earlier occurrence ("xa" + "aa" would
// read as "x" then "a"), and the unbounded string's count saturates at minLength.
TEST(JsonSchema, RawStringsWithABorderedQuote) {
    grammar_builder b;
    json_grammar jg(b, true, value_syntax{"aa", true, false, false});
    const grammar g = b.finish(jg.schema(json::parse(R"({"type":"string","minLength":2})")));
    EXPECT_TRUE(accepts(g, "aaxyaa"));
    EXPECT_TRUE(accepts(g, "aaxbxaa"));
    EXPECT_FALSE(accepts(g, "aaxaaa"));  // content "xa" ends in the quote's first byte
    EXPECT_FALSE(accepts(g, "aaxaa"));   // one character
    EXPECT_FALSE(accepts(g, "aaxaaxaa"));
    grammar_builder b1;
    json_grammar jg1(b1, true, value_syntax{"aa", true, false, false});
    const grammar g1 = b1.finish(jg1.schema(json::parse(R"({"type":"string","maxLength":1})")));
    EXPECT_TRUE(accepts(g1, "aaxaa"));
    EXPECT_TRUE(accepts(g1, "aaaa"));
    EXPECT_FALSE(accepts(g1, "aaaaa"));  // "a" cannot be closed
}

// Families that write the name in the call's wrapper: an alternation over the tools, each name
// followed by its own arguments.
TEST(JsonSchema, InlineNamesChooseAmongTools) {
    const json tools = json::parse(R"([{"type":"function","function":{"name":"get","parameters":{
        "type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}}},
        {"type":"function","function":{"name":"get_all","parameters":{"type":"object","properties":{
        "q":{"type":"string"}},"required":["q"]}}}])");
    sequence_spec spec;
    spec.item_prefix = "<function=";
    spec.item_suffix = "</function>";
    spec.max_items = 2;
    call_form form;
    form.name_key.clear();
    form.name_suffix = ">";
    const grammar g = grammar_from_tool_calls(tools, spec, true, form);
    EXPECT_TRUE(accepts(g, R"(<function=get>{"id":1}</function>)"));
    EXPECT_TRUE(accepts(g, R"(<function=get_all>{"q":"x"}</function><function=get>{"id":2}</function>)"));
    EXPECT_FALSE(accepts(g, R"(<function=get>{"q":"x"}</function>)"));  // get's own arguments
    EXPECT_FALSE(accepts(g, R"(<function=get_all>{"id":1}</function>)"));
    EXPECT_FALSE(accepts(g, R"(<function=other>{}</function>)"));
    // Gemma 4: the arguments in its own syntax
    sequence_spec gs;
    gs.item_prefix = "<|tool_call>call:";
    gs.item_suffix = "<tool_call|>";
    form.name_suffix = "";
    form.args = value_syntax_gemma4();
    const grammar gg = grammar_from_tool_calls(tools, gs, true, form);
    EXPECT_TRUE(accepts(gg, "<|tool_call>call:get_all{q:<|\"|>a b<|\"|>}<tool_call|>"));
    EXPECT_TRUE(accepts(gg, "<|tool_call>call:get{id:7}<tool_call|>"));
    EXPECT_FALSE(accepts(gg, "<|tool_call>call:get{id:<|\"|>7<|\"|>}<tool_call|>"));
}

}  // namespace
}  // namespace tandem::gram
