// systemd_notifier and its helpers against a datagram socket of the test's own, standing in for
// systemd's NOTIFY_SOCKET (a path and the abstract '@' form): the exact messages, their order, the
// watchdog's pace and liveness gate, and silence without NOTIFY_SOCKET. No sleeps decide a result:
// the pinger and extender take time as an argument; the one real-timer test bounds what timers guarantee.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "server/http/sd_notify.h"

namespace tandem {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// A bound AF_UNIX SOCK_DGRAM socket and a thread that collects every datagram as it arrives (the kernel
// queues only net.unix.max_dgram_qlen, often 10, before a blocking sender like sd_notify stalls).
class notify_listener {
  public:
    explicit notify_listener(bool abstract) {
        static std::atomic<int> counter{0};
        const std::string name = "tandem-notify-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        EXPECT_GE(fd_, 0) << std::strerror(errno);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socklen_t len = 0;
        if (abstract) {  // sun_path[0] = 0, no trailing NUL: the length carries the name (unix(7))
            std::memcpy(addr.sun_path + 1, name.data(), name.size());
            len = offsetof(sockaddr_un, sun_path) + 1 + name.size();
            address_ = "@" + name;
        } else {
            path_ = testing::TempDir() + name + ".sock";
            std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
            len = sizeof(addr);
            address_ = path_;
        }
        EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
        reader_ = std::thread([this] { read_loop(); });
    }
    ~notify_listener() {
        stop_ = true;
        reader_.join();
        close(fd_);
        if (!path_.empty()) unlink(path_.c_str());
    }

    const std::string& address() const { return address_; }  // what NOTIFY_SOCKET names

    struct message {
        clock::time_point at;
        std::string text;
    };
    // The messages so far, once at least n have arrived or `timeout` passed.
    std::vector<message> wait_for(size_t n, clock::duration timeout = 10s) {
        const auto deadline = clock::now() + timeout;
        for (;;) {
            {
                std::lock_guard lock(mu_);
                if (got_.size() >= n || clock::now() >= deadline) return got_;
            }
            std::this_thread::sleep_for(2ms);
        }
    }
    std::vector<std::string> texts(size_t n) {
        std::vector<std::string> out;
        for (const message& m : wait_for(n)) out.push_back(m.text);
        return out;
    }

  private:
    void read_loop() {
        char buf[4096];
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
            if (n < 0) continue;
            std::lock_guard lock(mu_);
            got_.push_back({clock::now(), std::string(buf, static_cast<size_t>(n))});
        }
    }

    int fd_ = -1;
    std::string path_, address_;
    std::atomic<bool> stop_{false};
    std::thread reader_;
    std::mutex mu_;
    std::vector<message> got_;
};

// Sets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as systemd does for the main process (an empty
// value unsets it), and unsets all three when it goes.
struct notify_env {
    notify_env(const std::string& socket, const std::string& watchdog_usec, const std::string& watchdog_pid) {
        set("NOTIFY_SOCKET", socket);
        set("WATCHDOG_USEC", watchdog_usec);
        set("WATCHDOG_PID", watchdog_pid);
    }
    ~notify_env() {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
    }
    static void set(const char* name, const std::string& value) {
        if (value.empty())
            unsetenv(name);
        else
            setenv(name, value.c_str(), 1);
    }
};

std::string my_pid() {
    return std::to_string(getpid());
}

