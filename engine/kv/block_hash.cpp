// A 64-bit block hash built on the 64x64->128 multiply-fold mix: each step folds two token ids
// into the state, so every input bit reaches every output bit before the final avalanche.
#include "engine/kv/block_hash.h"

namespace tandem {
namespace {

constexpr uint64_t k_p0 = 0xa0761d6478bd642full;
constexpr uint64_t k_p1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t k_p2 = 0x8ebc6af09c88c6e3ull;

inline uint64_t mix(uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t word(std::span<const int32_t> t, size_t i) {
    const uint64_t lo = static_cast<uint32_t>(t[i]);
    const uint64_t hi = i + 1 < t.size() ? static_cast<uint32_t>(t[i + 1]) : 0xffffffffull;
    return lo | (hi << 32);
}

}  // namespace

uint64_t block_hash(uint64_t parent_hash, std::span<const int32_t> tokens) {
    uint64_t h = mix(parent_hash ^ k_p0, static_cast<uint64_t>(tokens.size()) ^ k_p1);
    for (size_t i = 0; i < tokens.size(); i += 2) {
        h = mix(h ^ k_p0, word(tokens, i) ^ k_p1) + (h ^ k_p2);
    }
    return mix(h ^ k_p2, (h >> 32) ^ k_p1);
}

}  // namespace tandem
