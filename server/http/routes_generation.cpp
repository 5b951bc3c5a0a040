// Runs one chat/completions request: queue pre-check, prompt building, n engine requests per prompt (seed+i),
// then either one JSON response or an SSE stream, aborting the engine work if the client leaves.
#include <chrono>
#include <ctime>
#include <random>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "server/chat/chat_prompt.h"
#include "server/http/answer_grammar.h"
#include "server/http/chat_output_setup.h"
#include "server/http/routes.h"
#include "server/http/server_state.h"
#include "server/http/sse.h"

namespace tandem {

namespace net = boost::asio;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

// One choice of the request: its engine stream and what it has become so far.
struct choice_run {
    std::shared_ptr<request_stream> stream;
    choice_output out;
    clock_type::time_point last_token;
    bool finish_sent = false;  // streaming: its finish chunk is out
    bool aborted = false;
};

struct job {
    server_state& st;
    http_session& s;
    served_model& b;
    const generation_request& g;
    std::vector<choice_run> choices;
    clock_type::time_point started = clock_type::now();
    bool any_token = false;
    int64_t n_prompt = 0;

    // Drains what the engine has produced; stops a choice's engine request on a stop-string match.
    void pump() {
        server_metrics& m = st.metrics;
        for (choice_run& c : choices) {
            // Events after the choice finished are drained too: the done event carries its timings.
            while (std::optional<stream_event> ev = c.stream->pop()) {
                if (ev->what == stream_event::kind::token && !c.out.finished()) {
                    const auto now = clock_type::now();
                    if (c.out.n_generated() == 0)
                        m.observe_ttft(std::chrono::duration<double>(now - started).count());
                    else
                        m.observe_itl(std::chrono::duration<double>(now - c.last_token).count());
                    c.last_token = now;
                    any_token = true;
                }
                c.out.consume(*ev);  // the engine ends a request at its stop string itself
            }
        }
    }

    bool all_finished() const {
        for (const choice_run& c : choices)
            if (!c.out.finished()) return false;
        return true;
    }

    std::optional<std::string> first_error() const {
        for (const choice_run& c : choices)
            if (c.out.error()) return c.out.error();
        return std::nullopt;
    }

    void abort_all() {
        for (choice_run& c : choices) {
            if (c.out.finished() || c.aborted) continue;
            c.aborted = true;
            b.eng->abort(c.stream->id());
        }
    }

    // usage.prompt_tokens_details.cached_tokens: each prompt counted once (as in n_prompt), by its
    // first choice (the n choices of a prompt are n engine requests that may hit differently).
    int64_t n_prompt_cached() const {
        int64_t n = 0;
        for (size_t i = 0; i < choices.size(); i += static_cast<size_t>(g.n))
            n += choices[i].out.timings().n_prompt_cached;
        return n;
    }

    int64_t n_generated() const {
        int64_t n = 0;
        for (const choice_run& c : choices) n += c.out.n_generated();
        return n;
    }

    std::vector<choice_output> outputs() const {
        std::vector<choice_output> out;
        for (const choice_run& c : choices) out.push_back(c.out);
        return out;
    }
};

std::string response_id(server_state& st, bool chat) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%016llx%04llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(st.next_id++ & 0xffff));
    return std::string(chat ? "chatcmpl-" : "cmpl-") + buf;
}

// The engine's refusal as the API's error: a prompt's fault is reported on `messages` for chat.
api_error refusal_error(const request_refusal& r, const generation_request& g, int64_t n_ctx, size_t n_prompt) {
    const std::string prompt_param = g.chat ? "messages" : "prompt";
    switch (r.kind) {
        case submit_error::queue_full:
            return error_queue_full(1);
        case submit_error::stopping:
            return error_shutting_down();
        case submit_error::context_exceeded:
            return error_context_exceeded(n_ctx, static_cast<int64_t>(n_prompt), prompt_param);
        case submit_error::invalid:
            break;
    }
    std::string param = r.param;
    if (param == "prompt") param = prompt_param;
    if (param == "top_logprobs" && !g.chat) param = "logprobs";
    return api_error{
        400, r.message, "invalid_request_error", param.empty() ? std::nullopt : std::optional(param), std::nullopt, 0};
}

