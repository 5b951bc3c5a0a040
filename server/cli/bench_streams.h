// Parallel greedy requests timed by the engine's own clocks (when it made the tokens, not when a
// reader drained them): what both modes of `tandem bench` measure.
#pragma once

#include <cstdint>
#include <cstdio>
#include <vector>

#include "engine/engine.h"

namespace tandem {

struct streams_timing {
    double span = 0;        // seconds from the earliest first token to the latest last one
    int64_t tokens = 0;     // tokens generated after each stream's first
    double step = 0;        // span / (max_tokens - 1): a decode step's time (speculation: at least)
    bool lockstep = false;  // every stream's first token came from the same step
    double tok_s() const { return static_cast<double>(tokens) / span; }
};

// Submits a greedy request that generates max_tokens tokens, whatever they are (EOS ignored);
// throws if the engine refuses it.
std::shared_ptr<request_stream> submit_greedy(engine& eng, std::vector<int32_t> prompt, int32_t max_tokens);

// Reads a stream up to its done event; throws unless the request ran to max_tokens.
stream_event wait_done(request_stream& s);

// The median of v (the mean of the middle two of an even count); v not empty.
double median(std::vector<double> v);

// Submits one greedy request per prompt, back to back (max_tokens >= 2 each, EOS ignored), and
// waits for all. The engine wakes on the first submit: should it take that one alone, the others
// prefill a step later, inside the span, and the run is not in lockstep.
streams_timing time_streams(engine& eng, std::vector<std::vector<int32_t>> prompts, int32_t max_tokens);

// Runs `run` (returning something with a `lockstep` flag) again, up to twice, while its streams did
// not start in one step, and warns on stderr when they never did.
template <class Run>
auto in_lockstep(Run run, int32_t n_streams) {
    auto r = run();
    for (int retry = 0; !r.lockstep && retry < 2; ++retry) r = run();
    if (!r.lockstep)
        std::fprintf(stderr, "bench: %d streams did not start in one step; the figure includes a prefill\n", n_streams);
    return r;
}

}  // namespace tandem
