// The text a request shows, as the engine builds it token by token: stop strings across token
// boundaries (held back, never shown), whole UTF-8 characters only, and the tail released at the end.
#include <gtest/gtest.h>

#include "engine/tokenizer/stop_matcher.h"
#include "engine/tokenizer/text_stream.h"

namespace tandem {
namespace {

TEST(StopMatcher, MatchesAcrossPushesAndHoldsPartialMatches) {
    stop_matcher m({"###", "END"});
    EXPECT_EQ(m.push("Hello #"), "Hello ");  // "#" may start "###"
    EXPECT_EQ(m.push("#"), "");              // "##" still may
    EXPECT_EQ(m.push("x"), "##x");           // it did not: released
    EXPECT_EQ(m.push("E"), "");
    EXPECT_EQ(m.push("N"), "");
    EXPECT_EQ(m.push("D and more"), "");  // matched: the stop string and the rest are dropped
    EXPECT_TRUE(m.matched());
    EXPECT_EQ(m.push("later"), "");
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, TextBeforeAMatchInsideOnePushIsEmitted) {
    stop_matcher m({"stop"});
    EXPECT_EQ(m.push("abc stop def"), "abc ");
    EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, FlushReleasesAnUnfinishedPartialMatch) {
    stop_matcher m({"<end>"});
    EXPECT_EQ(m.push("x<en"), "x");
    EXPECT_EQ(m.flush(), "<en");
    EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
    stop_matcher m({"bc", "ab"});
    EXPECT_EQ(m.push("xabc"), "x");
}

TEST(StopMatcher, NoStopsPassesEverything) {
    stop_matcher m({});
    EXPECT_EQ(m.push("abc"), "abc");
}

TEST(Utf8Stream, NeverSplitsACharacter) {
    utf8_stream h;
    const std::string euro = "\xE2\x82\xAC";  // U+20AC
    EXPECT_EQ(h.push(euro.substr(0, 1)), "");
    EXPECT_EQ(h.push(euro.substr(1, 1)), "");
    EXPECT_EQ(h.push(euro.substr(2, 1) + "a"), euro + "a");
    const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
    EXPECT_EQ(h.push(emoji.substr(0, 3)), "");
    EXPECT_EQ(h.push(emoji.substr(3)), emoji);
    EXPECT_EQ(h.flush(), "");
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharacters) {
    utf8_stream h;
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(h.push("a\xFF"
                     "b"),
              "a" + fffd + "b");
    EXPECT_EQ(h.push("\xE2\x82"
                     "x"),
              fffd + "x");  // a broken sequence
    EXPECT_EQ(h.push("\xC3"), "");
    EXPECT_EQ(h.flush(), fffd);                             // never completed
    EXPECT_EQ(h.push("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate is not valid UTF-8
    EXPECT_TRUE(utf8_valid("h\xC3\xA9llo"));
    EXPECT_FALSE(utf8_valid("\xC0\xAF"));
}

// Pieces one byte at a time, as byte-fallback tokens deliver them.
std::string push_bytes(text_stream& t, std::string_view bytes) {
    std::string shown;
    for (char c : bytes) {
        const std::string s = t.push(std::string(1, c));
        EXPECT_TRUE(utf8_valid(s)) << s;
        shown += s;
    }
    return shown;
}

TEST(TextStream, StopStringSplitOverTokensAndUtf8AreHeld) {
    text_stream t({"\xC3\xA9nd"});                    // stop string "énd"
    EXPECT_EQ(push_bytes(t, "ok \xC3\xA9n"), "ok ");  // "én" is held: it may become the stop string
    EXPECT_EQ(t.push("d"), "");
    EXPECT_TRUE(t.stopped());
    EXPECT_EQ(t.push("!"), "");  // nothing after a match
    EXPECT_EQ(t.finish(), "");
}

TEST(TextStream, FinishReleasesHeldText) {
    text_stream t({"zz"});
    EXPECT_EQ(push_bytes(t, "abz\xE2\x82"), "ab");
    EXPECT_EQ(t.finish(), "z\xEF\xBF\xBD");  // the partial stop string, then U+FFFD for the cut character
    EXPECT_FALSE(t.stopped());
}

TEST(TextStream, AStopStringCompletedByTheFlushedTailStillStops) {
    text_stream t({"a\xEF\xBF\xBD"});  // "a" then U+FFFD
    EXPECT_EQ(push_bytes(t, "xa\xC3"), "x");
    EXPECT_EQ(t.finish(), "");
    EXPECT_TRUE(t.stopped());
}

TEST(TextStream, WithoutStopStringsOnlyCharactersAreHeld) {
    text_stream t;
    EXPECT_EQ(push_bytes(t, "h\xC3\xA9"), "h\xC3\xA9");
    EXPECT_EQ(t.finish(), "");
}

}  // namespace
}  // namespace tandem
