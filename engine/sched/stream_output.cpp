#include "engine/sched/stream_output.h"

#include <algorithm>

namespace tandem {
namespace {

stream_event done_event(const sequence& s) {
    stream_event ev;
    ev.what = stream_event::kind::done;
    ev.reason = s.why;
    ev.error = s.error;
    ev.text = s.tail_text;
    ev.n_prompt = s.n_prompt;
    ev.n_prompt_cached = std::max(s.n_prompt_cached, 0);
    ev.n_generated = s.n_generated();
    ev.n_draft_tokens = s.spec.n_draft_tokens;
    ev.n_draft_accepted = s.spec.n_accepted;
    if (ev.n_generated > 0) {
        ev.first_token_seconds = seconds_between(s.submitted_at, s.first_token_at);
        ev.generation_seconds = seconds_between(s.first_token_at, s.last_token_at);
    }
    return ev;
}

}  // namespace

void stream_output(sched_output& out) {
    for (emitted_token& t : out.tokens) {
        stream_event ev;
        ev.token = t.token;
        ev.text = std::move(t.text);
        ev.logprob = t.logprob;
        ev.top = std::move(t.top);
        t.seq->stream->push(std::move(ev));
    }
    for (const std::unique_ptr<sequence>& s : out.finished) s->stream->push(done_event(*s));
}

}  // namespace tandem
