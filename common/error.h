// The one exception type of Tandem: thrown at load and config time with full context
// (file, key or tensor, expected vs actual), caught once in main() and once per HTTP request.
#pragma once

#include <stdexcept>
#include <string>

namespace tandem {

struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace tandem
