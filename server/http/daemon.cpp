// serve(): the daemon around http_server: log the configuration, listen, load the model (503 until
// then; systemd hears READY=1 only after), wait for SIGINT/SIGTERM, drain, exit 0 (or exit 1 after
// the engine stopped by itself: a lost device). Also builds the served model (engine + chat template).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "server/http/http_server.h"
#include "server/http/sd_notify.h"
#include "server/jinja/template.h"

namespace tandem {

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error("configuration: cannot read chat_template_file '" + path + "'");
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

struct loaded_template {
    std::shared_ptr<jinja::chat_template> tmpl;
    std::string origin;  // "file", "model" or "fallback"
};

// The chat template: --chat-template-file, else the model's, else ChatML (with a warning).
loaded_template load_template(const server_config& cfg, const model_summary& sum) {
    if (!cfg.chat_template_file.empty()) {
        try {
            return {std::make_shared<jinja::chat_template>(read_file(cfg.chat_template_file)), "file"};
        } catch (const error& e) {
            throw error("chat_template_file '" + cfg.chat_template_file + "': " + e.what());
        }
    }
    if (!sum.chat_template.empty()) {
        try {
            return {std::make_shared<jinja::chat_template>(sum.chat_template), "model"};
        } catch (const error& e) {
            spdlog::warn("the model's chat template does not parse ({}); using ChatML", e.what());
        }
    } else {
        spdlog::warn("the model has no chat template; using ChatML");
    }
    return {std::make_shared<jinja::chat_template>(jinja::chatml_source()), "fallback"};
}

// The vocabulary's side of chat prompts: BOS/EOS texts, and whether encoding adds BOS (the file's
// tokenizer.ggml.add_bos_token, as the codec applies it).
chat_vocab vocab_of(const text_codec& c) {
    chat_vocab v;
    if (c.bos_id() >= 0) v.bos_text = c.token_text(c.bos_id());
    if (c.eos_id() >= 0) v.eos_text = c.token_text(c.eos_id());
    const std::vector<int32_t> empty = c.encode("", true, false);
    v.add_bos = c.bos_id() >= 0 && !empty.empty() && empty.front() == c.bos_id();
    return v;
}

served_model make_served_model(const server_config& cfg, std::unique_ptr<engine> eng) {
    served_model b;
    const model_summary& sum = eng->summary();
    b.codec = &eng->codec();
    auto [tmpl, origin] = load_template(cfg, sum);
    auto mu = std::make_shared<std::mutex>();
    if (!cfg.chat_template_date.empty()) b.chat_time = parse_local_time("chat_template_date", cfg.chat_template_date);
    jinja::render_options options;
    options.now = b.chat_time;
    b.render_chat = [tmpl, mu, options](const nlohmann::ordered_json& ctx) {
        std::lock_guard lock(*mu);
        return tmpl->render(ctx, options);
    };
    b.caps = chat_template_detect(b.render_chat);
    b.vocab = vocab_of(*b.codec);
    b.chat_template = tmpl->source();
    b.chat_template_origin = origin;
    if (!cfg.chat_template_kwargs.empty()) b.chat_template_kwargs = nlohmann::json::parse(cfg.chat_template_kwargs);
    spdlog::info("chat template: {} ({}); {}; BOS {}", origin, chat_template_caps_json(b.caps).dump(),
                 b.vocab.add_bos ? "added by the tokenizer" : "not added", b.vocab.bos_text);
    b.model_name = cfg.alias.empty() ? sum.name : cfg.alias;
    b.n_ctx = sum.n_ctx;
    b.eng = std::move(eng);
    return b;
}

}  // namespace

