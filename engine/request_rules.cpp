// check_request: the rules of a request, in the order a client would fix them.
#include <string>

#include "engine/engine.h"

namespace tandem {

std::optional<request_refusal> check_request(const completion_params& p, int32_t n_ctx, int32_t n_vocab) {
    auto invalid = [](std::string param, std::string message) {
        return request_refusal{submit_error::invalid, std::move(param), std::move(message)};
    };
    if (p.prompt.empty()) return invalid("prompt", "the prompt is empty");
    if (static_cast<int64_t>(p.prompt.size()) >= n_ctx)
        return request_refusal{submit_error::context_exceeded, "prompt",
                               "the prompt has " + std::to_string(p.prompt.size()) + " tokens; the context holds " +
                                   std::to_string(n_ctx)};
    for (int32_t t : p.prompt) {
        if (t < 0 || t >= n_vocab)
            return invalid("prompt", "token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                         std::to_string(n_vocab) + ")");
    }
    if (p.max_tokens == 0 || p.max_tokens < -1)
        return invalid("max_tokens", "'max_tokens' must be at least 1, got " + std::to_string(p.max_tokens));
    if (p.n_logprobs < -1 || p.n_logprobs > k_max_logprobs)
        return invalid("top_logprobs", "'top_logprobs' must be in [0, " + std::to_string(k_max_logprobs) + "], got " +
                                           std::to_string(p.n_logprobs));
    for (const std::string& s : p.stop) {
        if (s.empty()) return invalid("stop", "stop strings must not be empty");
    }
    if (std::optional<param_error> e = check_sampling(p.sampling, n_vocab)) return invalid(e->param, e->message);
    return std::nullopt;
}

}  // namespace tandem
