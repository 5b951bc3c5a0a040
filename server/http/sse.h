// Server-sent events framing as OpenAI sends it: `data: {json}\n\n`, `data: [DONE]\n\n`, and
// `: ping\n\n` comments that keep a connection alive while a long prompt is prefilled.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tandem {

std::string sse_data(const nlohmann::json& payload);  // one event; the JSON is on one line
std::string sse_done();
std::string sse_ping();

}  // namespace tandem