int serve(const server_config& cfg, std::function<std::unique_ptr<engine>(const engine_config&)> make_engine) {
    using namespace std::chrono_literals;
    systemd_notifier notify;  // a no-op outside systemd (no NOTIFY_SOCKET)
    spdlog::info("tandem serve: {}", server_config_describe(cfg));
    http_server srv(cfg);
    try {
        srv.start();
    } catch (const error& e) {
        spdlog::error("{}", e.what());
        notify.status(std::string("failed: ") + e.what());
        return 1;
    }
    const std::string url = "http://" + cfg.host + ":" + std::to_string(srv.port());
    spdlog::info("listening on {} (loading the model){}", url, cfg.webui ? "; web UI at /" : "");
    srv.handle_signals();
    std::thread signals([&srv] { srv.wait_for_signal(); });

    // While the model loads, systemd hears how long it has taken and extends the start timeout.
    const std::string model_file = std::filesystem::path(cfg.model_path).filename().string();
    startup_extender extender(notify, model_file, 5s, 30min, std::chrono::steady_clock::now());
    // A stop asked for while loading is not extended: TimeoutStopSec holds.
    periodic_timer load_ticks(srv.executor(), 5s, [&extender, &srv](steady_time now) {
        if (!srv.stop_requested()) extender.tick(now);
    });
    if (notify.enabled()) {
        // The first status goes out here, not from the timer: its first tick is posted to an I/O thread,
        // and a model that loads before that thread runs (stories260K in ~13 ms on a busy machine) would
        // reach READY=1 with no loading status at all.
        extender.tick(std::chrono::steady_clock::now());
        load_ticks.start();
    }
    engine* eng = nullptr;
    try {
        std::unique_ptr<engine> loaded = make_engine(server_config_engine(cfg));
        eng = loaded.get();
        srv.set_model(make_served_model(cfg, std::move(loaded)));
    } catch (const std::exception& e) {
        load_ticks.stop();
        spdlog::error("loading the model failed: {}", e.what());
        notify.status(std::string("loading the model failed: ") + e.what());
        srv.request_stop();
        signals.join();
        srv.stop();
        return 1;
    }
    load_ticks.stop();
    spdlog::info("model loaded; ready");
    if (!srv.stop_requested()) notify.ready("serving " + model_file + " on " + url);

    // The watchdog hears from the engine loop: a wedged engine stops the pings and systemd restarts us.
    std::optional<watchdog_pinger> pinger;
    std::optional<periodic_timer> watchdog_ticks;
    if (const auto interval = notify.watchdog_interval()) {
        pinger.emplace(notify, *interval,
                       [eng, interval] { return std::chrono::steady_clock::now() - eng->heartbeat() < *interval; });
        watchdog_ticks.emplace(srv.executor(), pinger->period(), [&pinger](steady_time now) { pinger->tick(now); });
        watchdog_ticks->start();
    }
    // An engine that stopped by itself (a lost device: tandem::device_lost) has ended every request
    // with an error; the daemon stops too, exiting 1 so that systemd (Restart=on-failure) starts a
    // fresh process, with a fresh device, rather than serving 503s for ever.
    std::atomic<bool> failed{false};
    periodic_timer failure_ticks(srv.executor(), 200ms, [eng, &failed, &notify, &srv](steady_time) {
        if (failed.load()) return;
        if (const std::optional<std::string> why = eng->failure()) {
            failed.store(true);
            spdlog::critical("the engine stopped: {}; the server exits with status 1 to be restarted", *why);
            notify.status("failed: " + *why);
            srv.request_stop();
        }
    });
    failure_ticks.start();
    signals.join();
    failure_ticks.stop();
    notify.stopping("draining: in-flight requests get up to " + std::to_string(static_cast<int>(cfg.drain_timeout)) +
                    " s");
    // The drain, then up to 4 s to end the rest and stop the engine: a drain_timeout longer than the
    // unit's TimeoutStopSec is announced rather than cut short by SIGKILL.
    notify.extend_timeout(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(cfg.drain_timeout + 10)));
    srv.stop();  // the engine keeps its heartbeat while it drains, so the watchdog pings on until here
    if (watchdog_ticks) watchdog_ticks->stop();
    spdlog::info("stopped");
    return failed.load() ? 1 : 0;
}

}  // namespace tandem
