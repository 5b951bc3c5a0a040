// The one exception type of Tandem: thrown at load and config time with full context
// (file, key or tensor, expected vs actual), caught once in main() and once per HTTP request; and
// its one refinement, device_lost, the failure no step can recover from.
#pragma once

#include <stdexcept>
#include <string>

namespace tandem {

struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The compute device stopped working (VK_ERROR_DEVICE_LOST: a GPU reset, a driver fault): nothing on
// it, weights or KV cache, can be trusted again, so no request can go on and the process should exit
// for its service manager to restart it. Thrown from the hot path; the engine catches it once.
struct device_lost : error {
    using error::error;
};

}  // namespace tandem
