// response_format and forced tool calls compiled to grammars, cached by their source and lead.
#include "server/http/answer_grammar.h"

#include <string>

#include "common/error.h"
#include "server/http/errors.h"

namespace tandem {
namespace {
constexpr int64_t k_max_parallel_calls = 8;

bool forces_calls(const generation_request& g) {
    const bool forced = g.tool_choice == "required" || g.tool_choice == "function";
    return g.chat && forced && g.tools.is_array() && !g.tools.empty();
}

// response_format json_object / json_schema (cached by schema text, strictness and lead).
std::shared_ptr<const gram::compiled_grammar> response_format_grammar(const generation_request& g,
                                                                      const gram::reasoning_lead& lead) {
    if (g.json_schema.is_null()) {
        return gram::grammar_cached("json_object\n" + lead.key(), [&] { return gram::grammar_json_object(lead); });
    }
    const std::string key =
        std::string(g.json_strict ? "strict\n" : "loose\n") + lead.key() + "\n" + g.json_schema.dump();
    try {
        return gram::grammar_cached(key,
                                    [&] { return gram::grammar_from_json_schema(g.json_schema, g.json_strict, lead); });
    } catch (const error& e) {
        throw_invalid("response_format", std::string("'response_format': ") + e.what());
    }
}

}  // namespace

std::shared_ptr<const gram::compiled_grammar> answer_grammar(const generation_request& g, const chat_syntax* syntax,
                                                             const gram::reasoning_lead& lead) {
    if (g.json_answer && forces_calls(g))
        throw_invalid("response_format",
                      "'response_format' cannot be combined with a 'tool_choice' that forces a call");
    if (g.json_answer) {
        gram::reasoning_lead l = lead;
        if (syntax) l.answer_start = syntax->content_start;  // gpt-oss: the final channel's message
        return response_format_grammar(g, l);
    }
    return syntax ? tool_call_grammar(g, *syntax, lead) : nullptr;
}

std::shared_ptr<const gram::compiled_grammar> tool_call_grammar(const generation_request& g, const chat_syntax& syntax,
                                                                const gram::reasoning_lead& lead) {
    if (!forces_calls(g)) return nullptr;
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
    spec.lead = lead;
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
    const std::string key =
        "tool_calls\n" + syntax.name + "\n" + std::to_string(spec.max_items) + "\n" + lead.key() + "\n" + tools.dump();
    try {
        return gram::grammar_cached(key, [&] { return gram::grammar_from_tool_calls(tools, spec, true, form); });
    } catch (const error& e) {
        throw_invalid("tools", std::string("a tool's parameters cannot be enforced: ") + e.what());
    }
}

}  // namespace tandem
