// libFuzzer target for the GGUF reader: parse arbitrary bytes with file::from_memory, then drive
// every getter and check each accepted tensor lies inside the input. Built by run_gguf_fuzz.sh.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.h"
#include "models/gguf/gguf.h"

namespace {

using tandem::gguf::file;

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "gguf_fuzz: %s\n", what);
    std::abort();
}

// Calls one getter; a tandem::error (wrong type, value out of range) is an expected outcome.
template <class F>
void probe(F&& fn) {
    try {
        fn();
    } catch (const tandem::error& e) {
        if (std::string(e.what()).rfind("fuzz: ", 0) != 0) finding("getter error does not name the file");
    }
}

void exercise_metadata(const file& f) {
    size_t n_chars = 0;
    for (const auto& [key, text] : f.describe_metadata(4)) n_chars += key.size() + text.size();
    if (f.describe_metadata(0).size() != f.metadata().size()) finding("describe_metadata lost keys");
    for (const tandem::gguf::kv_entry& kv : f.metadata()) {
        const std::string_view key = kv.key;
        if (!f.has(key) || f.find_kv(key) != &kv) finding("key lookup disagrees with metadata()");
        probe([&] { f.get_string(key); });
        probe([&] { f.get_u64(key); });
        probe([&] { f.get_i64(key); });
        probe([&] { f.get_f64(key); });
        probe([&] { f.get_bool(key); });
        probe([&] {
            if (f.get_string_array(key)->size() != f.array_size(key)) finding("string array size");
        });
        probe([&] {
            if (f.get_int_array(key)->size() != f.array_size(key)) finding("int array size");
        });
        probe([&] {
            if (f.get_float_array(key)->size() != f.array_size(key)) finding("float array size");
        });
        probe([&] {
            if (f.get_bool_array(key)->size() != f.array_size(key)) finding("bool array size");
        });
    }
    (void)n_chars;
}

void exercise_tensors(const file& f) {
    const uint8_t* begin = f.bytes().data();
    volatile uint8_t sink = 0;
    for (const tandem::gguf::tensor_info& t : f.tensors()) {
        if (f.find_tensor(t.name) != &t) finding("find_tensor disagrees with tensors()");
        if (t.n_dims < 1 || t.n_dims > 4) finding("n_dims outside 1..4");
        if (t.n_bytes == 0 || t.offset > f.size() || t.n_bytes > f.size() - t.offset)
            finding("tensor outside the file");
        if (t.data != begin + t.offset || t.offset % f.alignment() != 0) finding("tensor data pointer or alignment");
        if (t.n_bytes != tandem::dtype_row_bytes(t.type, t.n_elements)) finding("tensor byte size");
        sink = sink + t.data[0] + t.data[t.n_bytes - 1];  // ASan checks both ends are inside the input
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<file> f;
    try {
        f = file::from_memory(std::span<const uint8_t>(data, size), "fuzz");
    } catch (const tandem::error& e) {
        if (std::string(e.what()).rfind("fuzz: ", 0) != 0) finding("parse error does not name the file");
        return 0;
    }
    exercise_metadata(*f);
    exercise_tensors(*f);
    return 0;
}
