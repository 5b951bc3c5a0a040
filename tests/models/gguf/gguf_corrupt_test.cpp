// The GGUF reader against a corpus of valid and corrupt files built here by an independent writer:
// every malformation must be refused with a tandem::error naming the file and the problem.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/gguf/gguf.h"
#include "tests/models/gguf/gguf_test_writer.h"

namespace tandem::gguf {
namespace {

using namespace tandem::gguf::test;

std::string corpus_path(const std::string& name) {
    const std::filesystem::path dir = std::filesystem::path(TANDEM_BINARY_DIR) / "tests" / "gguf_corpus";
    std::filesystem::create_directories(dir);
    return (dir / (name + ".gguf")).string();
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// Runs `fn`, which must throw tandem::error; returns its message ("" and a test failure otherwise).
template <class F>
std::string error_of(F&& fn, const std::string& label) {
    try {
        fn();
    } catch (const tandem::error& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << label << ": threw a non-tandem exception: " << e.what();
        return "";
    }
    ADD_FAILURE() << label << ": was accepted, expected a tandem::error";
    return "";
}

// The bytes must be refused both from a file (the message names the path) and from memory (an
// exact-size heap copy, so a sanitizer sees any overread; the message names the buffer's name).
void expect_refused(const std::vector<uint8_t>& b, const std::string& name,
                    std::initializer_list<std::string_view> parts) {
    const std::string path = corpus_path(name);
    write_file(path, b);
    const std::string msg = error_of([&] { file::open(path); }, name);
    EXPECT_TRUE(contains(msg, path + ": ")) << "message does not name the file: " << msg;
    for (std::string_view p : parts) EXPECT_TRUE(contains(msg, p)) << "missing '" << p << "' in: " << msg;

    const std::vector<uint8_t> copy(b);
    const std::string mem_msg = error_of([&] { file::from_memory(copy, "mem:" + name); }, name + " (memory)");
    EXPECT_EQ(mem_msg, "mem:" + msg.substr(path.size()).insert(0, name)) << "file and memory disagree";
}

std::unique_ptr<file> open_valid(const std::vector<uint8_t>& b, const std::string& name) {
    const std::string path = corpus_path(name);
    write_file(path, b);
    return file::open(path);
}

gguf_builder one_tensor(std::vector<uint64_t> ne, uint32_t type, size_t n_bytes) {
    gguf_builder g;
    g.add_str("general.architecture", "llama");
    g.tensors.push_back({"t0", std::move(ne), type, std::vector<uint8_t>(n_bytes, 0x11), std::nullopt, std::nullopt});
    return g;
}

TEST(gguf_valid, every_value_type_and_tensor_reads_back) {
    const auto f = open_valid(small_valid_file().build(), "valid_small");
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->get_u64("test.u8"), 200u);
    EXPECT_EQ(f->get_i64("test.i8"), -100);
    EXPECT_EQ(f->get_u64("test.u16"), 60000u);
    EXPECT_EQ(f->get_i64("test.i16"), -30000);
    EXPECT_EQ(f->get_u64("test.u32"), 4000000000u);
    EXPECT_EQ(f->get_i64("test.u32"), 4000000000);
    EXPECT_EQ(f->get_i64("test.i32"), -2000000000);
    EXPECT_EQ(f->get_f64("test.f32"), 0.25);
    EXPECT_EQ(f->get_bool("test.bool"), true);
    EXPECT_EQ(f->get_u64("test.u64"), uint64_t{1} << 63);
    EXPECT_EQ(f->get_i64("test.i64"), -(int64_t{1} << 40));
    EXPECT_EQ(f->get_f64("test.f64"), -1.5);
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"),
              (std::vector<std::string_view>{"<unk>", "<s>", "</s>", "hello", ""}));
    EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores"), (std::vector<double>{0.0, -1.0, -2.5, 3.0, 4.0}));
    EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type"), (std::vector<int64_t>{2, 3, 3, 1, 1}));
    EXPECT_EQ(f->get_bool_array("test.bools"), (std::vector<bool>{true, false, true}));
    EXPECT_EQ(f->array_size("test.nested"), 3u);
    EXPECT_EQ(f->array_size("tokenizer.ggml.tokens"), 5u);
    EXPECT_EQ(f->array_size("test.u8"), 0u);
    EXPECT_EQ(f->array_size("absent"), 0u);
    EXPECT_FALSE(f->has("absent"));
    EXPECT_FALSE(f->get_u64("absent").has_value());
    EXPECT_FALSE(f->get_string_array("absent").has_value());

