// Token masks against brute force: at every prefix of some documents, the trie walk's mask equals
// trying each token's bytes on the recognizer one token at a time; random walks through the mask
// only ever produce text the grammar takes, and complete ones parse as JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "engine/grammar/json_schema.h"
#include "engine/grammar/token_mask.h"

namespace tandem::gram {
namespace {

using json = nlohmann::ordered_json;

constexpr int32_t k_eog = 1;

// A small vocabulary: every single byte (as byte tokens), multi-byte pieces that cross JSON token
// boundaries, a control token ("") and an end-of-generation token.
std::vector<std::string> small_vocab() {
    std::vector<std::string> v = {"", "<eos>"};
    for (int b = 1; b < 256; ++b) v.push_back(std::string(1, static_cast<char>(b)));
    for (const char* p :
         {"{\"",  "\":", "\"name", "name", "true", "}\n", "  ", "\n ",   "123", "\xc3\xa9", ",\"", "null", "\"}",
          "\"]}", "[{",  "ab",     " \"",  "-1",   "1.5", "e+", "\":\"", "\"a", "a\"",      "\\n", "\\u00"})
        v.push_back(p);
    return v;
}

std::vector<uint64_t> brute_force(const grammar& g, const parse_state& st, const token_index& vocab) {
    std::vector<uint64_t> bits((static_cast<size_t>(vocab.n_vocab()) + 63) / 64, 0);
    for (int32_t id = 0; id < vocab.n_vocab(); ++id) {
        bool ok;
        if (vocab.is_eog(id)) {
            ok = st.accept;
        } else if (vocab.piece(id).empty()) {
            ok = false;
        } else {
            ok = !parse_advance(g, st, vocab.piece(id)).dead();
        }
        if (ok) bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
    }
    return bits;
}

token_index make_index() {
    std::vector<std::string> v = small_vocab();
    v[k_eog] = "";  // the end-of-generation token has no bytes
    return token_index(v, {k_eog});
}

void check_masks_along(std::shared_ptr<compiled_grammar> g, const std::vector<std::string>& docs);

void check_masks_along(const char* schema_text, const std::vector<std::string>& docs) {
    check_masks_along(
        std::make_shared<compiled_grammar>(schema_text ? grammar_from_json_schema(json::parse(schema_text), true)
                                                       : grammar_json_object()),
        docs);
}

void check_masks_along(std::shared_ptr<compiled_grammar> g, const std::vector<std::string>& docs) {
    const token_index vocab = make_index();
    for (const std::string& doc : docs) {
        parse_state st = parse_start(g->rules());
        for (size_t i = 0; i <= doc.size(); ++i) {
            const std::span<const uint64_t> m = g->mask(st, vocab);
            const std::vector<uint64_t> want = brute_force(g->rules(), st, vocab);
            ASSERT_TRUE(std::equal(m.begin(), m.end(), want.begin(), want.end())) << doc << " at " << i;
            if (i == doc.size()) {
                EXPECT_TRUE(st.accept) << doc;
                break;
            }
            st = parse_advance(g->rules(), st, doc.substr(i, 1));
            ASSERT_FALSE(st.dead()) << doc << " at " << i;
        }
    }
}

TEST(TokenMask, MatchesBruteForceOnAnyObject) {
    check_masks_along(nullptr, {R"({"name": [true, null, -1.5e+3], "ab": {"x": "\u00e9\n"}})", "{ }",
                                "{\n  \"name\": \"\xc3\xa9\"\n}"});
}

TEST(TokenMask, MatchesBruteForceOnSchema) {
    const char* s = R"({"type":"object","properties":{"name":{"type":"string","maxLength":4},
        "tags":{"type":"array","items":{"enum":["ab","abc"]},"maxItems":2},"n":{"type":"integer"}},
        "required":["name"]})";
    check_masks_along(s, {R"({"name":"abcd","tags":["abc","ab"],"n":-12})", R"({"name":"","n":0})"});
}

TEST(TokenMask, MatchesBruteForceOnRangesAndPatterns) {
    const char* s = R"({"type":"object","properties":{"n":{"type":"integer","minimum":-40,"maximum":1234},
        "x":{"type":"number","exclusiveMinimum":0,"maximum":10},"id":{"type":"string","pattern":"^[A-Z]{2}-\\d+$"},
        "t":{"type":"string","pattern":"ab|c\""}},"required":["n","x","id","t"]})";
    check_masks_along(
        s, {R"({"n":-40,"x":0.25,"id":"AB-12","t":"xabx"})", R"({"n":1234,"x":10.0,"id":"QZ-0","t":"c\"!"})"});
}

