// Typed metadata getters and the printable rendering used by `tandem inspect`. Values were
// validated at open time; the cursor still checks every read, so a walk can never leave the bytes.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "models/gguf/cursor.h"
#include "models/gguf/gguf.h"

namespace tandem::gguf {

using detail::cursor;

namespace {

std::string type_desc(const kv_entry& kv) {
    if (kv.type != value_type::array) return std::string(value_type_name(kv.type));
    return "array<" + std::string(value_type_name(kv.elem_type)) + ">";
}

[[noreturn]] void type_mismatch(const std::string& path, const kv_entry& kv, std::string_view expected) {
    throw error(path + ": metadata key '" + std::string(kv.key) + "' has type " + type_desc(kv) + ", expected " +
                std::string(expected));
}

[[noreturn]] void out_of_range(const std::string& path, const kv_entry& kv, const std::string& value,
                               std::string_view expected) {
    throw error(path + ": metadata key '" + std::string(kv.key) + "' value " + value + " does not fit " +
                std::string(expected));
}

template <class T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

// An integer value widened to either int64 (signed types) or uint64 (unsigned types).
struct wide_int {
    bool is_signed;
    int64_t s;
    uint64_t u;
};

wide_int load_int(value_type t, const uint8_t* p) {
    switch (t) {
        case value_type::u8:
            return {false, 0, load<uint8_t>(p)};
        case value_type::u16:
            return {false, 0, load<uint16_t>(p)};
        case value_type::u32:
            return {false, 0, load<uint32_t>(p)};
        case value_type::u64:
            return {false, 0, load<uint64_t>(p)};
        case value_type::i8:
            return {true, load<int8_t>(p), 0};
        case value_type::i16:
            return {true, load<int16_t>(p), 0};
        case value_type::i32:
            return {true, load<int32_t>(p), 0};
        default:
            return {true, load<int64_t>(p), 0};
    }
}

double load_float(value_type t, const uint8_t* p) {
    return t == value_type::f32 ? static_cast<double>(load<float>(p)) : load<double>(p);
}

template <class F>
std::string shortest(F v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, r.ptr);
}

std::string render_string(std::string_view s, size_t max_bytes) {
    std::string out = "\"";
    const size_t n = std::min(s.size(), max_bytes);
    for (size_t i = 0; i < n; ++i) {
        const auto ch = static_cast<unsigned char>(s[i]);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch == '\n') {
            out += "\\n";
        } else if (ch == '\t') {
            out += "\\t";
        } else if (ch < 0x20 || ch == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof(hex), "\\x%02x", ch);
            out += hex;
        } else {
            out += static_cast<char>(ch);
        }
    }
    out += '"';
    if (s.size() > n) out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

std::string render_scalar(value_type t, const uint8_t* p) {
    if (t == value_type::boolean) return *p != 0 ? "true" : "false";
    if (t == value_type::f32) return shortest(load<float>(p));
    if (t == value_type::f64) return shortest(load<double>(p));
    const wide_int v = load_int(t, p);
    return v.is_signed ? std::to_string(v.s) : std::to_string(v.u);
}

void skip_any(cursor& c, value_type t) {
    if (t == value_type::string) {
        c.read_string("value");
    } else if (t == value_type::array) {
        const auto elem = static_cast<value_type>(c.read<uint32_t>("array element type"));
        const uint64_t n = c.read<uint64_t>("array count");
        const size_t fixed = detail::value_fixed_size(elem);
        if (fixed != 0) {
            if (n > c.remaining() / fixed) c.fail("array runs past the end");
            c.skip(static_cast<size_t>(n) * fixed, "array");
        } else {
            for (uint64_t i = 0; i < n; ++i) skip_any(c, elem);
        }
    } else {
        c.skip(detail::value_fixed_size(t), "value");
    }
}

// Renders the n elements of an array (cursor at the first) and advances past them.
std::string render_elements(cursor& c, value_type elem, uint64_t n, size_t max_items);

// Renders one value at the cursor and advances past it.
std::string render_value(cursor& c, value_type t, size_t max_items, size_t max_string) {
    if (t == value_type::string) return render_string(c.read_string("value"), max_string);
    if (t == value_type::array) {
        const auto elem = static_cast<value_type>(c.read<uint32_t>("array element type"));
        const uint64_t n = c.read<uint64_t>("array count");
        return render_elements(c, elem, n, max_items);
    }
    const size_t fixed = detail::value_fixed_size(t);
    c.need(fixed, "value");
    std::string out = render_scalar(t, c.ptr());
    c.skip(fixed, "value");
    return out;
}

std::string render_elements(cursor& c, value_type elem, uint64_t n, size_t max_items) {
    std::string out = "[";
    const uint64_t n_shown = std::min<uint64_t>(n, max_items);
    for (uint64_t i = 0; i < n_shown; ++i) {
        if (i > 0) out += ", ";
        out += render_value(c, elem, max_items, 40);
    }
    for (uint64_t i = n_shown; i < n; ++i) skip_any(c, elem);
    if (n > n_shown) out += std::string(n_shown > 0 ? ", " : "") + "... " + std::to_string(n - n_shown) + " more";
    return out + "]";
}

}  // namespace