    ASSERT_EQ(f->tensors().size(), 2u);
    const tensor_info* t = f->find_tensor("token_embd.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->type, dtype::f32);
    EXPECT_EQ(t->n_dims, 2);
    EXPECT_EQ(t->ne, (std::array<int64_t, 4>{4, 3, 1, 1}));
    EXPECT_EQ(t->n_elements, 12);
    EXPECT_EQ(t->n_bytes, 48u);
    EXPECT_EQ(t->offset % 32, 0u);
    EXPECT_EQ(t->data, f->bytes().data() + t->offset);  // a view into the mapping, not a copy
    float v[12];
    std::memcpy(v, t->data, sizeof(v));
    for (int i = 0; i < 12; ++i) EXPECT_EQ(v[i], 1.0f + static_cast<float>(i));
    const tensor_info* n = f->find_tensor("output_norm.weight");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->offset, t->offset + 64);  // 48 bytes, padded to the alignment
    std::memcpy(v, n->data, 4 * sizeof(float));
    EXPECT_EQ(v[3], 103.0f);
    EXPECT_EQ(f->find_tensor("nope"), nullptr);
}

TEST(gguf_valid, version2_and_custom_alignment) {
    gguf_builder g = small_valid_file();
    g.version = 2;
    g.alignment = 64;
    g.add<uint32_t>("general.alignment", t_u32, 64);
    const auto f = open_valid(g.build(), "valid_v2_align64");
    EXPECT_EQ(f->version(), 2u);
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->data_offset() % 64, 0u);
    EXPECT_EQ(f->find_tensor("output_norm.weight")->offset, f->find_tensor("token_embd.weight")->offset + 64);
}

TEST(gguf_valid, describe_metadata_renders_every_key_in_order) {
    const auto f = open_valid(small_valid_file().build(), "valid_describe");
    const auto d = f->describe_metadata(2);
    ASSERT_EQ(d.size(), 17u);
    EXPECT_EQ(d[0], (std::pair<std::string, std::string>{"general.architecture", "string \"llama\""}));
    EXPECT_EQ(d[5].second, "u32 4000000000");
    EXPECT_EQ(d[6].second, "i32 -2000000000");
    EXPECT_EQ(d[7].second, "f32 0.25");
    EXPECT_EQ(d[8].second, "bool true");
    EXPECT_EQ(d[12].first, "tokenizer.ggml.tokens");
    EXPECT_EQ(d[12].second, "array<string>[5] [\"<unk>\", \"<s>\", ... 3 more]");
    EXPECT_EQ(d[14].second, "array<i32>[5] [2, 3, ... 3 more]");
    EXPECT_EQ(d[16].second, "array<array>[3] [[1, 2], [3], ... 1 more]");
    EXPECT_EQ(f->describe_metadata(8)[16].second, "array<array>[3] [[1, 2], [3], [\"x\"]]");
}

