// libFuzzer target for the HTTP/JSON layer: arbitrary request bodies through the OpenAI request
// parsers, and every chat request that parses through a real chat template (the templates of
// tests/data/chat_templates, named by TANDEM_FUZZ_TEMPLATES) by chat_prompt_build, as the server
// builds its prompts, and through answer_grammar (response_format's schema, or the tools' schemas
// compiled in the template family's call format, after a reasoning lead). The only exception
// allowed out is api_exception (a 400 for the client, also when the template failed on these
// messages). The body is also read as a model's answer in that family's format: whole and in
// pieces it must split the same way.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "server/chat/chat_output.h"
#include "server/chat/chat_prompt.h"
#include "server/http/answer_grammar.h"
#include "server/http/errors.h"
#include "server/http/openai_parse.h"
#include "server/jinja/template.h"

namespace {

struct loaded {
    tandem::jinja::chat_template tmpl;
    tandem::chat_template_caps caps;
    tandem::chat_syntax syntax;  // the output format of the template's family
};

std::vector<loaded>& templates() {
    static std::vector<loaded> t;
    return t;
}

tandem::jinja::render_options fuzz_options() {
    tandem::jinja::render_options opts;
    opts.now = 0;  // strftime_now: deterministic
    return opts;
}

tandem::chat_render_fn render_with(const tandem::jinja::chat_template& t) {
    return [&t](const nlohmann::ordered_json& ctx) { return t.render(ctx, fuzz_options()); };
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* dir = std::getenv("TANDEM_FUZZ_TEMPLATES");
    if (!dir) return 0;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".jinja") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f);
        std::stringstream ss;
        ss << in.rdbuf();
        templates().push_back({tandem::jinja::chat_template(ss.str()), {}, tandem::chat_syntax_detect(ss.str())});
    }
    const std::string chatml = tandem::jinja::chatml_source();
    templates().push_back({tandem::jinja::chat_template(chatml), {}, tandem::chat_syntax_detect(chatml)});
    for (loaded& l : templates()) l.caps = tandem::chat_template_detect(render_with(l.tmpl));
    std::fprintf(stderr, "openai_fuzz: %zu chat templates from %s\n", templates().size(), dir);
    return 0;
}

// The reasoning, content and calls of `answer` fed in pieces of `piece` bytes.
std::string parse_answer(const tandem::chat_syntax& s, const std::string& answer, size_t piece) {
    tandem::chat_parse_options o;
    o.parse_tools = true;
    o.id_seed = 1;
    tandem::chat_output_parser p(s, o);
    std::string reasoning, content, calls;
    auto add = [&](const tandem::chat_delta& d) {
        reasoning += d.reasoning;
        content += d.content;
        for (const tandem::tool_call& c : d.calls) calls += c.id + "(" + c.name + ")" + c.arguments + "\n";
    };
    for (size_t i = 0; i < answer.size(); i += piece) add(p.push(std::string_view(answer).substr(i, piece)));
    add(p.finish());
    return reasoning + "\x01" + content + "\x01" + calls;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Byte 0 picks the parser (bit 0: chat) and the template (the other bits); the rest is the body.
    if (size == 0) return 0;
    const bool chat = data[0] & 1;
    const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (!templates().empty()) {
        const tandem::chat_syntax& s = templates()[(data[0] >> 1) % templates().size()].syntax;
        // A model's text is valid UTF-8 (the engine replaces a broken sequence with U+FFFD); so here.
        const std::string answer =
            nlohmann::json::parse(nlohmann::json(body).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
                .get<std::string>();
        if (parse_answer(s, answer, answer.size() + 1) != parse_answer(s, answer, 61)) {
            std::fprintf(stderr, "openai_fuzz: the answer splits differently in pieces (%s)\n", s.name.c_str());
            std::abort();
        }
    }
    tandem::parse_limits limits;
    tandem::generation_request r;
    try {
        r = chat ? tandem::parse_chat_request(body, limits) : tandem::parse_completion_request(body, limits);
        (void)r.messages.dump();  // normalized messages must be serialisable JSON
    } catch (const tandem::api_exception&) {
        return 0;
    }
    if (!chat || templates().empty()) return 0;
    const loaded& t = templates()[(data[0] >> 1) % templates().size()];
    try {
        (void)tandem::chat_prompt_build(render_with(t.tmpl), t.caps, {"<s>", "</s>", true}, r, nullptr, 0);
    } catch (const tandem::api_exception&) {  // the template failed on these messages: a 400
    }
    try {
        // The reasoning lead as a thinking prompt gives it: none, optional, or opened by the prompt.
        const tandem::gram::reasoning_lead lead{t.syntax.think_start, (size & 3) != 0 ? t.syntax.think_end : "",
                                                (size & 1) != 0, t.syntax.think_next, ""};
        (void)tandem::answer_grammar(r, &t.syntax, lead);
    } catch (const tandem::api_exception&) {  // a schema or tool_choice the grammar refuses: a 400
    }
    return 0;
}
