// SSE event framing (WHATWG "server-sent events": a data line per event, a blank line ends it).
#include "server/http/sse.h"

namespace tandem {

std::string sse_data(const nlohmann::json& payload) {
    // dump() never emits a raw newline (they are escaped in strings), so one data line suffices.
    return "data: " + payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

std::string sse_done() {
    return "data: [DONE]\n\n";
}

std::string sse_ping() {
    return ": ping\n\n";
}

}  // namespace tandem
