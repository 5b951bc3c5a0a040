// Statement execution and expression evaluation. Scoping follows Jinja2: `for` bodies and macro
// calls get their own scope (assignments inside do not leak out), `if` does not; macros see the
// template's top-level scope. Errors from value operations get the position of the failing node.
#include "server/jinja/interpreter.h"

#include <cmath>

#include "server/jinja/builtins.h"
#include "server/jinja/errors.h"

namespace tandem::jinja {

namespace {

// exec()/eval() recursion is bounded as a whole, whatever mix of macros, blocks and expressions
// produces it, so a hostile template cannot overflow a server thread's stack.
constexpr int k_max_frames = 1500;

struct frame_guard {
    int& n;
    explicit frame_guard(int& counter) : n(counter) {
        if (++n > k_max_frames) {
            --n;
            throw value_error{"template evaluation nested too deeply"};
        }
    }
    ~frame_guard() { --n; }
};

// Pushes a scope for the lifetime of the guard.
struct scope_guard {
    std::vector<scope*>& scopes;
    scope_guard(std::vector<scope*>& s, scope* sc) : scopes(s) { scopes.push_back(sc); }
    ~scope_guard() { scopes.pop_back(); }
};

std::string describe_expr(const expr& e) {
    switch (e.kind) {
        case expr_kind::name:
            return e.name;
        case expr_kind::attr:
            return describe_expr(*e.args[0]) + "." + e.name;
        case expr_kind::item:
            return describe_expr(*e.args[0]) + "[...]";
        case expr_kind::call:
            return describe_expr(*e.args[0]) + "(...)";
        default:
            return "expression";
    }
}

// The `loop.cycle(a, b, ...)` helper of one iteration.
struct cycle_fn : callable {
    size_t index0;
    explicit cycle_fn(size_t i) : index0(i) { name = "cycle"; }
    value call(interpreter&, call_args& args) override {
        if (args.positional.empty()) throw value_error{"loop.cycle() needs at least one argument"};
        return args.positional[index0 % args.positional.size()];
    }
};

}  // namespace

// A macro defined with {% macro %}: called with the template root scope as its closure.
struct macro_fn : callable {
    const stmt* def;
    explicit macro_fn(const stmt* d) : def(d) { name = d->text; }
    value call(interpreter& in, call_args& args) override { return in.invoke_macro(*def, args, {}, value()); }
};

// `caller()` inside a macro invoked by {% call %}: runs the call block's body in the caller's scopes.
struct caller_fn : callable {
    const stmt* block;
    std::vector<scope*> scopes;
    std::shared_ptr<bool> alive;  // false once the call block has finished (scopes may be gone)
    caller_fn(const stmt* b, std::vector<scope*> s, std::shared_ptr<bool> a)
        : block(b), scopes(std::move(s)), alive(std::move(a)) {
        name = "caller";
    }
    value call(interpreter& in, call_args& args) override {
        if (!*alive) throw value_error{"caller() used outside of its call block"};
        return in.invoke_macro(*block, args, scopes, value());
    }
};

interpreter::interpreter(const render_options& opt) : opt_(opt), globals_(make_globals()) {}

std::string interpreter::render(const stmt_list& body, scope root) {
    std::string out;
    out_ = &out;
    scopes_ = {&root};
    exec_list(body);
    return out;
}

void interpreter::charge(size_t units) {
    n_work_ += units;
    if (n_work_ > opt_.max_work) {
        throw value_error{"template exceeded its work budget (" + std::to_string(opt_.max_work) + " units)"};
    }
}

void interpreter::check_string(size_t n_bytes) const {
    if (n_bytes > opt_.max_output_bytes) {
        throw value_error{"string of " + std::to_string(n_bytes) + " bytes exceeds the output limit of " +
                          std::to_string(opt_.max_output_bytes)};
    }
}

void interpreter::write(std::string_view text) {
    if (out_->size() + text.size() > opt_.max_output_bytes) {
        throw value_error{"output exceeds the limit of " + std::to_string(opt_.max_output_bytes) + " bytes"};
    }
    charge(text.size() / 16 + 1);
    out_->append(text);
}

value interpreter::lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
        auto found = (*it)->find(name);
        if (found != (*it)->end()) return found->second;
    }
    auto g = globals_.find(name);
    return g == globals_.end() ? value() : g->second;
}

void interpreter::assign(const std::string& name, value v) {
    (*scopes_.back())[name] = std::move(v);
}

// --- statements --------------------------------------------------------------------------------

