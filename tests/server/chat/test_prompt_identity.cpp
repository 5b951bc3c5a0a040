// Prompt identity with llama.cpp: every (template, request) that llama-server rendered through
// POST /apply-template (tests/data/chat_templates/llama_server_renders.json, recorded by
// record_templates.py) renders to the same text through Tandem's parse_chat_request and
// chat_prompt_build. Cases llama-server refused, and the documented divergences, are listed with a reason.
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "server/chat/chat_prompt.h"
#include "server/http/errors.h"
#include "server/jinja/template.h"

namespace tandem {
namespace {

using json = nlohmann::ordered_json;  // the recorded bodies keep their key order, as sent

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

// stories260K (the recording's model): BOS "<s>", added by its tokenizer.
const chat_vocab k_vocab{"<s>", "</s>", true};

struct outcome {
    bool ok = false;
    std::string text;  // the prompt, or the error
};

outcome tandem_render(const std::string& name, const json& body, std::time_t now, chat_template_caps* caps_out) {
    outcome o;
    try {
        const jinja::chat_template tmpl(slurp(std::string(TANDEM_CHAT_TEMPLATES_DIR) + "/" + name + ".jinja"));
        jinja::render_options opt;
        opt.now = now;
        const chat_render_fn render = [&](const nlohmann::ordered_json& ctx) { return tmpl.render(ctx, opt); };
        const chat_template_caps caps = chat_template_detect(render);
        *caps_out = caps;
        const generation_request g = parse_chat_request(body.dump(), parse_limits{});
        o.text = chat_prompt_build(render, caps, k_vocab, g, nullptr, now);
        o.ok = true;
    } catch (const api_exception& e) {
        o.text = e.err.message;
    } catch (const std::exception& e) {
        o.text = e.what();
    }
    return o;
}

// Where Tandem means to differ from this llama-server, and why.
const std::map<std::string, std::string>& divergences() {
    // llama.cpp knows these models' reasoning markers from its own per-format parsers; Tandem learns
    // them from the template, and these templates do not render reasoning_content.
    const std::string markers = "llama.cpp opens an assistant prefill with the model's empty reasoning block";
    // This llama-server passes reasoning_effort to the template only from chat_template_kwargs;
    // Tandem passes the request's top-level field too (OpenAI's, as vLLM does).
    const std::string effort = "Tandem gives the template the request's reasoning_effort";
    static const std::map<std::string, std::string> d = {
        {"gpt-oss/no_generation_prompt", markers}, {"gpt-oss/continue_final", markers},
        {"gpt-oss/reasoning_effort", effort},      {"granite-3.3/no_generation_prompt", markers},
        {"granite-3.3/continue_final", markers},   {"gemma4/no_generation_prompt", markers},
        {"gemma4/continue_final", markers},
    };
    return d;
}

TEST(PromptIdentity, TandemRendersWhatLlamaServerRenders) {
    const json doc = json::parse(slurp(std::string(TANDEM_CHAT_TEMPLATES_DIR) + "/llama_server_renders.json"));
    const std::time_t now = doc["recorded_at"].get<std::time_t>();
    int n_same = 0, n_peer_refused = 0, n_diverge = 0, n_cases = 0;
    for (const json& r : doc["renders"]) {
        ++n_cases;
        const std::string name = r["template"], c = r["case"], key = name + "/" + c;
        chat_template_caps caps;
        const json& body = doc["cases"][c];
        const outcome t = tandem_render(name, body, now, &caps);
        if (r["status"] != 200) {
            // llama.cpp's error, with its reason recorded. A request it refused (the template raised,
            // e.g. Gemma's "roles must alternate" on a tool message) Tandem refuses too; a template
            // llama.cpp cannot load (status 0: Mistral Small 3.1's backslash line continuation, which
            // Python takes) Tandem renders as Jinja2 does.
            ++n_peer_refused;
            if (r["status"] == 400) {
                EXPECT_FALSE(t.ok) << key << " rendered: " << t.text;
            }
            continue;
        }
        if (divergences().count(key)) {
            ++n_diverge;
            continue;
        }
        if (!caps.tools && body.contains("tools")) {
            // By design: a template that does not render tools gets them in a system message (llama.cpp
            // drops them). The prompt then names the tool.
            ++n_diverge;
            const std::string tool = body["tools"][0]["function"]["name"];
            EXPECT_TRUE(t.ok && t.text.find("\"" + tool + "\"") != std::string::npos) << key << ": " << t.text;
            continue;
        }
        const std::string want = r["prompt"];
        EXPECT_TRUE(t.ok && t.text == want) << key << (t.ok ? "" : " failed: " + t.text) << "\n--- llama-server:\n"
                                            << want << "\n--- tandem:\n"
                                            << t.text;
        n_same += t.ok && t.text == want;
    }
    std::printf("prompt identity: %d of %d cases identical; %d refused by llama-server, %d divergences by design\n",
                n_same, n_cases, n_peer_refused, n_diverge);
}

}  // namespace
}  // namespace tandem
