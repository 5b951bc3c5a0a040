// runner: builds the model stack from an engine_config and runs step plans as batches.
#include "engine/runner.h"

#include <algorithm>
#include <thread>

#include "common/error.h"

namespace tandem {

runner::runner(const engine_config& cfg, const gguf::file& f) {
    const int n_threads = cfg.n_threads > 0 ? cfg.n_threads : std::max(1u, std::thread::hardware_concurrency());
    pool_ = std::make_unique<thread_pool>(n_threads);
    backend_ = std::make_unique<cpu_backend>(*pool_);
    model_ = model_load(f, *backend_);
    f.prefault();
    const std::vector<kv_group_spec> specs = model_->kv_groups();
    const int64_t n_blocks = cfg.kv_blocks > 0 ? cfg.kv_blocks
                                               : kv_blocks_for_budget(specs, cfg.kv_type, cfg.kv_block_size,
                                                                      static_cast<size_t>(cfg.kv_budget_bytes));
    kv_cache_config kc;
    kc.block_size = cfg.kv_block_size;
    std::vector<kv_group_view> views;
    for (const kv_group_spec& s : specs) {
        pools_.emplace_back(s, cfg.kv_type, cfg.kv_block_size, n_blocks);
        views.push_back(pools_.back().view());
        kc.groups.push_back({static_cast<int32_t>(n_blocks), s.sliding_window});
    }
    backend_->set_kv(views);
    kv_ = std::make_unique<kv_cache_manager>(kc);
}

int64_t runner::kv_blocks_total() const {
    return kv_->stats().n_blocks_total;
}
int64_t runner::kv_blocks_used() const {
    return kv_->stats().n_blocks_used;
}

size_t runner::kv_bytes() const {
    size_t n = 0;
    for (const kv_pool& p : pools_) n += p.mapped_bytes();
    return n;
}

std::span<float> runner::forward(const step_plan& plan) {
    batch_.seqs.clear();
    last_row_.clear();
    size_t n_sample = 0;
    for (const sched_item& it : plan.items) {
        last_row_.push_back(it.n_new - 1);
        n_sample += it.sample ? 1 : 0;
    }
    for (size_t i = 0; i < plan.items.size(); ++i) {
        const sched_item& it = plan.items[i];
        batch_seq bs;
        bs.tokens = std::span<const int32_t>(it.seq->tokens)
                        .subspan(static_cast<size_t>(it.start), static_cast<size_t>(it.n_new));
        bs.pos0 = static_cast<int32_t>(it.start);
        for (int g = 0; g < kv_->n_groups(); ++g)
            bs.block_table[g] = kv_->block_table(static_cast<int64_t>(it.seq->id), g);
        if (it.sample) bs.logit_rows = std::span<const int32_t>(&last_row_[i], 1);
        batch_.seqs.push_back(bs);
    }
    const size_t need = n_sample * static_cast<size_t>(model_->info().n_vocab);
    if (logits_.size() < need) logits_.resize(need);
    std::span<float> out(logits_.data(), need);
    model_->forward(*backend_, batch_, {out, {}});
    return out;
}

}  // namespace tandem
