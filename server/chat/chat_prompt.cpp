// The chat prompt of a request, as llama.cpp builds it (common/chat.cpp at build 9749, checked against
// its /apply-template by tests/server/chat/test_prompt_identity.cpp): the template context, the
// folding of the system message for templates without a system role, the tools fallback and the BOS
// rule. Template capabilities are probed once at load by rendering small probe conversations.
#include "server/chat/chat_prompt.h"

#include <atomic>
#include <cctype>
#include <optional>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "server/http/errors.h"

namespace tandem {

namespace {

using ojson = nlohmann::ordered_json;

bool renders_with(const chat_render_fn& render, const ojson& ctx, const std::string& needle) {
    try {
        return render(ctx).find(needle) != std::string::npos;
    } catch (const std::exception&) {
        return false;
    }
}

ojson probe_context(ojson messages) {
    return {{"messages", std::move(messages)},
            {"add_generation_prompt", true},
            {"bos_token", ""},
            {"eos_token", ""},
            {"enable_thinking", true}};
}

ojson probe_call(ojson arguments) {
    return {{"role", "assistant"},
            {"content", ""},
            {"tool_calls",
             ojson::array({{{"id", "call_probe"},
                            {"type", "function"},
                            {"function", {{"name", "tandem_call_probe"}, {"arguments", std::move(arguments)}}}}})}};
}

// The text a template sees for a message's content: llama.cpp gives "" for a null content.
ojson template_content(const ojson& content) {
    return content.is_null() ? ojson("") : content;
}

ojson template_tool_call(const ojson& call, bool object_arguments) {
    ojson out = call;
    if (!object_arguments || !call.contains("function")) return out;
    ojson& args = out["function"]["arguments"];
    if (args.is_string()) {
        ojson parsed = ojson::parse(args.get<std::string>(), nullptr, false);
        if (!parsed.is_discarded() && parsed.is_object()) args = std::move(parsed);
    }
    return out;
}

// The messages as the template sees them; a template without a system role gets each system
// message's text at the head of the next user message (joined by "\n", as llama.cpp does).
ojson template_messages(const chat_template_caps& caps, const ojson& messages) {
    ojson out = ojson::array();
    std::string pending_system;
    for (const ojson& m : messages) {
        ojson msg = m;
        msg["content"] = template_content(m.value("content", ojson()));
        if (msg.contains("tool_calls")) {
            ojson calls = ojson::array();
            for (const ojson& c : m["tool_calls"]) calls.push_back(template_tool_call(c, caps.object_arguments));
            msg["tool_calls"] = std::move(calls);
        }
        const std::string role = msg.value("role", "");
        if (!caps.system_role && role == "system") {
            if (!pending_system.empty()) pending_system += "\n";
            pending_system += msg["content"].is_string() ? msg["content"].get<std::string>() : "";
            continue;
        }
        if (!pending_system.empty() && role == "user" && msg["content"].is_string()) {
            msg["content"] = pending_system + "\n" + msg["content"].get<std::string>();
            pending_system.clear();
        }
        out.push_back(std::move(msg));
    }
    if (!pending_system.empty()) out.push_back({{"role", "user"}, {"content", pending_system}});
    return out;
}

// A tool result as Gemma 4's template takes it: the called function's name, and the content as
// JSON when it is a JSON object, else as text.
ojson tool_response(const ojson& calls, const ojson& result, size_t index) {
    std::string name;
    const std::string id = result.value("tool_call_id", "");
    for (const ojson& c : calls)
        if (!id.empty() && c.value("id", "") == id) name = c["function"].value("name", "");
    if (name.empty() && index < calls.size()) name = calls[index]["function"].value("name", "");
    const std::string text = result["content"].is_string() ? result["content"].get<std::string>() : "";
    ojson parsed = ojson::parse(text, nullptr, false);
    return {{"name", name}, {"response", !parsed.is_discarded() && parsed.is_object() ? parsed : ojson(text)}};
}

// As llama.cpp for templates that take `tool_responses`: the tool messages after an assistant's
// tool_calls become that message's tool_responses, and the assistant's answer after them (if next)
// becomes its content.
ojson with_tool_responses(const ojson& messages) {
    ojson out = ojson::array();
    for (size_t i = 0; i < messages.size(); ++i) {
        ojson msg = messages[i];
        if (msg.value("role", "") != "assistant" || !msg.contains("tool_calls") || i + 1 >= messages.size() ||
            messages[i + 1].value("role", "") != "tool") {
            out.push_back(std::move(msg));
            continue;
        }
        ojson responses = ojson::array();
        while (i + 1 < messages.size() && messages[i + 1].value("role", "") == "tool")
            responses.push_back(tool_response(msg["tool_calls"], messages[++i], responses.size()));
        msg["tool_responses"] = std::move(responses);
        msg["content"] = "";
        if (i + 1 < messages.size() && messages[i + 1].value("role", "") == "assistant" &&
            !messages[i + 1].contains("tool_calls"))
            msg["content"] = messages[++i]["content"];
        out.push_back(std::move(msg));
    }
    return out;
}

// Templates without tool support get the tools as a system message (before the conversation, or
// merged into its system message), in the words of llama.cpp's generic tool format; llama.cpp itself
// drops the tools for such templates.
void add_tools_message(ojson& messages, const ojson& tools) {
    std::string text =
        "You can call any of the following tools to satisfy the user's requests: " + tools.dump(2) +
        "\n\nTo call a tool, answer with a JSON object only: {\"tool_call\": {\"name\": <tool name>, \"arguments\": "
        "<arguments object>}}";
    if (!messages.empty() && messages[0].value("role", "") == "system" && messages[0]["content"].is_string()) {
        messages[0]["content"] = messages[0]["content"].get<std::string>() + "\n\n" + text;
        return;
    }
    messages.insert(messages.begin(), ojson{{"role", "system"}, {"content", std::move(text)}});
}

void log_once(std::atomic<bool>& flag, const char* message) {
    if (!flag.exchange(true)) spdlog::info("{}", message);
}

std::string trim_end(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

// A prefill's generation prompt ends with an empty, closed reasoning block (the model answers at once),
// as llama.cpp's: the template's own markers, else <think></think> after a generation prompt that
// opens a <think> block (DeepSeek R1's). A reasoning block the prompt leaves open is closed, not repeated.
std::string close_reasoning(const chat_template_caps& caps, std::string generation) {
    std::string open = caps.reasoning_start, closed = caps.reasoning_start + caps.reasoning_end;
    if (closed.empty() && trim_end(generation).ends_with("<think>")) open = "<think>", closed = "<think></think>";
    if (closed.empty() || generation.ends_with(closed)) return generation;
    open = trim_end(open);
    const std::string trimmed = trim_end(generation);
    if (!open.empty() && trimmed.ends_with(open)) generation = trimmed.substr(0, trimmed.size() - open.size());
    return generation + closed;
}

// What the template puts between its generation prompt and an assistant message's text (functionary's
// "all\n" recipient, Qwen3's empty think block), found by rendering a probe answer after `before`;
// nothing when the render does not extend the generation prompt or adds nothing.
std::optional<std::string> answer_prefix(const chat_render_fn& render, const chat_template_caps& caps,
                                         const chat_vocab& vocab, const generation_request& g, const ojson& before,
                                         const std::string& opened, const nlohmann::json& defaults, std::time_t now) {
    ojson probe = before;
    probe.push_back({{"role", "assistant"}, {"content", "tandem_answer_probe"}});
    std::string full;
    try {
        full = render(chat_prompt_context(caps, vocab, g, probe, false, defaults, now));
    } catch (const error&) {
        return std::nullopt;
    }
    const size_t at = full.find("tandem_answer_probe");
    if (at == std::string::npos || at <= opened.size() || !full.starts_with(opened)) return std::nullopt;
    return full.substr(opened.size(), at - opened.size());
}

}  // namespace

chat_template_caps chat_template_detect(const chat_render_fn& render) {
    chat_template_caps caps;
    const ojson user = {{"role", "user"}, {"content", "Hi"}};
    caps.system_role = renders_with(
        render, probe_context(ojson::array({{{"role", "system"}, {"content", "tandem_system_probe"}}, user})),
        "tandem_system_probe");
    ojson with_tools = probe_context(ojson::array({user}));
    with_tools["tools"] = ojson::array({{{"type", "function"},
                                         {"function",
                                          {{"name", "tandem_tool_probe"},
                                           {"description", "probe"},
                                           {"parameters", {{"type", "object"}, {"properties", ojson::object()}}}}}}});
    caps.tools = renders_with(render, with_tools, "tandem_tool_probe");
    const ojson result = {{"role", "tool"}, {"tool_call_id", "call_probe"}, {"content", "42"}};
    caps.object_arguments = renders_with(
        render, probe_context(ojson::array({user, probe_call({{"tandem_arg_probe", 1}}), result})), "tandem_arg_probe");
    caps.tool_calls =
        caps.object_arguments ||
        renders_with(render, probe_context(ojson::array({user, probe_call("{\"tandem_arg_probe\": 1}"), result})),
                     "tandem_call_probe");
    ojson responded = probe_call("{}");
    responded["tool_responses"] =
        ojson::array({{{"name", "tandem_call_probe"}, {"response", "tandem_response_probe"}}});
    caps.tool_responses = renders_with(render, probe_context(ojson::array({user, responded})), "tandem_response_probe");
    try {
        const std::string opened = render(probe_context(ojson::array({user})));
        ojson probe = probe_context(ojson::array({user,
                                                  {{"role", "assistant"},
                                                   {"content", "tandem_content_probe"},
                                                   {"reasoning_content", "tandem_reasoning_probe"}}}));
        probe["add_generation_prompt"] = false;
        const std::string text = render(probe);
        const size_t r = text.find("tandem_reasoning_probe"), c = text.find("tandem_content_probe");
        if (text.starts_with(opened) && r != std::string::npos && c != std::string::npos && r < c) {
            caps.reasoning_start = text.substr(opened.size(), r - opened.size());
            caps.reasoning_end = text.substr(r + 22, c - r - 22);
        }
    } catch (const std::exception&) {
    }
    try {
        ojson off = probe_context(ojson::array({user}));
        off["enable_thinking"] = false;
        caps.thinking = render(off) != render(probe_context(ojson::array({user})));
    } catch (const std::exception&) {
        caps.thinking = false;
    }
    return caps;
}

nlohmann::json chat_template_caps_json(const chat_template_caps& caps) {
    return {{"supports_system_role", caps.system_role}, {"supports_tools", caps.tools},
            {"supports_tool_calls", caps.tool_calls},   {"supports_object_arguments", caps.object_arguments},
            {"supports_thinking", caps.thinking},       {"supports_tool_responses", caps.tool_responses}};
}

nlohmann::ordered_json chat_prompt_context(const chat_template_caps& caps, const chat_vocab& vocab,
                                           const generation_request& g, const nlohmann::ordered_json& in_messages,
                                           bool add_generation_prompt, const nlohmann::json& defaults,
                                           std::time_t now) {
    static std::atomic<bool> folded_logged{false}, tools_logged{false};
    const bool tools_given = g.tools.is_array() && !g.tools.empty();
    ojson input = in_messages;
    if (tools_given && !caps.tools) {
        log_once(tools_logged, "the chat template does not render tools: they go into a system message");
        add_tools_message(input, g.tools);
    }
    ojson messages = template_messages(caps, input);
    if (caps.tool_responses) messages = with_tool_responses(messages);
    if (!caps.system_role && messages.size() != input.size())
        log_once(folded_logged, "the chat template has no system role: system messages go into the first user turn");
    ojson ctx = {{"messages", std::move(messages)}};
    // As llama.cpp: tools reach the template whenever given, even with tool_choice "none".
    if (tools_given && caps.tools) ctx["tools"] = g.tools;
    ctx["add_generation_prompt"] = add_generation_prompt;
    ctx["bos_token"] = vocab.bos_text;
    ctx["eos_token"] = vocab.eos_text;
    ctx["enable_thinking"] = true;  // llama.cpp's default; chat_template_kwargs may turn it off
    char date[32];
    std::tm tm{};
    localtime_r(&now, &tm);
    ctx["date_string"] = std::string(date, std::strftime(date, sizeof(date), "%d %b %Y", &tm));  // as llama.cpp
    if (!g.reasoning_effort.empty()) ctx["reasoning_effort"] = g.reasoning_effort;
    for (const nlohmann::json* kwargs : {&defaults, &g.chat_template_kwargs}) {
        if (!kwargs->is_object()) continue;
        for (const auto& [key, v] : kwargs->items()) ctx[key] = ojson::parse(v.dump());
    }
    return ctx;
}

bool chat_thinking_enabled(const chat_template_caps& caps, const nlohmann::json& defaults,
                           const generation_request& g) {
    bool on = true;
    for (const nlohmann::json* kwargs : {&defaults, &g.chat_template_kwargs}) {
        if (!kwargs->is_object()) continue;
        const auto it = kwargs->find("enable_thinking");
        if (it != kwargs->end() && it->is_boolean()) on = it->get<bool>();
    }
    return caps.thinking && on;
}

std::string chat_prompt_build(const chat_render_fn& render, const chat_template_caps& caps, const chat_vocab& vocab,
                              const generation_request& g, const nlohmann::json& defaults, std::time_t now) {
    const ojson& messages = g.messages;
    const bool prefill = !g.add_generation_prompt && !messages.empty() &&
                         messages.back().value("role", "") == "assistant" && !messages.back().contains("tool_calls") &&
                         messages.back()["content"].is_string();
    std::string text;
    try {
        if (!prefill) {
            text = render(chat_prompt_context(caps, vocab, g, messages, g.add_generation_prompt, defaults, now));
        } else {
            // As llama.cpp: the conversation without the final message, then what the generation
            // prompt adds to it (the part after the two renders' common prefix), then the message.
            ojson before = messages;
            before.erase(before.size() - 1);
            text = render(chat_prompt_context(caps, vocab, g, before, false, defaults, now));
            const std::string opened = render(chat_prompt_context(caps, vocab, g, before, true, defaults, now));
            size_t common = 0;
            while (common < text.size() && common < opened.size() && text[common] == opened[common]) ++common;
            const std::string generation = opened.substr(common);
            const std::optional<std::string> prefix =
                answer_prefix(render, caps, vocab, g, before, opened, defaults, now);
            text += prefix ? generation + *prefix : close_reasoning(caps, generation);
            text += messages.back()["content"].get<std::string>();
        }
    } catch (const error& e) {
        throw api_exception{api_error{400, std::string("The chat template failed on these messages: ") + e.what(),
                                      "invalid_request_error", "messages", "template_error", 0}};
    }
    // The BOS rule (llama.cpp's too): the encoder adds BOS, so one the template printed goes.
    if (vocab.add_bos && !vocab.bos_text.empty() && text.starts_with(vocab.bos_text))
        text.erase(0, vocab.bos_text.size());
    return text;
}

}  // namespace tandem
