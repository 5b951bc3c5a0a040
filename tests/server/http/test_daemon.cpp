// serve(), the daemon, under a service manager: a datagram socket of the test's own stands in for
// systemd's NOTIFY_SOCKET; the fake engine loads slowly, then wedges. Checks that READY=1 comes only
// once /health answers 200, that loading extends the start timeout, that WATCHDOG=1 follows the
// engine's heartbeat, and that SIGTERM sends STOPPING=1 before the drain; and that an engine that
// stops by itself (a lost device) makes serve() stop and return 1, for systemd to restart it.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "server/http/daemon.h"
#include "tests/server/http/fake_engine.h"

namespace tandem {
namespace {

using clock_type = std::chrono::steady_clock;

struct message {
    clock_type::time_point at;
    std::string text;
};

// The service manager's end: a bound AF_UNIX datagram socket named by NOTIFY_SOCKET.
class notify_listener {
  public:
    notify_listener() {
        path_ = (std::filesystem::temp_directory_path() / ("tandem-daemon-" + std::to_string(getpid()))).string();
        ::unlink(path_.c_str());
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
        timeval tv{0, 50'000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~notify_listener() {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }

    // Messages until `pred` holds for the newest one or `timeout` passes.
    void read_until(std::vector<message>& out, const std::function<bool(const std::string&)>& pred,
                    std::chrono::milliseconds timeout) {
        const auto end = clock_type::now() + timeout;
        char buf[4096];
        while (clock_type::now() < end) {
            const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0) continue;
            out.push_back({clock_type::now(), std::string(buf, static_cast<size_t>(n))});
            if (pred(out.back().text)) return;
        }
    }

  private:
    std::string path_;
    int fd_ = -1;
};

int health_status(uint16_t port) {
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket sock(ioc);
    sock.connect({net::ip::make_address("127.0.0.1"), port});
    const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    net::write(sock, net::buffer(req));
    std::string raw;
    boost::system::error_code ec;
    char buf[1024];
    for (size_t n; (n = sock.read_some(net::buffer(buf), ec)) > 0 || !ec;) raw.append(buf, n);
    return raw.size() > 12 ? std::stoi(raw.substr(9, 3)) : 0;
}

size_t count(const std::vector<message>& msgs, const std::string& text, clock_type::time_point after = {}) {
    size_t n = 0;
    for (const message& m : msgs)
        if (m.at >= after && m.text.find(text) != std::string::npos) ++n;
    return n;
}

TEST(Daemon, TellsSystemdReadyOnlyWhenServingPingsWhileTheEngineLivesAndStopping) {
    notify_listener sd;
    ::setenv("NOTIFY_SOCKET", sd.path().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "400000", 1);  // pings every 200 ms while the engine lives
    ::unsetenv("WATCHDOG_PID");

    server_config cfg;
    cfg.model_path = "fake.gguf";
    cfg.port = 0;
    cfg.drain_timeout = 1;
    test::fake_engine* eng = nullptr;
    std::promise<void> release_load;
    std::shared_future<void> loaded_gate = release_load.get_future().share();
    std::atomic<bool> load_returned{false};
    std::future<int> exit_code = std::async(std::launch::async, [&] {
        return serve(cfg, [&](const engine_config&) -> std::unique_ptr<engine> {
            loaded_gate.wait();  // loading takes as long as the test says
            auto e = std::make_unique<test::fake_engine>(test::fake_script{});
            eng = e.get();
            load_returned = true;
            return e;
        });
    });

    std::vector<message> msgs;
    sd.read_until(
        msgs, [](const std::string& m) { return m.starts_with("STATUS=loading"); }, std::chrono::seconds(10));
    ASSERT_GE(count(msgs, "STATUS=loading fake.gguf"), 1u);
    EXPECT_GE(count(msgs, "EXTEND_TIMEOUT_USEC="), 1u);
    EXPECT_EQ(count(msgs, "READY=1"), 0u);
    release_load.set_value();

    sd.read_until(
        msgs, [](const std::string& m) { return m.find("READY=1") != std::string::npos; }, std::chrono::seconds(10));
    ASSERT_EQ(count(msgs, "READY=1"), 1u);
    EXPECT_TRUE(load_returned.load());
    // READY's status names the URL; the server answers there at once.
    const std::string ready = msgs.back().text;
    const size_t colon = ready.rfind(':');
    ASSERT_NE(colon, std::string::npos) << ready;
    const uint16_t port = static_cast<uint16_t>(std::stoi(ready.substr(colon + 1)));
    EXPECT_EQ(health_status(port), 200);

    // Alive: WATCHDOG=1 about every 200 ms.
    const auto alive_from = clock_type::now();
    sd.read_until(
        msgs, [](const std::string&) { return false; }, std::chrono::milliseconds(1200));
    const size_t n_alive = count(msgs, "WATCHDOG=1", alive_from);
    EXPECT_GE(n_alive, 3u);
    EXPECT_LE(n_alive, 8u);
    // Wedged: no more pings.
    eng->wedged_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // a ping already in flight may land
    const auto wedged_from = clock_type::now();
    sd.read_until(
        msgs, [](const std::string&) { return false; }, std::chrono::milliseconds(1000));
    EXPECT_EQ(count(msgs, "WATCHDOG=1", wedged_from), 0u);
    eng->wedged_ = false;

    ::kill(::getpid(), SIGTERM);
    sd.read_until(
        msgs, [](const std::string& m) { return m.find("STOPPING=1") != std::string::npos; }, std::chrono::seconds(10));
    EXPECT_EQ(count(msgs, "STOPPING=1"), 1u);
    EXPECT_EQ(exit_code.get(), 0);
    // Order: loading before READY before STOPPING.
    size_t i_load = msgs.size(), i_ready = msgs.size(), i_stop = msgs.size();
    for (size_t i = 0; i < msgs.size(); ++i) {
        if (i_load == msgs.size() && msgs[i].text.starts_with("STATUS=loading")) i_load = i;
        if (msgs[i].text.find("READY=1") != std::string::npos) i_ready = i;
        if (msgs[i].text.find("STOPPING=1") != std::string::npos) i_stop = i;
    }
    EXPECT_LT(i_load, i_ready);
    EXPECT_LT(i_ready, i_stop);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
}

TEST(Daemon, AnEngineThatStopsByItselfStopsTheServerWithStatus1) {
    notify_listener sd;
    ::setenv("NOTIFY_SOCKET", sd.path().c_str(), 1);
    server_config cfg;
    cfg.model_path = "fake.gguf";
    cfg.port = 0;
    cfg.drain_timeout = 1;
    std::atomic<test::fake_engine*> eng{nullptr};
    std::future<int> exit_code = std::async(std::launch::async, [&] {
        return serve(cfg, [&](const engine_config&) -> std::unique_ptr<engine> {
            auto e = std::make_unique<test::fake_engine>(test::fake_script{});
            eng = e.get();
            return e;
        });
    });
    std::vector<message> msgs;
    sd.read_until(
        msgs, [](const std::string& m) { return m.find("READY=1") != std::string::npos; }, std::chrono::seconds(10));
    ASSERT_EQ(count(msgs, "READY=1"), 1u);
    eng.load()->failed_ = true;
    ASSERT_EQ(exit_code.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "serve() did not stop";
    EXPECT_EQ(exit_code.get(), 1);
    sd.read_until(
        msgs, [](const std::string&) { return false; }, std::chrono::milliseconds(100));
    EXPECT_EQ(count(msgs, "STATUS=failed: device lost"), 1u);
    ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace tandem
