// serve(): the daemon around http_server: log the configuration, listen, load the model (503 until
// then), wait for SIGINT/SIGTERM, drain, exit 0. Also builds the model backend (codec + chat template).
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/http/server.h"
#include "server/jinja/template.h"

namespace tandem {

namespace {

class tokenizer_codec final : public text_codec {
  public:
    explicit tokenizer_codec(const tokenizer& tok) : tok_(tok) {}
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
        return tok_.encode(std::string(text), add_special, parse_special);
    }
    std::string token_piece(int32_t id) const override { return std::string(tok_.token_piece(id)); }
    std::string token_text(int32_t id) const override { return std::string(tok_.token_text(id)); }
    int32_t bos_id() const override { return static_cast<int32_t>(tok_.bos_id()); }
    int32_t eos_id() const override { return static_cast<int32_t>(tok_.eos_id()); }
    bool is_eog(int32_t id) const override { return tok_.is_eog(id); }
    int32_t n_vocab() const override { return static_cast<int32_t>(tok_.n_vocab()); }

  private:
    const tokenizer& tok_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error("configuration: cannot read chat_template_file '" + path + "'");
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

// The chat template: --chat-template-file, else the model's, else ChatML (with a warning).
std::shared_ptr<jinja::chat_template> load_template(const server_config& cfg, const model_summary& sum) {
    if (!cfg.chat_template_file.empty()) {
        try {
            return std::make_shared<jinja::chat_template>(read_file(cfg.chat_template_file));
        } catch (const error& e) {
            throw error("chat_template_file '" + cfg.chat_template_file + "': " + e.what());
        }
    }
    if (!sum.chat_template.empty()) {
        try {
            return std::make_shared<jinja::chat_template>(sum.chat_template);
        } catch (const error& e) {
            spdlog::warn("the model's chat template does not parse ({}); using ChatML", e.what());
        }
    } else {
        spdlog::warn("the model has no chat template; using ChatML");
    }
    return std::make_shared<jinja::chat_template>(jinja::chatml_source());
}

model_backend make_backend(const server_config& cfg, std::unique_ptr<engine> eng) {
    model_backend b;
    const model_summary& sum = eng->summary();
    b.codec = text_codec_of(eng->tok());
    auto tmpl = load_template(cfg, sum);
    auto mu = std::make_shared<std::mutex>();
    b.render_chat = [tmpl, mu](const nlohmann::json& ctx) {
        std::lock_guard lock(*mu);
        return tmpl->render(ctx);
    };
    b.model_name = cfg.alias.empty() ? sum.name : cfg.alias;
    b.n_ctx = sum.n_ctx;
    b.eng = std::move(eng);
    return b;
}

}  // namespace

std::unique_ptr<text_codec> text_codec_of(const tokenizer& tok) {
    return std::make_unique<tokenizer_codec>(tok);
}

int serve(const server_config& cfg, std::function<std::unique_ptr<engine>(const engine_config&)> make_engine) {
    spdlog::info("tandem serve: {}", server_config_describe(cfg));
    http_server srv(cfg);
    try {
        srv.start();
    } catch (const error& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    spdlog::info("listening on http://{}:{} (loading the model)", cfg.host, srv.port());
    srv.handle_signals();
    std::thread signals([&srv] { srv.wait_for_signal(); });
    try {
        srv.set_backend(make_backend(cfg, make_engine(server_config_engine(cfg))));
    } catch (const std::exception& e) {
        spdlog::error("loading the model failed: {}", e.what());
        srv.request_stop();
        signals.join();
        srv.stop();
        return 1;
    }
    spdlog::info("model loaded; ready");
    signals.join();
    srv.stop();
    spdlog::info("stopped");
    return 0;
}

}  // namespace tandem
