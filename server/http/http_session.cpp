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

#include "server/http/sse.h"

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

http_session::http_session(session_host& host, net::ip::tcp::socket socket)
    : host_(host),
      strand_(socket.get_executor()),
      socket_(std::move(socket)),
      timer_(strand_),
      buffer_(static_cast<size_t>(host.limits().max_header_bytes) + watch_limit + 8192),
      wake_(strand_),
      watch_wake_(strand_) {}

http_session::~http_session() {
    host_.on_session_closed();
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
    timer_.expires_after(d);
    timer_.async_wait(net::bind_executor(strand_, [self = shared_from_this(), gen](error_code ec) {
        if (ec || gen != self->timer_gen_) return;
        error_code ignored;
        self->socket_.cancel(ignored);
    }));
}

void http_session::disarm() {
    ++timer_gen_;
    timer_.cancel();
}

bool http_session::deadline_passed() const {
    return timer_.expiry() <= std::chrono::steady_clock::now();
}

void http_session::close() {
    disarm();
    error_code ec;
    socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

void http_session::on_server_stop() {
    if (state_ == state::idle) {
        error_code ec;
        socket_.cancel(ec);
    }
}

void http_session::on_server_force() {
    wake_.notify();
    if (state_ == state::idle || state_ == state::reading) {
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
    while (!host_.stopping()) {
        http_request req;
        if (!co_await read_request(req)) co_return;
        state_ = state::handling;
        host_.on_request(true);
        keep_alive_ = req.keep_alive();
        head_request_ = req.method() == http::verb::head;
        std::optional<api_error> failed;
        try {
            co_await host_.handle(*this, req);
        } catch (const api_exception& e) {  // the handler reports its own errors; these are a last resort
            failed = e.err;
        } catch (const std::exception& e) {
            spdlog::error("http: {} {} failed: {}", std::string(req.method_string()), std::string(req.target()),
                          e.what());
            failed = error_internal(std::string("internal error: ") + e.what());
        }
        if (failed) co_await send_error(*failed);
        co_await watch_stop();
        host_.on_request(false);
        if (!keep_alive_ || host_.stopping() || state_ == state::gone || host_.forcing()) co_return;
        state_ = state::idle;
    }
}

net::awaitable<bool> http_session::read_request(http_request& req) {
    const session_limits& lim = host_.limits();
    error_code ec;
    state_ = state::idle;
    cors_origin_.reset();
    if (buffer_.size() == 0) {  // wait for the first byte of the next request (keep-alive idle time)
        arm(seconds(lim.idle_timeout));
        const size_t n = co_await socket_.async_read_some(buffer_.prepare(4096), redirect_error(use_awaitable, ec));
        disarm();
        if (ec) co_return false;
        buffer_.commit(n);
    }
    state_ = state::reading;
    if (host_.stopping()) co_return false;

    http::request_parser<http::empty_body> head;
    head.header_limit(static_cast<uint32_t>(std::min<int64_t>(lim.max_header_bytes, UINT32_MAX)));
    // Beast checks Content-Length against the parser's own 8 MB default while reading the header;
    // lift it so the 413 decision below is ours (from --max-body-bytes), not a parse error.
    head.body_limit(std::numeric_limits<std::uint64_t>::max());
    arm(seconds(lim.read_timeout));
    co_await http::async_read_header(socket_, buffer_, head, redirect_error(use_awaitable, ec));
    const bool header_timed_out = ec == net::error::operation_aborted && deadline_passed();
    disarm();
    if (header_timed_out)
        co_await send_early(408, "Timed out reading the request header.");
    else if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
        co_await send_early(431, "The request header is too large.");
    else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
        co_await send_early(400, "Malformed HTTP request.");
    if (ec) co_return false;
    // Beast bounds the header's bytes, not its lines: 500 one-byte fields would pass that check.
    const auto n_fields = std::distance(head.get().begin(), head.get().end());
    if (n_fields > lim.max_header_fields) {
        co_await send_early(431, "The request has " + std::to_string(n_fields) + " header fields; at most " +
                                     std::to_string(lim.max_header_fields) + " are accepted.");
        co_return false;
    }

    const auto length = head.content_length();
    if (length && *length > static_cast<uint64_t>(lim.max_body_bytes)) {
        co_await send_early(413, "The request body exceeds " + std::to_string(lim.max_body_bytes) + " bytes.");
        co_return false;
    }
    if (beast::iequals(head.get()[http::field::expect], "100-continue")) {
        static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        arm(seconds(lim.write_timeout));
        co_await net::async_write(socket_, net::buffer(cont), redirect_error(use_awaitable, ec));
        disarm();
        if (ec) co_return false;
    }
    http::request_parser<http::string_body> body(std::move(head));
    body.body_limit(static_cast<uint64_t>(lim.max_body_bytes));
    arm(seconds(lim.read_timeout));
    co_await http::async_read(socket_, buffer_, body, redirect_error(use_awaitable, ec));
    const bool body_timed_out = ec == net::error::operation_aborted && deadline_passed();
    disarm();
    if (body_timed_out)
        co_await send_early(408, "Timed out reading the request body.");
    else if (ec == http::error::body_limit)
        co_await send_early(413, "The request body exceeds " + std::to_string(lim.max_body_bytes) + " bytes.");
    else if (ec == http::error::buffer_overflow)  // chunk extensions or trailers past the buffer's bound
        co_await send_early(431, "The request's chunked framing (extensions or trailers) is too large.");
    else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
        co_await send_early(400, "Malformed HTTP request.");
    if (ec) co_return false;
    req = body.release();
    co_return true;
}

net::awaitable<void> http_session::send_early(int status, std::string message) {
    const api_error e{status, message, "invalid_request_error", std::nullopt, std::nullopt, 0};
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

void http_session::add_cors(http::fields& f) const {
    if (!cors_origin_) return;
    f.set(http::field::access_control_allow_origin, *cors_origin_);
    const std::string vary(f[http::field::vary]);  // keep what is there (Accept-Encoding for static files)
    f.set(http::field::vary, vary.empty() ? "Origin" : vary + ", Origin");
}

net::awaitable<void> http_session::send(http_response res) {
    res.keep_alive(keep_alive_ && !host_.stopping());
    res.set(http::field::server, "tandem");
    add_cors(res.base());
    res.prepare_payload();
    if (head_request_) res.body().clear();  // HEAD: Content-Length stays that of the body a GET gets
    host_.on_response(res.result_int());
    error_code ec;
    arm(seconds(host_.limits().write_timeout));
    co_await http::async_write(socket_, res, redirect_error(use_awaitable, ec));
    disarm();
    if (ec)
        set_gone();
    else if (state_ == state::handling)
        state_ = state::responded;
}

net::awaitable<void> http_session::send_error(api_error e) {
    const state now = state_;
    if (now == state::streaming) {  // the 200 and its headers are out: the error is the stream's last event
        const std::string event = sse_data(api_error_json(e));
        if (co_await send_chunk(event)) co_await send_sse_end();
    } else if (now == state::idle || now == state::reading || now == state::handling) {
        http_response res = api_error_response(e);
        co_await send(std::move(res));
    } else if (now == state::responded) {  // a handler failing after its reply: nothing more to send
        spdlog::warn("http: an error after the response was sent: {}", e.message);
    }
}

net::awaitable<bool> http_session::send_sse_head() {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::server, "tandem");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");
    add_cors(res.base());
    res.keep_alive(keep_alive_ && !host_.stopping());
    res.chunked(true);
    if (state_ != state::handling) co_return false;  // gone, or a reply already went out
    host_.on_response(200);
    http::response_serializer<http::empty_body> sr{res};
    error_code ec;
    arm(seconds(host_.limits().write_timeout));
    co_await http::async_write_header(socket_, sr, redirect_error(use_awaitable, ec));
    disarm();
    if (ec) {
        set_gone();
        co_return false;
    }
    state_ = state::streaming;
    co_return true;
}

net::awaitable<bool> http_session::send_chunk(const std::string& data) {
    if (state_ == state::gone) co_return false;
    error_code ec;
    arm(seconds(host_.limits().write_timeout));
    co_await net::async_write(socket_, http::make_chunk(net::buffer(data)), redirect_error(use_awaitable, ec));
    disarm();
    if (ec) set_gone();
    co_return !ec;
}

net::awaitable<void> http_session::send_sse_end() {
    if (state_ == state::gone) co_return;
    error_code ec;
    arm(seconds(host_.limits().write_timeout));
    co_await net::async_write(socket_, http::make_chunk_last(), redirect_error(use_awaitable, ec));
    disarm();
    if (ec) set_gone();
    if (state_ == state::streaming) state_ = state::responded;  // the stream is complete
}

void http_session::watch_start() {
    const bool running = state_ == state::handling || state_ == state::streaming || state_ == state::responded;
    if (watch_reading_ || !running || buffer_.size() >= watch_limit) return;
    watch_reading_ = true;
    socket_.async_read_some(buffer_.prepare(4096),
                            net::bind_executor(strand_, [self = shared_from_this()](error_code ec, size_t n) {
                                self->watch_reading_ = false;
                                if (!ec) {
                                    self->buffer_.commit(n);
                                    self->watch_start();
                                    if (!self->watch_reading_) self->watch_wake_.notify();
                                    return;
                                }
                                if (ec != net::error::operation_aborted) {
                                    self->set_gone();
                                    self->wake_.notify();
                                }
                                self->watch_wake_.notify();
                            }));
}

net::awaitable<void> http_session::watch_stop() {
    if (state_ != state::gone) state_ = state::finishing;  // no new watch read from here on
    while (watch_reading_) {
        error_code ec;
        socket_.cancel(ec);
        co_await watch_wake_.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    }
}

}  // namespace tandem
