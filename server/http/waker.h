// A coroutine wake-up for Boost 1.74 (which has no asio channels): a steady_timer plus a flag, both
// touched only on the owning strand. Other threads post `notify` to the strand; nothing is lost if it
// arrives before the wait starts.
#pragma once

#include <chrono>
#include <utility>  // before Boost 1.74 asio/awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tandem {

class waker {
  public:
    using clock = std::chrono::steady_clock;
    explicit waker(const boost::asio::any_io_executor& ex) : timer_(ex) {}

    void notify() {  // on the strand
        notified_ = true;
        timer_.cancel();
    }

    // True if notified, false if the deadline passed first.
    boost::asio::awaitable<bool> wait_until(clock::time_point deadline) {
        if (!notified_) {
            timer_.expires_at(deadline);
            boost::system::error_code ec;
            co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        }
        const bool was = notified_;
        notified_ = false;
        co_return was;
    }

  private:
    boost::asio::steady_timer timer_;
    bool notified_ = false;
};

}  // namespace tandem