TEST(TokenMask, MatchesBruteForceAfterFreeText) {
    sequence_spec spec;
    spec.lead = {"", "\"]}", true, "", ""};
    const auto g = std::make_shared<compiled_grammar>(
        grammar_from_sequence(json::parse(R"({"type":"object","properties":{"name":{"type":"string"}}})"), spec, true));
    check_masks_along(g, {"name: ab \"] \"]\"]}{\"name\":\"ab\"}", "\"]}{}"});
    const auto optional = std::make_shared<compiled_grammar>(grammar_json_object({"[[", "]]", false, "", ""}));
    check_masks_along(optional, {"[[ a ] b ]]{}", "{\"x\": 1}", "[[]]{}"});
}

// A control token the sequence shows as text (id 0 here, "" in the vocabulary) is allowed exactly
// where the grammar takes its text: Gemma 4 ends its reasoning with such a token.
TEST(TokenMask, ShownControlTokensAreAllowedByTheirText) {
    const token_index vocab = make_index();
    const auto g = std::make_shared<compiled_grammar>(grammar_json_object({"", "<channel|>", true, "", ""}));
    grammar_matcher m(g, vocab);
    EXPECT_FALSE(mask_has(m.mask(), 0));  // not shown: never
    m.show_tokens({{0, "<channel|>"}});
    EXPECT_TRUE(mask_has(m.mask(), 0));                    // the reasoning may end here
    EXPECT_FALSE(mask_has(g->mask(m.state(), vocab), 0));  // the shared cached mask is untouched
    ASSERT_TRUE(m.accept(0));
    EXPECT_FALSE(mask_has(m.mask(), 0));  // inside the JSON: not allowed
    EXPECT_FALSE(m.accept(0));
    ASSERT_TRUE(m.accept(static_cast<int32_t>(1 + '{')));  // byte tokens: id 1 + byte
    ASSERT_TRUE(m.accept(static_cast<int32_t>(1 + '}')));
    EXPECT_TRUE(m.can_end());
}

TEST(TokenMask, MatcherWalksStayValid) {
    const token_index vocab = make_index();
    const char* s = R"({"type":"object","properties":{"name":{"type":"string","maxLength":3},
        "ok":{"type":"boolean"},"xs":{"type":"array","items":{"type":"integer"},"maxItems":3}},
        "required":["name","ok","xs"],"additionalProperties":false})";
    const auto g = std::make_shared<compiled_grammar>(grammar_from_json_schema(json::parse(s), true));
    std::mt19937 rng(1);
    int n_complete = 0;
    for (int walk = 0; walk < 40; ++walk) {
        grammar_matcher m(g, vocab);
        std::string text;
        for (int step = 0; step < 400 && !m.done(); ++step) {
            const std::span<const uint64_t> bits = m.mask();
            std::vector<int32_t> allowed;
            for (int32_t id = 0; id < vocab.n_vocab(); ++id) {
                if (mask_has(bits, id)) allowed.push_back(id);
            }
            ASSERT_FALSE(allowed.empty());
            const int32_t t = allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)];
            ASSERT_TRUE(m.accept(t));
            if (!vocab.is_eog(t)) text += vocab.piece(t);
        }
        if (!m.done()) continue;
        ++n_complete;
        const json j = json::parse(text);  // throws if it is not JSON
        EXPECT_TRUE(j.at("name").is_string() && j.at("name").get<std::string>().size() <= 12) << text;
        EXPECT_TRUE(j.at("ok").is_boolean()) << text;
        EXPECT_TRUE(j.at("xs").is_array() && j.at("xs").size() <= 3) << text;
        EXPECT_EQ(j.size(), 3u) << text;
    }
    EXPECT_GT(n_complete, 10);
    // A token the grammar does not allow is refused and changes nothing.
    grammar_matcher m(g, vocab);
    EXPECT_FALSE(m.accept(k_eog));
    EXPECT_FALSE(m.accept(0));
    EXPECT_TRUE(m.accept(static_cast<int32_t>(1 + '{')));
    EXPECT_FALSE(m.accept(static_cast<int32_t>(1 + '}')));  // "name" is required
}

}  // namespace
}  // namespace tandem::gram
