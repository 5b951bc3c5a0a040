// grammar_cached: a small FIFO of compiled grammars under a mutex.
#include "engine/grammar/grammar_cache.h"

#include <deque>
#include <mutex>
#include <utility>

namespace tandem::gram {

std::shared_ptr<const compiled_grammar> grammar_cached(const std::string& key, const std::function<grammar()>& make) {
    static std::mutex mu;
    static std::deque<std::pair<std::string, std::shared_ptr<const compiled_grammar>>> cache;
    {
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& [k, g] : cache) {
            if (k == key) return g;
        }
    }
    auto g = std::make_shared<const compiled_grammar>(make());  // compiled outside the lock
    std::lock_guard<std::mutex> lock(mu);
    cache.emplace_back(key, g);
    if (cache.size() > k_grammar_cache_size) cache.pop_front();
    return g;
}

}  // namespace tandem::gram
