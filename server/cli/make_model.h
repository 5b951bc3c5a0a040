// Pieces `tandem make-model` shares between architectures: GGUF metadata built in memory, the vocabulary
// copied from a vocab GGUF, and the file writer, which fills each tensor with seeded random bytes or with
// rows that a function computes (encoded to the tensor's type exactly as kernels/quant.h quantizes).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/types.h"
#include "models/gguf/gguf.h"

namespace tandem {

// One xorshift64 stream: the same seed writes the same bytes.
struct make_rng {
    uint64_t state;
    explicit make_rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next() {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return state;
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    float gauss(float sigma);  // sum of uniforms: cheap and close enough to normal
};

// Row `row` (ne[0] floats) of a computed tensor.
using row_fn = std::function<void(int64_t row, std::span<float> out)>;

struct tensor_plan {
    std::string name;
    std::vector<int64_t> ne;  // ggml order: ne[0] is the row length
    dtype type;
    row_fn rows;  // empty: seeded random values (norms: 1.0), as the llama shapes use
    uint64_t offset = 0, bytes = 0;
};

// Metadata keys in memory, so the header can carry their count. Types are GGUF's.
class gguf_meta {
  public:
    void u32(std::string_view k, uint32_t v);
    void f32(std::string_view k, float v);
    void str(std::string_view k, std::string_view v);
    void bools(std::string_view k, const std::vector<bool>& v);
    // The tokenizer.* keys llama.cpp reads, copied from a vocab GGUF.
    void copy_vocab(const gguf::file& v);
    std::string bytes() const { return out_.str(); }
    uint64_t n_keys() const { return n_keys_; }

  private:
    void key(std::string_view k, uint32_t type);
    template <class T>
    void put(T v) {
        out_.write(reinterpret_cast<const char*>(&v), sizeof(T));
    }
    void put_str(std::string_view s);
    std::ostringstream out_;
    uint64_t n_keys_ = 0;
};

// Lays the tensors out (32-byte aligned), writes the file and returns the bytes of tensor data.
uint64_t make_model_write(const std::string& path, const gguf_meta& meta, std::vector<tensor_plan>& plan,
                          uint64_t seed);

// The vocabulary size of a vocab GGUF (its tokenizer.ggml.tokens), or a tandem::error naming the file.
int64_t make_model_vocab_size(const gguf::file& vocab, const std::string& path);

struct gemma4_make_options {
    std::string arch, shape, type, out;
    double accept = 0.75;  // the assistant's per-position acceptance
    uint64_t seed = 1;
};

// `--arch gemma4` / `--arch gemma4-assistant` (make_model_gemma4.cpp).
void make_model_gemma4(const gemma4_make_options& o, const gguf::file& vocab, const std::string& vocab_path);

}  // namespace tandem
