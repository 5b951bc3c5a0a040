// Opening and validating a GGUF file: header, metadata (every value walked once and checked),
// tensor infos (dims, types, offsets, sizes, overlaps) and the read-only mmap that backs it all.
#include "models/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "models/gguf/cursor.h"

namespace tandem::gguf {

using detail::cursor;

struct file::mapping {
    void* addr = nullptr;
    size_t n_bytes = 0;
    ~mapping() {
        if (addr != nullptr) munmap(addr, n_bytes);
    }
};

namespace {

constexpr uint32_t k_magic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t k_default_alignment = 32;
// Smallest possible encodings, used to bound counts by the bytes remaining before reserving memory.
constexpr size_t k_min_kv_bytes = 8 + 1 + 4 + 1;                   // key length, 1-byte key, type, u8 value
constexpr size_t k_min_tensor_info_bytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, one dim, type, offset

std::string quoted(std::string_view s) {
    std::string out(1, '\'');  // built by appends: GCC 12 -O3 warns falsely (-Wrestrict) on "'" + string
    out += s;
    out += '\'';
    return out;
}

uint32_t byteswap32(uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

// Walks one metadata value of type t, checking it against the end of the bytes. `ctx` names the key.
void skip_value(cursor& c, value_type t, int depth, const std::string& ctx) {
    if (t == value_type::string) {
        c.read_string(ctx);
        return;
    }
    if (t == value_type::boolean) {
        const uint8_t b = c.read<uint8_t>(ctx);
        if (b > 1) c.fail(ctx + ": invalid bool byte " + std::to_string(b) + " (must be 0 or 1)");
        return;
    }
    if (t != value_type::array) {
        c.skip(detail::value_fixed_size(t), ctx);
        return;
    }
    if (depth >= detail::k_max_array_depth) {
        c.fail(ctx + ": arrays nested deeper than " + std::to_string(detail::k_max_array_depth) + " levels");
    }
    const uint32_t elem_id = c.read<uint32_t>(ctx);  // no per-element string building: arrays can be long
    if (!detail::value_type_defined(elem_id)) {
        c.fail(ctx + ": undefined array element type id " + std::to_string(elem_id));
    }
    const auto elem = static_cast<value_type>(elem_id);
    const uint64_t n = c.read<uint64_t>(ctx);
    if (n > c.remaining() / detail::value_min_size(elem)) {
        c.fail(ctx + ": array count " + std::to_string(n) + " of " + std::string(value_type_name(elem)) +
               " cannot fit in the " + std::to_string(c.remaining()) + " bytes remaining (file truncated or corrupt)");
    }
    if (elem != value_type::string && elem != value_type::array && elem != value_type::boolean) {
        c.skip(static_cast<size_t>(n) * detail::value_fixed_size(elem), ctx);
        return;
    }
    for (uint64_t i = 0; i < n; ++i) skip_value(c, elem, depth + 1, ctx);
}

uint64_t align_up(uint64_t x, uint64_t a) {  // a is a power of two; caller handles overflow
    return (x + a - 1) & ~(a - 1);
}

}  // namespace

std::string_view value_type_name(value_type t) {
    switch (t) {
        case value_type::u8:
            return "u8";
        case value_type::i8:
            return "i8";
        case value_type::u16:
            return "u16";
        case value_type::i16:
            return "i16";
        case value_type::u32:
            return "u32";
        case value_type::i32:
            return "i32";
        case value_type::f32:
            return "f32";
        case value_type::boolean:
            return "bool";
        case value_type::string:
            return "string";
        case value_type::array:
            return "array";
        case value_type::u64:
            return "u64";
        case value_type::i64:
            return "i64";
        case value_type::f64:
            return "f64";
    }
    return "?";
}

file::~file() = default;

std::unique_ptr<file> file::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw error(path + ": cannot stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw error(path + ": not a regular file");
    }
    const auto n_bytes = static_cast<size_t>(st.st_size);
    if (n_bytes == 0) {
        ::close(fd);
        throw error(path + ": truncated: the file is 0 bytes, too short for the GGUF magic");
    }
    void* addr = mmap(nullptr, n_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (addr == MAP_FAILED)
        throw error(path + ": cannot mmap " + std::to_string(n_bytes) + " bytes: " + std::strerror(e));

    std::unique_ptr<file> f(new file());
    f->map_ = std::make_unique<mapping>();
    f->map_->addr = addr;
    f->map_->n_bytes = n_bytes;
    f->path_ = path;
    f->bytes_ = std::span<const uint8_t>(static_cast<const uint8_t*>(addr), n_bytes);
    f->parse();
    return f;
}

void file::prefault() const {
    if (!map_) return;
#ifdef MADV_POPULATE_READ
    if (madvise(map_->addr, map_->n_bytes, MADV_POPULATE_READ) == 0) return;
#endif
    madvise(map_->addr, map_->n_bytes, MADV_WILLNEED);  // advisory: a failure only costs speed
}

void file::release(std::span<const uint8_t> part) const {
    if (!map_ || part.empty()) return;
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t lo = (reinterpret_cast<uintptr_t>(part.data()) + page - 1) / page * page;
    const uintptr_t hi = (reinterpret_cast<uintptr_t>(part.data()) + part.size()) / page * page;
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);  // advisory
}

std::unique_ptr<file> file::from_memory(std::span<const uint8_t> bytes, std::string name) {
    std::unique_ptr<file> f(new file());
    f->path_ = std::move(name);
    f->bytes_ = bytes;
    f->parse();
    return f;
}

void file::parse() {
    cursor c(bytes_, 0, path_);
    if (bytes_.size() < 4) {
        c.fail("truncated: the file is " + std::to_string(bytes_.size()) + " bytes, too short for the GGUF magic");
    }
    const uint32_t magic = c.read<uint32_t>("magic");
    if (magic != k_magic) {
        char hex[16];
        std::snprintf(hex, sizeof(hex), "0x%08x", magic);
        c.fail(std::string("bad magic ") + hex + ": not a GGUF file (expected the bytes 'GGUF')");
    }
    version_ = c.read<uint32_t>("version");
    if (version_ == 1)
        c.fail("GGUF v1 is not supported (only v2 and v3); re-convert the model with a current llama.cpp");
    if (version_ != 2 && version_ != 3) {
        const uint32_t swapped = byteswap32(version_);
        if (swapped == 2 || swapped == 3)
            c.fail("big-endian GGUF is not supported (version field reads as " + std::to_string(swapped) +
                   " byte-swapped)");
        c.fail("unsupported GGUF version " + std::to_string(version_) + " (only v2 and v3)");
    }
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t n_kv = c.read<uint64_t>("metadata count");
    if (n_kv > c.remaining() / k_min_kv_bytes) {
        c.fail("metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(c.remaining()) +
               " bytes remaining (file truncated or corrupt)");
    }
    if (n_tensors > c.remaining() / k_min_tensor_info_bytes) {
        c.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(c.remaining()) +
               " bytes remaining (file truncated or corrupt)");
    }

