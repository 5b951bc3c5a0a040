// Writes a minimal GGUF v3 image (metadata only, no tensors) in memory, so unit tests can build
// tiny vocabularies by hand and load them through gguf::file::from_memory.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tandem::test {

class gguf_builder {
  public:
    gguf_builder& str(const std::string& key, const std::string& v) {
        return kv(key, 8, [&] { put_str(v); });
    }
    gguf_builder& u32(const std::string& key, uint32_t v) {
        return kv(key, 4, [&] { put(v); });
    }
    gguf_builder& boolean(const std::string& key, bool v) {
        return kv(key, 7, [&] { put(uint8_t(v ? 1 : 0)); });
    }
    gguf_builder& strs(const std::string& key, const std::vector<std::string>& v) {
        return kv(key, 9, [&] {
            put(uint32_t(8));
            put(uint64_t(v.size()));
            for (const auto& s : v) put_str(s);
        });
    }
    gguf_builder& i32s(const std::string& key, const std::vector<int32_t>& v) {
        return kv(key, 9, [&] {
            put(uint32_t(5));
            put(uint64_t(v.size()));
            for (int32_t x : v) put(x);
        });
    }
    gguf_builder& f32s(const std::string& key, const std::vector<float>& v) {
        return kv(key, 9, [&] {
            put(uint32_t(6));
            put(uint64_t(v.size()));
            for (float x : v) put(x);
        });
    }

    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> out;
        const auto app = [&](const void* p, size_t n) {
            const auto* b = static_cast<const uint8_t*>(p);
            out.insert(out.end(), b, b + n);
        };
        app("GGUF", 4);
        const uint32_t version = 3;
        const uint64_t n_tensors = 0;
        app(&version, 4);
        app(&n_tensors, 8);
        app(&n_kv_, 8);
        out.insert(out.end(), body_.begin(), body_.end());
        while (out.size() % 32 != 0) out.push_back(0);
        return out;
    }

  private:
    template <typename F>
    gguf_builder& kv(const std::string& key, uint32_t type, F&& value) {
        put_str(key);
        put(type);
        value();
        ++n_kv_;
        return *this;
    }
    template <typename T>
    void put(T v) {
        uint8_t b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        body_.insert(body_.end(), b, b + sizeof(T));
    }
    void put_str(const std::string& s) {
        put(uint64_t(s.size()));
        body_.insert(body_.end(), s.begin(), s.end());
    }

    std::vector<uint8_t> body_;
    uint64_t n_kv_ = 0;
};

}  // namespace tandem::test
