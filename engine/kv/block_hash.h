// The prefix-cache hash of a full KV block: hash(parent block's hash, the block's token ids).
// A strong 64-bit mix; the cache still compares tokens exactly, so a collision costs a miss, never a wrong hit.
#pragma once

#include <cstdint>
#include <span>

namespace tandem {

// Hash of a block with no parent (the first block of a sequence) uses this as its parent hash.
constexpr uint64_t k_block_hash_root = 0x6a09e667f3bcc908ull;

using block_hash_fn = uint64_t (*)(uint64_t parent_hash, std::span<const int32_t> tokens);

uint64_t block_hash(uint64_t parent_hash, std::span<const int32_t> tokens);

}  // namespace tandem