    kvs_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string what = "metadata entry " + std::to_string(i);
        const std::string_view key = c.read_string(what + " key");
        if (key.empty()) c.fail(what + ": empty key");
        const std::string ctx = "metadata key " + quoted(key);
        const uint32_t type_id = c.read<uint32_t>(ctx + " (value type)");
        if (!detail::value_type_defined(type_id)) c.fail(ctx + ": undefined value type id " + std::to_string(type_id));
        kv_entry kv{key, static_cast<value_type>(type_id), value_type::u8, 0, c.pos(), 0};
        if (!kv_index_.emplace(key, kvs_.size()).second) c.fail("duplicate metadata key " + quoted(key));
        skip_value(c, kv.type, 0, ctx);
        if (kv.type == value_type::array) {  // already validated: re-read the element header
            std::memcpy(&kv.elem_type, bytes_.data() + kv.value_offset, 4);
            std::memcpy(&kv.n_items, bytes_.data() + kv.value_offset + 4, 8);
            kv.value_offset += 12;
        }
        kv.value_bytes = c.pos() - kv.value_offset;
        kvs_.push_back(kv);
    }

    const std::optional<uint64_t> align = get_u64("general.alignment");
    alignment_ = align.value_or(k_default_alignment);
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
        c.fail("general.alignment " + std::to_string(alignment_) + " is not a nonzero power of two");
    }
    parse_tensor_infos(c, n_tensors);
}

