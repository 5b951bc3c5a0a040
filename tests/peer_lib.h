// The peer's shared libraries (shared/peer/lib), for the tests and benchmarks that load llama.cpp's
// own code at run time as an oracle.
#pragma once

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace tandem::test {

// The ELF file among the names of library `prefix` (e.g. "libggml-base.so") under shared/peer/lib,
// or "" if there is none: the unversioned names may be link stubs (small text files naming the target).
inline std::string peer_library(const std::string& shared, const std::string& prefix) {
    const std::filesystem::path dir = std::filesystem::path(shared) / "peer" / "lib";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().filename().string().rfind(prefix, 0) != 0) continue;
        std::ifstream f(e.path(), std::ios::binary);
        char magic[4] = {};
        if (f.read(magic, 4) && std::memcmp(magic,
                                            "\x7f"
                                            "ELF",
                                            4) == 0)
            return e.path().string();
    }
    return {};
}

}  // namespace tandem::test
