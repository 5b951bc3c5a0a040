// The fake engine and codec used by the HTTP tests (no model, no tokenizer files).
#include "tests/server/http/fake_engine.h"

#include <cstdlib>

#include "common/error.h"

namespace tandem::test {

const std::vector<std::string>& fake_codec::words() {
    static const std::vector<std::string> w = {"<|im_start|>", "<|im_end|>", "Hello", " world", "STOP"};
    return w;
}

int32_t fake_codec::word_id(const std::string& w) {
    const auto& all = words();
    for (size_t i = 0; i < all.size(); ++i)
        if (all[i] == w) return byte0 + 256 + static_cast<int32_t>(i);
    std::abort();
}

std::vector<int32_t> fake_codec::encode(std::string_view text, bool add_special, bool parse_special) const {
    std::vector<int32_t> out;
    if (add_special) out.push_back(bos);
    for (size_t i = 0; i < text.size();) {
        bool matched = false;
        if (parse_special && (text.substr(i).starts_with("<s>") || text.substr(i).starts_with("</s>"))) {
            const bool open = text.substr(i).starts_with("<s>");
            out.push_back(open ? bos : eos);
            i += open ? 3 : 4;
            continue;
        }
        for (size_t w = 0; w < words().size() && parse_special; ++w) {
            if (text.substr(i).starts_with(words()[w])) {
                out.push_back(byte0 + 256 + static_cast<int32_t>(w));
                i += words()[w].size();
                matched = true;
                break;
            }
        }
        if (!matched) out.push_back(byte_id(static_cast<unsigned char>(text[i++])));
    }
    return out;
}

std::string fake_codec::token_piece(int32_t id) const {
    if (id == bos || id == eos) return "";
    if (id >= byte0 && id < byte0 + 256) return std::string(1, static_cast<char>(id - byte0));
    const size_t w = static_cast<size_t>(id - byte0 - 256);
    return w < words().size() ? words()[w] : "";
}

std::string fake_codec::token_text(int32_t id) const {
    if (id == bos) return "<s>";
    if (id == eos) return "</s>";
    return token_piece(id);
}

std::string fake_codec::decode(std::span<const int32_t> ids) const {
    utf8_stream utf8;
    std::string text;
    for (int32_t id : ids) text += utf8.push(token_piece(id));
    return text + utf8.flush();
}

std::vector<int32_t> byte_tokens(std::string_view text) {
    std::vector<int32_t> out;
    for (unsigned char c : text) out.push_back(fake_codec::byte_id(c));
    return out;
}

fake_engine::fake_engine(fake_script script, int32_t n_ctx) : script_(std::move(script)) {
    summary_.name = "fake-model";
    summary_.architecture = "fake";
    summary_.n_ctx = n_ctx;
    summary_.n_vocab = fake_codec().n_vocab();
    worker_ = std::thread([this] { loop(); });
}

fake_engine::~fake_engine() {
    shutdown();
}

submit_result fake_engine::submit(completion_params params) {
    if (std::optional<request_refusal> r = check(params)) return {nullptr, r};
    std::lock_guard lock(mu_);
    if (stop_) return {nullptr, request_refusal{submit_error::stopping, "", "stopping"}};
    if (queue_full_) return {nullptr, request_refusal{submit_error::queue_full, "", "queue full"}};
    const uint64_t id = next_id_++;
    auto stream = std::make_shared<request_stream>(id, 64);
    active_[id] =
        active{stream, std::chrono::steady_clock::now() + script_.prefill, 0, false, text_stream(params.stop)};
    submitted_.push_back(std::move(params));
    cv_.notify_all();
    return {stream, std::nullopt};
}

void fake_engine::abort(uint64_t request_id) {
    std::lock_guard lock(mu_);
    aborted_.push_back(request_id);
    auto it = active_.find(request_id);
    if (it != active_.end()) it->second.aborted = true;
    cv_.notify_all();
}

engine_metrics fake_engine::metrics() const {
    std::lock_guard lock(mu_);
    engine_metrics m;
    m.n_running = static_cast<int64_t>(active_.size());
    m.kv_blocks_total = 100;
    m.kv_blocks_used = 7;
    m.prefix_cache_hit_tokens = 3;
    return m;
}

std::vector<completion_params> fake_engine::submitted() const {
    std::lock_guard lock(mu_);
    return submitted_;
}

std::vector<uint64_t> fake_engine::aborted() const {
    std::lock_guard lock(mu_);
    return aborted_;
}

int64_t fake_engine::n_active() const {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(active_.size());
}

void fake_engine::shutdown() {
    {
        std::lock_guard lock(mu_);
        if (stop_) return;
        stop_ = true;
        for (auto& [id, a] : active_) a.aborted = true;
        cv_.notify_all();
    }
    worker_.join();
}

// One step per due request: the next token, or the end event.
void fake_engine::loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        auto wake = now + std::chrono::milliseconds(50);
        for (auto it = active_.begin(); it != active_.end();) {
            active& a = it->second;
            stream_event ev;
            if (a.aborted) {
                ev.what = stream_event::kind::done;
                ev.reason = finish_reason::aborted;
            } else if (a.next > now) {
                wake = std::min(wake, a.next);
                ++it;
                continue;
            } else if (a.pos < script_.tokens.size() && !a.text.stopped()) {
                ev.token = script_.tokens[a.pos++];
                if (!codec_.is_eog(ev.token)) ev.text = a.text.push(codec_.token_piece(ev.token));
                ev.logprob = -0.5f;
                ev.top = {{ev.token, -0.5f}, {fake_codec::byte_id('z'), -2.0f}};
                a.next = now + script_.per_token;
                wake = std::min(wake, a.next);
            } else if (script_.hang && !a.text.stopped()) {
                ++it;
                continue;
            } else {
                ev.what = stream_event::kind::done;
                ev.reason = a.text.stopped() ? finish_reason::stop : script_.end;
                ev.text = a.text.finish();
                ev.n_generated = static_cast<int32_t>(a.pos);
            }
            const bool done = ev.what == stream_event::kind::done;
            auto stream = a.stream;
            if (done)
                it = active_.erase(it);
            else
                ++it;
            lock.unlock();
            stream->push(std::move(ev));
            lock.lock();
            if (!done) it = active_.upper_bound(stream->id());
        }
        if (stop_ && active_.empty()) return;
        cv_.wait_until(lock, wake);
    }
}

served_model fake_model(fake_script script, fake_engine** eng_out, int32_t n_ctx) {
    served_model b;
    auto eng = std::make_unique<fake_engine>(std::move(script), n_ctx);
    if (eng_out) *eng_out = eng.get();
    b.eng = std::move(eng);
    b.codec = &b.eng->codec();
    b.render_chat = [](const nlohmann::ordered_json& ctx) {
        std::string out = ctx.at("bos_token").get<std::string>();
        for (const auto& m : ctx.at("messages")) {
            if (m.at("role") == "tool") throw error("this template does not know the tool role");
            out += "<|im_start|>" + m.at("role").get<std::string>() + "\n" +
                   (m.at("content").is_null() ? "" : m.at("content").get<std::string>()) + "<|im_end|>\n";
        }
        if (ctx.at("add_generation_prompt").get<bool>()) out += "<|im_start|>assistant\n";
        return out;
    };
    b.caps.system_role = true;                   // as the template above: system messages stay as they are
    b.vocab = chat_vocab{"<s>", "</s>", false};  // the template prints bos_token itself
    b.model_name = "fake-model";
    b.n_ctx = n_ctx;
    return b;
}

}  // namespace tandem::test
