// `tandem serve` configuration: one key table read from flags, TANDEM_* env and a TOML file, with
// precedence flags > env > file > defaults. Every value is validated by the key's own parser.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string_view>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "server/chat/chat_syntax.h"
#include "server/http/server_config.h"

namespace tandem {
namespace {

using setter = std::function<void(server_config&, const std::string&)>;

struct key_def {
    std::string name;  // dashed, as on the command line
    std::string short_name;
    std::string help;
    bool repeatable = false;
    setter set;
};

[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& why) {
    throw error("configuration: bad value '" + value + "' for '" + key + "': " + why);
}

int64_t parse_int(const std::string& key, const std::string& s, int64_t lo, int64_t hi) {
    size_t used = 0;
    int64_t v = 0;
    try {
        v = std::stoll(s, &used);
    } catch (const std::exception&) {
        bad(key, s, "expected an integer");
    }
    if (used != s.size()) bad(key, s, "expected an integer");
    if (v < lo || v > hi) bad(key, s, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

// A number within [lo, hi]; `what` names the expected form in the error.
double parse_real(const std::string& key, const std::string& s, double lo, double hi, const char* what = "a number",
                  const char* unit = "") {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s, &used);
    } catch (const std::exception&) {
        bad(key, s, std::string("expected ") + what);
    }
    if (used != s.size() || !std::isfinite(v)) bad(key, s, std::string("expected ") + what);
    if (v < lo || v > hi) bad(key, s, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]" + unit);
    return v;
}

double parse_seconds(const std::string& key, const std::string& s, double lo, double hi) {
    std::string t = s;
    if (!t.empty() && t.back() == 's') t.pop_back();
    if (t.empty()) bad(key, s, "expected seconds, e.g. 30 or 2.5s");
    return parse_real(key, t, lo, hi, "seconds, e.g. 30 or 2.5s", " seconds");
}

bool parse_bool(const std::string& key, const std::string& s) {
    if (s == "true" || s == "1" || s == "on") return true;
    if (s == "false" || s == "0" || s == "off") return false;
    bad(key, s, "expected true or false");
}

}  // namespace

// A byte count: a plain number or one with K/M/G/T (powers of 1024), optionally followed by B or iB.
int64_t parse_byte_size(const std::string& key, const std::string& s) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s, &used);
    } catch (const std::exception&) {
        bad(key, s, "expected a size like 512M or 2G");
    }
    std::string unit = s.substr(used);
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::toupper(c); });
    if (unit.size() > 1 && (unit.ends_with("IB")))
        unit.resize(unit.size() - 2);
    else if (unit.size() > 1 && unit.back() == 'B')
        unit.pop_back();
    double mul = 1;
    if (unit == "K")
        mul = 1024.0;
    else if (unit == "M")
        mul = 1024.0 * 1024;
    else if (unit == "G")
        mul = 1024.0 * 1024 * 1024;
    else if (unit == "T")
        mul = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty() && unit != "B")
        bad(key, s, "unknown unit '" + s.substr(used) + "' (use K, M, G or T)");
    const double bytes = v * mul;
    if (!std::isfinite(bytes) || bytes < 0 || bytes > 9.0e18) bad(key, s, "out of range");
    return static_cast<int64_t>(bytes);
}

std::time_t parse_local_time(const std::string& key, const std::string& s) {
    // The text must be a prefix of this shape ending after the day, the minutes or the seconds.
    static constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd";
    bool fits = s.size() == 10 || s.size() == 16 || s.size() == 19;
    for (size_t i = 0; fits && i < s.size(); ++i)
        fits = shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(s[i])) != 0 : s[i] == shape[i];
    if (!fits) bad(key, s, "expected YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS");
    auto num = [&](size_t at, size_t len) { return std::stoi(s.substr(at, len)); };
    std::tm tm{};
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(5, 2) - 1;
    tm.tm_mday = num(8, 2);
    if (s.size() >= 16) {
        tm.tm_hour = num(11, 2);
        tm.tm_min = num(14, 2);
    }
    if (s.size() == 19) tm.tm_sec = num(17, 2);
    tm.tm_isdst = -1;
    const std::tm given = tm;
    const std::time_t t = std::mktime(&tm);
    // mktime normalizes 2026-02-30 to March 2, and a time skipped by a DST change to another: refuse both.
    if (t == -1 || tm.tm_year != given.tm_year || tm.tm_mon != given.tm_mon || tm.tm_mday != given.tm_mday ||
        tm.tm_hour != given.tm_hour || tm.tm_min != given.tm_min || tm.tm_sec != given.tm_sec)
        bad(key, s, "not a valid date and time");
    return t;
}