interpreter::flow interpreter::exec_list(const stmt_list& body) {
    for (const auto& s : body) {
        flow f = exec(*s);
        if (f != flow::normal) return f;
    }
    return flow::normal;
}

interpreter::flow interpreter::exec(const stmt& s) {
    try {
        frame_guard frame(n_frames_);
        charge(1);
        switch (s.kind) {
            case stmt_kind::text:
                write(s.text);
                return flow::normal;
            case stmt_kind::output: {
                value v = eval(*s.value);
                if (v.is_string())
                    write(v.str());
                else
                    write(to_str(v));
                return flow::normal;
            }
            case stmt_kind::if_:
                for (const auto& b : s.branches) {
                    if (!b.condition || truthy(eval(*b.condition))) return exec_list(b.body);
                }
                return flow::normal;
            case stmt_kind::for_:
                return exec_for(s);
            case stmt_kind::set:
                exec_set(s);
                return flow::normal;
            case stmt_kind::set_block: {
                value body(capture(s.body));
                if (s.value) {
                    scope tmp{{"\x01", body}};
                    scope_guard g(scopes_, &tmp);
                    body = eval(*s.value);
                }
                assign(s.targets[0], std::move(body));
                return flow::normal;
            }
            case stmt_kind::macro:
                assign(s.text, value(func_ptr(std::make_shared<macro_fn>(&s))));
                return flow::normal;
            case stmt_kind::call_block:
                exec_call_block(s);
                return flow::normal;
            case stmt_kind::filter_block: {
                scope tmp{{"\x01", value(capture(s.body))}};
                scope_guard g(scopes_, &tmp);
                write(to_str(eval(*s.value)));
                return flow::normal;
            }
            case stmt_kind::with: {
                scope local;
                for (const auto& [name, e] : s.assignments) local[name] = eval(*e);
                scope_guard g(scopes_, &local);
                return exec_list(s.body);
            }
            case stmt_kind::break_:
                return flow::break_;
            case stmt_kind::continue_:
                return flow::continue_;
            case stmt_kind::scope:
                return exec_list(s.body);
        }
    } catch (const value_error& e) {
        throw_render_error(s.line, s.column, e.message);
    }
    return flow::normal;
}

void interpreter::exec_set(const stmt& s) {
    if (!s.attr.empty()) {
        value target = lookup(s.text);
        if (!target.is_map() || !target.map().is_namespace) {
            throw value_error{"cannot assign attribute '" + s.attr + "' on '" + s.text +
                              "': only namespace() objects support attribute assignment"};
        }
        value v = eval(*s.value);
        if (v.has_namespace()) throw value_error{"a namespace() object cannot be stored inside a namespace"};
        target.map_handle()->set(s.attr, std::move(v));
        return;
    }
    value v = eval(*s.value);
    if (s.targets.size() == 1) {
        assign(s.targets[0], std::move(v));
        return;
    }
    value_list items = iterate(v);
    if (items.size() != s.targets.size()) {
        throw value_error{"cannot unpack " + std::to_string(items.size()) + " values into " +
                          std::to_string(s.targets.size()) + " names"};
    }
    for (size_t i = 0; i < items.size(); ++i) assign(s.targets[i], std::move(items[i]));
}

