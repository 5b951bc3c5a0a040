// chat_template: parse once, render per request. Converts the JSON context into template values
// and provides the global functions transformers exposes (raise_exception, strftime_now) plus
// Jinja2's range, namespace and dict.
#include "server/jinja/template.h"

#include <ctime>

#include "server/jinja/ast.h"
#include "server/jinja/errors.h"
#include "server/jinja/interpreter.h"
#include "server/jinja/lexer.h"
#include "server/jinja/parser.h"

namespace tandem::jinja {

namespace {

template <typename Json>
value from_json(const Json& j, uint32_t depth) {
    if (depth > k_max_value_depth - 8) throw tandem::error("chat template context: JSON nested too deeply");
    switch (j.type()) {
        case nlohmann::json::value_t::null:
            return value(none_t{});
        case nlohmann::json::value_t::boolean:
            return value(j.template get<bool>());
        case nlohmann::json::value_t::number_integer:
            return value(j.template get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            uint64_t u = j.template get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return value(static_cast<double>(u));
            return value(static_cast<int64_t>(u));
        }
        case nlohmann::json::value_t::number_float:
            return value(j.template get<double>());
        case nlohmann::json::value_t::string:
            return value(j.template get_ref<const std::string&>());
        case nlohmann::json::value_t::array: {
            value_list items;
            items.reserve(j.size());
            for (const auto& item : j) items.push_back(from_json(item, depth + 1));
            return value(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            value m = make_map();
            for (auto it = j.begin(); it != j.end(); ++it)
                m.map_handle()->set(it.key(), from_json(it.value(), depth + 1));
            return m;
        }
        default:
            throw tandem::error("chat template context: unsupported JSON value (binary or discarded)");
    }
}

template <typename Json>
scope context_scope(const Json& context) {
    if (!context.is_object()) throw tandem::error("chat template context must be a JSON object");
    scope root;
    try {
        for (auto it = context.begin(); it != context.end(); ++it) root[it.key()] = from_json(it.value(), 1);
    } catch (const value_error& e) {
        throw tandem::error("chat template context: " + e.message);
    }
    return root;
}

struct builtin_fn : callable {
    using fn_t = value (*)(interpreter&, call_args&);
    fn_t fn;
    builtin_fn(std::string n, fn_t f) : fn(f) { name = std::move(n); }
    value call(interpreter& in, call_args& args) override { return fn(in, args); }
};

value g_range(interpreter& in, call_args& a) {
    if (a.positional.empty() || a.positional.size() > 3) throw value_error{"range() takes 1 to 3 arguments"};
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
        stop = a.positional[0].to_int();
    } else {
        start = a.positional[0].to_int();
        stop = a.positional[1].to_int();
        if (a.positional.size() == 3) step = a.positional[2].to_int();
    }
    if (step == 0) throw value_error{"range() arg 3 must not be zero"};
    double n_items =
        std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
    if (n_items > static_cast<double>(in.options().max_iterations)) {
        throw value_error{"range() of " + format_float(n_items) + " items exceeds the iteration limit"};
    }
    in.charge(static_cast<size_t>(n_items));
    value_list out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
    return value(std::move(out));
}

value make_namespace_like(call_args& a, bool is_namespace) {
    value m = make_map();
    m.map_handle()->is_namespace = is_namespace;
    for (const auto& p : a.positional) {
        if (!p.is_map()) throw value_error{"positional argument must be a mapping"};
        for (const auto& [k, v] : p.map().entries()) m.map_handle()->set(k, v);
    }
    for (auto& [k, v] : a.named) {
        if (is_namespace && v.has_namespace())
            throw value_error{"a namespace() object cannot be stored inside a namespace"};
        m.map_handle()->set(k, std::move(v));
    }
    return m;
}

value g_namespace(interpreter&, call_args& a) {
    return make_namespace_like(a, true);
}
value g_dict(interpreter&, call_args& a) {
    return make_namespace_like(a, false);
}

value g_raise_exception(interpreter&, call_args& a) {
    throw value_error{a.positional.empty() ? std::string("raise_exception() called") : to_str(a.positional[0])};
}

value g_strftime_now(interpreter& in, call_args& a) {
    if (a.positional.empty() || !a.positional[0].is_string()) throw value_error{"strftime_now() needs a format string"};
    std::time_t t = in.options().now ? *in.options().now : std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    const std::string& fmt = a.positional[0].str();
    if (fmt.empty()) return value(std::string());
    std::string buf(256 + fmt.size() * 8, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n == 0) throw value_error{"strftime_now(): formatted date too long"};
    buf.resize(n);
    return value(std::move(buf));
}

}  // namespace

scope make_globals() {
    scope g;
    auto add = [&](const char* name, builtin_fn::fn_t fn) {
        g[name] = value(func_ptr(std::make_shared<builtin_fn>(name, fn)));
    };
    add("range", g_range);
    add("namespace", g_namespace);
    add("dict", g_dict);
    add("raise_exception", g_raise_exception);
    add("strftime_now", g_strftime_now);
    return g;
}

struct chat_template::impl {
    stmt_list body;
};

namespace {

// Everything a template can cause surfaces as tandem::error (the server answers 400), including
// library exceptions from odd inputs (e.g. a 30-digit format index) that slipped past a check.
template <typename F>
auto guarded(const char* what, F&& f) {
    try {
        return f();
    } catch (const tandem::error&) {
        throw;
    } catch (const value_error& e) {
        throw tandem::error(std::string("chat template error: ") + e.message);
    } catch (const std::exception& e) {
        throw tandem::error(std::string("chat template ") + what + " failed: " + e.what());
    }
}

}  // namespace

chat_template::chat_template(std::string source) : source_(std::move(source)), impl_(std::make_unique<impl>()) {
    impl_->body = guarded("parsing", [&] { return parse(lex(source_)); });
}

chat_template::~chat_template() = default;
chat_template::chat_template(chat_template&&) noexcept = default;
chat_template& chat_template::operator=(chat_template&&) noexcept = default;

std::string chat_template::render(const nlohmann::json& context) const {
    return render(context, render_options{});
}

std::string chat_template::render(const nlohmann::json& context, const render_options& options) const {
    return guarded("rendering", [&] {
        interpreter in(options);
        return in.render(impl_->body, context_scope(context));
    });
}

std::string chat_template::render(const nlohmann::ordered_json& context, const render_options& options) const {
    return guarded("rendering", [&] {
        interpreter in(options);
        return in.render(impl_->body, context_scope(context));
    });
}

std::string chatml_source() {
    return "{%- for message in messages -%}\n"
           "{{- '<|im_start|>' + message.role + '\\n' -}}\n"
           "{%- if message.content is string -%}\n"
           "{{- message.content -}}\n"
           "{%- else -%}\n"
           "{%- for part in message.content if part.type == 'text' -%}{{- part.text -}}{%- endfor -%}\n"
           "{%- endif -%}\n"
           "{{- '<|im_end|>\\n' -}}\n"
           "{%- endfor -%}\n"
           "{%- if add_generation_prompt -%}\n"
           "{{- '<|im_start|>assistant\\n' -}}\n"
           "{%- endif -%}\n";
}

}  // namespace tandem::jinja
