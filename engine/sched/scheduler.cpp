// Scheduling policy: running sequences first (oldest first), then admissions, within the token
// budget; preemption of the newest when the KV cache is full. Acceptance of drafts and the end of
// a sequence are decided here, one token at a time.
#include "engine/sched/scheduler.h"

#include <algorithm>

#include "common/check.h"
#include "engine/kv/kv_cache_manager.h"

namespace tandem {

scheduler::scheduler(const sched_config& cfg, kv_cache_manager& kv) : cfg_(cfg), kv_(kv) {}

void scheduler::add(std::unique_ptr<sequence> seq) {
    waiting_.push_back(std::move(seq));
}

void scheduler::finish(std::unique_ptr<sequence> s, finish_reason why, const std::string& message) {
    kv_.free_seq(static_cast<int64_t>(s->id));
    s->ended = true;
    s->why = why;
    s->error = message;
    s->tail_text = s->text.finish();
    out_.finished.push_back(std::move(s));
}

void scheduler::take_output(sched_output& into) {
    into.tokens.clear();
    into.finished.clear();
    std::swap(into, out_);
}

bool scheduler::abort(uint64_t id, finish_reason why, const std::string& message) {
    auto has_id = [id](const auto& p) { return p->id == id; };
    if (auto it = std::find_if(running_.begin(), running_.end(), has_id); it != running_.end()) {
        std::unique_ptr<sequence> s = std::move(*it);
        running_.erase(it);
        finish(std::move(s), why, message);
        return true;
    }
    if (auto it = std::find_if(waiting_.begin(), waiting_.end(), has_id); it != waiting_.end()) {
        std::unique_ptr<sequence> s = std::move(*it);
        waiting_.erase(it);
        finish(std::move(s), why, message);
        return true;
    }
    return false;
}

void scheduler::abort_all(finish_reason why, const std::string& message) {
    std::vector<std::unique_ptr<sequence>> all = std::move(running_);
    for (auto& s : waiting_) all.push_back(std::move(s));
    running_.clear();
    waiting_.clear();
    for (auto& s : all) finish(std::move(s), why, message);
}

sequence& scheduler::running(uint64_t id) {
    for (auto& s : running_) {
        if (s->id == id) return *s;
    }
    TANDEM_CHECK(false && "not a running sequence");
    std::abort();
}

void scheduler::preempt(sequence& s) {
    kv_.free_seq(static_cast<int64_t>(s.id));
    s.n_computed = 0;
    s.spec.reset_cache_state(0);
    ++s.n_preempted;
    ++n_preemptions_;
    auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& p) { return p.get() == &s; });
    TANDEM_CHECK(it != running_.end());
    waiting_.push_front(std::move(*it));
    running_.erase(it);
}

int32_t scheduler::admit_one(int32_t room, step_plan& plan) {
    sequence& s = *waiting_.front();
    const int64_t id = static_cast<int64_t>(s.id);
    const int64_t hit = kv_.match_prefix(id, s.tokens);
    s.n_computed = hit;
    s.spec.reset_cache_state(hit);  // cached blocks hold the draft model's K/V too
    const int64_t remaining = static_cast<int64_t>(s.tokens.size()) - s.n_computed;
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(remaining, room));  // >= 1: a prefix hit leaves one
    if (!kv_.allocate_slots(id, s.n_computed + n)) {
        kv_.free_seq(id);
        s.n_computed = 0;
        s.spec.reset_cache_state(0);
        return 0;  // no room: it waits until running sequences free blocks
    }
    prefix_hit_tokens_ += hit;
    if (s.n_prompt_cached < 0) s.n_prompt_cached = static_cast<int32_t>(hit);  // a re-admission hits its own blocks
    s.admitted_at = admit_counter_++;
    plan.items.push_back({s.id, s.n_computed, n, 0, s.n_computed + n == static_cast<int64_t>(s.tokens.size())});
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    return n;
}