TEST(gguf_getters, wrong_types_are_refused_naming_file_and_key) {
    const auto f = open_valid(small_valid_file().build(), "getters");
    struct probe {
        const char* key;
        std::function<void()> call;
        const char* expect;
    };
    const std::vector<probe> probes = {
        {"tokenizer.ggml.token_type", [&] { f->get_string_array("tokenizer.ggml.token_type"); }, "array<i32>"},
        {"general.architecture", [&] { f->get_u64("general.architecture"); }, "has type string"},
        {"test.i8", [&] { f->get_u64("test.i8"); }, "-100 does not fit"},
        {"test.u64", [&] { f->get_i64("test.u64"); }, "9223372036854775808 does not fit"},
        {"test.u32", [&] { f->get_f64("test.u32"); }, "has type u32"},
        {"test.u8", [&] { f->get_bool("test.u8"); }, "has type u8"},
        {"test.f32", [&] { f->get_string("test.f32"); }, "has type f32"},
        {"tokenizer.ggml.tokens", [&] { f->get_int_array("tokenizer.ggml.tokens"); }, "array<string>"},
        {"tokenizer.ggml.token_type", [&] { f->get_float_array("tokenizer.ggml.token_type"); }, "array<i32>"},
        {"test.nested", [&] { f->get_int_array("test.nested"); }, "array<array>"},
        {"test.nested", [&] { f->get_bool_array("test.nested"); }, "array<array>"},
        {"test.bool", [&] { f->get_bool_array("test.bool"); }, "has type bool"},
        {"tokenizer.ggml.scores", [&] { f->get_i64("tokenizer.ggml.scores"); }, "array<f32>"},
    };
    for (const probe& p : probes) {
        const std::string msg = error_of(p.call, p.key);
        EXPECT_TRUE(contains(msg, f->path() + ": ")) << msg;
        EXPECT_TRUE(contains(msg, std::string("'") + p.key + "'")) << msg;
        EXPECT_TRUE(contains(msg, p.expect)) << msg;
    }
}

TEST(gguf_getters, int_array_of_u64_refuses_values_past_int64) {
    gguf_builder g;
    g.add_raw("big", t_array, enc_array<uint64_t>(t_u64, {1, uint64_t{1} << 63}));
    g.add_raw("small", t_array, enc_array<int8_t>(t_i8, {-1, 5}));
    const auto f = open_valid(g.build(), "int_array_range");
    EXPECT_TRUE(contains(error_of([&] { f->get_int_array("big"); }, "big"), "element 1"));
    EXPECT_EQ(f->get_int_array("small"), (std::vector<int64_t>{-1, 5}));
}

TEST(gguf_tokenizer, arrays_of_the_wrong_element_type) {
    gguf_builder g;
    g.add_raw("tokenizer.ggml.tokens", t_array, enc_array<int32_t>(t_i32, {1, 2, 3}));
    g.add_raw("tokenizer.ggml.scores", t_array, enc_str_array({"a", "b", "c"}));
    g.add_raw("tokenizer.ggml.merges", t_array, enc_array<float>(t_f32, {1.0f}));
    const auto f = open_valid(g.build(), "tokenizer_wrong_types");
    const std::string m1 = error_of([&] { f->get_string_array("tokenizer.ggml.tokens"); }, "tokens");
    EXPECT_TRUE(contains(m1, f->path() + ": metadata key 'tokenizer.ggml.tokens' has type array<i32>")) << m1;
    const std::string m2 = error_of([&] { f->get_float_array("tokenizer.ggml.scores"); }, "scores");
    EXPECT_TRUE(contains(m2, "'tokenizer.ggml.scores' has type array<string>")) << m2;
    const std::string m3 = error_of([&] { f->get_string_array("tokenizer.ggml.merges"); }, "merges");
    EXPECT_TRUE(contains(m3, "'tokenizer.ggml.merges' has type array<f32>")) << m3;
}