// The engine requests of a generation: n per prompt (choice p * n + i, seed + its index).
std::vector<completion_params> engine_requests(const generation_request& g,
                                               const std::vector<std::vector<int32_t>>& prompts) {
    uint64_t seed = g.sampling.seed;
    if (!g.seed_given) seed = std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32);
    std::vector<completion_params> out;
    for (int32_t i = 0; i < g.n * static_cast<int32_t>(prompts.size()); ++i) {
        completion_params& p = out.emplace_back();
        p.prompt = prompts[static_cast<size_t>(i / g.n)];
        p.sampling = g.sampling;
        p.sampling.seed = seed + static_cast<uint64_t>(i);
        p.seed_fixed = g.seed_given;
        p.max_tokens = g.max_tokens;
        p.n_logprobs = g.logprobs ? g.n_top_logprobs : -1;
        p.stop = g.stop;
        p.grammar = g.grammar;  // one compiled grammar, a matcher per choice
    }
    return out;
}

// Submits every request, each checked first by the engine's rules (nothing is submitted when one is
// refused); on a later failure (queue full, shutting down) aborts those already in and throws.
void submit_all(job& j, std::vector<completion_params> requests) {
    for (const completion_params& p : requests) {
        if (std::optional<request_refusal> r = j.b.eng->check(p))
            throw api_exception{refusal_error(*r, j.g, j.b.n_ctx, p.prompt.size())};
    }
    for (size_t i = 0; i < requests.size(); ++i) {
        const size_t n_prompt = requests[i].prompt.size();
        submit_result r = j.b.eng->submit(std::move(requests[i]));
        if (!r.stream) {
            j.abort_all();
            throw api_exception{refusal_error(r.refusal.value_or(request_refusal{submit_error::stopping, "", ""}), j.g,
                                              j.b.n_ctx, n_prompt)};
        }
        r.stream->set_notify(j.s.notifier());
        j.choices.push_back(
            choice_run{std::move(r.stream), choice_output(*j.b.codec, static_cast<int32_t>(i), j.g), j.started});
    }
}

net::awaitable<void> reply_whole(job& j, const response_meta& meta) {
    http_session& s = j.s;
    s.watch_start();
    for (;;) {
        j.pump();
        if (j.all_finished()) break;
        if (s.client_gone() || s.forced()) {
            j.abort_all();
            const api_error e = error_shutting_down();
            co_await s.send_error(e);
            co_return;
        }
        co_await s.wake().wait_until(clock_type::now() + std::chrono::hours(1));
    }
    co_await s.watch_stop();
    if (auto err = j.first_error()) {
        // Written as the reply itself: past watch_stop the session is finishing, where send_error
        // (for a handler that fails after it may have replied) sends nothing.
        const api_error e = s.forced() ? error_shutting_down() : error_internal(*err);
        co_await s.send(api_error_response(e));
        co_return;
    }
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = response_json(meta, j.outputs(), j.n_prompt, j.n_prompt_cached())
                     .dump(-1, ' ', false, json::error_handler_t::replace);
    co_await s.send(std::move(res));
}

// The SSE events that the choices' new output makes (deltas, then each finish once). Chat: reasoning,
// content and tool calls each in chunks of their own, as OpenAI streams them; logprobs ride on the
// content chunk (or the reasoning chunk when there is no content).
std::string stream_events(job& j, const response_meta& meta) {
    std::string out;
    for (choice_run& run : j.choices) {
        choice_output& c = run.out;
        const std::string reasoning = c.take_reasoning();
        const std::string text = c.take_text();
        const std::vector<tool_call_delta> calls = c.take_call_deltas();
        const json lp = c.take_logprobs();
        const bool finishing = c.finished() && !c.error() && !run.finish_sent;
        // logprobs ride on the content chunk, else on the reasoning chunk, else on an empty content chunk
        const bool lp_on_reasoning = text.empty() && !reasoning.empty();
        if (!reasoning.empty())
            out += sse_data(chunk_chat_delta(meta, c.index(), {{"reasoning_content", reasoning}},
                                             lp_on_reasoning ? lp : json(nullptr)));
        if (!text.empty() || (!lp.is_null() && !lp_on_reasoning))
            out += sse_data(chunk_delta(meta, c.index(), text, std::nullopt, lp));
        for (json& d : tool_call_chunks(calls))
            out += sse_data(chunk_chat_delta(meta, c.index(), std::move(d), nullptr));
        if (finishing) {  // as OpenAI: a chunk of its own, with an empty delta (chat) or text (completions)
            json fin = chunk_delta(meta, c.index(), "", c.finish_reason(), nullptr);
            fin["timings"] = timings_json(std::span<const choice_output>(&c, 1));  // llama-server's extension
            out += sse_data(fin);
            run.finish_sent = true;
        }
    }
    return out;
}