void file::parse_tensor_infos(cursor& c, uint64_t n_tensors) {
    std::vector<uint64_t> rel_offsets;
    tensors_.reserve(static_cast<size_t>(n_tensors));
    rel_offsets.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const std::string_view name = c.read_string("tensor info " + std::to_string(i) + " name");
        if (name.empty()) c.fail("tensor info " + std::to_string(i) + ": empty tensor name");
        const std::string ctx = "tensor " + quoted(name);
        if (!tensor_index_.emplace(name, tensors_.size()).second) c.fail("duplicate tensor name " + quoted(name));
        tensor_info t{};
        t.name = std::string(name);
        const uint32_t n_dims = c.read<uint32_t>(ctx + " n_dims");
        if (n_dims < 1 || n_dims > 4) c.fail(ctx + ": n_dims " + std::to_string(n_dims) + " is outside 1..4");
        t.n_dims = static_cast<int32_t>(n_dims);
        t.ne = {1, 1, 1, 1};
        t.n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t ne = c.read<uint64_t>(ctx + " dimensions");
            if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                c.fail(ctx + ": dimension " + std::to_string(d) + " is " + std::to_string(static_cast<int64_t>(ne)) +
                       " (must be positive)");
            }
            t.ne[d] = static_cast<int64_t>(ne);
            if (t.n_elements > std::numeric_limits<int64_t>::max() / t.ne[d]) {
                c.fail(ctx + ": element count overflows int64 at dimension " + std::to_string(d));
            }
            t.n_elements *= t.ne[d];
        }
        const uint32_t type_id = c.read<uint32_t>(ctx + " type");
        const std::optional<dtype_info> info = dtype_lookup(type_id);
        if (!info) c.fail(ctx + ": undefined tensor type id " + std::to_string(type_id));
        t.type = static_cast<dtype>(type_id);
        if (t.ne[0] % info->block_elems != 0) {
            c.fail(ctx + ": row length ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                   std::string(info->name) + " block size " + std::to_string(info->block_elems));
        }
        rel_offsets.push_back(c.read<uint64_t>(ctx + " offset"));
        tensors_.push_back(std::move(t));
    }
    place_tensors(c, rel_offsets);
}

void file::place_tensors(cursor& c, const std::vector<uint64_t>& rel_offsets) {
    const uint64_t size = bytes_.size();
    const uint64_t pos = c.pos();
    if (alignment_ > size || align_up(pos, alignment_) > size) {
        data_offset_ = bytes_.size();  // no room for data: fine only without tensors
        if (!tensors_.empty()) {
            c.fail("truncated: the tensor data section (aligned to " + std::to_string(alignment_) +
                   ") starts past the end of the file");
        }
    } else {
        data_offset_ = static_cast<size_t>(align_up(pos, alignment_));
    }
    const uint64_t data_bytes = size - data_offset_;
    for (size_t i = 0; i < tensors_.size(); ++i) {
        tensor_info& t = tensors_[i];
        const std::string ctx = "tensor " + quoted(t.name);
        const uint64_t rel = rel_offsets[i];
        if (rel % alignment_ != 0) {
            c.fail(ctx + ": data offset " + std::to_string(rel) + " is not a multiple of the alignment " +
                   std::to_string(alignment_));
        }
        const dtype_info& info = dtype_info_of(t.type);
        const uint64_t n_blocks = static_cast<uint64_t>(t.n_elements / info.block_elems);
        if (rel > data_bytes || n_blocks > (data_bytes - rel) / info.block_bytes) {
            c.fail(ctx + ": data at offset " + std::to_string(rel) + " (" + std::to_string(n_blocks) + " blocks of " +
                   std::to_string(info.block_bytes) + " bytes) runs past the end of the file (" +
                   std::to_string(data_bytes) + " data bytes)");
        }
        t.offset = data_offset_ + rel;
        t.n_bytes = static_cast<size_t>(n_blocks * info.block_bytes);
        t.data = bytes_.data() + t.offset;
    }
    std::vector<const tensor_info*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const tensor_info& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const tensor_info* a, const tensor_info* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const tensor_info& a = *by_offset[i - 1];
        const tensor_info& b = *by_offset[i];
        if (a.offset + a.n_bytes > b.offset) {
            c.fail("tensor " + quoted(a.name) + " (bytes " + std::to_string(a.offset) + ".." +
                   std::to_string(a.offset + a.n_bytes) + ") overlaps tensor " + quoted(b.name) + " (at " +
                   std::to_string(b.offset) + ")");
        }
    }
}

const tensor_info* file::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace tandem::gguf
