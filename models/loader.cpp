// model_loader: typed, shape-checked access to a GGUF file for the architecture files.
#include "models/loader.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <sstream>

#include "common/error.h"
#include "models/gguf/gguf.h"

namespace tandem {

model_loader::model_loader(const gguf::file& f, backend& be) : f_(f), be_(be) {
    auto a = f.get_string("general.architecture");
    if (!a) throw error(f.path() + ": missing general.architecture");
    arch_ = std::string(*a);
}

void model_loader::fail(const std::string& what) const {
    throw error(f_.path() + ": " + what);
}

int64_t model_loader::get_int(const std::string& k) const {
    auto v = f_.get_i64(key(k));
    if (!v) fail("missing required key " + key(k));
    return *v;
}

int64_t model_loader::get_int(const std::string& k, int64_t fallback) const {
    return f_.get_i64(key(k)).value_or(fallback);
}

float model_loader::get_float(const std::string& k) const {
    auto v = f_.get_f64(key(k));
    if (!v) fail("missing required key " + key(k));
    return static_cast<float>(*v);
}

float model_loader::get_float(const std::string& k, float fallback) const {
    return static_cast<float>(f_.get_f64(key(k)).value_or(fallback));
}

std::optional<std::string> model_loader::get_string(const std::string& k) const {
    auto v = f_.get_string(key(k));
    if (!v) return std::nullopt;
    return std::string(*v);
}

std::vector<int64_t> model_loader::get_per_layer(const std::string& k, int64_t n) const {
    if (f_.array_size(key(k)) > 0 || (f_.has(key(k)) && !f_.get_i64(key(k)).has_value())) {
        auto arr = f_.get_int_array(key(k));
        if (!arr || static_cast<int64_t>(arr->size()) != n) {
            fail(key(k) + ": expected " + std::to_string(n) + " per-layer values");
        }
        return *arr;
    }
    return std::vector<int64_t>(static_cast<size_t>(n), get_int(k));
}

std::vector<bool> model_loader::get_bool_array(const std::string& k, int64_t n) const {
    auto arr = f_.get_bool_array(key(k));
    if (!arr) fail("missing required key " + key(k));
    if (static_cast<int64_t>(arr->size()) != n) {
        fail(key(k) + ": expected " + std::to_string(n) + " values, found " + std::to_string(arr->size()));
    }
    return *arr;
}

int64_t model_loader::rows_of(const std::string& name) {
    asked_.insert(name);
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (!t) fail("missing tensor " + name);
    return t->ne[1];
}

weight model_loader::load(const std::string& name, std::initializer_list<int64_t> shape, bool f32_only,
                          weight_use use) {
    asked_.insert(name);
    const gguf::tensor_info* t = f_.find_tensor(name);
    if (!t) return {};
    int i = 0;
    bool ok = true;
    for (int64_t d : shape) ok = ok && t->ne[i++] == d;
    for (; i < 4; ++i) ok = ok && t->ne[i] == 1;
    if (!ok) {
        std::ostringstream msg;
        msg << "tensor " << name << ": expected shape [";
        for (int64_t d : shape) msg << d << ",";
        msg << "] but the file has [" << t->ne[0] << "," << t->ne[1] << "," << t->ne[2] << "," << t->ne[3] << "]";
        fail(msg.str());
    }
    const std::string type_name(dtype_info_of(t->type).name);
    if (f32_only && t->type != dtype::f32) {
        fail("tensor " + name + " has type " + type_name + ", but norms, biases and scales must be f32");
    }
    if (!dtype_info_of(t->type).computable) {
        fail("tensor " + name + " has type " + type_name + ", which Tandem cannot compute with yet");
    }
    try {
        weight w = be_.load_weight(*t, f32_only ? weight_use::rows : use);
        if (w.packed) f_.release({t->data, t->n_bytes});
        return w;
    } catch (const error& e) {  // a device out of memory: say which tensor did not fit
        char size[32];
        std::snprintf(size, sizeof size, "%.1f MiB", static_cast<double>(t->n_bytes) / (1 << 20));
        fail("tensor " + name + " (" + type_name + ", " + size + " in the file): " + e.what());
    }
}

weight model_loader::optional(const std::string& name, std::initializer_list<int64_t> shape) {
    return load(name, shape, false);
}

weight model_loader::optional_f32(const std::string& name, std::initializer_list<int64_t> shape) {
    return load(name, shape, true);
}

weight model_loader::require(const std::string& name, std::initializer_list<int64_t> shape) {
    weight w = load(name, shape, false);
    if (!w) fail("missing tensor " + name);
    return w;
}

weight model_loader::require_table(const std::string& name, std::initializer_list<int64_t> shape) {
    weight w = load(name, shape, false, weight_use::rows);
    if (!w) fail("missing tensor " + name);
    return w;
}

model_loader::embeddings model_loader::require_embeddings(const std::string& table, const std::string& output,
                                                          int64_t n_embd, int64_t n_vocab) {
    embeddings e;
    e.output = optional(output, {n_embd, n_vocab});
    e.table = load(table, {n_embd, n_vocab}, false, e.output ? weight_use::rows : weight_use::rows_and_matmul);
    if (!e.table) fail("missing tensor " + table);
    if (!e.output) e.output = e.table;
    return e;
}

weight model_loader::require_f32(const std::string& name, std::initializer_list<int64_t> shape) {
    weight w = load(name, shape, true);
    if (!w) fail("missing tensor " + name);
    return w;
}

void model_loader::refuse_moe() const {
    const auto refuse = [this](const std::string& evidence) {
        fail("Mixture-of-Experts (MoE) layers are not supported yet (" + evidence + ")");
    };
    const int64_t n_expert = get_int("expert_count", 0);
    if (n_expert > 0) refuse(key("expert_count") + " = " + std::to_string(n_expert));
    for (const gguf::tensor_info& t : f_.tensors()) {
        // The router (ffn_gate_inp) and the stacked experts (ffn_{gate,up,down,gate_up}_exps).
        if (t.name.find("ffn_gate_inp") != std::string::npos || t.name.find("_exps") != std::string::npos) {
            refuse("tensor " + t.name);
        }
    }
}

std::vector<std::string> model_loader::unused_tensors() const {
    std::vector<std::string> out;
    for (const gguf::tensor_info& t : f_.tensors()) {
        if (!asked_.contains(t.name)) out.push_back(t.name);
    }
    return out;
}

void model_loader::warn_unused() const {
    const std::vector<std::string> unused = unused_tensors();
    if (unused.empty()) return;
    constexpr size_t k_shown = 5;
    std::string names;
    for (size_t i = 0; i < unused.size() && i < k_shown; ++i) names += (i ? ", " : "") + unused[i];
    if (unused.size() > k_shown) names += ", ...";
    spdlog::warn("{}: {} tensor(s) not used by the {} architecture, ignored: {}", f_.path(), unused.size(), arch_,
                 names);
}

}  // namespace tandem
