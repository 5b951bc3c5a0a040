// Prometheus text exposition (version 0.0.4) of the server's and the engine's numbers.
#include "server/http/metrics.h"

#include <charconv>

namespace tandem {
namespace {

std::string num(double v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
    return std::string(buf, res.ptr);
}

void metric(std::string& out, const std::string& name, const char* type, const std::string& help, double v) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + num(v) + "\n";
}

}  // namespace

void histogram::observe(double seconds) {
    for (size_t i = 0; i < bounds.size(); ++i) {
        if (seconds <= bounds[i]) {
            ++counts_[i];
            break;
        }
    }
    ++count_;
    sum_ += seconds;
}

void histogram::render(std::string& out, const std::string& name, const std::string& help) const {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += counts_[i];
        out += name + "_bucket{le=\"" + num(bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
    out += name + "_sum " + num(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

void server_metrics::count_request(int status) {
    std::lock_guard lock(mu_);
    ++requests_by_status_[status];
}

void server_metrics::add_tokens(int64_t n_prompt, int64_t n_generated) {
    std::lock_guard lock(mu_);
    prompt_tokens_ += n_prompt;
    generated_tokens_ += n_generated;
}

void server_metrics::observe_ttft(double seconds) {
    std::lock_guard lock(mu_);
    ttft_.observe(seconds);
}

void server_metrics::observe_itl(double seconds) {
    std::lock_guard lock(mu_);
    itl_.observe(seconds);
}

std::string server_metrics::render(const engine_metrics* m) const {
    std::lock_guard lock(mu_);
    std::string out;
    out += "# HELP tandem_requests_total HTTP requests answered, by status code.\n";
    out += "# TYPE tandem_requests_total counter\n";
    for (const auto& [status, n] : requests_by_status_)
        out += "tandem_requests_total{code=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
    metric(out, "tandem_prompt_tokens_total", "counter", "Prompt tokens of completed requests.", prompt_tokens_);
    metric(out, "tandem_generation_tokens_total", "counter", "Tokens generated for clients.", generated_tokens_);
    const engine_metrics zero{};
    const engine_metrics& e = m ? *m : zero;
    metric(out, "tandem_requests_running", "gauge", "Sequences the engine is running.", e.n_running);
    metric(out, "tandem_requests_waiting", "gauge", "Requests queued in the engine.", e.n_waiting);
    metric(out, "tandem_kv_blocks_used", "gauge", "KV cache blocks in use.", e.kv_blocks_used);
    metric(out, "tandem_kv_blocks_total", "gauge", "KV cache blocks in the pool.", e.kv_blocks_total);
    metric(out, "tandem_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.",
           e.prefix_cache_hit_tokens);
    metric(out, "tandem_preemptions_total", "counter", "Sequences preempted for KV space.", e.preemptions);
    // Speculative decoding, with vLLM's names (spec_decode_*).
    metric(out, "tandem_spec_decode_num_drafts_total", "counter", "Speculative rounds with at least one draft token.",
           e.spec_drafts);
    metric(out, "tandem_spec_decode_num_draft_tokens_total", "counter", "Draft tokens the anchor verified.",
           e.spec_draft_tokens);
    metric(out, "tandem_spec_decode_num_accepted_tokens_total", "counter", "Draft tokens the anchor accepted.",
           e.spec_accepted_tokens);
    out +=
        "# HELP tandem_spec_decode_num_accepted_tokens_per_pos_total Accepted draft tokens by position in their "
        "round (0: the first draft).\n# TYPE tandem_spec_decode_num_accepted_tokens_per_pos_total counter\n";
    for (size_t i = 0; i < e.spec_accepted_per_pos.size(); ++i) {
        out += "tandem_spec_decode_num_accepted_tokens_per_pos_total{position=\"" + std::to_string(i) + "\"} " +
               std::to_string(e.spec_accepted_per_pos[i]) + "\n";
    }
    metric(out, "tandem_spec_decode_mean_acceptance_length", "gauge",
           "Tokens per speculative round: 1 + accepted draft tokens / rounds (0 before the first round).",
           e.spec_drafts > 0 ? 1.0 + static_cast<double>(e.spec_accepted_tokens) / e.spec_drafts : 0.0);
    ttft_.render(out, "tandem_time_to_first_token_seconds", "Time from request to first generated token.");
    itl_.render(out, "tandem_inter_token_latency_seconds", "Time between consecutive generated tokens.");
    return out;
}

}  // namespace tandem