interpreter::flow interpreter::exec_for(const stmt& s) {
    value_list items = iterate(eval(*s.value));
    scope local;
    scope_guard g(scopes_, &local);
    auto bind = [&](const value& item) {
        if (s.targets.size() == 1) {
            local[s.targets[0]] = item;
            return;
        }
        value_list parts = iterate(item);
        if (parts.size() != s.targets.size()) {
            throw value_error{"cannot unpack " + std::to_string(parts.size()) + " values into " +
                              std::to_string(s.targets.size()) + " loop variables"};
        }
        for (size_t i = 0; i < parts.size(); ++i) local[s.targets[i]] = std::move(parts[i]);
    };
    if (s.condition) {
        value_list kept;
        for (auto& item : items) {
            charge(1);
            bind(item);
            if (truthy(eval(*s.condition))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) return exec_list(s.else_body);
    size_t n = items.size();
    for (size_t i = 0; i < n; ++i) {
        if (++n_iterations_ > opt_.max_iterations) {
            throw value_error{"template exceeded the loop iteration limit (" + std::to_string(opt_.max_iterations) +
                              ")"};
        }
        bind(items[i]);
        auto loop = std::make_shared<value_map>();
        loop->set("index", value(i + 1));
        loop->set("index0", value(i));
        loop->set("revindex", value(n - i));
        loop->set("revindex0", value(n - i - 1));
        loop->set("first", value(i == 0));
        loop->set("last", value(i + 1 == n));
        loop->set("length", value(n));
        loop->set("depth", value(1));
        loop->set("depth0", value(0));
        if (i > 0) loop->set("previtem", items[i - 1]);
        if (i + 1 < n) loop->set("nextitem", items[i + 1]);
        loop->set("cycle", value(func_ptr(std::make_shared<cycle_fn>(i))));
        local["loop"] = value(std::move(loop));
        flow f = exec_list(s.body);
        if (f == flow::break_) break;
    }
    return flow::normal;
}

void interpreter::exec_call_block(const stmt& s) {
    const expr& call_expr = *s.value;
    value fn = eval(*call_expr.args[0]);
    if (!fn.is_func()) throw value_error{"'" + describe_expr(*call_expr.args[0]) + "' is not callable"};
    call_args args = eval_args(call_expr, 1);
    auto alive = std::make_shared<bool>(true);
    auto caller = std::make_shared<caller_fn>(&s, scopes_, alive);
    args.named.emplace_back("caller", value(func_ptr(caller)));
    value result;
    try {
        result = call(fn, args, &call_expr);
    } catch (...) {
        *alive = false;
        throw;
    }
    *alive = false;
    write(to_str(result));
}

std::string interpreter::capture(const stmt_list& body) {
    if (++depth_ > opt_.max_depth) {
        --depth_;
        throw value_error{"macro recursion or block nesting exceeds the depth limit of " +
                          std::to_string(opt_.max_depth)};
    }
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    try {
        exec_list(body);
    } catch (...) {
        out_ = saved;
        --depth_;
        throw;
    }
    out_ = saved;
    --depth_;
    return buf;
}

value interpreter::invoke_macro(const stmt& def, call_args& args, const std::vector<scope*>& closure, value caller) {
    scope local;
    value_list varargs;
    size_t n_params = def.params.size();
    for (size_t i = 0; i < args.positional.size(); ++i) {
        if (i < n_params)
            local[def.params[i].name] = std::move(args.positional[i]);
        else
            varargs.push_back(std::move(args.positional[i]));
    }
    auto kwargs = std::make_shared<value_map>();
    for (auto& [k, v] : args.named) {
        bool is_param = false;
        for (const auto& p : def.params) is_param |= p.name == k;
        if (is_param || k == "caller")
            local[k] = std::move(v);
        else
            kwargs->set(k, std::move(v));
    }
    local["varargs"] = value(std::move(varargs));
    local["kwargs"] = value(std::move(kwargs));
    if (!caller.is_undefined()) local["caller"] = std::move(caller);

    std::vector<scope*> saved = std::move(scopes_);
    scopes_ = closure.empty() ? std::vector<scope*>{saved[0]} : closure;
    scopes_.push_back(&local);
    std::string result;
    try {
        for (const auto& p : def.params) {
            if (local.find(p.name) == local.end()) {
                local[p.name] = p.default_value ? eval(*p.default_value) : value();
            }
        }
        result = capture(def.body);
    } catch (...) {
        scopes_ = std::move(saved);
        throw;
    }
    scopes_ = std::move(saved);
    return value(std::move(result));
}

// --- expressions -------------------------------------------------------------------------------

// Looking into an undefined value (x.y, x[k]) gives undefined, as llama.cpp's engine does (checked
// with its /apply-template); Python Jinja2's default Undefined raises instead. Real templates rely on
// it: Gemma 4's reads value['type'][0] of a tool property without a type, which llama.cpp renders
// as an empty type. Calling an undefined value still fails.
value interpreter::look_into(const expr& e, bool item) {
    const value base = eval(*e.args[0]);
    if (base.is_undefined()) {
        if (item) (void)eval(*e.args[1]);  // the key's own errors still count
        return value();
    }
    return item ? get_item(base, eval(*e.args[1])) : get_attr(*this, base, e.name);
}

value interpreter::eval(const expr& e) {
    try {
        frame_guard frame(n_frames_);
        charge(1);
        switch (e.kind) {
            case expr_kind::literal:
                return e.lit;
            case expr_kind::name:
                return lookup(e.name);
            case expr_kind::list:
            case expr_kind::tuple: {
                value_list items;
                items.reserve(e.args.size());
                for (const auto& a : e.args) {
                    items.push_back(eval(*a));
                }
                return value(std::move(items));
            }
            case expr_kind::dict: {
                value m = make_map();
                for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                    value k = eval(*e.args[i]);
                    value v = eval(*e.args[i + 1]);
                    m.map_handle()->set(k.is_string() ? k.str() : to_str(k), std::move(v));
                }
                return m;
            }
            case expr_kind::attr:
                return look_into(e, false);
            case expr_kind::item:
                return look_into(e, true);
            case expr_kind::slice:
                return eval_slice(e);
            case expr_kind::call:
                return eval_call(e);
            case expr_kind::filter:
                return eval_filter(e);
            case expr_kind::test:
                return value(eval_test(e));
            case expr_kind::unary: {
                value v = eval(*e.args[0]);
                if (e.name == "not") return value(!truthy(v));
                return unary_op(e.name, v);
            }
            case expr_kind::binary:
                return eval_binary(e);
            case expr_kind::cond:
                if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
                return e.args[2] ? eval(*e.args[2]) : value();
        }
    } catch (const value_error& err) {
        throw_render_error(e.line, e.column, err.message);
    }
    return value();
}

value interpreter::eval_binary(const expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
        value l = eval(*e.args[0]);
        return truthy(l) ? eval(*e.args[1]) : l;
    }
    if (op == "or") {
        value l = eval(*e.args[0]);
        return truthy(l) ? l : eval(*e.args[1]);
    }
    value l = eval(*e.args[0]);
    value r = eval(*e.args[1]);
    if (op == "==") return value(equals(l, r));
    if (op == "!=") return value(!equals(l, r));
    if (op == "in") return value(contains(r, l));
    if (op == "not in") return value(!contains(r, l));
    if (op == "<") return value(compare(l, r) < 0);
    if (op == "<=") return value(compare(l, r) <= 0);
    if (op == ">") return value(compare(l, r) > 0);
    if (op == ">=") return value(compare(l, r) >= 0);
    if (op == "~") {
        std::string s = to_str(l);
        s += to_str(r);
        check_string(s.size());
        charge(s.size() / 16);
        return value(std::move(s));
    }
    if (l.is_undefined() || r.is_undefined()) {
        const expr& side = l.is_undefined() ? *e.args[0] : *e.args[1];
        throw value_error{"'" + describe_expr(side) + "' is undefined (operator '" + op + "')"};
    }
    return binary_op(*this, op, l, r);
}

