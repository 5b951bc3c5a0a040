// Compiled grammars shared across requests, keyed by their source (e.g. a response_format's schema
// text): a client that sends the same schema again gets the same grammar and its warm mask cache.
// Called from HTTP threads, hence the one mutex; the engine thread never calls it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/grammar/token_mask.h"

namespace tandem::gram {

// The grammar cached under `key`, or make() compiled and cached (the oldest entry leaves past
// k_grammar_cache_size). make() may throw (tandem::error): nothing is cached then.
std::shared_ptr<const compiled_grammar> grammar_cached(const std::string& key, const std::function<grammar()>& make);

constexpr size_t k_grammar_cache_size = 16;

}  // namespace tandem::gram