TEST(gguf_truncated, every_prefix_of_a_small_file_is_refused) {
    const std::vector<uint8_t> full = small_valid_file().build();
    ASSERT_NO_THROW(file::from_memory(full, "full"));
    for (size_t n = 0; n < full.size(); ++n) {
        const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        const std::string name = "prefix" + std::to_string(n);
        const std::string msg = error_of([&] { file::from_memory(prefix, name); }, name);
        ASSERT_TRUE(contains(msg, name + ": ")) << msg;
        ASSERT_TRUE(contains(msg, "truncated") || contains(msg, "past the end") || contains(msg, "cannot fit"))
            << "prefix " << n << ": " << msg;
    }
    // A few prefixes through the file path as well.
    for (size_t n : {size_t{0}, size_t{3}, size_t{13}, size_t{100}, full.size() / 2, full.size() - 1}) {
        expect_refused(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)),
                       "prefix_file" + std::to_string(n), {});
    }
}

TEST(gguf_header, bad_magic_versions_and_endianness) {
    gguf_builder g = small_valid_file();
    g.magic = 0x4c4c5547;  // "GULL"
    expect_refused(g.build(), "bad_magic", {"bad magic", "not a GGUF file"});
    g = small_valid_file();
    g.version = 1;
    expect_refused(g.build(), "v1", {"GGUF v1 is not supported"});
    g.version = 4;
    expect_refused(g.build(), "v4", {"unsupported GGUF version 4"});
    g.version = 0x03000000;
    expect_refused(g.build(), "big_endian", {"big-endian GGUF is not supported"});
}

TEST(gguf_counts, huge_counts_and_lengths_are_refused_before_allocating) {
    const uint64_t huge = uint64_t{1} << 60;
    gguf_builder g = small_valid_file();
    g.n_kv_override = huge;
    expect_refused(g.build(), "huge_n_kv", {"metadata count 1152921504606846976 cannot fit"});
    g = small_valid_file();
    g.n_tensors_override = huge;
    expect_refused(g.build(), "huge_n_tensors", {"tensor count 1152921504606846976 cannot fit"});
    g = small_valid_file();
    g.n_tensors_override = 3;  // one more tensor info than the file holds
    expect_refused(g.build(), "one_more_tensor", {});

    g = gguf_builder();
    g.add_raw("tokenizer.ggml.tokens", t_array, bytes().put<uint32_t>(t_string).put<uint64_t>(huge).str("a").b);
    expect_refused(g.build(), "huge_string_array", {"'tokenizer.ggml.tokens'", "array count 1152921504606846976"});
    g = gguf_builder();
    g.add_raw("nested", t_array, bytes().put<uint32_t>(t_array).put<uint64_t>(huge).b);
    expect_refused(g.build(), "huge_nested_array", {"'nested'", "array count"});
    g = gguf_builder();
    g.add_raw("floats", t_array, bytes().put<uint32_t>(t_f32).put<uint64_t>(uint64_t{1} << 62).put<float>(1).b);
    expect_refused(g.build(), "huge_f32_array", {"'floats'", "array count 4611686018427387904"});
    g = gguf_builder();
    g.add_raw("general.name", t_string, bytes().put<uint64_t>(uint64_t{1} << 63).b);
    expect_refused(g.build(), "huge_string_len", {"'general.name'", "string length 9223372036854775808"});
    g = gguf_builder();
    g.add_raw("general.name", t_string, bytes().put<uint64_t>(~uint64_t{0}).str("x").b);
    expect_refused(g.build(), "max_string_len", {"string length 18446744073709551615", "past the end"});

    // A key length past the end, and a tensor name length past the end.
    std::vector<uint8_t> b = bytes()
                                 .put<uint32_t>(0x46554747)
                                 .put<uint32_t>(3)
                                 .put<uint64_t>(0)
                                 .put<uint64_t>(1)
                                 .put<uint64_t>(1000)
                                 .raw(std::vector<uint8_t>(20, 'k'))
                                 .b;
    expect_refused(b, "key_len_past_end", {"metadata entry 0 key", "string length 1000"});
    b = bytes()
            .put<uint32_t>(0x46554747)
            .put<uint32_t>(3)
            .put<uint64_t>(1)
            .put<uint64_t>(0)
            .put<uint64_t>(uint64_t{1} << 40)
            .raw(std::vector<uint8_t>(40, 'n'))
            .b;
    expect_refused(b, "tensor_name_past_end", {"tensor info 0 name", "string length 1099511627776"});
}

