// text_stream: the UTF-8 guard feeds the stop-string matcher.
#include "engine/tokenizer/text_stream.h"

namespace tandem {

std::string text_stream::push(std::string_view piece) {
    if (stop_.matched()) return {};
    return stop_.push(utf8_.push(piece));
}

std::string text_stream::finish() {
    if (stop_.matched()) return {};
    std::string out = stop_.push(utf8_.flush());
    if (!stop_.matched()) out += stop_.flush();
    return out;
}

}  // namespace tandem
