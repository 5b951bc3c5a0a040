// Cost of reading a streamed tool call: one call whose arguments hold a long string, pushed to the
// answer parser in 4-byte pieces (about a token each), per family format. Flat microseconds per
// push as the arguments grow means linear work; growing in step with them means each push re-reads
// the call from its start.
// Usage: bench_tool_parse [family...]   (all families when none is named)
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "server/chat/chat_output.h"

namespace {

using namespace tandem;

struct family {
    const char* name;
    const char* template_markers;  // what chat_syntax_detect recognises the family by
    std::string before, after;     // the call around its arguments object
};

bool wanted(int argc, char** argv, std::string_view name) {
    if (argc < 2) return true;
    for (int i = 1; i < argc; ++i)
        if (name == argv[i]) return true;
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    const family families[] = {
        {"hermes", "<tool_call> <think>", "<tool_call>\n{\"name\": \"w\", \"arguments\": ", "}\n</tool_call>"},
        {"mistral", "[TOOL_CALLS]", "[TOOL_CALLS][{\"name\": \"w\", \"arguments\": ", "}]"},
        {"mistral-args", "[TOOL_CALLS]", "[TOOL_CALLS]w[ARGS]", ""},
        {"llama3", "<|start_header_id|>ipython", "{\"name\": \"w\", \"parameters\": ", "}"},
        {"generic", "{{ x }}", "{\"tool_calls\": [{\"name\": \"w\", \"arguments\": ", "}]}"},
        {"generic-one", "{{ x }}", "{\"tool_call\": {\"name\": \"w\", \"arguments\": ", "}}"},
        {"deepseek", "<｜tool▁calls▁begin｜>",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>w\n```json\n",
         "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
        {"gemma4", "<|tool_call>", "<|tool_call>call:w", "<tool_call|>"},
        {"gpt-oss", "<|channel|>", "<|channel|>commentary to=functions.w <|constrain|>json<|message|>", "<|call|>"},
    };
    std::printf("%-12s %8s %7s %10s %10s\n", "family", "args B", "pushes", "total ms", "us/push");
    for (const family& f : families) {
        if (!wanted(argc, argv, f.name)) continue;
        for (int n : {2000, 8000, 32000, 128000}) {
            const bool gemma = std::string(f.name) == "gemma4";
            const std::string text(static_cast<size_t>(n), 'a');
            const std::string args = gemma ? "{text:<|\"|>" + text + "<|\"|>}" : "{\"text\": \"" + text + "\"}";
            const std::string answer = f.before + args + f.after;
            chat_parse_options o;
            o.parse_tools = true;
            o.id_seed = 1;
            chat_output_parser p(chat_syntax_detect(f.template_markers), o);
            const auto t0 = std::chrono::steady_clock::now();
            size_t n_calls = 0, n_pieces = 0;
            auto take = [&](const chat_delta& d) {
                n_calls += d.calls.size();
                n_pieces += d.call_deltas.size();
            };
            for (size_t i = 0; i < answer.size(); i += 4) take(p.push(std::string_view(answer).substr(i, 4)));
            take(p.finish());
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            const size_t pushes = (answer.size() + 3) / 4;
            if (n_calls != 1) std::printf("%s: %zu calls parsed, expected 1\n", f.name, n_calls);
            std::printf("%-12s %8d %7zu %10.1f %10.2f   (%zu streamed pieces)\n", f.name, n, pushes, ms,
                        ms * 1000 / static_cast<double>(pushes), n_pieces);
        }
    }
    return 0;
}