namespace {

#define INT_KEY(field, key, lo, hi) [](server_config& c, const std::string& v) { c.field = parse_int(key, v, lo, hi); }

std::vector<key_def> key_table() {
    auto secs = [](double server_config::*field, const char* key, double lo, double hi) -> setter {
        return [=](server_config& c, const std::string& v) { c.*field = parse_seconds(key, v, lo, hi); };
    };
    auto size = [](int64_t server_config::*field, const char* key, int64_t lo) -> setter {
        return [=](server_config& c, const std::string& v) {
            c.*field = parse_byte_size(key, v);
            if (c.*field < lo) bad(key, v, "must be at least " + std::to_string(lo) + " bytes");
        };
    };
    return {
        {"model", "m", "GGUF model file", false, [](server_config& c, const std::string& v) { c.model_path = v; }},
        {"alias", "", "model name shown to clients", false,
         [](server_config& c, const std::string& v) { c.alias = v; }},
        {"chat-template-file", "", "Jinja chat template overriding the model's", false,
         [](server_config& c, const std::string& v) { c.chat_template_file = v; }},
        {"chat-template-kwargs", "", "JSON object of chat template variables, e.g. {\"enable_thinking\":false}", false,
         [](server_config& c, const std::string& v) {
             const nlohmann::json j = nlohmann::json::parse(v, nullptr, false);
             if (j.is_discarded() || !j.is_object()) bad("chat_template_kwargs", v, "expected a JSON object");
             c.chat_template_kwargs = v;
         }},
        {"chat-template-date", "",
         "the date and time templates print (strftime_now, date_string), e.g. 2026-12-05; default: the clock", false,
         [](server_config& c, const std::string& v) {
             parse_local_time("chat_template_date", v);
             c.chat_template_date = v;
         }},
        {"reasoning-format", "", "thinking as reasoning_content (auto, deepseek) or inline in content (none)", false,
         [](server_config& c, const std::string& v) {
             if (!reasoning_format_valid(v)) bad("reasoning_format", v, "expected none, auto or deepseek");
             c.reasoning_format = v;
         }},
        {"reasoning-budget", "", "reasoning tokens before the end-of-thinking marker is forced (-1: no limit, 0: none)",
         false, INT_KEY(reasoning_budget, "reasoning_budget", -1, 1 << 24)},
        {"threads", "t", "compute threads (0: one per core)", false, INT_KEY(n_threads, "threads", 0, 1024)},
        {"device", "", "compute device: cpu, vulkan (the first GPU) or vulkan:N (see `tandem devices`)", false,
         [](server_config& c, const std::string& v) {
             if (!device_name_valid(v)) bad("device", v, "expected cpu, vulkan or vulkan:N");
             c.device = v;
         }},
        {"ctx-size", "c", "context per sequence (0: the model's)", false, INT_KEY(ctx_size, "ctx_size", 0, 1 << 24)},
        {"parallel", "np", "max running sequences", false, INT_KEY(parallel, "parallel", 1, 1024)},
        {"kv-type", "", "KV cache type: f16, q8_0 or q4_0", false,
         [](server_config& c, const std::string& v) {
             if (!kv_type_from_name(v)) bad("kv_type", v, "expected f16, q8_0 or q4_0");
             c.kv_type = v;
         }},
        {"kv-blocks", "", "KV cache blocks (0: from --kv-memory)", false,
         INT_KEY(kv_blocks, "kv_blocks", 0, 1ll << 32)},
        {"kv-memory", "", "KV cache byte budget, e.g. 512M or 2G", false,
         size(&server_config::kv_memory, "kv_memory", 1 << 20)},
        {"max-queue", "", "waiting requests before 429", false, INT_KEY(max_queue, "max_queue", 1, 1 << 20)},
        {"batch-size", "b", "tokens per forward step, over all sequences", false,
         INT_KEY(batch_size, "batch_size", 1, 1 << 16)},
        {"prefill-chunk", "", "prompt tokens per step while other sequences decode (0: no cap)", false,
         INT_KEY(prefill_chunk, "prefill_chunk", 0, 1 << 16)},
        {"draft-model", "md", "drafter GGUF: a gemma4-assistant (MTP) or a smaller model with the same vocabulary",
         false, [](server_config& c, const std::string& v) { c.draft_model_path = v; }},
        {"spec-type", "", "speculative decoding: auto, none, mtp, draft or ngram", false,
         [](server_config& c, const std::string& v) {
             if (!spec_type_from_name(v)) bad("spec_type", v, "expected auto, none, mtp, draft or ngram");
             c.spec_type = v;
         }},
        {"draft-max", "", "drafts per sequence and round at most (1-16)", false,
         INT_KEY(draft_max, "draft_max", 1, k_max_draft)},
        {"draft-min", "", "a shorter draft is dropped", false, INT_KEY(draft_min, "draft_min", 0, k_max_draft)},
        {"draft-p-min", "", "a drafter stops at a token it gives less probability than this (0-1)", false,
         [](server_config& c, const std::string& v) {
             c.draft_p_min = static_cast<float>(parse_real("draft_p_min", v, 0.0, 1.0));
         }},
        {"draft-adaptive", "", "choose each round's draft length from measured costs (true|false)", false,
         [](server_config& c, const std::string& v) { c.draft_adaptive = parse_bool("draft_adaptive", v); }},
        {"host", "", "address to listen on", false,
         [](server_config& c, const std::string& v) {
             if (v.empty()) bad("host", v, "must not be empty");
             c.host = v;
         }},
        {"port", "", "TCP port (0: ephemeral)", false, INT_KEY(port, "port", 0, 65535)},
        {"io-threads", "", "I/O threads", false, INT_KEY(io_threads, "io_threads", 1, 4)},
        {"max-connections", "", "open connections at most", false,
         INT_KEY(max_connections, "max_connections", 1, 1 << 20)},
        {"max-body-bytes", "", "request body limit, e.g. 8M", false,
         size(&server_config::max_body_bytes, "max_body_bytes", 1024)},
        {"max-header-bytes", "", "request header limit, e.g. 16K", false,
         size(&server_config::max_header_bytes, "max_header_bytes", 1024)},
        {"max-header-fields", "", "request header fields at most", false,
         INT_KEY(max_header_fields, "max_header_fields", 8, 10000)},
        {"idle-timeout", "", "seconds an idle keep-alive connection is kept", false,
         secs(&server_config::idle_timeout, "idle_timeout", 0.01, 86400)},
        {"read-timeout", "", "seconds to read a request header, then its body", false,
         secs(&server_config::read_timeout, "read_timeout", 0.01, 86400)},
        {"write-timeout", "", "seconds for one write to a client", false,
         secs(&server_config::write_timeout, "write_timeout", 0.01, 86400)},
        {"drain-timeout", "", "seconds in-flight requests get at shutdown", false,
         secs(&server_config::drain_timeout, "drain_timeout", 0, 86400)},
        {"ping-interval", "", "seconds between SSE pings before the first token", false,
         secs(&server_config::ping_interval, "ping_interval", 0.01, 3600)},
        {"max-n", "", "largest accepted `n` (choices per request)", false, INT_KEY(max_n, "max_n", 1, 128)},
        {"webui", "", "serve the web UI at / (true|false; --no-webui turns it off)", false,
         [](server_config& c, const std::string& v) { c.webui = parse_bool("webui", v); }},
        {"webui-path", "", "serve the web UI from this directory instead of the built-in one", false,
         [](server_config& c, const std::string& v) {
             std::error_code ec;
             if (!std::filesystem::is_directory(v, ec)) bad("webui_path", v, "not a directory");
             c.webui_path = v;
         }},
        {"api-key", "", "API key clients must send (repeatable)", true,
         [](server_config& c, const std::string& v) {
             if (v.empty()) bad("api_key", v, "must not be empty");
             c.api_keys.push_back(v);
         }},
        {"api-key-file", "", "file with one API key per line", false,
         [](server_config& c, const std::string& v) {
             std::ifstream in(v);
             if (!in) bad("api_key_file", v, "cannot open the file");
             for (std::string line; std::getline(in, line);) {
                 while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
                 const size_t start = line.find_first_not_of(" \t");
                 if (start == std::string::npos || line[start] == '#') continue;
                 c.api_keys.push_back(line.substr(start));
             }
         }},
        {"cors-origin", "", "origin allowed by CORS, exact match (repeatable)", true,
         [](server_config& c, const std::string& v) {
             if (v.empty() || v == "*") bad("cors_origin", v, "list exact origins like https://app.example");
             c.cors_origins.push_back(v);
         }},
    };
}

#undef INT_KEY

std::string underscored(std::string s) {
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

std::string env_name(const std::string& key) {
    std::string s = "TANDEM_" + underscored(key);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}

using value_map = std::map<std::string, std::vector<std::string>>;

std::string toml_scalar(const std::string& key, const toml::node& node) {
    if (auto s = node.value<std::string>(); s && node.is_string()) return *s;
    if (node.is_integer()) return std::to_string(*node.value<int64_t>());
    if (node.is_floating_point()) {
        std::ostringstream os;
        os << *node.value<double>();
        return os.str();
    }
    if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
    throw error("configuration: key '" + key + "' in the config file must be a string or a number");
}

void read_toml(const std::string& path, const std::vector<key_def>& keys, value_map& out) {
    toml::table table;
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        throw error("configuration: cannot parse config file '" + path + "': " + std::string(e.description()));
    }
    for (const auto& [k, node] : table) {
        std::string key(k.str());
        std::replace(key.begin(), key.end(), '_', '-');
        auto def = std::find_if(keys.begin(), keys.end(), [&](const key_def& d) { return d.name == key; });
        if (def == keys.end()) throw error("configuration: unknown key '" + std::string(k.str()) + "' in " + path);
        std::vector<std::string> values;
        if (const toml::array* arr = node.as_array()) {
            if (!def->repeatable) throw error("configuration: key '" + underscored(key) + "' takes one value");
            for (const toml::node& el : *arr) values.push_back(toml_scalar(underscored(key), el));
        } else {
            values.push_back(toml_scalar(underscored(key), node));
        }
        out[key] = values;
    }
}

void read_env(const std::vector<key_def>& keys, const std::function<const char*(const char*)>& env, value_map& out) {
    for (const key_def& d : keys) {
        const char* v = env(env_name(d.name).c_str());
        if (!v) continue;
        std::vector<std::string> values;
        if (d.repeatable) {
            std::stringstream ss(v);
            for (std::string item; std::getline(ss, item, ',');)
                if (!item.empty()) values.push_back(item);
        } else {
            values.push_back(v);
        }
        out[d.name] = values;
    }
}

}  // namespace

