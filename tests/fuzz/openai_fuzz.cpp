// libFuzzer target for the HTTP/JSON layer: arbitrary request bodies through the OpenAI request
// parsers. The only exception allowed out is api_exception (a 400 for the client). (The Jinja
// interpreter is not linked here: it does not build with clang yet, see server/jinja/value.h.)
#include <cstdint>
#include <string>

#include "server/http/errors.h"
#include "server/http/openai_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const bool chat = data[0] & 1;
    const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
    tandem::parse_limits limits;
    try {
        const tandem::generation_request r =
            chat ? tandem::parse_chat_request(body, limits) : tandem::parse_completion_request(body, limits);
        (void)r.messages.dump();  // normalized messages must be serialisable JSON
    } catch (const tandem::api_exception&) {
    }
    return 0;
}