bool file::has(std::string_view key) const {
    return kv_index_.count(key) != 0;
}

const kv_entry* file::find_kv(std::string_view key) const {
    const auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

std::optional<std::string_view> file::get_string(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (kv->type != value_type::string) type_mismatch(path_, *kv, "string");
    cursor c(bytes_, kv->value_offset, path_);
    return c.read_string("metadata key '" + std::string(key) + "'");
}

std::optional<uint64_t> file::get_u64(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (!detail::value_type_is_int(kv->type)) type_mismatch(path_, *kv, "an unsigned integer");
    const wide_int v = load_int(kv->type, bytes_.data() + kv->value_offset);
    if (!v.is_signed) return v.u;
    if (v.s < 0) out_of_range(path_, *kv, std::to_string(v.s), "an unsigned integer");
    return static_cast<uint64_t>(v.s);
}

std::optional<int64_t> file::get_i64(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (!detail::value_type_is_int(kv->type)) type_mismatch(path_, *kv, "an integer");
    const wide_int v = load_int(kv->type, bytes_.data() + kv->value_offset);
    if (v.is_signed) return v.s;
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        out_of_range(path_, *kv, std::to_string(v.u), "a signed 64-bit integer");
    }
    return static_cast<int64_t>(v.u);
}

std::optional<double> file::get_f64(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (!detail::value_type_is_float(kv->type)) type_mismatch(path_, *kv, "f32 or f64");
    return load_float(kv->type, bytes_.data() + kv->value_offset);
}

std::optional<bool> file::get_bool(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (kv->type != value_type::boolean) type_mismatch(path_, *kv, "bool");
    return bytes_[kv->value_offset] != 0;
}

std::optional<std::vector<std::string_view>> file::get_string_array(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (kv->type != value_type::array || kv->elem_type != value_type::string) {
        type_mismatch(path_, *kv, "array<string>");
    }
    std::vector<std::string_view> out;
    out.reserve(static_cast<size_t>(kv->n_items));  // bounded at open time by the bytes of the file
    cursor c(bytes_, kv->value_offset, path_);
    const std::string what = "metadata key '" + std::string(key) + "'";
    for (uint64_t i = 0; i < kv->n_items; ++i) out.push_back(c.read_string(what));
    return out;
}

std::optional<std::vector<int64_t>> file::get_int_array(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (kv->type != value_type::array || !detail::value_type_is_int(kv->elem_type)) {
        type_mismatch(path_, *kv, "an array of integers");
    }
    const size_t stride = detail::value_fixed_size(kv->elem_type);
    std::vector<int64_t> out(static_cast<size_t>(kv->n_items));
    const uint8_t* p = bytes_.data() + kv->value_offset;
    for (size_t i = 0; i < out.size(); ++i, p += stride) {
        const wide_int v = load_int(kv->elem_type, p);
        if (!v.is_signed && v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            out_of_range(path_, *kv, std::to_string(v.u) + " (element " + std::to_string(i) + ")",
                         "a signed 64-bit integer");
        }
        out[i] = v.is_signed ? v.s : static_cast<int64_t>(v.u);
    }
    return out;
}

std::optional<std::vector<double>> file::get_float_array(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (kv->type != value_type::array || !detail::value_type_is_float(kv->elem_type)) {
        type_mismatch(path_, *kv, "an array of f32 or f64");
    }
    const size_t stride = detail::value_fixed_size(kv->elem_type);
    std::vector<double> out(static_cast<size_t>(kv->n_items));
    const uint8_t* p = bytes_.data() + kv->value_offset;
    for (size_t i = 0; i < out.size(); ++i, p += stride) out[i] = load_float(kv->elem_type, p);
    return out;
}

std::optional<std::vector<bool>> file::get_bool_array(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    if (kv == nullptr) return std::nullopt;
    if (kv->type != value_type::array || kv->elem_type != value_type::boolean) type_mismatch(path_, *kv, "array<bool>");
    std::vector<bool> out(static_cast<size_t>(kv->n_items));
    for (size_t i = 0; i < out.size(); ++i) out[i] = bytes_[kv->value_offset + i] != 0;
    return out;
}

size_t file::array_size(std::string_view key) const {
    const kv_entry* kv = find_kv(key);
    return kv == nullptr || kv->type != value_type::array ? 0 : static_cast<size_t>(kv->n_items);
}

std::vector<std::pair<std::string, std::string>> file::describe_metadata(size_t max_array_items) const {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(kvs_.size());
    for (const kv_entry& kv : kvs_) {
        std::string text = type_desc(kv);
        cursor c(bytes_, kv.value_offset, path_);
        if (kv.type == value_type::array) {
            text += '[';
            text += std::to_string(kv.n_items);
            text += "] ";
            text += render_elements(c, kv.elem_type, kv.n_items, max_array_items);
        } else {
            text += ' ';
            text += render_value(c, kv.type, max_array_items, 4096);
        }
        out.emplace_back(std::string(kv.key), std::move(text));
    }
    return out;
}

}  // namespace tandem::gguf
