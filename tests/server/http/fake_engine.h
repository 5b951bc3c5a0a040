// Test doubles for the HTTP layer: a byte-level codec with a few multi-byte tokens, and an engine that
// emits scripted tokens from a worker thread (optional prefill delay and per-token delay), honours
// abort and stop strings (with the engine's own text_stream), and records what was submitted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "engine/tokenizer/text_stream.h"
#include "server/http/http_server.h"

namespace tandem::test {

// Ids: 0 "<s>" (BOS), 1 "</s>" (EOS, end of generation), 2..257 the bytes 0..255, then the words below.
class fake_codec final : public text_codec {
  public:
    static constexpr int32_t bos = 0, eos = 1, byte0 = 2;
    static const std::vector<std::string>& words();  // ids 258...
    static int32_t byte_id(unsigned char c) { return byte0 + c; }
    static int32_t word_id(const std::string& w);

    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override;
    std::string token_piece(int32_t id) const override;
    std::string token_text(int32_t id) const override;
    std::string decode(std::span<const int32_t> ids) const override;
    int32_t bos_id() const override { return bos; }
    int32_t eos_id() const override { return eos; }
    bool is_eog(int32_t id) const override { return id == eos; }
    int32_t n_vocab() const override { return byte0 + 256 + static_cast<int32_t>(words().size()); }
};

// Tokens spelling `text` byte by byte (so multi-byte characters are split across tokens).
std::vector<int32_t> byte_tokens(std::string_view text);

struct fake_script {
    std::vector<int32_t> tokens;                // emitted in order (the same for every request)
    finish_reason end = finish_reason::length;  // how the request ends after the last token
    std::chrono::milliseconds prefill{0};       // before the first token
    std::chrono::milliseconds per_token{0};
    bool hang = false;  // never end by itself (only abort ends it)
};

class fake_engine final : public engine {
  public:
    explicit fake_engine(fake_script script, int32_t n_ctx = 64);
    ~fake_engine() override;

    const text_codec& codec() const override { return codec_; }
    const model_summary& summary() const override { return summary_; }
    submit_result submit(completion_params params) override;
    bool queue_full() const override { return queue_full_.load(); }
    void abort(uint64_t request_id) override;
    engine_metrics metrics() const override;
    std::chrono::steady_clock::time_point heartbeat() const override {  // an hour old while wedged
        return std::chrono::steady_clock::now() - (wedged_.load() ? std::chrono::hours(1) : std::chrono::hours(0));
    }
    void shutdown() override;
    std::optional<std::string> failure() const override {  // "device lost" once failed_ is set
        return failed_.load() ? std::optional<std::string>("device lost") : std::nullopt;
    }

    std::atomic<bool> queue_full_{false};
    std::atomic<bool> failed_{false};  // the engine stopped by itself (as after a lost device)
    std::atomic<bool> wedged_{false};  // the engine loop stops going round (its heartbeat goes stale)
    std::vector<completion_params> submitted() const;
    std::vector<uint64_t> aborted() const;
    int64_t n_active() const;

  private:
    struct active {
        std::shared_ptr<request_stream> stream;
        std::chrono::steady_clock::time_point next;
        size_t pos = 0;
        bool aborted = false;
        text_stream text;  // as the real engine: the events' text, cut at the request's stop strings
    };
    void loop();

    fake_script script_;
    fake_codec codec_;
    model_summary summary_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<uint64_t, active> active_;
    std::vector<completion_params> submitted_;
    std::vector<uint64_t> aborted_;
    uint64_t next_id_ = 1;
    bool stop_ = false;
    std::thread worker_;
};

// A backend for http_server: the fake engine (borrowed pointer returned through `eng_out`), the fake
// codec and a tiny ChatML renderer written out by hand.
served_model fake_model(fake_script script, fake_engine** eng_out, int32_t n_ctx = 64);

}  // namespace tandem::test
