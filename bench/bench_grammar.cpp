// Token-mask cost of grammar-constrained sampling: for a JSON document written token by token
// (the longest vocabulary token the grammar allows at each point, as a model writing it would),
// the time of each mask with an empty cache (cold: the trie walk) and with a warm one (the same
// document again: cache hits), and the time to apply a mask to the logits. Vocabularies: GGUF files
// (vocab-only ones included), their union, and the union padded to 262,144 pieces with joined pairs,
// standing in for a 262k vocabulary (Gemma's) that is not available here.
// Usage: bench_grammar [FILE.gguf ...]   (default: ../shared/models/vocab/*.gguf)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "engine/grammar/json_schema.h"
#include "engine/grammar/token_mask.h"
#include "engine/tokenizer/tokenizer.h"
#include "models/gguf/gguf.h"

namespace {

using namespace tandem;
using namespace tandem::gram;
using clk = std::chrono::steady_clock;

const char* k_object_doc = R"({"id": 1042, "name": "Ada Lovelace", "tags": ["math", "engines", "poetry"],
 "address": {"city": "London", "zip": "W1", "geo": [51.5072, -0.1276]}, "active": true, "notes": null,
 "history": [{"year": 1843, "event": "Notes on the Analytical Engine"}, {"year": 1833, "event": "met Babbage"}]})";

const char* k_schema = R"({"type":"object","properties":{
  "id":{"type":"integer"},"name":{"type":"string","maxLength":64},
  "tags":{"type":"array","items":{"type":"string"},"maxItems":8},
  "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"},
     "geo":{"type":"array","prefixItems":[{"type":"number"},{"type":"number"}],"items":false}},
     "required":["city","zip","geo"],"additionalProperties":false},
  "active":{"type":"boolean"},"notes":{"type":["string","null"]},
  "history":{"type":"array","items":{"$ref":"#/$defs/event"}}},
 "required":["id","name","tags","address","active","notes","history"],"additionalProperties":false,
 "$defs":{"event":{"type":"object","properties":{"year":{"type":"integer"},"event":{"type":"string"}},
     "required":["year","event"],"additionalProperties":false}}})";

// The same document under numeric bounds and patterns (the keywords pydantic's ge/le and regex emit).
const char* k_schema_bounded = R"({"type":"object","properties":{
  "id":{"type":"integer","minimum":1,"maximum":100000},
  "name":{"type":"string","pattern":"^[A-Z][a-z]+( [A-Z][a-z]+)*$"},
  "tags":{"type":"array","items":{"type":"string","pattern":"^[a-z]+$"},"maxItems":8},
  "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string","pattern":"^[A-Z0-9]{2,8}$"},
     "geo":{"type":"array","prefixItems":[{"type":"number","minimum":-90,"maximum":90},
       {"type":"number","minimum":-180,"maximum":180}],"items":false}},
     "required":["city","zip","geo"],"additionalProperties":false},
  "active":{"type":"boolean"},"notes":{"type":["string","null"]},
  "history":{"type":"array","items":{"$ref":"#/$defs/event"}}},
 "required":["id","name","tags","address","active","notes","history"],"additionalProperties":false,
 "$defs":{"event":{"type":"object","properties":{"year":{"type":"integer","exclusiveMinimum":1000,"maximum":2100},
     "event":{"type":"string"}},"required":["year","event"],"additionalProperties":false}}})";

double us_since(clk::time_point t0) {
    return std::chrono::duration<double, std::micro>(clk::now() - t0).count();
}

// The longest token whose bytes start `rest` and which the mask allows; -1 if none.
int32_t longest_allowed(const token_index& v, std::span<const uint64_t> mask, std::string_view rest) {
    int32_t best = -1;
    uint32_t n = 0;
    for (char c : rest) {
        const token_index::node& nd = v.nodes()[n];
        uint32_t next = 0;
        for (uint32_t ch = nd.first_child; ch < nd.first_child + nd.n_children; ++ch) {
            if (v.nodes()[ch].byte == static_cast<uint8_t>(c)) next = ch;
        }
        if (next == 0) break;
        n = next;
        const token_index::node& hit = v.nodes()[n];
        for (uint32_t t = hit.first_token; t < hit.first_token + hit.n_tokens; ++t) {
            if (mask_has(mask, v.tokens()[t])) best = v.tokens()[t];
        }
    }
    return best;
}

struct pass_result {
    int n_tokens = 0;
    double mean_us = 0, max_us = 0;
};

