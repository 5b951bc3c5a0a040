// The names the engine's enumerated settings go by in flags, config files and the environment.
#include "engine/engine.h"

namespace tandem {

std::optional<dtype> kv_type_from_name(std::string_view name) {
    if (name == "f16") return dtype::f16;
    if (name == "q8_0") return dtype::q8_0;
    if (name == "q4_0") return dtype::q4_0;
    return std::nullopt;
}

namespace {
constexpr std::pair<spec_type, const char*> k_spec_names[] = {
    {spec_type::automatic, "auto"}, {spec_type::none, "none"},   {spec_type::mtp, "mtp"},
    {spec_type::draft, "draft"},    {spec_type::ngram, "ngram"},
};
}  // namespace

std::optional<spec_type> spec_type_from_name(std::string_view name) {
    for (const auto& [t, n] : k_spec_names) {
        if (name == n) return t;
    }
    return std::nullopt;
}

const char* spec_type_name(spec_type t) {
    for (const auto& [v, n] : k_spec_names) {
        if (v == t) return n;
    }
    return "?";
}

bool device_name_valid(std::string_view name) {
    if (name == "cpu" || name == "vulkan") return true;
    const std::string_view prefix = "vulkan:";
    if (!name.starts_with(prefix) || name.size() == prefix.size() || name.size() > prefix.size() + 3) return false;
    for (char c : name.substr(prefix.size()))
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace tandem
