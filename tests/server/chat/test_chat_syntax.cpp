// Family detection on real chat templates (tests/server/jinja/templates, sources in its README) and
// on the markers of families whose templates are not stored.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "server/chat/chat_syntax.h"

namespace tandem {
namespace {

std::string read_template(const std::string& name) {
    std::ifstream in(std::string(TANDEM_JINJA_TEMPLATE_DIR) + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_FALSE(ss.str().empty()) << name;
    return ss.str();
}

TEST(ChatSyntax, DetectsRealTemplates) {
    EXPECT_EQ(chat_syntax_detect(read_template("qwen3.jinja")).name, "qwen3");
    EXPECT_EQ(chat_syntax_detect(read_template("qwen2.5.jinja")).name, "hermes");
    EXPECT_EQ(chat_syntax_detect(read_template("gemma4.jinja")).name, "gemma4");
    EXPECT_EQ(chat_syntax_detect(read_template("llama-3.1.jinja")).name, "llama3");
    EXPECT_EQ(chat_syntax_detect(read_template("mistral-nemo.jinja")).name, "mistral");
    EXPECT_EQ(chat_syntax_detect(read_template("deepseek-r1-distill.jinja")).name, "deepseek-r1");
    EXPECT_EQ(chat_syntax_detect("{% if x %}<think>{% endif %}").name, "generic-think");
    EXPECT_EQ(chat_syntax_detect(read_template("gemma3.jinja")).name, "generic");
    EXPECT_EQ(chat_syntax_detect(read_template("phi-4.jinja")).name, "generic");
}

TEST(ChatSyntax, DetectsFamiliesByMarkers) {
    EXPECT_EQ(chat_syntax_detect("<|start|>assistant<|channel|>final<|message|>").tools, tool_format::harmony);
    EXPECT_EQ(chat_syntax_detect("{{'<｜tool▁calls▁begin｜>'}}<think>").name, "deepseek-r1");
    EXPECT_EQ(chat_syntax_detect("{{'<｜tool▁calls▁begin｜>'}}").name, "deepseek-v3");
    EXPECT_EQ(chat_syntax_detect("{{ '>>>all\n' }}").tools, tool_format::functionary_32);
    EXPECT_EQ(chat_syntax_detect("<|start_header_id|> <function=").tools, tool_format::functionary_31);
    EXPECT_EQ(chat_syntax_detect("{{ '<|im_start|>' }}").tools, tool_format::generic);
}

TEST(ChatSyntax, PromptOpensReasoning) {
    const chat_syntax r1 = chat_syntax_detect(read_template("deepseek-r1-distill.jinja"));
    EXPECT_TRUE(chat_prompt_opens_reasoning(r1, "<｜User｜>hi<｜Assistant｜><think>\n"));
    EXPECT_FALSE(chat_prompt_opens_reasoning(r1, "<｜User｜>hi<｜Assistant｜>"));
    EXPECT_FALSE(chat_prompt_opens_reasoning(r1, "<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    const chat_syntax g4 = chat_syntax_detect(read_template("gemma4.jinja"));
    EXPECT_FALSE(chat_prompt_opens_reasoning(g4, "<|turn>model\n<|channel>thought\n<channel|>"));
}

TEST(ChatSyntax, ToolCallShapes) {
    const chat_syntax h = chat_syntax_detect(read_template("qwen2.5.jinja"));
    EXPECT_EQ(h.shape.call_prefix, "<tool_call>\n");
    EXPECT_EQ(h.shape.args_at, tool_args_at::arguments);
    const chat_syntax l = chat_syntax_detect(read_template("llama-3.1.jinja"));
    EXPECT_EQ(l.shape.args_at, tool_args_at::parameters);
    const chat_syntax m = chat_syntax_detect(read_template("mistral-nemo.jinja"));
    EXPECT_EQ(m.shape.prefix, "[TOOL_CALLS][");
    const chat_syntax g = chat_syntax_detect(read_template("gemma4.jinja"));
    EXPECT_EQ(g.shape.args_at, tool_args_at::inline_);
    EXPECT_TRUE(g.shape.args.raw_strings);
    EXPECT_EQ(g.shape.args.quote, "<|\"|>");
}

}  // namespace
}  // namespace tandem
