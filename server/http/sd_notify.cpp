// systemd_notifier and its timer-driven helpers: libsystemd's sd_notify / sd_watchdog_enabled speak the
// protocol; this file decides what to send and when.
#include "server/http/sd_notify.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tandem {

namespace {

// STATUS= is one assignment of a newline-separated message: a newline in the text would end it.
std::string one_line(std::string_view text) {
    std::string s(text);
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return s;
}

}  // namespace

systemd_notifier::systemd_notifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && *socket != '\0';
    uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is this process.
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
}

void systemd_notifier::send(const std::string& message) {
    if (!enabled_) return;
    const int r = sd_notify(0, message.c_str());
    if (r < 0 && !warned_.exchange(true))
        spdlog::warn("systemd: cannot notify NOTIFY_SOCKET ({}); further failures are not logged", -r);
}

void systemd_notifier::status(std::string_view text) {
    send("STATUS=" + one_line(text));
}

void systemd_notifier::extend_timeout(std::chrono::microseconds d) {
    send("EXTEND_TIMEOUT_USEC=" + std::to_string(std::max<int64_t>(d.count(), 1)));
}

void systemd_notifier::ready(std::string_view status) {
    send("READY=1\nSTATUS=" + one_line(status));
}

void systemd_notifier::stopping(std::string_view status) {
    send("STOPPING=1\nSTATUS=" + one_line(status));
}

void systemd_notifier::watchdog() {
    send("WATCHDOG=1");
}

startup_extender::startup_extender(systemd_notifier& n, std::string what, std::chrono::seconds period,
                                   std::chrono::seconds limit, steady_time start)
    : n_(n),
      what_(std::move(what)),
      period_(std::max(period, std::chrono::seconds(1))),
      limit_(limit),
      start_(start),
      next_(start) {}

void startup_extender::tick(steady_time now) {
    if (!due(now)) return;
    next_ = now + period_;
    // Three periods of slack: the timer runs on I/O threads that a loading machine may keep waiting.
    if (now - start_ < limit_) n_.extend_timeout(3 * period_);
    const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
    n_.status("loading " + what_ + " (" + std::to_string(elapsed) + " s)");
}

watchdog_pinger::watchdog_pinger(systemd_notifier& n, std::chrono::microseconds interval, std::function<bool()> alive)
    : n_(n), period_(std::max(interval / 2, std::chrono::microseconds(1))), alive_(std::move(alive)) {}

bool watchdog_pinger::tick(steady_time now) {
    if (!due(now)) return false;
    next_ = now + period_;
    if (!alive_()) {
        if (!withheld_) spdlog::error("systemd: liveness check failed; withholding WATCHDOG=1 (systemd will restart)");
        withheld_ = true;
        return false;
    }
    if (withheld_) spdlog::warn("systemd: liveness check passes again; pinging the watchdog");
    withheld_ = false;
    n_.watchdog();
    return true;
}

struct periodic_timer::state {
    state(const boost::asio::any_io_executor& ex, std::chrono::steady_clock::duration p,
          std::function<void(steady_time)> f)
        : timer(ex), period(p), fn(std::move(f)) {}

    std::mutex mu;  // guards everything below; the timer is touched only under it
    boost::asio::steady_timer timer;
    const std::chrono::steady_clock::duration period;
    const std::function<void(steady_time)> fn;
    uint64_t generation = 0;  // bumped by start() and stop(): a stale handler sees another and returns
    bool running = false;
};

void periodic_timer::arm(const std::shared_ptr<state>& s) {  // under s->mu
    s->timer.expires_after(s->period);
    s->timer.async_wait([s, generation = s->generation](const boost::system::error_code&) { fire(s, generation); });
}

void periodic_timer::fire(const std::shared_ptr<state>& s, uint64_t generation) {
    std::lock_guard lock(s->mu);
    if (!s->running || s->generation != generation) return;
    s->fn(std::chrono::steady_clock::now());
    arm(s);
}

periodic_timer::periodic_timer(const boost::asio::any_io_executor& ex, std::chrono::steady_clock::duration period,
                               std::function<void(steady_time)> fn)
    : st_(std::make_shared<state>(ex, period, std::move(fn))) {}

periodic_timer::~periodic_timer() {
    stop();
}

void periodic_timer::start() {
    std::lock_guard lock(st_->mu);
    if (st_->running) return;
    st_->running = true;
    boost::asio::post(st_->timer.get_executor(), [s = st_, generation = ++st_->generation] { fire(s, generation); });
}

void periodic_timer::stop() {
    std::lock_guard lock(st_->mu);
    if (!st_->running) return;
    st_->running = false;
    ++st_->generation;
    st_->timer.cancel();
}

}  // namespace tandem
