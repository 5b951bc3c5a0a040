// API keys and CORS origins.
#include "server/http/auth.h"

#include <algorithm>
#include <cctype>

namespace tandem {

bool constant_time_equal(std::string_view a, std::string_view b) {
    const size_t n = std::max(a.size(), b.size());
    unsigned diff = a.size() == b.size() ? 0u : 1u;
    for (size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned>(x ^ y);
    }
    // volatile keeps the compiler from turning the loop into an early-exit memcmp
    volatile unsigned sink = diff;
    return sink == 0;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::optional<std::string> auth_presented_key(std::string_view authorization, std::string_view x_api_key) {
    authorization = trim(authorization);
    if (authorization.size() > 7 && iequals(authorization.substr(0, 7), "bearer ")) {
        std::string_view key = trim(authorization.substr(7));
        if (!key.empty()) return std::string(key);
    }
    x_api_key = trim(x_api_key);
    if (!x_api_key.empty()) return std::string(x_api_key);
    return std::nullopt;
}

bool auth_check(const std::vector<std::string>& keys, std::string_view authorization, std::string_view x_api_key) {
    if (keys.empty()) return true;
    const std::optional<std::string> presented = auth_presented_key(authorization, x_api_key);
    if (!presented) return false;
    bool ok = false;
    for (const std::string& key : keys) ok |= constant_time_equal(*presented, key);  // no early exit
    return ok;
}

std::optional<std::string> cors_allowed_origin(const std::vector<std::string>& origins, std::string_view origin) {
    if (origin.empty()) return std::nullopt;
    for (const std::string& o : origins)
        if (o == origin) return o;
    return std::nullopt;
}

}  // namespace tandem
