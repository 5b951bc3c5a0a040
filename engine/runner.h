// The model stack the engine thread drives: the compute device (models/backend_factory.h, the one
// place that knows devices), the anchor model and, with speculation, the drafter's model (an MTP
// assistant on the anchor's backend, or a draft model with a backend of its own), and the KV groups
// (the anchor's, then the draft model's), whose pools each backend allocates in its own memory.
// `forward` turns a step plan into the logits (and hidden states) of its sampled rows. The block
// tables are the engine's (kv_cache_manager): block ids are all the engine holds of the KV cache.
#pragma once

#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/sched/scheduler.h"
#include "models/backend_factory.h"
#include "models/gguf/gguf.h"
#include "models/model.h"

namespace tandem {

// The anchor's outputs for one step: for item i of the plan, rows row0[i] .. row0[i] +
// n_logit_rows - 1 of `logits` (n_vocab each) and, when asked for, of `hidden` (n_embd each).
struct step_output {
    std::span<float> logits, hidden;
    std::span<const int32_t> row0;  // valid until the next forward
};

// A batch entry for `tokens` of sequence seq_id at positions pos0..., reading the block tables of
// the KV groups [g0, g0 + n_groups) (a model's own groups) and asking for the logits of `logit_rows`.
batch_seq kv_batch_seq(const kv_cache_manager& kv, uint64_t seq_id, int g0, int n_groups,
                       std::span<const int32_t> tokens, int64_t pos0, std::span<const int32_t> logit_rows);

class runner {
  public:
    // Loads the anchor and, for mtp or draft, the drafter's file (spec must be resolved: not
    // automatic), then sizes the KV pools; throws tandem::error when a file does not load or the
    // drafter does not fit the anchor.
    runner(const engine_config& cfg, spec_type spec, const gguf::file& anchor_file, const gguf::file* draft_file);

    const model& anchor() const { return *model_; }
    thread_pool& pool() { return device_->pool(); }
    backend& anchor_backend() { return *backend_; }
    mtp_drafter* mtp() { return mtp_.get(); }            // null unless spec = mtp
    model* draft_model() { return draft_model_.get(); }  // null unless spec = draft
    backend* draft_backend() { return draft_backend_.get(); }
    int n_anchor_groups() const { return n_anchor_groups_; }  // the draft model's groups follow

    // "cpu", or the Vulkan device ("vulkan:0 llvmpipe (LLVM 15.0.6, 256 bits)").
    std::string device_description() const;
    kv_cache_config kv_config() const;  // every pool's group, in order
    size_t kv_bytes() const;

    // Runs the plan's items as one anchor batch: item i computes the next tokens of seqs[i] (then
    // its drafts) through the block tables of `kv`. Hidden states are returned when `want_hidden`.
    step_output forward(const step_plan& plan, std::span<sequence* const> seqs, const kv_cache_manager& kv,
                        bool want_hidden);

  private:
    std::unique_ptr<compute_device> device_;  // declared first: the backends use it until they go
    std::unique_ptr<backend> backend_, draft_backend_;
    std::unique_ptr<model> model_, draft_model_;
    std::unique_ptr<mtp_drafter> mtp_;
    int n_anchor_groups_ = 0;
    std::vector<kv_group_spec> specs_;  // every KV group: the anchor's, then the draft model's
    int64_t n_blocks_ = 0;              // per group
    int32_t block_size_ = 16;
    std::vector<float> logits_, hidden_;
    batch batch_;
    std::vector<int32_t> tokens_, rows_;  // the batch's token ids and logit rows, referenced by batch_
    std::vector<int32_t> row0_;           // first logit row of each item
};

}  // namespace tandem
