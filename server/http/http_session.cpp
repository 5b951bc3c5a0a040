// The per-connection coroutine: keep-alive loop, header/body limits (431/413 before the body is
// read), read timeouts (408), deadlines on writes, the disconnect watchdog, and response writers.
#include "server/http/http_session.h"

#include <limits>

#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "server/http/auth.h"
#include "server/http/routes.h"
#include "server/http/server_state.h"

namespace tandem {

namespace net = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using net::redirect_error;
using net::use_awaitable;

namespace {

constexpr size_t watch_limit = 64 * 1024;  // pipelined bytes buffered while a request runs

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

http_session::http_session(server_state& st, net::ip::tcp::socket socket)
    : st_(st),
      strand_(socket.get_executor()),
      socket_(std::move(socket)),
      timer_(strand_),
      wake_(strand_),
      watch_wake_(strand_) {}

http_session::~http_session() {
    --st_.n_connections;
}

void http_session::start() {
    net::co_spawn(
        strand_,
        [self = shared_from_this()]() -> net::awaitable<void> {
            try {
                co_await self->run();
            } catch (const std::exception& e) {
                spdlog::warn("http: session ended by an exception: {}", e.what());
            }
            self->close();
        },
        net::detached);
}

void http_session::arm(std::chrono::steady_clock::duration d) {
    const uint64_t gen = ++timer_gen_;
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait(net::bind_executor(strand_, [self = shared_from_this(), gen](error_code ec) {
        if (ec || gen != self->timer_gen_) return;
        self->timed_out_ = true;
        error_code ignored;
        self->socket_.cancel(ignored);
    }));
}

void http_session::disarm() {
    ++timer_gen_;
    timer_.cancel();
}

void http_session::close() {
    disarm();
    error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

void http_session::on_server_stop() {
    if (idle_) {
        error_code ec;
        socket_.cancel(ec);
    }
}

void http_session::on_server_force() {
    forced_ = true;
    wake_.notify();
    if (!busy_) {
        error_code ec;
        socket_.cancel(ec);
    }
}

std::function<void()> http_session::notifier() {
    return [weak = weak_from_this(), ex = strand_]() {
        net::post(ex, [weak]() {
            if (auto self = weak.lock()) self->wake_.notify();
        });
    };
}

net::awaitable<void> http_session::run() {
    while (!st_.stopping) {
        http_request req;
        if (!co_await read_request(req)) co_return;
        busy_ = true;
        ++st_.n_busy;
        client_gone_ = false;
        keep_alive_ = req.keep_alive();
        cors_origin_ = cors_allowed_origin(st_.cfg.cors_origins, std::string(req[http::field::origin]));
        co_await route_request(*this, req);
        co_await watch_stop();
        --st_.n_busy;
        busy_ = false;
        if (!keep_alive_ || st_.stopping || client_gone_ || forced_) co_return;
    }
}

net::awaitable<bool> http_session::read_request(http_request& req) {
    error_code ec;
    idle_ = true;
    if (buffer_.size() == 0) {  // wait for the first byte of the next request (keep-alive idle time)
        arm(seconds(st_.cfg.idle_timeout));
        const size_t n = co_await socket_.async_read_some(buffer_.prepare(4096), redirect_error(use_awaitable, ec));
        disarm();
        if (ec) co_return false;
        buffer_.commit(n);
    }
    idle_ = false;
    if (st_.stopping) co_return false;

    http::request_parser<http::empty_body> head;
    head.header_limit(static_cast<uint32_t>(std::min<int64_t>(st_.cfg.max_header_bytes, UINT32_MAX)));
    // Beast checks Content-Length against the parser's own 8 MB default while reading the header;
    // lift it so the 413 decision below is ours (from --max-body-bytes), not a parse error.
    head.body_limit(std::numeric_limits<std::uint64_t>::max());
    arm(seconds(st_.cfg.read_timeout));
    co_await http::async_read_header(socket_, buffer_, head, redirect_error(use_awaitable, ec));
    disarm();
    if (timed_out_)
        co_await send_early(408, "Timed out reading the request header.");
    else if (ec == http::error::header_limit)
        co_await send_early(431, "The request header is too large.");
    else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
        co_await send_early(400, "Malformed HTTP request.");
    if (ec) co_return false;

    const auto length = head.content_length();
    if (length && *length > static_cast<uint64_t>(st_.cfg.max_body_bytes)) {
        co_await send_early(413, "The request body exceeds " + std::to_string(st_.cfg.max_body_bytes) + " bytes.");
        co_return false;
    }
    if (beast::iequals(head.get()[http::field::expect], "100-continue")) {
        static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        arm(seconds(st_.cfg.write_timeout));
        co_await net::async_write(socket_, net::buffer(cont), redirect_error(use_awaitable, ec));
        disarm();
        if (ec) co_return false;
    }
    http::request_parser<http::string_body> body(std::move(head));
    body.body_limit(static_cast<uint64_t>(st_.cfg.max_body_bytes));
    arm(seconds(st_.cfg.read_timeout));
    co_await http::async_read(socket_, buffer_, body, redirect_error(use_awaitable, ec));
    disarm();
    if (timed_out_)
        co_await send_early(408, "Timed out reading the request body.");
    else if (ec == http::error::body_limit)
        co_await send_early(413, "The request body exceeds " + std::to_string(st_.cfg.max_body_bytes) + " bytes.");
    else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
        co_await send_early(400, "Malformed HTTP request.");
    if (ec) co_return false;
    req = body.release();
    co_return true;
}

net::awaitable<void> http_session::send_early(int status, const std::string& message) {
    api_error e{status, message, "invalid_request_error", std::nullopt, std::nullopt, 0};
    keep_alive_ = false;
    co_await send_error(e);
    co_await linger();
}

net::awaitable<void> http_session::linger() {
    // Half-close, then discard what the client still sends for a moment, so closing does not reset the
    // connection before the client has read the error.
    error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
    arm(std::chrono::milliseconds(500));
    std::array<char, 4096> sink;
    for (size_t total = 0; !ec && total < (1u << 20);)
        total += co_await socket_.async_read_some(net::buffer(sink), redirect_error(use_awaitable, ec));
    disarm();
}

net::awaitable<void> http_session::send(http_response res) {
    res.keep_alive(keep_alive_ && !st_.stopping);
    res.set(http::field::server, "tandem");
    if (cors_origin_) {
        res.set(http::field::access_control_allow_origin, *cors_origin_);
        res.set(http::field::vary, "Origin");
    }
    res.prepare_payload();
    st_.metrics.count_request(res.result_int());
    error_code ec;
    arm(seconds(st_.cfg.write_timeout));
    co_await http::async_write(socket_, res, redirect_error(use_awaitable, ec));
    disarm();
    if (ec) client_gone_ = true;
}

net::awaitable<void> http_session::send_error(const api_error& e) {
    http_response res{static_cast<http::status>(e.status), 11};
    res.set(http::field::content_type, "application/json");
    if (e.retry_after > 0) res.set(http::field::retry_after, std::to_string(e.retry_after));
    res.body() = api_error_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    co_await send(std::move(res));
}

net::awaitable<bool> http_session::send_sse_head() {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::server, "tandem");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");
    if (cors_origin_) {
        res.set(http::field::access_control_allow_origin, *cors_origin_);
        res.set(http::field::vary, "Origin");
    }
    res.keep_alive(keep_alive_ && !st_.stopping);
    res.chunked(true);
    st_.metrics.count_request(200);
    http::response_serializer<http::empty_body> sr{res};
    error_code ec;
    arm(seconds(st_.cfg.write_timeout));
    co_await http::async_write_header(socket_, sr, redirect_error(use_awaitable, ec));
    disarm();
    if (ec) client_gone_ = true;
    co_return !ec;
}

net::awaitable<bool> http_session::send_chunk(const std::string& data) {
    if (client_gone_) co_return false;
    error_code ec;
    arm(seconds(st_.cfg.write_timeout));
    co_await net::async_write(socket_, http::make_chunk(net::buffer(data)), redirect_error(use_awaitable, ec));
    disarm();
    if (ec) client_gone_ = true;
    co_return !ec;
}

net::awaitable<void> http_session::send_sse_end() {
    if (client_gone_) co_return;
    error_code ec;
    arm(seconds(st_.cfg.write_timeout));
    co_await net::async_write(socket_, http::make_chunk_last(), redirect_error(use_awaitable, ec));
    disarm();
    if (ec) client_gone_ = true;
}

void http_session::watch_start() {
    if (watching_ || watch_stopping_ || client_gone_ || buffer_.size() >= watch_limit) return;
    watching_ = true;
    socket_.async_read_some(buffer_.prepare(4096),
                            net::bind_executor(strand_, [self = shared_from_this()](error_code ec, size_t n) {
                                self->watching_ = false;
                                if (!ec) {
                                    self->buffer_.commit(n);
                                    self->watch_start();
                                    if (!self->watching_) self->watch_wake_.notify();
                                    return;
                                }
                                if (ec != net::error::operation_aborted) {
                                    self->client_gone_ = true;
                                    self->wake_.notify();
                                }
                                self->watch_wake_.notify();
                            }));
}

net::awaitable<void> http_session::watch_stop() {
    watch_stopping_ = true;
    while (watching_) {
        error_code ec;
        socket_.cancel(ec);
        co_await watch_wake_.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    }
    watch_stopping_ = false;
}

}  // namespace tandem
