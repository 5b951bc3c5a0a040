// The chat output setup of a request: family detection, reasoning format, tool parsing switches, the
// marker tokens the engine shows or forces.
#include "server/http/chat_output_setup.h"

#include <algorithm>
#include <span>

#include "server/chat/chat_prompt.h"

namespace tandem {
namespace {

std::vector<int32_t> marker_tokens(const text_codec& codec, const std::string& marker) {
    return marker.empty() ? std::vector<int32_t>{} : codec.encode(marker, false, true);
}

// The prompt's last `n_bytes` of text (or all of it), control tokens as their text (as a chat
// template writes a marker), however many tokens they take.
std::string prompt_tail(const text_codec& codec, const std::vector<int32_t>& prompt, size_t n_bytes) {
    std::string tail;
    for (size_t i = prompt.size(); i > 0 && tail.size() < n_bytes; --i) {
        std::string piece = codec.token_piece(prompt[i - 1]);
        if (piece.empty()) piece = codec.token_text(prompt[i - 1]);
        tail.insert(0, piece);
    }
    return tail;
}

}  // namespace

output_setup chat_output_setup(const served_model& b, const server_config& cfg, const generation_request& g,
                               const std::vector<int32_t>& prompt) {
    output_setup o{chat_syntax_detect(b.chat_template), {}, {}, {}, {}};
    const std::string& format = g.reasoning_format.empty() ? cfg.reasoning_format : g.reasoning_format;
    o.opts.split_reasoning = format != "none";
    // The prompt's end says whether the answer starts inside the reasoning (R1's "<think>\n").
    const std::string tail = prompt_tail(*b.codec, prompt, o.syntax.think_start.size() + 16);
    o.opts.reasoning_open = chat_prompt_opens_reasoning(o.syntax, tail);
    // A constrained answer (response_format, forced calls) comes after the reasoning: the block the
    // prompt opened, or one the model may open itself when its template has thinking on (or when the
    // family always reasons).
    const bool may_think = o.syntax.thinks_always || chat_thinking_enabled(b.caps, b.chat_template_kwargs, g);
    if (!o.syntax.think_end.empty() && (o.opts.reasoning_open || may_think))
        o.lead = {o.syntax.think_start, o.syntax.think_end, o.opts.reasoning_open, o.syntax.think_next, ""};
    o.opts.parse_tools = g.tools.is_array() && !g.tools.empty() && g.tool_choice != "none";
    o.opts.parallel_tool_calls = g.parallel_tool_calls;
    for (const std::string& t : o.syntax.preserved_tokens) {
        const std::vector<int32_t> ids = marker_tokens(*b.codec, t);
        if (ids.size() == 1) o.shown_special.push_back(ids[0]);
    }
    if (cfg.reasoning_budget >= 0 && !o.syntax.think_end.empty()) {
        o.reasoning.limit = cfg.reasoning_budget;
        o.reasoning.start = o.syntax.think_start;
        o.reasoning.end = o.syntax.think_end;
        o.reasoning.end_tokens = marker_tokens(*b.codec, o.syntax.think_end + o.syntax.think_next);
        o.reasoning.open = o.opts.reasoning_open;
    }
    return o;
}

}  // namespace tandem
