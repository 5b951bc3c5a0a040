// Chat: how a request's answers are read (the template family's format and the request's choices)
// and what the engine does for them (show the family's control tokens, stop thinking at the
// reasoning budget, let the reasoning through before a grammar binds). Built once per request,
// before its engine requests are submitted.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/engine.h"
#include "engine/grammar/json_schema.h"
#include "server/chat/chat_output.h"
#include "server/http/http_server.h"
#include "server/http/openai_parse.h"
#include "server/http/server_config.h"

namespace tandem {

struct output_setup {
    chat_syntax syntax;
    chat_parse_options opts;
    std::vector<int32_t> shown_special;            // completion_params::shown_special
    completion_params::reasoning_limit reasoning;  // completion_params::reasoning
    gram::reasoning_lead lead;                     // the reasoning before a constrained answer (answer_grammar)
};

// `prompt`: the request's first prompt, whose end says whether the answer starts inside the reasoning.
output_setup chat_output_setup(const served_model& b, const server_config& cfg, const generation_request& g,
                               const std::vector<int32_t>& prompt);

}  // namespace tandem
