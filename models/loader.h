// Reading an architecture's hyperparameters and weights from GGUF with shape checks, so that
// each architecture file states what it expects and every mismatch is a clear error.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "models/backend.h"

namespace tandem {

namespace gguf {
class file;
}

class model_loader {
  public:
    model_loader(const gguf::file& f, backend& be);

    const std::string& arch() const { return arch_; }
    // Keys are relative to the architecture ("embedding_length" -> "llama.embedding_length").
    int64_t get_int(const std::string& key) const;  // required
    int64_t get_int(const std::string& key, int64_t fallback) const;
    float get_float(const std::string& key, float fallback) const;
    float get_float(const std::string& key) const;  // required
    std::optional<std::string> get_string(const std::string& key) const;
    // A scalar repeated n times, or an array of exactly n values.
    std::vector<int64_t> get_per_layer(const std::string& key, int64_t n) const;
    std::vector<bool> get_bool_array(const std::string& key, int64_t n) const;

    // A tensor that must exist with exactly this ne[] shape (missing trailing dims are 1).
    weight require(const std::string& name, std::initializer_list<int64_t> shape);
    // The same, but absent is fine (returns an empty weight).
    weight optional(const std::string& name, std::initializer_list<int64_t> shape);
    // Rows of a matrix tensor (ne[1]), e.g. the vocabulary size from token_embd.weight; fails if absent.
    int64_t rows_of(const std::string& name) const;
    const gguf::file& file() const { return f_; }

    [[noreturn]] void fail(const std::string& what) const;

  private:
    std::string key(const std::string& k) const { return arch_ + "." + k; }
    const gguf::file& f_;
    backend& be_;
    std::string arch_;
};

}  // namespace tandem
