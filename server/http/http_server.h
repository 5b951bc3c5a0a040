// The HTTP server as an in-process object (tests and e2e harnesses use it directly; `serve()` wraps
// it with signal handling and model loading). Listener and sessions run on 1-2 I/O threads.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/chat/chat_prompt.h"
#include "server/http/server_config.h"

namespace tandem {

// What the routes need once the model is loaded.
struct served_model {
    std::unique_ptr<engine> eng;
    const text_codec* codec = nullptr;  // eng's
    // Renders the chat template with a context (server/chat/chat_prompt.h builds it); throws
    // tandem::error on a template error (a 400 for that request).
    std::function<std::string(const nlohmann::ordered_json& ctx)> render_chat;
    chat_template_caps caps;               // what the template renders (probed at load)
    chat_vocab vocab;                      // bos/eos texts and whether encoding adds BOS
    nlohmann::json chat_template_kwargs;   // the server's defaults (--chat-template-kwargs), or null
    std::optional<std::time_t> chat_time;  // --chat-template-date: the "now" templates see; unset: the clock
    std::string model_name;                // shown to clients (the alias if set)
    int32_t n_ctx = 0;                     // per-sequence context
    std::string chat_template;             // the template source in force (GET /props)
    std::string chat_template_origin;      // where it came from: "file", "model" or "fallback"

    // The "now" a chat request's prompt is rendered at (render_chat's strftime_now reads chat_time
    // itself).
    std::time_t chat_now() const { return chat_time.value_or(std::time(nullptr)); }
};

struct server_state;

class http_server {
  public:
    explicit http_server(server_config cfg);
    ~http_server();  // stops if still running

    // Binds host:port and starts the I/O threads; throws tandem::error if binding fails.
    void start();
    uint16_t port() const;  // the bound port (useful with port 0)
    // The I/O threads' executor, for short periodic work (systemd notifications); valid until stop().
    boost::asio::any_io_executor executor() const;

    // Installs the loaded model (any thread, once): /health turns 200 and the API routes open.
    void set_model(served_model model);

    // Stops accepting, closes idle connections, lets in-flight requests run up to drain_timeout, then
    // ends the rest (SSE streams get an error event), shuts the engine down and joins the threads.
    void stop();

    // Routes SIGINT/SIGTERM to request_stop() (after start; idempotent).
    void handle_signals();
    // Blocks until SIGINT or SIGTERM arrives (or request_stop() is called); calls handle_signals().
    void wait_for_signal();
    void request_stop();
    bool stop_requested() const;  // SIGINT/SIGTERM arrived or request_stop() was called

  private:
    std::unique_ptr<server_state> st_;
};

}  // namespace tandem
