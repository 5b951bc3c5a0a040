// Helpers for the tokenizer model tests: reading shared files (a missing file fails the test with
// its path), hex conversion and loading a tokenizer straight from a GGUF path.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "models/gguf/gguf.h"

namespace tandem::test {

inline std::string shared_path(const std::string& rel) {
    return std::string(TANDEM_SHARED_DIR) + "/" + rel;
}

// Reads a whole file; an absent file is a test failure (never a silent skip).
inline std::string read_file_or_fail(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "missing shared file: " << path;
        return {};
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

inline std::string to_hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

inline std::string ids_to_string(const std::vector<int32_t>& ids) {
    std::ostringstream os;
    for (size_t i = 0; i < ids.size(); ++i) os << (i ? " " : "") << ids[i];
    return os.str();
}

inline std::unique_ptr<tokenizer> load_tokenizer(const std::string& path) {
    const auto f = gguf::file::open(path);
    return tokenizer::from_gguf(*f);
}

}  // namespace tandem::test
