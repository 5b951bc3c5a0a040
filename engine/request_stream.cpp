// request_stream: the bounded per-request event queue between the engine thread and HTTP.
#include "engine/engine.h"

namespace tandem {

void request_stream::set_notify(std::function<void()> notify) {
    bool pending;
    {
        std::lock_guard<std::mutex> lock(mu_);
        notify_ = std::move(notify);
        pending = !events_.empty();
    }
    if (pending && notify_) notify_();
}

void request_stream::set_on_space(std::function<void()> on_space) {
    std::lock_guard<std::mutex> lock(mu_);
    on_space_ = std::move(on_space);
}

std::optional<stream_event> request_stream::pop() {
    std::function<void()> on_space;
    std::optional<stream_event> ev;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (events_.empty()) return std::nullopt;
        if (events_.size() >= capacity_) on_space = on_space_;
        ev = std::move(events_.front());
        events_.pop_front();
    }
    if (on_space) on_space();
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
    std::function<void()> notify;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (ev.what == stream_event::kind::done) done_ = true;
        events_.push_back(std::move(ev));
        notify = notify_;
    }
    if (notify) notify();
}

}  // namespace tandem
