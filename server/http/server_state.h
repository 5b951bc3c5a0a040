// State shared by the listener, every session and the routes: configuration, metrics, the loaded
// model (published once), the stop/force flags and the registry of live sessions. Internal header.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>  // before Boost 1.74 asio/awaitable.hpp, which uses std::exchange without it
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include "server/http/http_server.h"
#include "server/http/http_session.h"
#include "server/http/metrics.h"
#include "server/http/static_files.h"

namespace tandem {

// Sessions see it as their host (the route table answers their requests: routes_openai.cpp).
struct server_state final : session_host {
    explicit server_state(server_config c);

    const session_limits& limits() const override { return limits_; }
    bool stopping() const override { return stopping_.load(); }
    bool forcing() const override { return forcing_.load(); }
    boost::asio::awaitable<void> handle(http_session& s, const http_request& req) override;
    void on_response(int status) override { metrics.count_request(status); }
    void on_request(bool started) override { n_busy += started ? 1 : -1; }
    void on_session_closed() override { --n_connections; }

    const server_config cfg;
    server_metrics metrics;
    std::optional<static_site> webui;  // empty with --no-webui
    boost::asio::io_context ioc;
    std::optional<boost::asio::ip::tcp::acceptor> acceptor;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    uint16_t bound_port = 0;

    // The model: published once by set_model, read lock-free by the routes.
    std::unique_ptr<served_model> model_owner;
    std::atomic<served_model*> model{nullptr};

    std::atomic<bool> stopping_{false};  // no new connections or requests
    std::atomic<bool> forcing_{false};   // the drain timed out: end what still runs
    std::atomic<int> n_connections{0};
    std::atomic<int> n_busy{0};  // requests being handled
    std::atomic<uint64_t> next_id{1};

    std::mutex sessions_mu;
    std::list<std::weak_ptr<http_session>> sessions;

    std::mutex stop_mu;
    std::condition_variable stop_cv;
    bool stop_requested = false;
    std::optional<boost::asio::signal_set> signals;

    session_limits limits_;

    void add_session(const std::shared_ptr<http_session>& s);
    // Calls fn for each live session (fn must only post to the session's strand).
    void for_each_session(const std::function<void(const std::shared_ptr<http_session>&)>& fn);
};

// listener.cpp: accepts until the acceptor closes.
void listener_start(server_state& st);

}  // namespace tandem
