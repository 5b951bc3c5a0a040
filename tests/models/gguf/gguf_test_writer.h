// A tiny, independent GGUF writer for tests and fuzz seeds: it emits valid files from a plain
// description, and every field is public so a test can corrupt it before (or after) building.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::gguf::test {

// GGUF value type ids, written out by hand (not taken from the reader under test).
enum : uint32_t {
    t_u8 = 0,
    t_i8 = 1,
    t_u16 = 2,
    t_i16 = 3,
    t_u32 = 4,
    t_i32 = 5,
    t_f32 = 6,
    t_bool = 7,
    t_string = 8,
    t_array = 9,
    t_u64 = 10,
    t_i64 = 11,
    t_f64 = 12
};

class bytes {
  public:
    std::vector<uint8_t> b;
    template <class T>
    bytes& put(T v) {
        uint8_t raw[sizeof(T)];
        std::memcpy(raw, &v, sizeof(T));
        b.insert(b.end(), raw, raw + sizeof(T));
        return *this;
    }
    bytes& str(std::string_view s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    bytes& raw(const std::vector<uint8_t>& v) {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
};

// Encoded values (the bytes after the value type id).
template <class T>
inline std::vector<uint8_t> enc(T v) {
    return bytes().put<T>(v).b;
}
inline std::vector<uint8_t> enc_str(std::string_view s) {
    return bytes().str(s).b;
}
template <class T>
inline std::vector<uint8_t> enc_array(uint32_t elem_type, const std::vector<T>& items) {
    bytes out;
    out.put<uint32_t>(elem_type).put<uint64_t>(items.size());
    for (const T& v : items) out.put<T>(v);
    return out.b;
}
inline std::vector<uint8_t> enc_str_array(const std::vector<std::string>& items) {
    bytes out;
    out.put<uint32_t>(t_string).put<uint64_t>(items.size());
    for (const std::string& s : items) out.str(s);
    return out.b;
}
// An array of arrays: each inner element is already encoded (elem type + count + items).
inline std::vector<uint8_t> enc_nested(const std::vector<std::vector<uint8_t>>& inner) {
    bytes out;
    out.put<uint32_t>(t_array).put<uint64_t>(inner.size());
    for (const auto& v : inner) out.raw(v);
    return out.b;
}

struct kv {
    std::string key;
    uint32_t type;
    std::vector<uint8_t> value;
};

struct tensor {
    std::string name;
    std::vector<uint64_t> ne;        // as written (n_dims = ne.size() unless n_dims_override)
    uint32_t type = 0;               // ggml type id
    std::vector<uint8_t> data;       // the tensor's bytes (the test computes the right size)
    std::optional<uint64_t> offset;  // relative to the data section; default: packed and aligned
    std::optional<uint32_t> n_dims_override;
};

struct gguf_builder {
    uint32_t magic = 0x46554747;  // "GGUF"
    uint32_t version = 3;
    std::optional<uint64_t> n_tensors_override, n_kv_override;
    uint64_t alignment = 32;  // used for layout only; add a general.alignment kv to declare another one
    std::vector<kv> kvs;
    std::vector<tensor> tensors;

    template <class T>
    gguf_builder& add(std::string key, uint32_t type, T v) {
        kvs.push_back({std::move(key), type, enc<T>(v)});
        return *this;
    }
    gguf_builder& add_str(std::string key, std::string_view v) {
        kvs.push_back({std::move(key), t_string, enc_str(v)});
        return *this;
    }
    gguf_builder& add_raw(std::string key, uint32_t type, std::vector<uint8_t> v) {
        kvs.push_back({std::move(key), type, std::move(v)});
        return *this;
    }

    std::vector<uint8_t> build() const {
        bytes out;
        out.put<uint32_t>(magic).put<uint32_t>(version);
        out.put<uint64_t>(n_tensors_override.value_or(tensors.size()));
        out.put<uint64_t>(n_kv_override.value_or(kvs.size()));
        for (const kv& e : kvs) out.str(e.key).put<uint32_t>(e.type).raw(e.value);
        std::vector<uint64_t> offsets;
        uint64_t next = 0;
        for (const tensor& t : tensors) {
            const uint64_t off = t.offset.value_or(next);
            offsets.push_back(off);
            next = align(off + t.data.size());
            out.str(t.name).put<uint32_t>(t.n_dims_override.value_or(static_cast<uint32_t>(t.ne.size())));
            for (uint64_t d : t.ne) out.put<uint64_t>(d);
            out.put<uint32_t>(t.type).put<uint64_t>(off);
        }
        if (tensors.empty()) return out.b;
        const size_t data_start = align(out.b.size());
        uint64_t data_end = 0;
        for (size_t i = 0; i < tensors.size(); ++i) {
            if (tensors[i].data.empty()) continue;  // lets a test point an offset far outside the file
            data_end = std::max<uint64_t>(data_end, offsets[i] + tensors[i].data.size());
        }
        if (data_end > (uint64_t{1} << 28)) throw std::runtime_error("gguf_builder: test file would be too large");
        out.b.resize(data_start + data_end, 0);
        for (size_t i = 0; i < tensors.size(); ++i) {
            if (tensors[i].data.empty()) continue;
            std::memcpy(out.b.data() + data_start + offsets[i], tensors[i].data.data(), tensors[i].data.size());
        }
        return out.b;
    }

  private:
    uint64_t align(uint64_t x) const { return (x + alignment - 1) / alignment * alignment; }
};

// F32 tensor data: values start, start+1, ...
inline std::vector<uint8_t> f32_data(size_t n, float start = 0.0f) {
    bytes out;
    for (size_t i = 0; i < n; ++i) out.put<float>(start + static_cast<float>(i));
    return out.b;
}

// A small valid file with every scalar value type, a string array, a nested array and two tensors.
inline gguf_builder small_valid_file() {
    gguf_builder g;
    g.add_str("general.architecture", "llama");
    g.add<uint8_t>("test.u8", t_u8, 200);
    g.add<int8_t>("test.i8", t_i8, -100);
    g.add<uint16_t>("test.u16", t_u16, 60000);
    g.add<int16_t>("test.i16", t_i16, -30000);
    g.add<uint32_t>("test.u32", t_u32, 4000000000u);
    g.add<int32_t>("test.i32", t_i32, -2000000000);
    g.add<float>("test.f32", t_f32, 0.25f);
    g.add<uint8_t>("test.bool", t_bool, 1);
    g.add<uint64_t>("test.u64", t_u64, uint64_t{1} << 63);
    g.add<int64_t>("test.i64", t_i64, -(int64_t{1} << 40));
    g.add<double>("test.f64", t_f64, -1.5);
    g.add_raw("tokenizer.ggml.tokens", t_array, enc_str_array({"<unk>", "<s>", "</s>", "hello", ""}));
    g.add_raw("tokenizer.ggml.scores", t_array, enc_array<float>(t_f32, {0.0f, -1.0f, -2.5f, 3.0f, 4.0f}));
    g.add_raw("tokenizer.ggml.token_type", t_array, enc_array<int32_t>(t_i32, {2, 3, 3, 1, 1}));
    g.add_raw("test.bools", t_array, enc_array<uint8_t>(t_bool, {1, 0, 1}));
    g.add_raw("test.nested", t_array,
              enc_nested({enc_array<int32_t>(t_i32, {1, 2}), enc_array<int32_t>(t_i32, {3}), enc_str_array({"x"})}));
    g.tensors.push_back({"token_embd.weight", {4, 3}, 0, f32_data(12, 1.0f), std::nullopt, std::nullopt});
    g.tensors.push_back({"output_norm.weight", {4}, 0, f32_data(4, 100.0f), std::nullopt, std::nullopt});
    return g;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace tandem::gguf::test
