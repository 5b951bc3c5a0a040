// The model interface: hyperparameters read from GGUF, the KV groups a model needs, and one
// forward over a batch. One implementation file per architecture; registry.cpp maps names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/backend.h"
#include "models/batch.h"
#include "models/kv_view.h"

namespace tandem {

namespace gguf {
class file;
}

struct model_info {
    std::string arch;  // general.architecture
    std::string name;  // general.name, or empty
    int32_t n_vocab = 0;
    int32_t n_embd = 0;  // width of the hidden state exported by forward
    int32_t n_layer = 0;
    int32_t n_ctx_train = 0;
};

// Where a layer's K/V live: its group and its slot within that group's blocks. Layers that reuse
// an earlier layer's KV (gemma4) point at that layer's slot.
struct kv_ref {
    int32_t group = 0;
    int32_t slot = 0;
};

// What an MTP assistant (gemma4-assistant) borrows from its anchor: the input embedding and the
// KV storage of the anchor's last sliding and last full layer (after KV sharing is resolved).
struct mtp_anchor {
    weight tok_embd;  // (n_embd, n_vocab)
    int32_t n_embd = 0;
    kv_ref last_swa, last_full;
};

struct forward_out {
    std::span<float> logits;  // (n_logit_rows, n_vocab), batch order
    std::span<float> hidden;  // optional (n_logit_rows, n_embd): final normed hidden state (drafter input)
};

class model {
  public:
    virtual ~model() = default;
    virtual const model_info& info() const = 0;
    virtual std::vector<kv_group_spec> kv_groups() const = 0;
    // Runs every sequence of `b` through the model, writing K/V through the block tables. The KV views
    // must have been given to the backend (backend::set_kv) in the order of kv_groups().
    virtual void forward(backend& be, const batch& b, const forward_out& out) = 0;
    // Architectures that can anchor an MTP assistant say what it may borrow.
    virtual std::optional<mtp_anchor> anchor_for_mtp() const { return std::nullopt; }
};

// A drafter that reads its anchor's KV cache and writes none of its own. One row per sequence:
// the batch's tokens are the drafts' input tokens at the anchor's next position (pos0), and
// h_in holds the anchor (or previous draft step) hidden state of each row.
class mtp_drafter {
  public:
    virtual ~mtp_drafter() = default;
    virtual const model_info& info() const = 0;
    // out.logits: (n_rows, n_vocab); out.hidden: (n_rows, anchor n_embd), the next step's h_in.
    virtual void forward(backend& be, const batch& b, std::span<const float> h_in, const forward_out& out) = 0;
};

// Loads general.architecture = gemma4-assistant against its anchor; throws tandem::error when the
// file is not an assistant or does not fit the anchor (widths, head dims, KV heads).
std::unique_ptr<mtp_drafter> drafter_load(const gguf::file& f, backend& be, const model& anchor);

// Picks the architecture from general.architecture and loads it; throws tandem::error naming an
// unsupported architecture or any missing/mis-shaped tensor. `f` must outlive the model.
std::unique_ptr<model> model_load(const gguf::file& f, backend& be);

}  // namespace tandem
