// tool_choice "required" or a named function: the answer must be tool calls, so it is generated
// under a grammar of the model family's call format (chat_syntax's tool_call_shape) whose arguments
// follow each tool's `parameters` schema, written in the family's argument syntax (JSON, or Gemma 4's
// own). Even a model that would never call a tool then does, with arguments that validate.
#pragma once

#include <memory>

#include "engine/grammar/grammar_cache.h"
#include "server/chat/chat_syntax.h"
#include "server/http/openai_parse.h"

namespace tandem {

// The grammar that forces g's tool calls, or null when g does not force them. reasoning_open: the
// prompt left the reasoning block open (the grammar then binds after the family's end marker).
// Throws api_exception (400) for a tool schema the grammar cannot take, for a family without a call
// format, or for a request that also sets response_format.
std::shared_ptr<const gram::compiled_grammar> tool_call_grammar(const generation_request& g, const chat_syntax& syntax,
                                                                bool reasoning_open);

}  // namespace tandem