step_plan scheduler::schedule() {
    step_plan plan;
    auto remaining = [](const sequence& s) { return static_cast<int64_t>(s.tokens.size()) - s.n_computed; };
    // While any sequence decodes, prompt chunks (of running sequences and of admissions) share at most
    // prefill_chunk tokens of the step: a long prompt arriving then stalls the running streams for a
    // short step, not for a whole batch of prefill. A full stream pauses its sequence (backpressure).
    const bool decoding =
        std::any_of(running_.begin(), running_.end(), [](const auto& s) { return s->decoding() && !s->paused; });
    int32_t budget = cfg_.batch_size;
    int32_t prompt_budget = decoding && cfg_.prefill_chunk > 0 ? cfg_.prefill_chunk : budget;
    // Every sequence's required rows first (a decode row, a prompt chunk, admissions); drafts only
    // take what is left, and never preempt anyone.
    for (size_t i = 0; i < running_.size() && budget > 0;) {
        sequence& s = *running_[i];
        const int64_t left = remaining(s);
        if (left <= 0 || s.paused) {
            ++i;
            continue;
        }
        const int32_t n =
            static_cast<int32_t>(std::min<int64_t>(left, left > 1 ? std::min(budget, prompt_budget) : budget));
        bool self_preempted = false;
        while (!kv_.allocate_slots(static_cast<int64_t>(s.id), s.n_computed + n)) {
            sequence& victim = *running_.back();
            self_preempted = &victim == &s;
            preempt(victim);
            if (self_preempted) break;
        }
        if (self_preempted) continue;  // running_[i] is now the next sequence (or gone)
        plan.items.push_back({s.id, s.n_computed, n, 0, s.n_computed + n == static_cast<int64_t>(s.tokens.size())});
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
    add_drafts(plan, budget);
    return plan;
}

// Extends the decode items of sequences that drafted by their drafts, oldest first, within the
// step's budget and the free KV blocks; a draft that does not fit is cut (the step verifies what
// fits), one that gets no row or block is dropped (a plain step).
void scheduler::add_drafts(step_plan& plan, int32_t budget) {
    for (sched_item& it : plan.items) {
        sequence& s = running(it.seq_id);
        std::vector<int32_t>& draft = s.spec.draft;
        TANDEM_CHECK(draft.size() <= static_cast<size_t>(k_max_draft));
        if (!it.sample || it.n_new != 1 || draft.empty() || s.budget.forcing()) {
            draft.clear();
            continue;
        }
        draft.resize(std::min(draft.size(), static_cast<size_t>(std::max(budget, 0))));
        if (!draft.empty() &&
            !kv_.allocate_slots(static_cast<int64_t>(s.id), it.start + 1 + static_cast<int64_t>(draft.size())))
            draft.clear();
        it.n_draft = static_cast<int32_t>(draft.size());
        it.n_new += it.n_draft;
        budget -= it.n_draft;
    }
}

// An end-of-generation token that the grammar took as text (see grammar_matcher::accept) is text:
// the grammar says whether the sequence ends there.
bool scheduler::ends_generation(const sequence& s, int32_t token) const {
    if (!cfg_.is_eog || !cfg_.is_eog(token)) return false;
    return !s.gm || s.gm->ended() || s.grammar_stuck;
}

std::string scheduler::shown_piece(const sequence& s, int32_t token) const {
    if (ends_generation(s, token) || !cfg_.token_piece) return "";
    const bool shown = cfg_.special_piece && std::binary_search(s.shown_special.begin(), s.shown_special.end(), token);
    return shown ? cfg_.special_piece(token) : cfg_.token_piece(token);
}

bool scheduler::finished(sequence& s, finish_reason& why, std::string_view piece, std::string& text) {
    const int32_t last = s.tokens.back();
    const bool eog = ends_generation(s, last);
    text.clear();
    if (!eog && cfg_.token_piece) text = s.text.push(piece);
    if (s.grammar_stuck) {
        why = finish_reason::error;
        s.error = "the grammar allows no token of the vocabulary here";
        return true;
    }
    // A grammar whose text is complete and takes nothing more ends the sequence without waiting for
    // an end-of-generation token (the mask would allow only that).
    if ((!s.ignore_eos && eog) || s.text.stopped() || (s.gm && s.gm->done())) {
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

int64_t scheduler::draft_room(const sequence& s) const {
    int64_t room = cfg_.ctx_size - static_cast<int64_t>(s.tokens.size());
    if (s.max_tokens >= 0) room = std::min<int64_t>(room, s.max_tokens - s.n_generated() - 1);
    return std::max<int64_t>(room, 0);
}

void scheduler::record_round(sequence& s, int32_t n_draft, int32_t n_accepted) {
    s.spec.last_draft = n_draft;
    s.spec.last_accepted = n_accepted;
    if (n_draft == 0) return;
    s.spec.n_drafts += 1;
    s.spec.n_draft_tokens += n_draft;
    s.spec.n_accepted += n_accepted;
    spec_.n_drafts += 1;
    spec_.n_draft_tokens += n_draft;
    spec_.n_accepted += n_accepted;
    for (int32_t i = 0; i < n_accepted; ++i) ++spec_.accepted_at[i];
}

// Registers the blocks that hold only accepted tokens whose K/V every model has computed.
void scheduler::commit(sequence& s) {
    kv_.commit_full_blocks(static_cast<int64_t>(s.id), s.tokens, s.spec.n_computed_by_all(s.n_computed));
}

void scheduler::update(const step_plan& plan, const sample_fn& sample) {
    for (size_t i = 0; i < plan.items.size(); ++i) {
        const sched_item& item = plan.items[i];
        sequence& s = running(item.seq_id);
        const int32_t n_known = item.n_new - item.n_draft;  // of s.tokens: final whatever is sampled
        s.n_computed = item.start + n_known;
        commit(s);
        if (!item.sample) continue;
        TANDEM_CHECK(static_cast<int32_t>(s.spec.draft.size()) == item.n_draft && item.n_draft <= k_max_draft);
        int32_t n_accepted = 0;
        for (int32_t row = 0; row <= item.n_draft; ++row) {
            sampled t = sample(i, s, row);
            const bool matches = row < item.n_draft && t.token == s.spec.draft[static_cast<size_t>(row)];
            if (matches) ++n_accepted;
            s.tokens.push_back(t.token);
            s.last_token_at = steady_clock::now();
            if (s.n_generated() == 1) s.first_token_at = s.last_token_at;
            emitted_token& e = out_.tokens.emplace_back();
            e.seq = &s;
            e.token = t.token;
            e.logprob = t.logprob;
            e.top = std::move(t.top);
            const std::string piece = shown_piece(s, t.token);
            s.ended = finished(s, s.why, piece, e.text);
            s.budget.observe(piece);
            // A budget that starts forcing ends the round: the rest of the drafts cannot be the forced tokens.
            if (s.ended || !matches || s.budget.forcing()) break;
        }
        record_round(s, item.n_draft, n_accepted);
        if (s.ended) continue;
        s.spec.draft.clear();
        // Normally the last token's row is still to run; a round a reasoning budget cut after an
        // accepted draft has that draft last, whose row must run again for its successor.
        s.n_computed = std::min<int64_t>(item.start + n_known + n_accepted, static_cast<int64_t>(s.tokens.size()) - 1);
        s.spec.n_draft_kv = std::min(s.spec.n_draft_kv, s.n_computed);  // its rejected drafts' K/V too
        kv_.truncate(static_cast<int64_t>(s.id), s.n_computed);         // rejected drafts' rows are garbage
        commit(s);
    }
    for (size_t i = 0; i < running_.size();) {
        if (!running_[i]->ended) {
            ++i;
            continue;
        }
        std::unique_ptr<sequence> s = std::move(running_[i]);
        running_.erase(running_.begin() + static_cast<ptrdiff_t>(i));
        const finish_reason why = s->why;
        const std::string message = s->error;
        finish(std::move(s), why, message);
    }
}

}  // namespace tandem
