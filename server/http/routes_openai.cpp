// Route dispatch and the small JSON endpoints: /health, /metrics, /v1/models, /props, /tokenize,
// /detokenize, /apply-template.
// Chat and completions bodies are validated here and generated in routes_generation.cpp.
#include <array>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "server/http/auth.h"
#include "server/http/routes.h"
#include "server/http/server_state.h"

namespace tandem {

namespace net = boost::asio;
using json = nlohmann::json;

namespace {

struct route {
    std::string_view path;
    http::verb method;
    bool needs_auth;
};

constexpr std::array<route, 9> routes = {{
    {"/health", http::verb::get, false},
    {"/props", http::verb::get, true},
    {"/metrics", http::verb::get, true},
    {"/v1/models", http::verb::get, true},
    {"/v1/chat/completions", http::verb::post, true},
    {"/v1/completions", http::verb::post, true},
    {"/tokenize", http::verb::post, true},
    {"/detokenize", http::verb::post, true},
    {"/apply-template", http::verb::post, true},
}};

http_response json_response(http::status status, const json& body) {
    http_response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return res;
}

// A GET route answers HEAD too (the session sends the headers alone), as monitors probe /health so.
bool route_takes(const route& r, http::verb method) {
    return method == r.method || (r.method == http::verb::get && method == http::verb::head);
}

std::string allowed_methods(const route& r) {
    return std::string(http::to_string(r.method)) + (r.method == http::verb::get ? ", HEAD" : "") + ", OPTIONS";
}

http_response preflight(const server_config& cfg, const http_request& req, const route& r) {
    http_response res{http::status::no_content, 11};
    const std::string allow = allowed_methods(r);
    res.set(http::field::allow, allow);
    if (cors_allowed_origin(cfg.cors_origins, std::string(req[http::field::origin]))) {
        res.set(http::field::access_control_allow_methods, allow);
        res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, X-Api-Key");
        res.set(http::field::access_control_max_age, "600");
    }
    return res;
}

json models_json(const served_model& b, int64_t created) {
    json model = {{"id", b.model_name},
                  {"object", "model"},
                  {"created", created},
                  {"owned_by", "tandem"},
                  {"meta", {{"n_ctx", b.n_ctx}, {"n_vocab", b.codec->n_vocab()}}}};
    return {{"object", "list"}, {"data", json::array({model})}};
}

// Read-only facts for clients such as the web UI (llama-server has an endpoint of this name): what is
// served and the defaults a request gets. No paths, keys or other secrets.
json props_json(const served_model& b, const server_config& cfg) {
    const sampling_params d;
    const model_summary& sum = b.eng->summary();
    json spec = {{"type", spec_type_name(sum.spec)}};
    if (sum.spec != spec_type::none) spec["draft_max"] = cfg.draft_max;
    return {{"model", b.model_name},
            {"n_ctx", b.n_ctx},
            {"n_vocab", b.codec->n_vocab()},
            {"parallel", cfg.parallel},
            {"version", TANDEM_VERSION},
            {"default_generation_settings",
             {{"temperature", d.temperature},
              {"top_p", d.top_p},
              {"top_k", d.top_k},
              {"min_p", d.min_p},
              {"repetition_penalty", d.repetition_penalty},
              {"presence_penalty", d.presence_penalty},
              {"frequency_penalty", d.frequency_penalty},
              {"max_tokens", nullptr},
              {"seed", nullptr}}},
            {"speculative", spec},
            {"chat_template", b.chat_template},
            {"chat_template_source", b.chat_template_origin},
            {"chat_template_caps", chat_template_caps_json(b.caps)},
            {"chat_template_kwargs", b.chat_template_kwargs.is_object() ? b.chat_template_kwargs : json::object()},
            {"chat_template_date", cfg.chat_template_date.empty() ? json(nullptr) : json(cfg.chat_template_date)},
            {"enable_thinking",
             b.chat_template_kwargs.is_object() ? b.chat_template_kwargs.value("enable_thinking", true) : true},
            {"add_bos", b.vocab.add_bos},
            {"bos_token", b.vocab.bos_text},
            {"eos_token", b.vocab.eos_text}};
}

// llama-server's POST /apply-template: the chat request's prompt as text, not generated.
json apply_template_json(const served_model& b, const server_config& cfg, const std::string& body) {
    const generation_request g = parse_chat_request(body, parse_limits{cfg.max_n});
    return {{"prompt", chat_prompt_build(b.render_chat, b.caps, b.vocab, g, b.chat_template_kwargs, b.chat_now())}};
}

json tokenize_json(const served_model& b, const std::string& body) {
    const json obj = parse_json_object(body);
    auto content = obj.find("content");
    if (content == obj.end() || !content->is_string()) throw_invalid("content", "'content' must be a string");
    auto flag = [&](const char* key) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return false;
        if (!it->is_boolean()) throw_invalid(key, std::string("'") + key + "' must be a boolean");
        return it->get<bool>();
    };
    const bool add_special = flag("add_special");
    const bool parse_special = obj.contains("parse_special") ? flag("parse_special") : true;
    const bool with_pieces = flag("with_pieces");
    const std::vector<int32_t> ids = b.codec->encode(content->get<std::string>(), add_special, parse_special);
    json tokens = json::array();
    for (int32_t id : ids) {
        if (with_pieces)
            tokens.push_back({{"id", id}, {"piece", piece_text(*b.codec, id)}});
        else
            tokens.push_back(id);
    }
    return {{"tokens", tokens}};
}

json detokenize_json(const served_model& b, const std::string& body) {
    const json obj = parse_json_object(body);
    auto tokens = obj.find("tokens");
    if (tokens == obj.end() || !tokens->is_array()) throw_invalid("tokens", "'tokens' must be an array of token ids");
    std::vector<int32_t> ids;
    for (const json& t : *tokens) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= b.codec->n_vocab())
            throw_invalid("tokens", "'tokens' must hold ids in [0, " + std::to_string(b.codec->n_vocab()) + ")");
        ids.push_back(t.get<int32_t>());
    }
    return {{"content", b.codec->decode(ids)}};
}