server_config server_config_parse(int argc, char** argv, const std::function<const char*(const char*)>& env) {
    const std::vector<key_def> keys = key_table();
    CLI::App app("tandem serve: an OpenAI-compatible HTTP server for a GGUF model", "tandem serve");
    std::map<std::string, std::vector<std::string>> flag_values;
    for (const key_def& d : keys) {
        std::string spec = "--" + d.name;
        if (!d.short_name.empty()) spec = (d.short_name.size() == 1 ? "-" : "--") + d.short_name + "," + spec;
        app.add_option(spec, flag_values[d.name], d.help);
    }
    bool no_webui = false;
    app.add_flag("--no-webui", no_webui, "do not serve the web UI (same as --webui false)");
    std::string config_path;
    app.add_option("--config", config_path, "TOML file with the same keys (dashes or underscores)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        std::exit(0);
    } catch (const CLI::ParseError& e) {
        throw error(std::string("configuration: ") + e.what());
    }

    value_map values;
    if (config_path.empty())
        if (const char* p = env("TANDEM_CONFIG")) config_path = p;
    if (!config_path.empty()) read_toml(config_path, keys, values);
    read_env(keys, env, values);
    if (no_webui) {
        if (!flag_values["webui"].empty()) throw error("configuration: --no-webui and --webui given together");
        flag_values["webui"] = {"false"};
    }
    for (auto& [name, v] : flag_values)
        if (!v.empty()) values[name] = v;

    server_config cfg;
    for (const key_def& d : keys) {
        auto it = values.find(d.name);
        if (it == values.end()) continue;
        if (!d.repeatable && it->second.size() > 1)
            throw error("configuration: key '" + underscored(d.name) + "' given more than once");
        for (const std::string& v : it->second) d.set(cfg, v);
    }
    if (cfg.model_path.empty()) throw error("configuration: key 'model' is required (--model FILE)");
    return cfg;
}

