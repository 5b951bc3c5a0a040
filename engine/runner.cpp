// runner: builds the model stack from an engine_config and runs step plans as anchor batches.
#include "engine/runner.h"

#include <algorithm>

#include "common/error.h"
#include "models/kv_pool.h"

namespace tandem {

runner::runner(const engine_config& cfg, spec_type spec, const gguf::file& anchor_file, const gguf::file* draft_file)
    : device_(std::make_unique<compute_device>(cfg.device, cfg.n_threads)), block_size_(cfg.kv_block_size) {
    // Pages first: loading then reads mapped memory (and releases what the CPU backend packs).
    anchor_file.prefault();
    if (draft_file) draft_file->prefault();
    backend_ = device_->make_backend();
    model_ = model_load(anchor_file, *backend_);
    const std::vector<kv_group_spec> anchor_specs = model_->kv_groups();
    specs_ = anchor_specs;
    n_anchor_groups_ = static_cast<int>(specs_.size());
    if (spec == spec_type::mtp) {
        mtp_ = drafter_load(*draft_file, *backend_, *model_);  // reads the anchor's KV through its backend
    } else if (spec == spec_type::draft) {
        draft_backend_ = device_->make_backend();
        draft_model_ = model_load(*draft_file, *draft_backend_);
        for (const kv_group_spec& s : draft_model_->kv_groups()) specs_.push_back(s);
        if (specs_.size() > static_cast<size_t>(k_max_kv_groups)) {
            throw error(draft_file->path() + ": the anchor and the draft model need " + std::to_string(specs_.size()) +
                        " KV groups together; at most " + std::to_string(k_max_kv_groups) + " are supported");
        }
    }
    n_blocks_ = cfg.kv_blocks > 0 ? cfg.kv_blocks
                                  : kv_blocks_for_budget(specs_, cfg.kv_type, cfg.kv_block_size,
                                                         static_cast<size_t>(cfg.kv_budget_bytes));
    // A device pool is one buffer: a budget past the device's buffer range gets what fits.
    if (cfg.kv_blocks <= 0)
        n_blocks_ = std::min(n_blocks_, device_->max_kv_blocks(specs_, cfg.kv_type, cfg.kv_block_size));
    // Each backend holds its model's groups; the engine's block tables index them in specs_'s order.
    backend_->alloc_kv(anchor_specs, cfg.kv_type, cfg.kv_block_size, n_blocks_);
    if (draft_backend_)
        draft_backend_->alloc_kv(std::span<const kv_group_spec>(specs_).subspan(anchor_specs.size()), cfg.kv_type,
                                 cfg.kv_block_size, n_blocks_);
}

std::string runner::device_description() const {
    return device_->description();
}

kv_cache_config runner::kv_config() const {
    kv_cache_config kc;
    kc.block_size = block_size_;
    for (const kv_group_spec& s : specs_) kc.groups.push_back({static_cast<int32_t>(n_blocks_), s.sliding_window});
    return kc;
}

size_t runner::kv_bytes() const {
    return backend_->kv_bytes() + (draft_backend_ ? draft_backend_->kv_bytes() : 0);
}

step_output runner::forward(const step_plan& plan, std::span<sequence* const> seqs, const kv_cache_manager& kv,
                            bool want_hidden) {
    step_output out;
    // Sized before any span is taken: batch_ points into tokens_ and rows_.
    tokens_.resize(static_cast<size_t>(plan.n_rows()));
    size_t n_logit_rows = 0;
    for (const sched_item& it : plan.items) n_logit_rows += static_cast<size_t>(it.n_logit_rows());
    rows_.resize(n_logit_rows);
    batch_.seqs.clear();
    row0_.clear();
    size_t t = 0, r = 0;
    for (size_t i = 0; i < plan.items.size(); ++i) {
        const sched_item& it = plan.items[i];
        const sequence& s = *seqs[i];
        const int32_t n_known = it.n_new - it.n_draft;
        std::copy_n(s.tokens.begin() + it.start, n_known, tokens_.begin() + static_cast<ptrdiff_t>(t));
        std::copy_n(s.spec.draft.begin(), it.n_draft, tokens_.begin() + static_cast<ptrdiff_t>(t) + n_known);
        row0_.push_back(static_cast<int32_t>(r));
        for (int32_t j = 0; j < it.n_logit_rows(); ++j) rows_[r + static_cast<size_t>(j)] = it.first_logit_row() + j;
        batch_.seqs.push_back(kv_batch_seq(
            kv, s.id, 0, n_anchor_groups_, std::span<const int32_t>(tokens_).subspan(t, static_cast<size_t>(it.n_new)),
            it.start, std::span<const int32_t>(rows_).subspan(r, static_cast<size_t>(it.n_logit_rows()))));
        t += static_cast<size_t>(it.n_new);
        r += static_cast<size_t>(it.n_logit_rows());
    }
    const model_info& mi = model_->info();
    const size_t n_logits = n_logit_rows * static_cast<size_t>(mi.n_vocab);
    const size_t n_hidden = want_hidden ? n_logit_rows * static_cast<size_t>(mi.n_embd) : 0;
    if (logits_.size() < n_logits) logits_.resize(n_logits);
    if (hidden_.size() < n_hidden) hidden_.resize(n_hidden);
    out.row0 = row0_;
    out.logits = std::span<float>(logits_.data(), n_logits);
    out.hidden = std::span<float>(hidden_.data(), n_hidden);
    model_->forward(*backend_, batch_, {out.logits, out.hidden});
    return out;
}

batch_seq kv_batch_seq(const kv_cache_manager& kv, uint64_t seq_id, int g0, int n_groups,
                       std::span<const int32_t> tokens, int64_t pos0, std::span<const int32_t> logit_rows) {
    batch_seq bs;
    bs.tokens = tokens;
    bs.pos0 = static_cast<int32_t>(pos0);
    for (int g = 0; g < n_groups; ++g) bs.block_table[g] = kv.block_table(static_cast<int64_t>(seq_id), g0 + g);
    bs.logit_rows = logit_rows;
    return bs;
}

}  // namespace tandem
