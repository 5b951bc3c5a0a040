// The GGUF writing `tandem make-model` shares between architectures (make_model.h).
#include "server/cli/make_model.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"

namespace tandem {

float make_rng::gauss(float sigma) {
    double s = 0;
    for (int i = 0; i < 4; ++i) s += uniform();
    return static_cast<float>((s - 2.0) * sigma * std::sqrt(3.0));
}

void gguf_meta::key(std::string_view k, uint32_t type) {
    put_str(k);
    put<uint32_t>(type);
    ++n_keys_;
}

void gguf_meta::put_str(std::string_view s) {
    put<uint64_t>(s.size());
    out_.write(s.data(), static_cast<std::streamsize>(s.size()));
}

void gguf_meta::u32(std::string_view k, uint32_t v) {
    key(k, 4), put<uint32_t>(v);
}
void gguf_meta::f32(std::string_view k, float v) {
    key(k, 6), put<float>(v);
}
void gguf_meta::str(std::string_view k, std::string_view v) {
    key(k, 8), put_str(v);
}

void gguf_meta::bools(std::string_view k, const std::vector<bool>& v) {
    key(k, 9), put<uint32_t>(7), put<uint64_t>(v.size());
    for (bool b : v) put<uint8_t>(b ? 1 : 0);
}

void gguf_meta::copy_vocab(const gguf::file& v) {
    auto arr_str = [&](const char* k) {
        if (auto a = v.get_string_array(k)) {
            key(k, 9), put<uint32_t>(8), put<uint64_t>(a->size());
            for (auto s : *a) put_str(s);
        }
    };
    arr_str("tokenizer.ggml.tokens");
    if (auto a = v.get_float_array("tokenizer.ggml.scores")) {
        key("tokenizer.ggml.scores", 9), put<uint32_t>(6), put<uint64_t>(a->size());
        for (double x : *a) put<float>(static_cast<float>(x));
    }
    if (auto a = v.get_int_array("tokenizer.ggml.token_type")) {
        key("tokenizer.ggml.token_type", 9), put<uint32_t>(5), put<uint64_t>(a->size());
        for (int64_t x : *a) put<int32_t>(static_cast<int32_t>(x));
    }
    arr_str("tokenizer.ggml.merges");
    for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template"}) {
        if (auto s = v.get_string(k)) str(k, *s);
    }
    for (const char* k : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
        if (auto x = v.get_u64(k)) u32(k, static_cast<uint32_t>(*x));
    }
    for (const char* k : {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"}) {
        if (auto b = v.get_bool(k)) key(k, 7), put<uint8_t>(*b ? 1 : 0);
    }
}

int64_t make_model_vocab_size(const gguf::file& vocab, const std::string& path) {
    const auto tokens = vocab.get_string_array("tokenizer.ggml.tokens");
    if (!tokens) throw error(path + ": no tokenizer.ggml.tokens");
    return static_cast<int64_t>(tokens->size());
}

namespace {

// Random tensor bytes: N(0, 0.02)-like floats, or random quant blocks with small scales.
void fill_random(const tensor_plan& t, make_rng& rng, std::vector<uint8_t>& buf) {
    const bool norm = t.name.find("norm") != std::string::npos;
    if (t.type == dtype::f32) {
        auto* f = reinterpret_cast<float*>(buf.data());
        for (uint64_t i = 0; i < t.bytes / 4; ++i) f[i] = norm ? 1.0f : rng.gauss(0.02f);
        return;
    }
    if (t.type == dtype::f16) {
        auto* h = reinterpret_cast<uint16_t*>(buf.data());
        for (uint64_t i = 0; i < t.bytes / 2; ++i) h[i] = f32_to_fp16(rng.gauss(0.02f));
        return;
    }
    for (uint64_t i = 0; i + 8 <= t.bytes; i += 8) {
        const uint64_t r = rng.next();
        std::memcpy(buf.data() + i, &r, 8);
    }
    const dtype_info& info = dtype_info_of(t.type);
    const size_t d_at = t.type == dtype::q6_k ? 208 : 0;  // offset of the f16 scale in each block
    for (uint64_t b = 0; b < t.bytes / info.block_bytes; ++b) {
        uint8_t* blk = buf.data() + b * info.block_bytes;
        const uint16_t d = f32_to_fp16(0.002f), dmin = f32_to_fp16(0.001f);
        std::memcpy(blk + d_at, &d, 2);
        if (t.type == dtype::q4_k || t.type == dtype::q5_k || t.type == dtype::q4_1 || t.type == dtype::q5_1) {
            std::memcpy(blk + 2, &dmin, 2);
        }
    }
}

// Computed rows, encoded to the tensor's type.
void fill_rows(const tensor_plan& t, std::vector<uint8_t>& buf) {
    if (!quantize_row_supported(t.type)) {
        throw error(t.name + ": computed rows cannot be encoded as " + std::string(dtype_info_of(t.type).name));
    }
    const int64_t n = t.ne[0];
    const size_t row_bytes = dtype_row_bytes(t.type, n);
    std::vector<float> row(static_cast<size_t>(n));
    for (uint64_t r = 0; r < t.bytes / row_bytes; ++r) {
        std::fill(row.begin(), row.end(), 0.0f);
        t.rows(static_cast<int64_t>(r), row);
        quantize_row(t.type, row.data(), buf.data() + r * row_bytes, n);
    }
}

void put_raw(std::ostream& out, const void* p, size_t n) {
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
}
template <class T>
void put(std::ostream& out, T v) {
    put_raw(out, &v, sizeof(T));
}
void pad(std::ostream& out, uint64_t align) {
    for (auto pos = static_cast<uint64_t>(out.tellp()); pos % align != 0; ++pos) out.put(0);
}

}  // namespace

uint64_t make_model_write(const std::string& path, const gguf_meta& meta, std::vector<tensor_plan>& plan,
                          uint64_t seed) {
    uint64_t off = 0;
    for (tensor_plan& t : plan) {
        int64_t n = 1;
        for (int64_t d : t.ne) n *= d;
        t.bytes = dtype_row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(n / t.ne[0]);
        t.offset = off;
        off = (off + t.bytes + 31) / 32 * 32;
    }
    std::ofstream file(path, std::ios::binary);
    if (!file) throw error(path + ": cannot open for writing");
    put_raw(file, "GGUF", 4);
    put<uint32_t>(file, 3);
    put<uint64_t>(file, plan.size());
    put<uint64_t>(file, meta.n_keys());
    const std::string meta_bytes = meta.bytes();
    put_raw(file, meta_bytes.data(), meta_bytes.size());
    for (const tensor_plan& t : plan) {
        put<uint64_t>(file, t.name.size());
        put_raw(file, t.name.data(), t.name.size());
        put<uint32_t>(file, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) put<uint64_t>(file, static_cast<uint64_t>(d));
        put<uint32_t>(file, static_cast<uint32_t>(t.type));
        put<uint64_t>(file, t.offset);
    }
    pad(file, 32);
    make_rng rng(seed);
    std::vector<uint8_t> buf;
    for (const tensor_plan& t : plan) {
        buf.assign(t.bytes, 0);
        if (t.rows) {
            fill_rows(t, buf);
        } else {
            fill_random(t, rng, buf);
        }
        put_raw(file, buf.data(), buf.size());
        pad(file, 32);
    }
    file.close();
    if (!file) throw error(path + ": write failed");
    return off;
}

}  // namespace tandem
