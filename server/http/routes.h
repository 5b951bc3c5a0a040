// The route table: method/path checks (404/405), CORS preflight, API keys, model-loading state, and
// dispatch to the handlers (OpenAI, llama-server tokenize/detokenize, health, metrics).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/http/generation.h"
#include "server/http/http_session.h"
#include "server/http/openai_parse.h"

namespace tandem {

struct model_backend;

boost::asio::awaitable<void> route_request(http_session& s, const http_request& req);

// generate.cpp: runs a validated chat/completions request against the engine and writes the reply.
boost::asio::awaitable<void> run_generation(http_session& s, model_backend& b, generation_request g);

// The prompts of a request as tokens (chat: the rendered template; completions: one per prompt);
// throws api_exception.
std::vector<std::vector<int32_t>> build_prompts(const model_backend& b, const generation_request& g);

}  // namespace tandem
