// The grammar a request's answers are generated under, after the model's reasoning (lead): its
// response_format (json_object, or json_schema), or its forced tool calls (tool_choice "required"
// or a named function), written in the model family's call format (chat_syntax's tool_call_shape)
// with each tool's `parameters` as the arguments' schema, in the family's argument syntax (JSON, or
// Gemma 4's own). Even a model that would never call a tool then does, with arguments that validate.
#pragma once

#include <memory>

#include "engine/grammar/grammar_cache.h"
#include "engine/grammar/json_schema.h"
#include "server/chat/chat_syntax.h"
#include "server/http/openai_parse.h"

namespace tandem {

// The grammar of g's answers, or null when they are free. `syntax`: the chat family (null for a
// completions request). `lead`: the reasoning the grammar lets through first (chat_output_setup).
// Throws api_exception (400) for a schema the grammar cannot take (naming the keyword), for a family
// without a call format, or for a request that sets both response_format and a forced call.
std::shared_ptr<const gram::compiled_grammar> answer_grammar(const generation_request& g, const chat_syntax* syntax,
                                                             const gram::reasoning_lead& lead);

// The forced tool calls' grammar alone, or null when g does not force them.
std::shared_ptr<const gram::compiled_grammar> tool_call_grammar(const generation_request& g, const chat_syntax& syntax,
                                                                const gram::reasoning_lead& lead);

}  // namespace tandem
