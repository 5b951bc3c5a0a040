// The accept loop: each connection gets its own strand and session; past max_connections a new
// connection is answered 503 and closed at once.
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/write.hpp>
#include <utility>  // before Boost 1.74 asio/awaitable.hpp, which uses std::exchange without it

#include "server/http/http_session.h"
#include "server/http/server_state.h"

namespace tandem {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

net::awaitable<void> refuse(tcp::socket socket) {
    namespace http = boost::beast::http;
    auto res = api_error_response(error_too_many_connections());
    res.keep_alive(false);
    boost::system::error_code ec;
    co_await http::async_write(socket, res, net::redirect_error(net::use_awaitable, ec));
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
}

net::awaitable<void> accept_loop(server_state& st) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket socket =
            co_await st.acceptor->async_accept(net::make_strand(st.ioc), net::redirect_error(net::use_awaitable, ec));
        if (ec == net::error::operation_aborted || !st.acceptor->is_open() || st.stopping()) co_return;
        if (ec) {
            spdlog::warn("http: accept failed: {}", ec.message());
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        if (st.n_connections.load() >= st.cfg.max_connections) {
            st.metrics.count_request(503);
            const auto ex = socket.get_executor();
            net::co_spawn(ex, refuse(std::move(socket)), net::detached);
            continue;
        }
        ++st.n_connections;
        auto session = std::make_shared<http_session>(st, std::move(socket));
        st.add_session(session);
        session->start();
    }
}

}  // namespace

void listener_start(server_state& st) {
    net::co_spawn(st.ioc, accept_loop(st), net::detached);
}

}  // namespace tandem