net::awaitable<void> reply_stream(job& j, const response_meta& meta) {
    http_session& s = j.s;
    const double ping = j.st.cfg.ping_interval;
    if (!co_await s.send_sse_head()) co_return j.abort_all();
    s.watch_start();
    std::string out;
    if (meta.chat)
        for (const choice_run& c : j.choices) out += sse_data(chunk_role(meta, c.out.index()));
    for (;;) {
        j.pump();
        out += stream_events(j, meta);
        std::optional<std::string> err = j.first_error();
        if (!err && s.forced()) err = "The server is shutting down.";
        if (err) {
            j.abort_all();
            const std::string pending = std::exchange(out, std::string());
            if (!pending.empty() && !co_await s.send_chunk(pending)) co_return;
            const api_error e = s.forced() ? error_shutting_down() : error_internal(*err);
            co_await s.send_error(e);  // an SSE event now
            co_return;
        }
        if (!out.empty() && !co_await s.send_chunk(std::exchange(out, std::string()))) co_return j.abort_all();
        if (j.all_finished()) break;
        if (s.client_gone()) co_return j.abort_all();
        const auto deadline = j.any_token ? clock_type::now() + std::chrono::hours(1)
                                          : clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                                    std::chrono::duration<double>(ping));
        if (!co_await s.wake().wait_until(deadline) && !j.any_token) out += sse_ping();
    }
    if (meta.include_usage) out += sse_data(chunk_usage(meta, j.n_prompt, j.n_generated(), j.n_prompt_cached()));
    out += sse_done();
    if (co_await s.send_chunk(out)) co_await s.send_sse_end();
}

}  // namespace

std::vector<std::vector<int32_t>> build_prompts(const served_model& b, const generation_request& g) {
    if (!g.chat) {
        std::vector<std::vector<int32_t>> out;
        for (const prompt_input& p : g.prompts)
            out.push_back(p.is_tokens ? p.tokens : b.codec->encode(p.text, true, true));
        return out;
    }
    const std::string text = chat_prompt_build(b.render_chat, b.caps, b.vocab, g, b.chat_template_kwargs, b.chat_now());
    return {b.codec->encode(text, b.vocab.add_bos, true)};
}

net::awaitable<void> run_generation(server_state& st, http_session& s, served_model& b, generation_request g) {
    // 429 before any tokenizing work: the engine's queue is already full.
    if (b.eng->queue_full()) throw api_exception{error_queue_full(1)};
    const std::vector<std::vector<int32_t>> prompts = build_prompts(b, g);
    int64_t n_prompt = 0;
    for (const std::vector<int32_t>& prompt : prompts) n_prompt += static_cast<int64_t>(prompt.size());

    std::optional<output_setup> chat_out;
    if (g.chat) chat_out = chat_output_setup(b, st.cfg, g, prompts.front());
    // response_format or forced tool calls: the answers are generated under a grammar.
    g.grammar =
        answer_grammar(g, chat_out ? &chat_out->syntax : nullptr, chat_out ? chat_out->lead : gram::reasoning_lead{});
    job j{st, s, b, g, {}};
    j.n_prompt = n_prompt;
    std::vector<completion_params> requests = engine_requests(g, prompts);
    if (chat_out) {
        for (completion_params& p : requests) {
            p.shown_special = chat_out->shown_special;
            p.reasoning = chat_out->reasoning;
        }
    }
    submit_all(j, std::move(requests));
    if (chat_out)
        for (choice_run& c : j.choices) c.out.set_parser(chat_out->syntax, chat_out->opts);
    if (g.echo && !g.chat) {
        // Each prompt's text once (token-id prompts decoded), then given to its n choices.
        for (size_t p = 0; p < g.prompts.size(); ++p) {
            const prompt_input& in = g.prompts[p];
            const std::string text = in.is_tokens ? b.codec->decode(in.tokens) : in.text;
            for (int32_t i = 0; i < g.n; ++i)
                j.choices[p * static_cast<size_t>(g.n) + static_cast<size_t>(i)].out.set_prefix(text);
        }
    }
    const response_meta meta{response_id(st, g.chat), b.model_name, static_cast<int64_t>(std::time(nullptr)), g.chat,
                             g.stream && g.include_usage};
    std::exception_ptr failure;
    try {
        if (g.stream)
            co_await reply_stream(j, meta);
        else
            co_await reply_whole(j, meta);
    } catch (...) {
        failure = std::current_exception();
    }
    j.abort_all();
    for (choice_run& c : j.choices) c.stream->set_notify({});
    // Whatever the outcome (a stopped stream too): the tokens the engine produced for this request.
    st.metrics.add_tokens(j.n_prompt, j.n_generated());
    if (failure) std::rethrow_exception(failure);
}

}  // namespace tandem
