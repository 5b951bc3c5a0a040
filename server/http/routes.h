// The route table: method/path checks (404/405), CORS preflight, API keys, model-loading state, and
// dispatch to the handlers (OpenAI, llama-server tokenize/detokenize, health, metrics).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/http/http_session.h"
#include "server/http/openai_parse.h"
#include "server/http/openai_response.h"

namespace tandem {

struct served_model;

boost::asio::awaitable<void> route_request(http_session& s, const http_request& req);

// routes_generation.cpp: runs a validated chat/completions request against the engine and writes the reply.
boost::asio::awaitable<void> run_generation(http_session& s, served_model& b, generation_request g);

// The prompts of a request as tokens (chat: the rendered template; completions: one per prompt);
// throws api_exception.
std::vector<std::vector<int32_t>> build_prompts(const served_model& b, const generation_request& g);

}  // namespace tandem
