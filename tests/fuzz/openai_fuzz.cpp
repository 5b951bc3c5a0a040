// libFuzzer target for the HTTP/JSON layer: arbitrary request bodies through the OpenAI request
// parsers, and the messages of every chat request that parses through a real chat template (the
// templates of tests/server/jinja/templates, named by TANDEM_FUZZ_TEMPLATES), as the server renders
// them. The only exceptions allowed out are api_exception (a 400 for the client) and tandem::error
// from the template (also a 400: the template failed on these messages).
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
#include "server/http/errors.h"
#include "server/http/openai_parse.h"
#include "server/jinja/template.h"

namespace {

std::vector<tandem::jinja::chat_template>& templates() {
    static std::vector<tandem::jinja::chat_template> t;
    return t;
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
        templates().emplace_back(ss.str());
    }
    templates().emplace_back(tandem::jinja::chatml_source());
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
    const auto& t = templates()[(data[0] >> 1) % templates().size()];
    const nlohmann::json ctx = {
        {"messages", r.messages}, {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"add_generation_prompt", true}};
    tandem::jinja::render_options opts;
    opts.now = 0;  // strftime_now: deterministic
    try {
        (void)t.render(ctx, opts);
    } catch (const tandem::error&) {
    }
    return 0;
}
