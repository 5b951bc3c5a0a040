// Construction and rendering of OpenAI-shaped error bodies.
#include "server/http/errors.h"

namespace tandem {

void throw_invalid(const std::string& param, const std::string& message) {
    throw api_exception{api_error{400, message, "invalid_request_error", param, std::nullopt, 0}};
}

nlohmann::json api_error_json(const api_error& e) {
    nlohmann::json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
    if (e.param) err["param"] = *e.param;
    if (e.code) err["code"] = *e.code;
    return {{"error", err}};
}

boost::beast::http::response<boost::beast::http::string_body> api_error_response(const api_error& e) {
    namespace http = boost::beast::http;
    http::response<http::string_body> res{static_cast<http::status>(e.status), 11};
    res.set(http::field::content_type, "application/json");
    if (e.retry_after > 0) res.set(http::field::retry_after, std::to_string(e.retry_after));
    if (!e.allow.empty()) res.set(http::field::allow, e.allow);
    res.body() = api_error_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    res.prepare_payload();
    return res;
}

api_error error_not_found(const std::string& target) {
    return {404, "Unknown request URL: " + target, "invalid_request_error", std::nullopt, "unknown_url", 0};
}

api_error error_method_not_allowed(const std::string& method, const std::string& target, const std::string& allow) {
    api_error e{405,
                "Method " + method + " not allowed for " + target,
                "invalid_request_error",
                std::nullopt,
                "method_not_allowed",
                0};
    e.allow = allow;
    return e;
}

api_error error_unauthorized() {
    return {401,
            "Incorrect or missing API key: send it as 'Authorization: Bearer <key>' or 'X-Api-Key'.",
            "invalid_request_error",
            std::nullopt,
            "invalid_api_key",
            0};
}

api_error error_loading() {
    return {503, "The model is loading.", "unavailable_error", std::nullopt, "model_loading", 1};
}

api_error error_queue_full(int retry_after) {
    return {429,        "Too many requests are waiting; retry later.", "rate_limit_error", std::nullopt, "queue_full",
            retry_after};
}

api_error error_internal(const std::string& what) {
    return {500, what, "server_error", std::nullopt, std::nullopt, 0};
}

api_error error_too_many_connections() {
    return {503, "Too many open connections.", "unavailable_error", std::nullopt, "too_many_connections", 1};
}

api_error error_shutting_down() {
    return {503, "The server is shutting down.", "unavailable_error", std::nullopt, "shutting_down", 0};
}

api_error error_context_exceeded(int64_t n_ctx, int64_t n_prompt, const std::string& param) {
    return {400,
            "This model's maximum context length is " + std::to_string(n_ctx) + " tokens. However, your prompt has " +
                std::to_string(n_prompt) + " tokens, which leaves no room for a completion.",
            "invalid_request_error",
            param,
            "context_length_exceeded",
            0};
}

}  // namespace tandem
