// The engine's tokenizer seen through engine.h's text_codec.
#pragma once

#include <memory>

#include "engine/engine.h"

namespace tandem {

class tokenizer;

// Borrows the tokenizer (it must outlive the codec).
std::unique_ptr<text_codec> make_text_codec(const tokenizer& tok);

}  // namespace tandem
