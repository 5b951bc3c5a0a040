// The model stack the engine thread drives: the GGUF file, thread pool, backend, model, KV pools
// and cache manager. `forward` turns a step plan into logits for the rows that sample.
#pragma once

#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/kv/kv_pool.h"
#include "engine/sched/scheduler.h"
#include "kernels/thread_pool.h"
#include "models/cpu_backend.h"
#include "models/gguf/gguf.h"
#include "models/model.h"

namespace tandem {

class runner {
  public:
    // Loads the model and sizes the KV pools; throws tandem::error.
    runner(const engine_config& cfg, const gguf::file& f);

    const model& mdl() const { return *model_; }
    thread_pool& pool() { return *pool_; }
    kv_cache_manager& kv() { return *kv_; }
    int64_t kv_blocks_total() const;
    int64_t kv_blocks_used() const;
    size_t kv_bytes() const;

    // Runs the plan's chunks as one batch; returns (n_sampling_items, n_vocab) logits.
    std::span<float> forward(const step_plan& plan);

  private:
    std::unique_ptr<thread_pool> pool_;
    std::unique_ptr<cpu_backend> backend_;
    std::unique_ptr<model> model_;
    std::vector<kv_pool> pools_;
    std::unique_ptr<kv_cache_manager> kv_;
    std::vector<float> logits_;
    batch batch_;
    std::vector<int32_t> last_row_;  // {n-1} per item, referenced by batch_.seqs[i].logit_rows
};

}  // namespace tandem
