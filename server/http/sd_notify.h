// systemd's notification protocol (sd_notify(3)) for `tandem serve` under Type=notify: loading progress
// that extends the start timeout, READY=1, watchdog pings that follow the engine's liveness, STOPPING=1.
// Without NOTIFY_SOCKET every call is a no-op, so the daemon behaves the same outside systemd.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

namespace tandem {

using steady_time = std::chrono::steady_clock::time_point;

// The messages. Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once, at construction; every message
// is one datagram on a socket of its own, so any thread may call. Send failures are logged once and
// otherwise ignored: the service manager's timeouts are the safety net, not the daemon's exit.
class systemd_notifier {
  public:
    systemd_notifier();

    bool enabled() const { return enabled_; }  // NOTIFY_SOCKET is set
    // WatchdogSec= as systemd passed it (WATCHDOG_USEC, for this pid); nullopt when off or not enabled().
    std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

    void status(std::string_view text);                // STATUS=text (one line: newlines become spaces)
    void extend_timeout(std::chrono::microseconds d);  // EXTEND_TIMEOUT_USEC=d: the current state's timeout
    void ready(std::string_view status);               // READY=1 and STATUS=status
    void stopping(std::string_view status);            // STOPPING=1 and STATUS=status
    void watchdog();                                   // WATCHDOG=1

  private:
    void send(const std::string& message);

    bool enabled_ = false;
    std::optional<std::chrono::microseconds> watchdog_;
    std::atomic<bool> warned_{false};
};

// While the model loads: STATUS=loading <what> (<s> s) and EXTEND_TIMEOUT_USEC=3 periods at every
// period, so TimeoutStartSec= does not end a slow load, until `limit` after `start`; past it only the
// status goes on, and a hung load meets the last extension. Driven by tick() from a timer (periodic_timer).
class startup_extender {
  public:
    startup_extender(systemd_notifier& n, std::string what, std::chrono::seconds period, std::chrono::seconds limit,
                     steady_time start);

    bool due(steady_time now) const { return now >= next_; }
    void tick(steady_time now);  // sends if due(now), then waits a period

  private:
    systemd_notifier& n_;
    const std::string what_;
    const std::chrono::seconds period_, limit_;
    const steady_time start_;
    steady_time next_;
};

// The watchdog: WATCHDOG=1 at most every period() (half of systemd's interval) and only while the
// caller's alive() holds (for the daemon: the engine loop's heartbeat moved within the interval), so
// a wedged engine misses the pings and systemd restarts the service. alive() runs inside tick().
class watchdog_pinger {
  public:
    watchdog_pinger(systemd_notifier& n, std::chrono::microseconds interval, std::function<bool()> alive);

    std::chrono::microseconds period() const { return period_; }
    bool due(steady_time now) const { return now >= next_; }
    // If due(now): pings when alive() holds and returns whether it did; the next check is a period later.
    bool tick(steady_time now);

  private:
    systemd_notifier& n_;
    const std::chrono::microseconds period_;
    std::function<bool()> alive_;
    steady_time next_{};     // the first tick is due at once
    bool withheld_ = false;  // the last check failed (logged once per failure streak)
};

// Runs fn(now) at once and then every `period` (measured from the end of the previous call) on a
// steady_timer of `ex`: the server's I/O threads drive it, no thread of its own (STYLE.md). fn must be
// short and must not call stop(). After stop() returns fn is not running and never runs again, so what
// fn borrows may be destroyed then; the destructor stops too. Destroy it before the executor's io_context.
class periodic_timer {
  public:
    periodic_timer(const boost::asio::any_io_executor& ex, std::chrono::steady_clock::duration period,
                   std::function<void(steady_time)> fn);
    ~periodic_timer();
    periodic_timer(const periodic_timer&) = delete;
    periodic_timer& operator=(const periodic_timer&) = delete;

    void start();
    void stop();

  private:
    struct state;
    static void arm(const std::shared_ptr<state>& s);
    static void fire(const std::shared_ptr<state>& s, uint64_t generation);
    // Shared with the pending wait's handler, which may still be queued when this object is gone.
    std::shared_ptr<state> st_;
};

}  // namespace tandem
