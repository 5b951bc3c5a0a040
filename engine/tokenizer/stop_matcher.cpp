// Stop-string search with a held-back tail: the longest suffix of the unsent text that is a proper
// prefix of some stop string waits for the next token.
#include "engine/tokenizer/stop_matcher.h"

#include <algorithm>

namespace tandem {

std::string stop_matcher::push(std::string_view text) {
    if (matched_) return {};
    held_.append(text);
    size_t first = std::string::npos;
    for (const std::string& s : stops_) first = std::min(first, held_.find(s));
    if (first != std::string::npos) {
        std::string out = held_.substr(0, first);
        held_.clear();
        matched_ = true;
        return out;
    }
    // Keep the longest suffix that is a proper prefix of a stop string.
    size_t keep = 0;
    for (const std::string& s : stops_) {
        const size_t max_k = std::min(held_.size(), s.size() - 1);
        for (size_t k = max_k; k > keep; --k) {
            if (std::string_view(held_).substr(held_.size() - k) == std::string_view(s).substr(0, k)) {
                keep = k;
                break;
            }
        }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string stop_matcher::flush() {
    if (matched_) return {};
    std::string out = std::move(held_);
    held_.clear();
    return out;
}

}  // namespace tandem
