// Scheduling policy: running sequences first (oldest first), then admissions, within the token
// budget; preemption of the newest when the KV cache is full.
#include "engine/sched/scheduler.h"

#include <algorithm>

#include "common/check.h"
#include "engine/kv/kv_cache_manager.h"

namespace tandem {

scheduler::scheduler(const sched_config& cfg, kv_cache_manager& kv) : cfg_(cfg), kv_(kv) {}

void scheduler::add(std::unique_ptr<sequence> seq) {
    waiting_.push_back(std::move(seq));
}

void scheduler::finish(sequence& s, finish_reason why, const std::string& message) {
    kv_.free_seq(s.id);
    stream_event ev;
    ev.what = stream_event::kind::done;
    ev.reason = why;
    ev.error = message;
    ev.n_prompt = s.n_prompt;
    ev.n_generated = s.n_generated();
    if (ev.n_generated > 0) {
        ev.first_token_seconds = seconds_between(s.submitted_at, s.first_token_at);
        ev.generation_seconds = seconds_between(s.first_token_at, s.last_token_at);
    }
    s.stream->push(std::move(ev));
}

bool scheduler::abort(uint64_t id) {
    for (auto it = running_.begin(); it != running_.end(); ++it) {
        if ((*it)->id == id) {
            finish(**it, finish_reason::aborted);
            running_.erase(it);
            return true;
        }
    }
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
        if ((*it)->id == id) {
            finish(**it, finish_reason::aborted);
            waiting_.erase(it);
            return true;
        }
    }
    return false;
}

void scheduler::abort_all(finish_reason why, const std::string& message) {
    for (auto& s : running_) finish(*s, why, message);
    for (auto& s : waiting_) finish(*s, why, message);
    running_.clear();
    waiting_.clear();
}

void scheduler::preempt(sequence& s) {
    kv_.free_seq(s.id);
    s.n_computed = 0;
    ++s.n_preempted;
    ++n_preemptions_;
    auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& p) { return p.get() == &s; });
    TANDEM_CHECK(it != running_.end());
    waiting_.push_front(std::move(*it));
    running_.erase(it);
}

int32_t scheduler::admit_one(int32_t room, step_plan& plan) {
    sequence& s = *waiting_.front();
    const int64_t hit = kv_.match_prefix(s.id, s.tokens);
    s.n_computed = hit;
    const int64_t remaining = static_cast<int64_t>(s.tokens.size()) - s.n_computed;
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(remaining, room));  // >= 1: a prefix hit leaves one
    if (!kv_.allocate_slots(s.id, s.n_computed + n)) {
        kv_.free_seq(s.id);
        s.n_computed = 0;
        return 0;  // no room: it waits until running sequences free blocks
    }
    prefix_hit_tokens_ += hit;
    s.admitted_at = admit_counter_++;
    plan.items.push_back({&s, s.n_computed, n, s.n_computed + n == static_cast<int64_t>(s.tokens.size())});
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    return n;
}

step_plan scheduler::schedule() {
    step_plan plan;
    auto remaining = [](const sequence& s) { return static_cast<int64_t>(s.tokens.size()) - s.n_computed; };
    // While any sequence decodes, prompt chunks (of running sequences and of admissions) share at most
    // mixed_prefill_budget tokens of the step: a long prompt arriving then stalls the running streams
    // for a short step, not for a whole budget of prefill. A full stream pauses its sequence
    // (backpressure).
    const bool decoding = std::any_of(running_.begin(), running_.end(),
                                      [&](const auto& s) { return remaining(*s) == 1 && !s->stream->full(); });
    int32_t budget = cfg_.token_budget;
    int32_t prompt_budget = decoding && cfg_.mixed_prefill_budget > 0 ? cfg_.mixed_prefill_budget : budget;
    for (size_t i = 0; i < running_.size() && budget > 0;) {
        sequence& s = *running_[i];
        const int64_t left = remaining(s);
        const int32_t n =
            static_cast<int32_t>(std::min<int64_t>(left, left > 1 ? std::min(budget, prompt_budget) : budget));
        if (n <= 0 || s.stream->full()) {
            ++i;
            continue;
        }
        bool self_preempted = false;
        while (!kv_.allocate_slots(s.id, s.n_computed + n)) {
            sequence& victim = *running_.back();
            self_preempted = &victim == &s;
            preempt(victim);
            if (self_preempted) break;
        }
        if (self_preempted) continue;  // running_[i] is now the next sequence (or gone)
        plan.items.push_back({&s, s.n_computed, n, s.n_computed + n == static_cast<int64_t>(s.tokens.size())});
        budget -= n;
        if (left > 1) prompt_budget -= n;
        ++i;
    }
    while (static_cast<int32_t>(running_.size()) < cfg_.max_running && !waiting_.empty()) {
        const int32_t room = std::min(budget, prompt_budget);
        const int32_t n = room > 0 ? admit_one(room, plan) : 0;
        if (n == 0) break;
        budget -= n;
        prompt_budget -= n;
    }
    return plan;
}

bool scheduler::finished(const sequence& s, finish_reason& why) const {
    const int32_t last = s.tokens.back();
    if (!s.ignore_eos && cfg_.is_eog && cfg_.is_eog(last)) {
        why = finish_reason::stop;
        return true;
    }
    if ((s.max_tokens >= 0 && s.n_generated() >= s.max_tokens) ||
        static_cast<int64_t>(s.tokens.size()) >= cfg_.ctx_size) {
        why = finish_reason::length;
        return true;
    }
    return false;
}

void scheduler::update(const step_plan& plan, std::vector<sampled>& tokens) {
    size_t next = 0;
    std::vector<uint64_t> done;
    for (const sched_item& item : plan.items) {
        sequence& s = *item.seq;
        s.n_computed = item.start + item.n_new;
        kv_.commit_full_blocks(s.id, s.tokens, s.n_computed);
        if (!item.sample) continue;
        TANDEM_CHECK(next < tokens.size());
        sampled& t = tokens[next++];
        s.tokens.push_back(t.token);
        s.last_token_at = steady_clock::now();
        if (s.n_generated() == 1) s.first_token_at = s.last_token_at;
        stream_event ev;
        ev.token = t.token;
        ev.logprob = t.logprob;
        ev.top = std::move(t.top);
        s.stream->push(std::move(ev));
        finish_reason why;
        if (finished(s, why)) {
            finish(s, why);
            done.push_back(s.id);
        }
    }
    std::erase_if(running_, [&](const auto& p) { return std::find(done.begin(), done.end(), p->id) != done.end(); });
}

}  // namespace tandem
