#include "server/http/tool_grammar.h"

#include <string>

#include "common/error.h"
#include "engine/grammar/json_schema.h"
#include "server/http/errors.h"

namespace tandem {
namespace {
constexpr int64_t k_max_parallel_calls = 8;
}  // namespace

std::shared_ptr<const gram::compiled_grammar> tool_call_grammar(const generation_request& g, const chat_syntax& syntax,
                                                                bool reasoning_open) {
    const bool forced = g.tool_choice == "required" || g.tool_choice == "function";
    if (!g.chat || !forced || !g.tools.is_array() || g.tools.empty()) return nullptr;
    if (g.grammar)
        throw_invalid("response_format",
                      "'response_format' cannot be combined with a 'tool_choice' that forces a call");
    // The tools a call may name: the named one, or all of them.
    nlohmann::ordered_json tools = nlohmann::ordered_json::array();
    for (const nlohmann::ordered_json& t : g.tools)
        if (g.tool_choice != "function" || t["function"]["name"] == g.tool_choice_name) tools.push_back(t);
    const tool_call_shape& shape = syntax.shape;
    gram::sequence_spec spec;
    spec.prefix = shape.prefix;
    spec.separator = shape.separator;
    spec.suffix = shape.suffix;
    spec.item_prefix = shape.call_prefix;
    spec.item_suffix = shape.call_suffix;
    spec.min_items = 1;
    // Parallel calls up to k_max_parallel_calls: a weak model would otherwise go on writing calls
    // until max_tokens cut the answer off (and an unfinished answer comes back as text).
    spec.max_items = g.parallel_tool_calls && g.tool_choice != "function" ? k_max_parallel_calls : 1;
    if (reasoning_open) spec.text_until = syntax.think_end;
    if (syntax.tools == tool_format::none) {
        throw_invalid("tool_choice", "'tool_choice' '" + g.tool_choice +
                                         "' is not supported for this model's tool-call format (" + syntax.name +
                                         "); use 'auto'");
    }
    gram::call_form form;
    form.args = shape.args;
    if (shape.args_at == tool_args_at::inline_) {
        form.name_key.clear();  // the name in the call's wrapper, an alternation over the tools
        form.name_suffix = shape.name_suffix;
    } else if (shape.args_at == tool_args_at::parameters) {
        form.args_key = "parameters";
    }
    const std::string key = "tool_calls\n" + syntax.name + "\n" + std::to_string(spec.max_items) + "\n" +
                            spec.text_until + "\n" + tools.dump();
    try {
        return gram::grammar_cached(key, [&] { return gram::grammar_from_tool_calls(tools, spec, true, form); });
    } catch (const error& e) {
        throw_invalid("tools", std::string("a tool's parameters cannot be enforced: ") + e.what());
    }
}

}  // namespace tandem
