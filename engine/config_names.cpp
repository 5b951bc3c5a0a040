// The names the KV cache types go by in flags, config files and the environment.
#include "engine/engine.h"

namespace tandem {

std::optional<dtype> kv_type_from_name(std::string_view name) {
    if (name == "f16") return dtype::f16;
    if (name == "q8_0") return dtype::q8_0;
    if (name == "q4_0") return dtype::q4_0;
    return std::nullopt;
}

}  // namespace tandem
