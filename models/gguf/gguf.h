// Bounds-checked reader for GGUF v2/v3 files: metadata and tensor infos are validated against the
// file before use, tensor data stays in a read-only mmap and is never copied.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/types.h"

namespace tandem::gguf {

namespace detail {
class cursor;
}

enum class value_type : uint32_t {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12
};

// "u8", "i32", "f32", "bool", "string", "array", ...; "?" for ids GGUF does not define.
std::string_view value_type_name(value_type t);

struct tensor_info {
    std::string name;
    dtype type;                 // a type defined in kernels/types.h (dtype_lookup); undefined ids are refused
    int32_t n_dims;             // 1..4
    std::array<int64_t, 4> ne;  // ne[0] is the contiguous dimension (row length); unused dims are 1
    int64_t n_elements;
    uint64_t offset;  // absolute offset in the file
    size_t n_bytes;
    const uint8_t* data;  // points into the read-only mmap; never copied
};

// One metadata entry as found in the file. Values are not decoded: offsets point into the bytes,
// which were validated at open time (so walking them again cannot run past the end).
struct kv_entry {
    std::string_view key;  // points into the mapped bytes
    value_type type;
    value_type elem_type;  // arrays only: the element type (may itself be `array`)
    uint64_t n_items;      // arrays only
    size_t value_offset;   // scalars: the value; strings: the length prefix; arrays: the first element
    size_t value_bytes;    // bytes of the value, from value_offset
};

class file {
  public:
    // Maps `path` read-only and validates it; throws tandem::error("<path>: <what is wrong>").
    static std::unique_ptr<file> open(const std::string& path);
    // Parses bytes the caller keeps alive for the lifetime of the result (no copy); `name` is used
    // in error messages in place of a path. For fuzzing and tests.
    static std::unique_ptr<file> from_memory(std::span<const uint8_t> bytes, std::string name);

    ~file();
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    size_t size() const { return bytes_.size(); }
    size_t data_offset() const { return data_offset_; }  // start of the (aligned) tensor data section
    std::span<const uint8_t> bytes() const { return bytes_; }
    // Maps every page of a file-backed mapping now (MADV_POPULATE_READ; readahead where the kernel
    // lacks it), so the first forward pass does not pay a page fault per 4 KiB of weights.
    void prefault() const;
    // Drops this process's pages of part of a file-backed mapping (MADV_DONTNEED on the whole pages
    // inside `part`), for tensors the backend copied: they come back from the page cache if read
    // again. Nothing for a file from_memory.
    void release(std::span<const uint8_t> part) const;

    // Metadata getters: nullopt when the key is absent; throw tandem::error naming file and key when
    // the key exists with an incompatible type. Integer getters accept any integer type whose value
    // fits (get_u64 refuses negatives); get_f64 accepts f32/f64. Array getters require an array of
    // the matching element kind (integers, floats, bools, strings; never nested arrays).
    bool has(std::string_view key) const;
    std::optional<std::string_view> get_string(std::string_view key) const;
    std::optional<uint64_t> get_u64(std::string_view key) const;
    std::optional<int64_t> get_i64(std::string_view key) const;
    std::optional<double> get_f64(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::vector<std::string_view>> get_string_array(std::string_view key) const;
    std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;
    std::optional<std::vector<double>> get_float_array(std::string_view key) const;
    std::optional<std::vector<bool>> get_bool_array(std::string_view key) const;
    size_t array_size(std::string_view key) const;  // 0 if absent or not an array

    const kv_entry* find_kv(std::string_view key) const;            // nullptr if absent
    const std::vector<kv_entry>& metadata() const { return kvs_; }  // file order

    // For `tandem inspect`: every key in file order with its type and a printable rendering
    // (arrays abbreviated to max_array_items elements), e.g. {"llama.block_count", "u32 5"}.
    std::vector<std::pair<std::string, std::string>> describe_metadata(size_t max_array_items = 8) const;

    const std::vector<tensor_info>& tensors() const { return tensors_; }  // file order
    const tensor_info* find_tensor(std::string_view name) const;          // nullptr if absent

  private:
    struct mapping;
    file() = default;
    void parse();
    void parse_tensor_infos(detail::cursor& c, uint64_t n_tensors);
    void place_tensors(detail::cursor& c, const std::vector<uint64_t>& rel_offsets);

    std::string path_;
    std::unique_ptr<mapping> map_;  // owns the mmap when opened from a path
    std::span<const uint8_t> bytes_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    size_t data_offset_ = 0;
    std::vector<kv_entry> kvs_;
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::vector<tensor_info> tensors_;
    std::unordered_map<std::string_view, size_t> tensor_index_;  // keys view tensors_[i].name
};

}  // namespace tandem::gguf