server_config server_config_parse(int argc, char** argv) {
    return server_config_parse(argc, argv, [](const char* name) { return std::getenv(name); });
}

std::string server_config_describe(const server_config& c) {
    std::ostringstream os;
    os << "model=" << c.model_path << " alias=" << (c.alias.empty() ? "(model name)" : c.alias)
       << " chat_template_file=" << (c.chat_template_file.empty() ? "(model's)" : c.chat_template_file)
       << " chat_template_date=" << (c.chat_template_date.empty() ? "(clock)" : c.chat_template_date)
       << " reasoning_format=" << c.reasoning_format << " threads=" << c.n_threads << " device=" << c.device
       << " ctx_size=" << c.ctx_size << " parallel=" << c.parallel << " kv_type=" << c.kv_type
       << " kv_blocks=" << c.kv_blocks << " kv_memory=" << c.kv_memory << " max_queue=" << c.max_queue
       << " batch_size=" << c.batch_size << " prefill_chunk=" << c.prefill_chunk
       << " draft_model=" << (c.draft_model_path.empty() ? "none" : c.draft_model_path) << " spec_type=" << c.spec_type
       << " draft_max=" << c.draft_max << " draft_min=" << c.draft_min << " draft_p_min=" << c.draft_p_min
       << " draft_adaptive=" << (c.draft_adaptive ? "true" : "false") << " host=" << c.host << " port=" << c.port
       << " io_threads=" << c.io_threads << " max_connections=" << c.max_connections
       << " max_body_bytes=" << c.max_body_bytes << " max_header_bytes=" << c.max_header_bytes
       << " max_header_fields=" << c.max_header_fields << " webui="
       << (!c.webui               ? "off"
           : c.webui_path.empty() ? "built-in"
                                  : c.webui_path)
       << " idle_timeout=" << c.idle_timeout << " read_timeout=" << c.read_timeout
       << " write_timeout=" << c.write_timeout << " drain_timeout=" << c.drain_timeout
       << " ping_interval=" << c.ping_interval << " max_n=" << c.max_n
       << " api_keys=" << (c.api_keys.empty() ? "none" : std::to_string(c.api_keys.size()) + " (redacted)")
       << " cors_origins=";
    if (c.cors_origins.empty()) os << "none";
    for (size_t i = 0; i < c.cors_origins.size(); ++i) os << (i ? "," : "") << c.cors_origins[i];
    return os.str();
}

engine_config server_config_engine(const server_config& c) {
    engine_config e;
    e.model_path = c.model_path;
    e.n_threads = c.n_threads;
    e.device = c.device;
    e.ctx_size = c.ctx_size;
    e.parallel = c.parallel;
    e.kv_type = *kv_type_from_name(c.kv_type);  // validated when parsed
    e.kv_blocks = c.kv_blocks;
    e.kv_budget_bytes = c.kv_memory;
    e.max_queue = c.max_queue;
    e.batch_size = c.batch_size;
    e.prefill_chunk = c.prefill_chunk;
    e.draft_model_path = c.draft_model_path;
    e.spec = *spec_type_from_name(c.spec_type);  // validated when parsed
    e.draft_max = c.draft_max;
    e.draft_min = c.draft_min;
    e.draft_p_min = c.draft_p_min;
    e.draft_adaptive = c.draft_adaptive;
    return e;
}

}  // namespace tandem
