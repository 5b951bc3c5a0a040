// The handlers behind the route table (server_state::handle in routes_openai.cpp: method/path checks
// (404/405), CORS preflight, API keys, model-loading state, dispatch).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/http/http_session.h"
#include "server/http/openai_parse.h"
#include "server/http/openai_response.h"

namespace tandem {

struct served_model;
struct server_state;

// routes_generation.cpp: runs a validated chat/completions request against the engine and writes the reply.
boost::asio::awaitable<void> run_generation(server_state& st, http_session& s, served_model& b, generation_request g);

// The prompts of a request as tokens (chat: the rendered template; completions: one per prompt);
// throws api_exception.
std::vector<std::vector<int32_t>> build_prompts(const served_model& b, const generation_request& g);

}  // namespace tandem
