// grammar_builder: rules as lists of symbol sequences, flattened by finish() into the recognizer's form.
#include "engine/grammar/grammar.h"

#include <algorithm>

#include "common/error.h"

namespace tandem::gram {

sym sym_bytes(const byte_set& s) {
    sym x;
    x.set = s;
    return x;
}

sym sym_rule(uint32_t rule) {
    sym x;
    x.is_rule = true;
    x.rule = rule;
    return x;
}

seq seq_lit(std::string_view text) {
    seq out;
    for (char c : text) out.push_back(sym_bytes(byte_set{}.add(static_cast<uint8_t>(c))));
    return out;
}

seq seq_cat(std::initializer_list<seq> parts) {
    seq out;
    for (const seq& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

uint32_t grammar_builder::declare() {
    rules_.emplace_back();
    return static_cast<uint32_t>(rules_.size() - 1);
}

void grammar_builder::add_alt(uint32_t rule, const seq& alternative) {
    rules_.at(rule).push_back(alternative);
}

uint32_t grammar_builder::rule_of(const std::vector<seq>& alternatives) {
    const uint32_t r = declare();
    for (const seq& a : alternatives) add_alt(r, a);
    return r;
}

// Right recursion throughout, so the recognizer's stacks stay flat: the rule reference ending an
// alternative is a tail call (matcher.cpp pushes no return position for it).
uint32_t grammar_builder::repeat(const seq& x, int64_t min, int64_t max, const seq& sep) {
    if (max >= 0 && max < min) throw error("grammar: a repetition's maximum is below its minimum");
    const seq sep_x = seq_cat({sep, x});
    // After the first item: the remaining items, each preceded by the separator.
    uint32_t tail;
    const int64_t rest_min = std::max<int64_t>(min - 1, 0);
    if (max < 0) {
        tail = declare();  // tail ::= sep x tail | ""
        add_alt(tail, seq_cat({sep_x, {sym_rule(tail)}}));
        add_alt(tail, {});
    } else {
        tail = rule_of({{}});  // nothing more
        for (int64_t i = rest_min; i < std::max<int64_t>(max - 1, 0); ++i)
            tail = rule_of({seq_cat({sep_x, {sym_rule(tail)}}), {}});
    }
    for (int64_t i = 0; i < rest_min; ++i) tail = rule_of({seq_cat({sep_x, {sym_rule(tail)}})});
    if (max == 0) return rule_of({{}});
    const seq some = seq_cat({x, {sym_rule(tail)}});
    return min == 0 ? rule_of({some, {}}) : rule_of({some});
}

uint32_t grammar_builder::text_until(std::string_view trigger, const seq& then) {
    const size_t n = trigger.size();
    if (n == 0) throw error("grammar: an empty trigger");
    std::vector<size_t> fail(n, 0);  // KMP: the longest proper border of trigger[0, i]
    for (size_t i = 1, k = 0; i < n; ++i) {
        while (k > 0 && trigger[i] != trigger[k]) k = fail[k - 1];
        if (trigger[i] == trigger[k]) ++k;
        fail[i] = k;
    }
    auto next = [&](size_t k, char c) {
        while (k > 0 && trigger[k] != c) k = fail[k - 1];
        return trigger[k] == c ? k + 1 : 0;
    };
    std::vector<uint32_t> state(n);
    for (size_t k = 0; k < n; ++k) state[k] = declare();
    for (size_t k = 0; k < n; ++k) {
        std::vector<byte_set> to(n + 1);  // bytes by the state they lead to
        for (int b = 1; b < 256; ++b) to[next(k, static_cast<char>(b))].add(static_cast<uint8_t>(b));
        for (size_t t = 0; t <= n; ++t) {
            if (to[t] == byte_set{}) continue;
            add_alt(state[k], t == n ? seq_cat({{sym_bytes(to[t])}, then}) : seq{sym_bytes(to[t]), sym_rule(state[t])});
        }
    }
    return state[0];
}

// Rules that match "", then a depth-first search for a cycle among "rule A may start with rule B".
void grammar_builder::check_no_empty_loop() const {
    const size_t n = rules_.size();
    std::vector<char> nullable(n, 0);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < n; ++r) {
            if (nullable[r]) continue;
            for (const seq& a : rules_[r]) {
                const bool all =
                    std::all_of(a.begin(), a.end(), [&](const sym& s) { return s.is_rule && nullable[s.rule]; });
                if (all) {
                    nullable[r] = 1;
                    changed = true;
                    break;
                }
            }
        }
    }
    std::vector<std::vector<uint32_t>> starts(n);
    for (size_t r = 0; r < n; ++r) {
        for (const seq& a : rules_[r]) {
            for (const sym& s : a) {
                if (!s.is_rule) break;
                starts[r].push_back(s.rule);
                if (!nullable[s.rule]) break;
            }
        }
    }
    std::vector<char> color(n, 0);  // 0 new, 1 on the path, 2 done
    std::vector<std::pair<uint32_t, size_t>> path;
    for (size_t r0 = 0; r0 < n; ++r0) {
        if (color[r0]) continue;
        path.push_back({static_cast<uint32_t>(r0), 0});
        color[r0] = 1;
        while (!path.empty()) {
            auto& [r, i] = path.back();
            if (i == starts[r].size()) {
                color[r] = 2;
                path.pop_back();
                continue;
            }
            const uint32_t next = starts[r][i++];
            if (color[next] == 1)
                throw error("grammar: a rule refers to itself before matching anything (left recursion)");
            if (color[next] == 0) {
                color[next] = 1;
                path.push_back({next, 0});
            }
        }
    }
}

grammar grammar_builder::finish(uint32_t root) {
    check_no_empty_loop();
    grammar g;
    g.root = root;
    g.alts.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
        if (rules_[r].empty()) throw error("grammar: rule " + std::to_string(r) + " has no alternative");
        for (const seq& a : rules_[r]) {
            g.alts[r].push_back(static_cast<uint32_t>(g.elems.size()));
            for (const sym& s : a) {
                if (s.is_rule) {
                    if (s.rule >= rules_.size()) throw error("grammar: reference to an undefined rule");
                    g.elems.push_back({element::kind::rule, s.rule});
                    continue;
                }
                auto it = std::find(g.sets.begin(), g.sets.end(), s.set);
                if (it == g.sets.end()) it = g.sets.insert(g.sets.end(), s.set);
                g.elems.push_back({element::kind::bytes, static_cast<uint32_t>(it - g.sets.begin())});
            }
            g.elems.push_back({element::kind::end, 0});
        }
    }
    return g;
}

}  // namespace tandem::gram
