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
#include "server/http/metrics.h"

namespace tandem {

class http_session;

struct server_state {
    explicit server_state(server_config c) : cfg(std::move(c)) {}

    const server_config cfg;
    server_metrics metrics;
    boost::asio::io_context ioc;
    std::optional<boost::asio::ip::tcp::acceptor> acceptor;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    uint16_t bound_port = 0;

    // The model: published once by set_model, read lock-free by the routes.
    std::unique_ptr<served_model> model_owner;
    std::atomic<served_model*> model{nullptr};

    std::atomic<bool> stopping{false};  // no new connections or requests
    std::atomic<bool> forcing{false};   // the drain timed out: end what still runs
    std::atomic<int> n_connections{0};
    std::atomic<int> n_busy{0};  // requests being handled
    std::atomic<uint64_t> next_id{1};

    std::mutex sessions_mu;
    std::list<std::weak_ptr<http_session>> sessions;

    std::mutex stop_mu;
    std::condition_variable stop_cv;
    bool stop_requested = false;
    std::optional<boost::asio::signal_set> signals;

    void add_session(const std::shared_ptr<http_session>& s);
    // Calls fn for each live session (fn must only post to the session's strand).
    void for_each_session(const std::function<void(const std::shared_ptr<http_session>&)>& fn);
};

// listener.cpp: accepts until the acceptor closes.
void listener_start(server_state& st);

}  // namespace tandem
