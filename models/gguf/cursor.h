// Internal to models/gguf: a little-endian read cursor that checks every read against the end of
// the bytes and throws tandem::error("<path>: ...") instead of running past it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "models/gguf/gguf.h"

namespace tandem::gguf::detail {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

class cursor {
  public:
    cursor(std::span<const uint8_t> bytes, size_t pos, const std::string& path)
        : bytes_(bytes), pos_(pos), path_(path) {}

    size_t pos() const { return pos_; }
    size_t remaining() const { return bytes_.size() - pos_; }
    const uint8_t* ptr() const { return bytes_.data() + pos_; }
    const std::string& path() const { return path_; }

    [[noreturn]] void fail(const std::string& what) const { throw error(path_ + ": " + what); }

    // Refuses (naming `what`) unless n more bytes are available.
    void need(size_t n, std::string_view what) const {
        if (n > remaining()) {
            fail("truncated: " + std::string(what) + " at offset " + std::to_string(pos_) + " needs " +
                 std::to_string(n) + " bytes but only " + std::to_string(remaining()) + " remain");
        }
    }

    void skip(size_t n, std::string_view what) {
        need(n, what);
        pos_ += n;
    }

    template <class T>
    T read(std::string_view what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    // A GGUF string: u64 byte length, then the bytes (not NUL-terminated).
    std::string_view read_string(std::string_view what) {
        const uint64_t n = read<uint64_t>(what);
        if (n > remaining()) {
            fail(std::string(what) + ": string length " + std::to_string(n) + " at offset " + std::to_string(pos_ - 8) +
                 " runs past the end of the file (" + std::to_string(remaining()) + " bytes remain)");
        }
        std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(n));
        pos_ += static_cast<size_t>(n);
        return s;
    }

  private:
    std::span<const uint8_t> bytes_;
    size_t pos_;
    const std::string& path_;
};

// Bytes of one value of a fixed-size type; 0 for string and array.
inline size_t value_fixed_size(value_type t) {
    switch (t) {
        case value_type::u8:
        case value_type::i8:
        case value_type::boolean:
            return 1;
        case value_type::u16:
        case value_type::i16:
            return 2;
        case value_type::u32:
        case value_type::i32:
        case value_type::f32:
            return 4;
        case value_type::u64:
        case value_type::i64:
        case value_type::f64:
            return 8;
        default:
            return 0;
    }
}

// The fewest bytes a value of type t can occupy (bounds element counts by the bytes remaining).
inline size_t value_min_size(value_type t) {
    if (t == value_type::string) return 8;     // length prefix
    if (t == value_type::array) return 4 + 8;  // element type + count
    return value_fixed_size(t);
}

inline bool value_type_defined(uint32_t id) {
    return id <= static_cast<uint32_t>(value_type::f64);
}

inline bool value_type_is_int(value_type t) {
    switch (t) {
        case value_type::u8:
        case value_type::i8:
        case value_type::u16:
        case value_type::i16:
        case value_type::u32:
        case value_type::i32:
        case value_type::u64:
        case value_type::i64:
            return true;
        default:
            return false;
    }
}

inline bool value_type_is_float(value_type t) {
    return t == value_type::f32 || t == value_type::f64;
}

constexpr int k_max_array_depth = 8;  // arrays of arrays nest at most this deep

}  // namespace tandem::gguf::detail