// A daemon's life as serve() drives it, on a fake clock: loading, ready, watchdog, drain.
void check_lifecycle(bool abstract) {
    notify_listener sock(abstract);
    notify_env env(sock.address(), "10000000", my_pid());
    systemd_notifier n;
    ASSERT_TRUE(n.enabled());
    ASSERT_EQ(n.watchdog_interval(), std::chrono::microseconds(10s));

    const clock::time_point t0{};  // the fake clock's epoch
    startup_extender load(n, "m.gguf", 10s, 60s, t0);
    load.tick(t0);
    EXPECT_FALSE(load.due(t0 + 9s));
    load.tick(t0 + 9s);  // not due: nothing
    load.tick(t0 + 10s);
    load.tick(t0 + 70s);  // past the limit: status only
    n.ready("serving m on 127.0.0.1:8080");

    bool alive = true;
    int n_checks = 0;
    watchdog_pinger dog(n, *n.watchdog_interval(), [&] {
        ++n_checks;
        return alive;
    });
    EXPECT_EQ(dog.period(), std::chrono::microseconds(5s));
    const clock::time_point t1 = t0 + 100s;
    EXPECT_TRUE(dog.tick(t1));
    EXPECT_FALSE(dog.due(t1 + 4s));
    EXPECT_FALSE(dog.tick(t1 + 4s));
    EXPECT_TRUE(dog.tick(t1 + 5s));
    alive = false;
    EXPECT_FALSE(dog.tick(t1 + 10s));  // a wedged engine: no ping
    EXPECT_FALSE(dog.tick(t1 + 15s));
    alive = true;
    EXPECT_TRUE(dog.tick(t1 + 20s));
    EXPECT_EQ(n_checks, 5);  // alive() is asked only when a ping is due
    n.stopping("draining");
    n.status("end");  // nothing may arrive between the last expected message and this one

    const std::vector<std::string> want = {
        "EXTEND_TIMEOUT_USEC=30000000",
        "STATUS=loading m.gguf (0 s)",
        "EXTEND_TIMEOUT_USEC=30000000",
        "STATUS=loading m.gguf (10 s)",
        "STATUS=loading m.gguf (70 s)",
        "READY=1\nSTATUS=serving m on 127.0.0.1:8080",
        "WATCHDOG=1",
        "WATCHDOG=1",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=draining",
        "STATUS=end",
    };
    EXPECT_EQ(sock.texts(want.size()), want);
}

TEST(SdNotify, LifecycleOnPathSocket) {
    check_lifecycle(false);
}

TEST(SdNotify, LifecycleOnAbstractSocket) {
    check_lifecycle(true);
}

TEST(SdNotify, StatusIsOneLine) {
    notify_listener sock(false);
    notify_env env(sock.address(), "", "");
    systemd_notifier n;
    n.status("two\nlines\r");
    n.extend_timeout(0us);  // 0 would mean nothing to systemd: at least 1 us
    EXPECT_EQ(sock.texts(2), (std::vector<std::string>{"STATUS=two lines ", "EXTEND_TIMEOUT_USEC=1"}));
}

TEST(SdNotify, WithoutNotifySocketNothingIsSent) {
    notify_listener sock(false);
    notify_env env("", "10000000", my_pid());
    systemd_notifier off;
    EXPECT_FALSE(off.enabled());
    EXPECT_FALSE(off.watchdog_interval());  // no socket to ping
    // The socket appears only now: a notifier built without one must still send nothing.
    notify_env::set("NOTIFY_SOCKET", sock.address());
    off.status("loading");
    off.extend_timeout(1s);
    off.ready("ready");
    off.watchdog();
    off.stopping("draining");
    startup_extender load(off, "m.gguf", 1s, 10s, clock::now());
    load.tick(clock::now());
    watchdog_pinger dog(off, 1s, [] { return true; });
    EXPECT_TRUE(dog.tick(clock::now()));  // the pinger's decision stands; the notifier drops it

    systemd_notifier on;
    on.status("marker");
    EXPECT_EQ(sock.texts(1), std::vector<std::string>{"STATUS=marker"});
}