TEST(gguf_values, undefined_types_bad_bools_and_deep_nesting) {
    gguf_builder g;
    g.add_raw("x", 13, enc<uint32_t>(0));
    expect_refused(g.build(), "undefined_value_type", {"'x'", "undefined value type id 13"});
    g = gguf_builder();
    g.add_raw("x", t_array, bytes().put<uint32_t>(99).put<uint64_t>(0).b);
    expect_refused(g.build(), "undefined_elem_type", {"'x'", "undefined array element type id 99"});
    g = gguf_builder();
    g.add<uint8_t>("flag", t_bool, 2);
    expect_refused(g.build(), "bad_bool", {"'flag'", "invalid bool byte 2"});
    g = gguf_builder();
    g.add_raw("pattern", t_array, enc_array<uint8_t>(t_bool, {1, 0, 7}));
    expect_refused(g.build(), "bad_bool_array", {"'pattern'", "invalid bool byte 7"});

    std::vector<uint8_t> v = enc_array<int32_t>(t_i32, {1});
    for (int depth = 0; depth < 9; ++depth) v = enc_nested({v});
    g = gguf_builder();
    g.add_raw("deep", t_array, v);
    expect_refused(g.build(), "deep_nesting", {"'deep'", "nested deeper than 8"});

    g = gguf_builder();
    g.add_str("", "x");
    expect_refused(g.build(), "empty_key", {"empty key"});
}

TEST(gguf_values, duplicate_keys_and_tensor_names) {
    gguf_builder g = small_valid_file();
    g.add<uint32_t>("test.u32", t_u32, 1);
    expect_refused(g.build(), "dup_key", {"duplicate metadata key 'test.u32'"});
    g = small_valid_file();
    g.tensors[1].name = "token_embd.weight";
    expect_refused(g.build(), "dup_tensor", {"duplicate tensor name 'token_embd.weight'"});
    g = small_valid_file();
    g.tensors[1].name = "";
    expect_refused(g.build(), "empty_tensor_name", {"tensor info 1: empty tensor name"});
}

TEST(gguf_alignment, zero_non_power_of_two_and_wrong_type) {
    gguf_builder g = small_valid_file();
    g.add<uint32_t>("general.alignment", t_u32, 0);
    expect_refused(g.build(), "align0", {"general.alignment 0 is not a nonzero power of two"});
    g = small_valid_file();
    g.add<uint32_t>("general.alignment", t_u32, 48);
    expect_refused(g.build(), "align48", {"general.alignment 48 is not a nonzero power of two"});
    g = small_valid_file();
    g.add_str("general.alignment", "32");
    expect_refused(g.build(), "align_string", {"'general.alignment' has type string"});
    g = small_valid_file();
    g.add<int32_t>("general.alignment", t_i32, -32);
    expect_refused(g.build(), "align_negative", {"'general.alignment' value -32 does not fit"});
    g = small_valid_file();
    g.add<uint64_t>("general.alignment", t_u64, uint64_t{1} << 62);  // valid power of two, far larger than the file
    expect_refused(g.build(), "align_huge", {"starts past the end"});
}

