// One HTTP/1.1 connection: a coroutine on its own strand that reads requests with header/body
// limits and timeouts, hands them to its host's handler, and writes plain or SSE (chunked) responses.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>  // before Boost 1.74 asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "server/http/errors.h"
#include "server/http/waker.h"

namespace tandem {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

class http_session;

// The limits every read and write of a session obeys.
struct session_limits {
    double idle_timeout = 60;   // seconds a keep-alive connection may wait for its next request
    double read_timeout = 30;   // seconds for a request's header, then its body
    double write_timeout = 60;  // seconds for one write
    int64_t max_body_bytes = 8ll << 20;
    int64_t max_header_bytes = 16 << 10;
    int32_t max_header_fields = 100;
};

// What a session needs from the server, and all it knows of it: limits, the stop and force flags,
// the request handler and accounting. Called on the session's strand (the flags from any thread).
class session_host {
  public:
    virtual ~session_host() = default;
    virtual const session_limits& limits() const = 0;
    virtual bool stopping() const = 0;  // no new requests: finish the current one, then close
    virtual bool forcing() const = 0;   // the drain timed out: end the current request now
    // Answers one request (it may stream); errors it throws are the session's to report.
    virtual boost::asio::awaitable<void> handle(http_session& s, const http_request& req) = 0;
    virtual void on_response(int status) = 0;   // every response's status (metrics)
    virtual void on_request(bool started) = 0;  // a request starts being handled / is done
    virtual void on_session_closed() = 0;       // the connection count
};

class http_session : public std::enable_shared_from_this<http_session> {
  public:
    http_session(session_host& host, boost::asio::ip::tcp::socket socket);
    ~http_session();

    void start();
    // Posted to the strand by the server: close when idle / end the running request.
    void on_server_stop();
    void on_server_force();
    const boost::asio::any_io_executor& strand() const { return strand_; }  // the socket's strand

    // ---- For the handler (call on the strand). ----
    void set_cors_origin(std::optional<std::string> origin) { cors_origin_ = std::move(origin); }
    // Adds CORS and keep-alive, counts the status; to a HEAD request, the headers alone (Content-Length
    // that of the body).
    boost::asio::awaitable<void> send(http_response res);
    // The one way an error reaches a client: an OpenAI error response, or, once an SSE stream has
    // started, an error event that ends the stream.
    boost::asio::awaitable<void> send_error(api_error e);  // by value: a coroutine keeps its own copy
    boost::asio::awaitable<bool> send_sse_head();          // false: the client is gone
    boost::asio::awaitable<bool> send_chunk(const std::string& data);
    boost::asio::awaitable<void> send_sse_end();
    // An async read that notices a client closing while a request runs (bytes it gets are kept for the
    // next pipelined request).
    void watch_start();
    boost::asio::awaitable<void> watch_stop();
    waker& wake() { return wake_; }
    std::function<void()> notifier();  // thread-safe: wakes `wake()` from any thread
    bool client_gone() const { return state_ == state::gone; }
    bool forced() const { return host_.forcing(); }

  private:
    // The connection's life: idle -> reading -> handling [-> streaming] -> responded -> finishing -> idle
    // ...; gone (the client closed or a write failed) ends it after the current request.
    enum class state { idle, reading, handling, streaming, responded, finishing, gone };

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<bool> read_request(http_request& req);              // false: close the connection
    boost::asio::awaitable<void> send_early(int status, std::string message);  // by value: a coroutine
    void add_cors(http::fields& f) const;
    void close();
    void set_gone() { state_ = state::gone; }
    // Deadlines: a timer that cancels the socket's operations (so a 408 can still be written).
    void arm(std::chrono::steady_clock::duration d);
    void disarm();
    bool deadline_passed() const;           // the last armed deadline expired (the operation timed out)
    boost::asio::awaitable<void> linger();  // after an early error: let the client read it before closing

    session_host& host_;
    boost::asio::any_io_executor strand_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer timer_;
    uint64_t timer_gen_ = 0;
    // Bounded: Beast limits a header's bytes but not a chunked body's extensions and trailers.
    boost::beast::flat_buffer buffer_;
    waker wake_;
    waker watch_wake_;
    state state_ = state::idle;
    bool watch_reading_ = false;              // the watch's read is in flight
    bool keep_alive_ = true;                  // of the current request
    bool head_request_ = false;               // the current request is a HEAD: responses go without their body
    std::optional<std::string> cors_origin_;  // for the current request
};

}  // namespace tandem
