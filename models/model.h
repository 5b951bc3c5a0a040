// The model interface: hyperparameters read from GGUF, the KV groups a model needs, and one
// forward over a batch. One implementation file per architecture; registry.cpp maps names.
#pragma once

#include <cstdint>
#include <memory>
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
    std::string arch;       // general.architecture
    std::string name;       // general.name, or empty
    int32_t n_vocab = 0;
    int32_t n_embd = 0;     // width of the hidden state exported by forward
    int32_t n_layer = 0;
    int32_t n_ctx_train = 0;
};

// Where a layer's K/V live: its group and its slot within that group's blocks. Layers that reuse
// an earlier layer's KV (gemma4) point at that layer's slot.
struct kv_ref {
    int32_t group = 0;
    int32_t slot = 0;
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
};

// Picks the architecture from general.architecture and loads it; throws tandem::error naming an
// unsupported architecture or any missing/mis-shaped tensor. `f` must outlive the model.
std::unique_ptr<model> model_load(const gguf::file& f, backend& be);

}  // namespace tandem