TEST(gguf_tensors, bad_dims_and_types) {
    expect_refused(one_tensor({1, 1, 1, 1, 4}, 0, 16).build(), "five_dims",
                   {"tensor 't0'", "n_dims 5 is outside 1..4"});
    gguf_builder g = one_tensor({4}, 0, 16);
    g.tensors[0].n_dims_override = 0;
    expect_refused(g.build(), "zero_n_dims", {"n_dims 0 is outside 1..4"});
    expect_refused(one_tensor({4, 0}, 0, 16).build(), "zero_dim", {"tensor 't0'", "dimension 1 is 0"});
    expect_refused(one_tensor({4, uint64_t(-3)}, 0, 16).build(), "negative_dim", {"dimension 1 is -3"});
    expect_refused(one_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 16).build(), "count_overflow",
                   {"tensor 't0'", "element count overflows"});
    expect_refused(one_tensor(
                       {
                           256,
                           256,
                           256,
                           256,
                       },
                       0, 16)
                       .build(),
                   "count_fits_but_too_big", {"tensor 't0'", "runs past the end"});
    expect_refused(one_tensor({uint64_t{1} << 62}, 0, 16).build(), "bytes_overflow", {"runs past the end"});
    expect_refused(one_tensor({33}, 2, 36).build(), "q4_0_row_33",
                   {"ne[0] = 33 is not a multiple of the q4_0 block size 32"});
    expect_refused(one_tensor({32, 32}, 14, 1000).build(), "q6_k_row_32", {"q6_K block size 256"});
    for (uint32_t id : {4u, 5u, 31u, 36u, 40u, 1000u}) {
        expect_refused(one_tensor({4}, id, 16).build(), "type" + std::to_string(id),
                       {"undefined tensor type id " + std::to_string(id)});
    }
    EXPECT_NO_THROW(file::from_memory(one_tensor({64, 2}, 2, 72).build(), "q4_0_ok"));
}

TEST(gguf_tensors, bad_offsets) {
    gguf_builder g = small_valid_file();
    g.tensors[1].offset = 68;
    expect_refused(g.build(), "misaligned",
                   {"tensor 'output_norm.weight'", "offset 68 is not a multiple of the alignment 32"});
    g = small_valid_file();
    g.tensors[1].offset = 32;  // token_embd covers 0..48
    expect_refused(g.build(), "overlap", {"tensor 'token_embd.weight'", "overlaps tensor 'output_norm.weight'"});
    g = small_valid_file();
    g.tensors[0].offset = 64;
    g.tensors[1].offset = 0;  // the same overlap, listed in the other order
    g.tensors[1].ne = {20};
    g.tensors[1].data = f32_data(20);
    expect_refused(g.build(), "overlap_reordered",
                   {"tensor 'output_norm.weight'", "overlaps tensor 'token_embd.weight'"});
    g = small_valid_file();
    g.tensors[0].offset = 0;
    g.tensors[1].offset = 0;
    expect_refused(g.build(), "same_offset", {"overlaps"});

    std::vector<uint8_t> b = small_valid_file().build();
    b.resize(b.size() - 1);
    expect_refused(b, "data_one_short", {"tensor 'output_norm.weight'", "runs past the end"});
    for (uint64_t off : {uint64_t{1} << 40, ~uint64_t{0} - 31, uint64_t{1} << 63}) {
        g = small_valid_file();
        g.tensors[1].data.clear();  // keep the file small: the offset alone points outside
        g.tensors[1].offset = off;
        expect_refused(g.build(), "offset_" + std::to_string(off),
                       {"tensor 'output_norm.weight'", "runs past the end"});
    }
}

TEST(gguf_open, missing_directory_and_empty_files) {
    const std::string missing = corpus_path("does_not_exist_xyz");
    std::filesystem::remove(missing);
    EXPECT_TRUE(contains(error_of([&] { file::open(missing); }, "missing"), missing + ": cannot open"));
    const std::string dir = std::filesystem::path(corpus_path("x")).parent_path().string();
    EXPECT_TRUE(contains(error_of([&] { file::open(dir); }, "dir"), dir + ": not a regular file"));
    expect_refused({}, "empty", {"truncated"});
}

TEST(gguf_open, vocab_only_file_without_padding_parses) {
    gguf_builder g;
    g.add_str("general.architecture", "llama");
    g.add_raw("tokenizer.ggml.tokens", t_array, enc_str_array({"a", "bc"}));
    const auto f = open_valid(g.build(), "vocab_only");
    EXPECT_TRUE(f->tensors().empty());
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string_view>{"a", "bc"}));
}

}  // namespace
}  // namespace tandem::gguf