value interpreter::eval_slice(const expr& e) {
    value target = eval(*e.args[0]);
    auto bound = [&](const expr_ptr& p) -> std::optional<int64_t> {
        if (!p) return std::nullopt;
        value v = eval(*p);
        if (v.is_none()) return std::nullopt;
        return v.to_int();
    };
    std::optional<int64_t> start = bound(e.args[1]);
    std::optional<int64_t> stop = bound(e.args[2]);
    std::optional<int64_t> step = bound(e.args[3]);
    if (target.is_list()) charge(target.list().size());
    if (target.is_string()) charge(target.str().size() / 16);
    return slice_value(target, start, stop, step.value_or(1));
}

call_args interpreter::eval_args(const expr& e, size_t first) {
    call_args args;
    for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i]));
    for (const auto& [k, v] : e.kwargs) args.named.emplace_back(k, eval(*v));
    return args;
}

value interpreter::eval_call(const expr& e) {
    const expr& callee = *e.args[0];
    if (callee.kind == expr_kind::attr) {
        value obj = eval(*callee.args[0]);
        call_args args = eval_args(e, 1);
        if (std::optional<value> r = call_method(*this, obj, callee.name, args)) return *r;
        value fn = get_attr(*this, obj, callee.name);
        if (fn.is_undefined()) throw value_error{"'" + describe_expr(callee) + "' is undefined"};
        return call(fn, args, &e);
    }
    value fn = eval(callee);
    if (fn.is_undefined()) throw value_error{"'" + describe_expr(callee) + "' is undefined"};
    call_args args = eval_args(e, 1);
    return call(fn, args, &e);
}

value interpreter::call(const value& fn, call_args& args, const expr* at) {
    (void)at;
    if (!fn.is_func()) throw value_error{"'" + type_name(fn) + "' object is not callable"};
    return fn.func()->call(*this, args);  // macros bound their recursion through capture()
}

value interpreter::eval_filter(const expr& e) {
    value input = eval(*e.args[0]);
    call_args args = eval_args(e, 1);
    return apply_filter(e.name, input, args);
}

bool interpreter::eval_test(const expr& e) {
    value input = eval(*e.args[0]);
    call_args args = eval_args(e, 1);
    bool r = apply_test(e.name, input, args);
    return e.negated ? !r : r;
}

}  // namespace tandem::jinja
