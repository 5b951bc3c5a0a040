// chat_prompt: the template context and the rules around it (system folding, BOS, kwargs, tools).
#include <gtest/gtest.h>

#include "server/chat/chat_prompt.h"
#include "server/jinja/template.h"

namespace tandem {
namespace {}  // namespace
}  // namespace tandem
