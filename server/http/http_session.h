// One HTTP/1.1 connection: a coroutine on its own strand that reads requests with header/body
// limits and timeouts, hands them to the routes, and writes plain or SSE (chunked) responses.
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

struct server_state;

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

class http_session : public std::enable_shared_from_this<http_session> {
  public:
    http_session(server_state& st, boost::asio::ip::tcp::socket socket);
    ~http_session();

    void start();
    // Posted to the strand by the server: close when idle / end the running request.
    void on_server_stop();
    void on_server_force();
    const boost::asio::any_io_executor& strand() const { return strand_; }  // the socket's strand

    // ---- For the routes (call on the strand). ----
    server_state& state() { return st_; }
    boost::asio::awaitable<void> send(http_response res);  // adds CORS and keep-alive, counts the status
    boost::asio::awaitable<void> send_error(const api_error& e);
    boost::asio::awaitable<bool> send_sse_head();  // false: the client is gone
    boost::asio::awaitable<bool> send_chunk(const std::string& data);
    boost::asio::awaitable<void> send_sse_end();
    // An async read that notices a client closing while a request runs (bytes it gets are kept for the
    // next pipelined request).
    void watch_start();
    boost::asio::awaitable<void> watch_stop();
    waker& wake() { return wake_; }
    std::function<void()> notifier();  // thread-safe: wakes `wake()` from any thread
    bool client_gone() const { return client_gone_; }
    bool forced() const { return forced_; }

  private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<bool> read_request(http_request& req);  // false: close the connection
    boost::asio::awaitable<void> send_early(int status, const std::string& message);
    void close();
    // Deadlines: a timer that cancels the socket's operations (so a 408 can still be written).
    void arm(std::chrono::steady_clock::duration d);
    void disarm();
    boost::asio::awaitable<void> linger();  // after an early error: let the client read it before closing

    server_state& st_;
    boost::asio::any_io_executor strand_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer timer_;
    uint64_t timer_gen_ = 0;
    bool timed_out_ = false;
    boost::beast::flat_buffer buffer_;
    waker wake_;
    waker watch_wake_;
    bool idle_ = true;
    bool busy_ = false;
    bool watching_ = false;
    bool watch_stopping_ = false;
    bool client_gone_ = false;
    bool forced_ = false;
    bool keep_alive_ = true;
    std::optional<std::string> cors_origin_;  // for the current request
};

}  // namespace tandem
