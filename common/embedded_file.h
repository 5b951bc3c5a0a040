// A file compiled into the binary by cmake/embed_files.cmake (the web UI bundle, the Vulkan
// shaders' SPIR-V): its path relative to the embedded folder and its bytes (16-byte aligned).
#pragma once

#include <span>
#include <string_view>

namespace tandem {

struct embedded_file {
    std::string_view path;
    std::span<const unsigned char> bytes;
};

}  // namespace tandem
