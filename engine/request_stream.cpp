// request_stream: the bounded per-request event queue between the engine thread and HTTP.
#include "engine/engine.h"

#include <memory>

namespace tandem {

namespace {

// Callbacks are held through shared pointers so that taking one out from under the lock, once per
// event, is a reference count rather than a copy (and allocation) of the std::function.
std::shared_ptr<const std::function<void()>> share(std::function<void()> f) {
    return f ? std::make_shared<const std::function<void()>>(std::move(f)) : nullptr;
}

}  // namespace

void request_stream::set_notify(std::function<void()> notify) {
    const auto cb = share(std::move(notify));
    bool pending;
    {
        std::lock_guard<std::mutex> lock(mu_);
        notify_ = cb;
        pending = !events_.empty();
    }
    if (pending && cb) (*cb)();
}

void request_stream::set_on_space(std::function<void()> on_space) {
    const auto cb = share(std::move(on_space));
    std::lock_guard<std::mutex> lock(mu_);
    on_space_ = cb;
}

std::optional<stream_event> request_stream::pop() {
    std::shared_ptr<const std::function<void()>> on_space;
    std::optional<stream_event> ev;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (events_.empty()) return std::nullopt;
        if (events_.size() >= capacity_) on_space = on_space_;
        ev = std::move(events_.front());
        events_.pop_front();
    }
    if (on_space) (*on_space)();
    return ev;
}

bool request_stream::done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_ && events_.empty();
}

bool request_stream::full() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size() >= capacity_;
}

void request_stream::push(stream_event ev) {
    std::shared_ptr<const std::function<void()>> notify;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (ev.what == stream_event::kind::done) done_ = true;
        events_.push_back(std::move(ev));
        notify = notify_;
    }
    if (notify) (*notify)();
}

}  // namespace tandem
