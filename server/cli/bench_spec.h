// The speculative mode of `tandem bench` (cli_bench_spec.cpp).
#pragma once

#include <string>
#include <vector>

#include "engine/engine.h"

namespace tandem {

struct spec_bench_options {
    std::string model, draft_model;
    std::string device = "cpu";  // both runs, plain and speculative
    spec_type spec = spec_type::automatic;
    int32_t threads = 0, n_gen = 128, reps = 1;
    dtype kv_type = dtype::f16;
    std::vector<int32_t> draft_max{1, 2, 3, 4};
    std::vector<int32_t> streams{1, 4};
    bool fixed = false;  // every round drafts draft_max tokens
};

// Prints plain and speculative tokens/s side by side; throws tandem::error when a file does not load.
void bench_spec(const spec_bench_options& o);

}  // namespace tandem