// The replies that need no engine work, built synchronously (GCC 12 miscompiles string-literal
// comparisons inside coroutines, so the coroutines below only branch on plain values).
http_response simple_reply(server_state& st, const http_request& req, std::string_view path) {
    served_model* b = st.model.load();
    if (path == "/health") {
        if (!b) throw api_exception{error_loading()};
        return json_response(http::status::ok, {{"status", "ok"}});
    }
    if (path == "/metrics") {
        std::optional<engine_metrics> m;
        if (b) m = b->eng->metrics();
        http_response res{http::status::ok, 11};
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = st.metrics.render(m ? &*m : nullptr);
        return res;
    }
    if (!b) throw api_exception{error_loading()};
    if (path == "/v1/models") return json_response(http::status::ok, models_json(*b, 0));
    if (path == "/props") return json_response(http::status::ok, props_json(*b, st.cfg));
    if (path == "/tokenize") return json_response(http::status::ok, tokenize_json(*b, req.body()));
    if (path == "/apply-template") return json_response(http::status::ok, apply_template_json(*b, st.cfg, req.body()));
    return json_response(http::status::ok, detokenize_json(*b, req.body()));
}

bool is_generation(std::string_view path) {
    return path == "/v1/chat/completions" || path == "/v1/completions";
}

generation_request parse_generation(const server_state& st, const http_request& req, std::string_view path) {
    const parse_limits limits{st.cfg.max_n};
    return path == "/v1/chat/completions" ? parse_chat_request(req.body(), limits)
                                          : parse_completion_request(req.body(), limits);
}

// Handles a routed request whose auth and method already passed; throws api_exception.
net::awaitable<void> dispatch(server_state& st, http_session& s, const http_request& req, std::string_view path) {
    if (!is_generation(path)) {
        co_await s.send(simple_reply(st, req, path));
        co_return;
    }
    served_model* b = st.model.load();
    if (!b) throw api_exception{error_loading()};
    co_await run_generation(st, s, *b, parse_generation(st, req, path));
}

}  // namespace

net::awaitable<void> server_state::handle(http_session& s, const http_request& req) {
    s.set_cors_origin(cors_allowed_origin(cfg.cors_origins, std::string(req[http::field::origin])));
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const route* r = nullptr;
    for (const route& candidate : routes)
        if (candidate.path == path) r = &candidate;
    std::optional<api_error> err;
    // The web UI's files: public, as the page must load before it can ask for a key.
    const bool get_or_head = req.method() == http::verb::get || req.method() == http::verb::head;
    std::optional<http_response> file;
    if (!r && webui && get_or_head) file = webui->respond(req, path);  // throws only on a corrupt bundle
    if (file) {
        co_await s.send(std::move(*file));
        co_return;
    }
    if (!r && webui && webui->has(path)) {
        const api_error e = error_method_not_allowed(std::string(req.method_string()), std::string(path), "GET, HEAD");
        co_await s.send_error(e);
        co_return;
    }
    if (!r)
        err = error_not_found(std::string(path));
    else if (req.method() == http::verb::options) {
        co_await s.send(preflight(cfg, req, *r));
        co_return;
    } else if (!route_takes(*r, req.method()))
        err = error_method_not_allowed(std::string(req.method_string()), std::string(path), allowed_methods(*r));
    else if (r->needs_auth && !auth_check(cfg.api_keys, req[http::field::authorization], req["X-Api-Key"]))
        err = error_unauthorized();
    if (!err) {
        try {
            co_await dispatch(*this, s, req, path);
        } catch (const api_exception& e) {
            err = e.err;
        } catch (const std::exception& e) {
            spdlog::error("http: {} {} failed: {}", std::string(req.method_string()), std::string(path), e.what());
            err = error_internal(std::string("internal error: ") + e.what());
        }
    }
    if (err) co_await s.send_error(*err);
}

}  // namespace tandem
