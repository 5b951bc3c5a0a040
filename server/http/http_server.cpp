// http_server: binds, runs the I/O threads, publishes the model, and drains on stop (finish in-flight
// requests up to drain_timeout, then end the rest and shut the engine down).
#include "server/http/http_server.h"

#include <future>

#include <csignal>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/check.h"
#include "common/error.h"
#include "server/http/http_session.h"
#include "server/http/server_state.h"

namespace tandem {

namespace net = boost::asio;
using tcp = net::ip::tcp;

void server_state::add_session(const std::shared_ptr<http_session>& s) {
    std::lock_guard lock(sessions_mu);
    sessions.remove_if([](const std::weak_ptr<http_session>& w) { return w.expired(); });
    sessions.push_back(s);
}

void server_state::for_each_session(const std::function<void(const std::shared_ptr<http_session>&)>& fn) {
    std::lock_guard lock(sessions_mu);
    for (const auto& w : sessions)
        if (auto s = w.lock()) fn(s);
}

server_state::server_state(server_config c) : cfg(std::move(c)) {
    limits_.idle_timeout = cfg.idle_timeout;
    limits_.read_timeout = cfg.read_timeout;
    limits_.write_timeout = cfg.write_timeout;
    limits_.max_body_bytes = cfg.max_body_bytes;
    limits_.max_header_bytes = cfg.max_header_bytes;
    limits_.max_header_fields = cfg.max_header_fields;
    if (cfg.webui) webui = cfg.webui_path.empty() ? static_site::embedded() : static_site::directory(cfg.webui_path);
}

http_server::http_server(server_config cfg) : st_(std::make_unique<server_state>(std::move(cfg))) {}

http_server::~http_server() {
    try {
        stop();
    } catch (const std::exception& e) {
        spdlog::error("http: stopping failed: {}", e.what());
    }
}

namespace {

tcp::endpoint resolve_endpoint(net::io_context& ioc, const std::string& host, int32_t port) {
    boost::system::error_code ec;
    const net::ip::address addr = net::ip::make_address(host, ec);
    if (!ec) return {addr, static_cast<uint16_t>(port)};
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) throw error("http: cannot resolve host '" + host + "': " + ec.message());
    return results.begin()->endpoint();
}

}  // namespace

void http_server::start() {
    server_state& st = *st_;
    const tcp::endpoint ep = resolve_endpoint(st.ioc, st.cfg.host, st.cfg.port);
    boost::system::error_code ec;
    st.acceptor.emplace(st.ioc);
    st.acceptor->open(ep.protocol(), ec);
    if (!ec) st.acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) st.acceptor->bind(ep, ec);
    if (!ec) st.acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw error("http: cannot listen on " + st.cfg.host + ":" + std::to_string(st.cfg.port) + ": " + ec.message());
    st.bound_port = st.acceptor->local_endpoint().port();
    st.work.emplace(st.ioc.get_executor());
    listener_start(st);
    for (int32_t i = 0; i < st.cfg.io_threads; ++i) st.threads.emplace_back([&st] { st.ioc.run(); });
}

uint16_t http_server::port() const {
    return st_->bound_port;
}

boost::asio::any_io_executor http_server::executor() const {
    return st_->ioc.get_executor();
}

void http_server::set_model(served_model model) {
    TANDEM_CHECK(st_->model.load() == nullptr);
    st_->model_owner = std::make_unique<served_model>(std::move(model));
    st_->model.store(st_->model_owner.get());
}

void http_server::request_stop() {
    std::lock_guard lock(st_->stop_mu);
    st_->stop_requested = true;
    st_->stop_cv.notify_all();
}

bool http_server::stop_requested() const {
    std::lock_guard lock(st_->stop_mu);
    return st_->stop_requested;
}

void http_server::handle_signals() {
    server_state& st = *st_;
    std::lock_guard lock(st.stop_mu);
    if (st.signals) return;
    st.signals.emplace(st.ioc, SIGINT, SIGTERM);
    st.signals->async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("http: signal {} received, draining", sig);
        request_stop();
    });
}

void http_server::wait_for_signal() {
    server_state& st = *st_;
    handle_signals();
    std::unique_lock lock(st.stop_mu);
    st.stop_cv.wait(lock, [&] { return st.stop_requested; });
}

namespace {

// Waits (polling, at shutdown only) until no request is being handled or the deadline passes.
bool wait_idle(server_state& st, std::chrono::steady_clock::time_point deadline) {
    while (st.n_busy.load() > 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

}  // namespace

void http_server::stop() {
    server_state& st = *st_;
    if (st.threads.empty()) return;
    st.stopping_ = true;
    // Close the listener on its own thread and wait for it, so no connection is accepted after stop().
    std::promise<void> closed;
    net::post(st.ioc, [&st, &closed] {
        boost::system::error_code ec;
        if (st.acceptor) st.acceptor->close(ec);
        if (st.signals) st.signals->cancel(ec);
        closed.set_value();
    });
    closed.get_future().wait();
    st.for_each_session([](const auto& s) { net::post(s->strand(), [s] { s->on_server_stop(); }); });
    const auto drain = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(st.cfg.drain_timeout));
    if (!wait_idle(st, std::chrono::steady_clock::now() + drain)) {
        spdlog::warn("http: drain timeout: ending {} request(s) still running", st.n_busy.load());
    }
    st.forcing_ = true;
    st.for_each_session([](const auto& s) { net::post(s->strand(), [s] { s->on_server_force(); }); });
    wait_idle(st, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    if (served_model* b = st.model.load()) b->eng->shutdown();
    wait_idle(st, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    st.work.reset();
    st.ioc.stop();
    for (std::thread& t : st.threads) t.join();
    st.threads.clear();
}

}  // namespace tandem