pass_result run_pass(const std::shared_ptr<const compiled_grammar>& g, const token_index& v, const std::string& doc) {
    grammar_matcher m(g, v);
    pass_result r;
    std::string_view rest = doc;
    double total = 0;
    while (true) {
        const auto t0 = clk::now();
        const std::span<const uint64_t> mask = m.mask();
        const double us = us_since(t0);
        total += us;
        r.max_us = std::max(r.max_us, us);
        ++r.n_tokens;
        if (rest.empty()) break;
        const int32_t t = longest_allowed(v, mask, rest);
        if (t < 0 || !m.accept(t)) {
            std::fprintf(stderr, "the document does not fit the grammar at: %.20s\n", std::string(rest).c_str());
            break;
        }
        rest.remove_prefix(v.piece(t).size());
    }
    r.mean_us = total / r.n_tokens;
    return r;
}

void bench_vocab(const std::string& name, const token_index& v, double build_ms) {
    const std::string doc_min = nlohmann::ordered_json::parse(k_object_doc).dump();
    struct kase {
        const char* what;
        std::string doc;
        const char* schema;  // nullptr: json_object
    };
    const kase cases[] = {{"json_object", k_object_doc, nullptr},
                          {"nested schema", doc_min, k_schema},
                          {"bounds+patterns", doc_min, k_schema_bounded}};
    std::vector<float> logits(static_cast<size_t>(v.n_vocab()), 0.5f);
    for (const kase& k : cases) {
        const auto t0 = clk::now();
        auto g = std::make_shared<compiled_grammar>(
            k.schema ? grammar_from_json_schema(nlohmann::ordered_json::parse(k.schema), true) : grammar_json_object());
        const double compile_us = us_since(t0);
        const pass_result cold = run_pass(g, v, k.doc);
        const pass_result warm = run_pass(g, v, k.doc);
        const auto t1 = clk::now();
        for (int i = 0; i < 20; ++i) mask_logits(logits, g->mask(grammar_matcher(g, v).state(), v));
        const double apply_us = us_since(t1) / 20;
        std::printf("%-28s %7d %7.1f %-14s %6.0f %4d %9.1f %9.1f %9.2f %8.1f\n", name.c_str(), v.n_vocab(), build_ms,
                    k.what, compile_us, cold.n_tokens, cold.mean_us, cold.max_us, warm.mean_us, apply_us);
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) files.push_back(argv[i]);
    if (files.empty()) {
        for (const auto& e : std::filesystem::directory_iterator("../shared/models/vocab")) {
            if (e.path().extension() == ".gguf") files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
    }
    std::printf("%-28s %7s %7s %-14s %6s %4s %9s %9s %9s %8s\n", "vocabulary", "n_vocab", "trie ms", "grammar",
                "comp us", "tok", "cold us", "cold max", "warm us", "apply us");
    std::vector<std::string> all = {""};  // the union: id 0 stands for end of generation
    std::set<std::string> seen;
    for (const std::string& f : files) {
        try {
            const auto file = gguf::file::open(f);
            const auto tok = tokenizer::from_gguf(*file);
            const auto t0 = clk::now();
            const token_index v = token_index_from(*tok);
            const double build_ms = us_since(t0) / 1e3;
            bench_vocab(std::filesystem::path(f).stem().string(), v, build_ms);
            for (int32_t id = 0; id < v.n_vocab(); ++id) {
                if (!v.piece(id).empty() && seen.insert(v.piece(id)).second) all.push_back(v.piece(id));
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", f.c_str(), e.what());
        }
    }
    if (all.size() > 262144) all.resize(262144);
    auto t_u = clk::now();
    const token_index u(all, {0});
    bench_vocab("union of the above", u, us_since(t_u) / 1e3);
    // Padded to 262,144 pieces with pairs of union pieces joined (longer tokens, as large vocabularies have).
    for (size_t i = 1; all.size() < 262144 && i + 1 < static_cast<size_t>(u.n_vocab()); i += 2) {
        if (seen.insert(all[i] + all[i + 1]).second) all.push_back(all[i] + all[i + 1]);
    }
    t_u = clk::now();
    const token_index big(all, {0});
    bench_vocab("union + joined pairs", big, us_since(t_u) / 1e3);
    std::printf("trie ms: building the vocabulary trie (once per engine, at its first grammar); comp us: compiling\n");
    std::printf(
        "cold: mask with an empty cache (trie walk), per generated token; warm: the same from the cache;\n"
        "apply: setting disallowed logits to -inf over the whole vocabulary. Times in microseconds.\n");
    return 0;
}
