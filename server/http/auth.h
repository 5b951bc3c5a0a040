// API-key checks (constant-time) and CORS decisions; pure functions over header values so they
// are testable without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

// Compares in time that depends only on the lengths, never on where the bytes first differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// The key a request presents: "Authorization: Bearer <key>" (scheme case-insensitive) or "X-Api-Key".
std::optional<std::string> auth_presented_key(std::string_view authorization, std::string_view x_api_key);

// True when no keys are configured, or the presented key matches one (every key is compared).
bool auth_check(const std::vector<std::string>& keys, std::string_view authorization, std::string_view x_api_key);

// The origin to put in Access-Control-Allow-Origin: the request's own origin when it is listed
// exactly, else nothing (an arbitrary origin is never reflected).
std::optional<std::string> cors_allowed_origin(const std::vector<std::string>& origins, std::string_view origin);

}  // namespace tandem
