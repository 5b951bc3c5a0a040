// The one table from general.architecture to an implementation.
#include <string_view>

#include "common/error.h"
#include "models/arch.h"
#include "models/gguf/gguf.h"

namespace tandem {
namespace {

struct arch_entry {
    std::string_view name;
    std::unique_ptr<model> (*load)(const gguf::file&, backend&);
};

constexpr arch_entry k_archs[] = {
    {"llama", load_llama},
    {"qwen2", load_llama},
    {"qwen3", load_llama},
    {"gemma4", load_gemma4},
};

}  // namespace

std::unique_ptr<model> model_load(const gguf::file& f, backend& be) {
    const std::string_view arch = f.get_string("general.architecture").value_or("");
    for (const arch_entry& e : k_archs) {
        if (e.name == arch) return e.load(f, be);
    }
    if (arch == "gemma4-assistant") {
        throw error(f.path() + ": is a Gemma 4 MTP assistant (a drafter), not a model to serve on its own");
    }
    std::string names;
    for (const arch_entry& e : k_archs) names += (names.empty() ? "" : ", ") + std::string(e.name);
    throw error(f.path() + ": unsupported architecture '" + std::string(arch) + "' (supported: " + names + ")");
}

}  // namespace tandem
