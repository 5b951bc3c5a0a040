// API errors in OpenAI's shape {"error":{"message","type","param","code"}}: one type carries the
// HTTP status, and one function renders it, for every route and every failure.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tandem {

struct api_error {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::optional<std::string> param;  // the offending request field, if any
    std::optional<std::string> code;   // e.g. "context_length_exceeded"
    int retry_after = 0;               // seconds; >0 adds Retry-After (429, 503)
};

// Thrown while parsing or validating a request; caught once per request.
struct api_exception {
    api_error err;
};

[[noreturn]] void throw_invalid(const std::string& param, const std::string& message);

nlohmann::json api_error_json(const api_error& e);

api_error error_not_found(const std::string& target);
api_error error_method_not_allowed(const std::string& method, const std::string& target);
api_error error_unauthorized();
api_error error_loading();
api_error error_queue_full(int retry_after);
api_error error_internal(const std::string& what);
api_error error_context_exceeded(int64_t n_ctx, int64_t n_prompt, const std::string& param);

}  // namespace tandem
