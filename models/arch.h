// Constructors of the architectures, one per file; registry.cpp is the only table of names.
#pragma once

#include <memory>

#include "models/model.h"

namespace tandem {

std::unique_ptr<model> load_llama(const gguf::file& f, backend& be);  // llama, qwen2, qwen3
std::unique_ptr<model> load_gemma4(const gguf::file& f, backend& be);

}  // namespace tandem
