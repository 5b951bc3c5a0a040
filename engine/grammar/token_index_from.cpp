// token_index over a tokenizer's vocabulary.
#include "engine/grammar/token_mask.h"
#include "engine/tokenizer/tokenizer.h"

namespace tandem::gram {

token_index token_index_from(const tokenizer& tok) {
    std::vector<std::string> pieces(static_cast<size_t>(tok.n_vocab()));
    for (int32_t id = 0; id < tok.n_vocab(); ++id) pieces[static_cast<size_t>(id)] = tok.token_piece(id);
    return token_index(std::move(pieces), tok.eog_ids());
}

}  // namespace tandem::gram
