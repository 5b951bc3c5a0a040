// The dtype table (block sizes from the GGUF specification and ggml's block definitions).
#include "kernels/types.h"

#include <cctype>
#include <iterator>
#include <vector>

#include "common/check.h"
#include "kernels/ref/ref.h"

namespace tandem {
namespace {

struct entry {
    uint32_t id;
    dtype_info info;
};

// Names and block geometry; `computable` is filled in from the decoder table (ref::row_decoder_for).
constexpr entry k_layouts[] = {
    {0, {"f32", 1, 4, false}},         {1, {"f16", 1, 2, false}},         {2, {"q4_0", 32, 18, false}},
    {3, {"q4_1", 32, 20, false}},      {6, {"q5_0", 32, 22, false}},      {7, {"q5_1", 32, 24, false}},
    {8, {"q8_0", 32, 34, false}},      {9, {"q8_1", 32, 36, false}},      {10, {"q2_K", 256, 84, false}},
    {11, {"q3_K", 256, 110, false}},   {12, {"q4_K", 256, 144, false}},   {13, {"q5_K", 256, 176, false}},
    {14, {"q6_K", 256, 210, false}},   {15, {"q8_K", 256, 292, false}},   {16, {"iq2_xxs", 256, 66, false}},
    {17, {"iq2_xs", 256, 74, false}},  {18, {"iq3_xxs", 256, 98, false}}, {19, {"iq1_s", 256, 50, false}},
    {20, {"iq4_nl", 32, 18, false}},   {21, {"iq3_s", 256, 110, false}},  {22, {"iq2_s", 256, 82, false}},
    {23, {"iq4_xs", 256, 136, false}}, {24, {"i8", 1, 1, false}},         {25, {"i16", 1, 2, false}},
    {26, {"i32", 1, 4, false}},        {27, {"i64", 1, 8, false}},        {28, {"f64", 1, 8, false}},
    {29, {"iq1_m", 256, 56, false}},   {30, {"bf16", 1, 2, false}},       {34, {"tq1_0", 256, 54, false}},
    {35, {"tq2_0", 256, 66, false}},   {39, {"mxfp4", 32, 17, false}},    {41, {"q1_0", 128, 18, false}},
    {42, {"q2_0", 64, 18, false}},
};

const std::vector<entry>& table() {
    static const std::vector<entry> t = [] {
        std::vector<entry> v(std::begin(k_layouts), std::end(k_layouts));
        for (entry& e : v) e.info.computable = ref::row_decoder_for(static_cast<dtype>(e.id)) != nullptr;
        return v;
    }();
    return t;
}

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<dtype_info> dtype_lookup(uint32_t id) {
    for (const entry& e : table()) {
        if (e.id == id && e.info.block_elems > 0) return e.info;
    }
    return std::nullopt;
}

const dtype_info& dtype_info_of(dtype t) {
    for (const entry& e : table()) {
        if (e.id == static_cast<uint32_t>(t) && e.info.block_elems > 0) return e.info;
    }
    TANDEM_CHECK(!"dtype_info_of: undefined dtype");
    return table()[0].info;
}

std::optional<dtype> dtype_from_name(std::string_view name) {
    for (const entry& e : table()) {
        if (e.info.block_elems > 0 && iequal(e.info.name, name)) return static_cast<dtype>(e.id);
    }
    return std::nullopt;
}

}  // namespace tandem
