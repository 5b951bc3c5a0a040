// API errors in OpenAI's shape {"error":{"message","type","param","code"}}: one type carries the
// HTTP status, and one function renders it as a response, for every route and every failure.
#pragma once

#include <optional>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

namespace tandem {

struct api_error {
    api_error() = default;
    api_error(int status_, std::string message_, std::string type_, std::optional<std::string> param_,
              std::optional<std::string> code_, int retry_after_)
        : status(status_),
          message(std::move(message_)),
          type(std::move(type_)),
          param(std::move(param_)),
          code(std::move(code_)),
          retry_after(retry_after_) {}

    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::optional<std::string> param;  // the offending request field, if any
    std::optional<std::string> code;   // e.g. "context_length_exceeded"
    int retry_after = 0;               // seconds; >0 adds Retry-After (429, 503)
    std::string allow;                 // 405: the methods the route takes (the Allow header)
};

// Thrown while parsing or validating a request; caught once per request.
struct api_exception {
    api_error err;
};

[[noreturn]] void throw_invalid(const std::string& param, const std::string& message);

nlohmann::json api_error_json(const api_error& e);
// The HTTP response of an error: its status, the JSON body, Retry-After and Allow.
boost::beast::http::response<boost::beast::http::string_body> api_error_response(const api_error& e);

api_error error_not_found(const std::string& target);
api_error error_method_not_allowed(const std::string& method, const std::string& target, const std::string& allow);
api_error error_unauthorized();
api_error error_loading();
api_error error_queue_full(int retry_after);
api_error error_internal(const std::string& what);
api_error error_too_many_connections();
api_error error_shutting_down();
api_error error_context_exceeded(int64_t n_ctx, int64_t n_prompt, const std::string& param);

}  // namespace tandem
