// Server-side counters and latency histograms, rendered with the engine's gauges as Prometheus text.
// Written from any I/O thread; one mutex, taken once per event (never on the engine thread).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "engine/engine.h"

namespace tandem {

class histogram {
  public:
    static constexpr std::array<double, 12> bounds = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                      0.5,   1.0,  2.5,   5.0,  10.0, 30.0};
    void observe(double seconds);
    void render(std::string& out, const std::string& name, const std::string& help) const;

  private:
    std::array<uint64_t, bounds.size()> counts_{};  // non-cumulative; summed when rendered
    uint64_t count_ = 0;
    double sum_ = 0;
};

class server_metrics {
  public:
    void count_request(int status);
    void add_tokens(int64_t n_prompt, int64_t n_generated);
    void observe_ttft(double seconds);
    void observe_itl(double seconds);
    // `engine_m` is null while the model loads.
    std::string render(const engine_metrics* engine_m) const;

  private:
    mutable std::mutex mu_;
    std::map<int, uint64_t> requests_by_status_;
    int64_t prompt_tokens_ = 0, generated_tokens_ = 0;
    histogram ttft_, itl_;
};

}  // namespace tandem
