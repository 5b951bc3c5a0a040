// libFuzzer target for the HTTP/JSON layer: arbitrary request bodies through the OpenAI request
// parsers, and every chat request that parses through a real chat template (the templates of
// tests/data/chat_templates, named by TANDEM_FUZZ_TEMPLATES) by chat_prompt_build, as the server
// builds its prompts. The only exception allowed out is api_exception (a 400 for the client, also
// when the template failed on these messages).
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
#include "server/chat/chat_prompt.h"
#include "server/http/errors.h"
#include "server/http/openai_parse.h"
#include "server/jinja/template.h"

namespace {

struct loaded {
    tandem::jinja::chat_template tmpl;
    tandem::chat_template_caps caps;
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
        templates().push_back({tandem::jinja::chat_template(ss.str()), {}});
    }
    templates().push_back({tandem::jinja::chat_template(tandem::jinja::chatml_source()), {}});
    for (loaded& l : templates()) l.caps = tandem::chat_template_detect(render_with(l.tmpl));
    std::fprintf(stderr, "openai_fuzz: %zu chat templates from %s\n", templates().size(), dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Byte 0 picks the parser (bit 0: chat) and the template (the other bits); the rest is the body.
    if (size == 0) return 0;
    const bool chat = data[0] & 1;
    const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
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
    return 0;
}