TEST(SdNotify, WatchdogIntervalFollowsTheEnvironment) {
    notify_listener sock(false);
    {
        notify_env env(sock.address(), "", "");
        EXPECT_FALSE(systemd_notifier().watchdog_interval());  // WatchdogSec= off
    }
    {
        notify_env env(sock.address(), "2500000", "");
        EXPECT_EQ(systemd_notifier().watchdog_interval(), std::chrono::microseconds(2500ms));  // no pid: ours
    }
    {
        notify_env env(sock.address(), "2500000", std::to_string(getpid() + 1));
        EXPECT_FALSE(systemd_notifier().watchdog_interval());  // meant for another process
    }
    {
        notify_env env(sock.address(), "not-a-number", my_pid());
        EXPECT_FALSE(systemd_notifier().watchdog_interval());
    }
}

// The real timer on an io_context: pings at least a period apart, about a period apart (median within
// three periods, so a loaded machine's late timers pass), and only while alive() holds.
TEST(SdNotify, WatchdogOnTimerPingsOnlyWhileAlive) {
    notify_listener sock(false);
    notify_env env(sock.address(), "500000", my_pid());
    systemd_notifier n;
    ASSERT_EQ(n.watchdog_interval(), std::chrono::microseconds(500ms));
    std::vector<clock::time_point> checks;
    watchdog_pinger dog(n, *n.watchdog_interval(), [&] {
        checks.push_back(clock::now());
        return checks.size() <= 4;  // alive for four checks, then wedged
    });
    boost::asio::io_context ioc;
    periodic_timer timer(ioc.get_executor(), dog.period(), [&](steady_time now) { dog.tick(now); });
    timer.start();
    const auto deadline = clock::now() + 30s;
    while (checks.size() < 7 && clock::now() < deadline) ioc.run_one_for(100ms);
    timer.stop();
    ASSERT_EQ(checks.size(), 7u);
    n.status("end");

    const std::vector<std::string> want = {"WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "STATUS=end"};
    EXPECT_EQ(sock.texts(want.size()), want);
    std::vector<clock::duration> gaps;
    for (size_t i = 1; i < checks.size(); ++i) gaps.push_back(checks[i] - checks[i - 1]);
    for (clock::duration g : gaps) EXPECT_GE(g, dog.period());  // a timer never fires early
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    EXPECT_LE(gaps[gaps.size() / 2], 3 * dog.period());
}

// A restart right after stop(), before the cancelled wait's handler ran: that handler must not start a
// second chain of calls beside the new one.
TEST(SdNotify, PeriodicTimerRestartKeepsOneChain) {
    boost::asio::io_context ioc;
    int calls = 0;
    periodic_timer timer(ioc.get_executor(), 1h, [&](steady_time) { ++calls; });
    timer.start();
    EXPECT_EQ(ioc.poll(), 1u);  // the first call, at once; then a wait of an hour
    EXPECT_EQ(calls, 1);
    timer.stop();   // the wait's handler is queued, cancelled
    timer.start();  // and the new first call is queued behind it
    ioc.poll();
    EXPECT_EQ(calls, 2);
    ioc.restart();
    EXPECT_EQ(ioc.poll(), 0u);  // one wait pending, nothing ready
}

// stop() from another thread than the io_context's: fn is not running when stop() returns and never
// runs again, so what it borrows may go.
TEST(SdNotify, PeriodicTimerStopsForGood) {
    boost::asio::io_context ioc;
    auto work = boost::asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    std::atomic<int> calls{0};
    std::atomic<bool> in_fn{false};
    {
        periodic_timer timer(ioc.get_executor(), 1ms, [&](steady_time) {
            in_fn = true;
            std::this_thread::sleep_for(1ms);
            ++calls;
            in_fn = false;
        });
        timer.start();
        while (calls < 20) std::this_thread::sleep_for(1ms);
        timer.stop();
        EXPECT_FALSE(in_fn);
        const int after_stop = calls;
        std::this_thread::sleep_for(50ms);
        EXPECT_EQ(calls, after_stop);
        timer.start();  // a restart runs again
        while (calls < after_stop + 5) std::this_thread::sleep_for(1ms);
    }  // the destructor stops it
    const int at_destruction = calls;
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(calls, at_destruction);
    work.reset();
    io.join();
}

}  // namespace
}  // namespace tandem
