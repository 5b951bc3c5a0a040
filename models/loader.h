// Reading an architecture's hyperparameters and weights from GGUF with shape checks, so that
// each architecture file states what it expects and every mismatch is a clear error.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <unordered_set>
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
    // The same for a table the model reads by rows (embed: per-layer embeddings), which the backend
    // keeps as the file has it.
    weight require_table(const std::string& name, std::initializer_list<int64_t> shape);
    // The token table and the output head: `output` if the file has it, else the table itself (tied),
    // then loaded as both a table and a matmul operand (so the CPU backend packs it for the head).
    struct embeddings {
        weight table, output;
    };
    embeddings require_embeddings(const std::string& table, const std::string& output, int64_t n_embd, int64_t n_vocab);
    // The same, but absent is fine (returns an empty weight).
    weight optional(const std::string& name, std::initializer_list<int64_t> shape);
    // Norm weights, biases and scalar scales: backends read them in place as f32, so any other type
    // is refused here, at load, instead of aborting at the first forward.
    weight require_f32(const std::string& name, std::initializer_list<int64_t> shape);
    weight optional_f32(const std::string& name, std::initializer_list<int64_t> shape);
    // Rows of a matrix tensor (ne[1]), e.g. the vocabulary size from token_embd.weight; fails if absent.
    int64_t rows_of(const std::string& name);
    const gguf::file& file() const { return f_; }

    // Refuses Mixture-of-Experts files (<arch>.expert_count > 0, or router / expert tensors): their
    // dense tensors would load and the experts be skipped, giving wrong logits without an error.
    void refuse_moe() const;
    // The file's tensors that no require/optional/rows_of call asked for, in file order.
    std::vector<std::string> unused_tensors() const;
    // Logs unused_tensors() as one warning (count and the first few names); silent when all are used.
    // Unused tensors are tolerated (as llama.cpp does); features we cannot compute are refused instead.
    void warn_unused() const;

    [[noreturn]] void fail(const std::string& what) const;

  private:
    std::string key(const std::string& k) const { return arch_ + "." + k; }
    weight load(const std::string& name, std::initializer_list<int64_t> shape, bool f32_only,
                weight_use use = weight_use::matmul);
    const gguf::file& f_;
    backend& be_;
    std::string arch_;
    std::unordered_set<std::string> asked_;  // every tensor name an architecture asked for
};

}  // namespace tandem
