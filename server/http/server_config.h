// The configuration of `tandem serve`: flags > env TANDEM_* > TOML file > defaults, parsed and
// validated in one place (server_config.cpp), and the engine settings it implies.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace tandem {

struct server_config {
    // Model and engine.
    std::string model_path;                 // --model / -m (required)
    std::string alias;                      // model name shown to clients; empty: the model's name
    std::string chat_template_file;         // overrides the model's template; empty: the model's, else ChatML
    std::string chat_template_kwargs;       // a JSON object of template variables every chat request gets; "" none
    std::string chat_template_date;         // "YYYY-MM-DD[THH:MM[:SS]]" (local time) templates see as now; "" the clock
    std::string reasoning_format = "auto";  // none: thinking stays in content; auto | deepseek: reasoning_content
    int32_t reasoning_budget = -1;          // reasoning tokens before the engine closes the block; -1: no limit
    int32_t n_threads = 0;                  // compute threads; 0: one per core
    std::string device = "cpu";             // cpu | vulkan | vulkan:N
    int32_t ctx_size = 0;                   // per sequence; 0: the model's trained context
    int32_t parallel = 4;                   // max running sequences
    std::string kv_type = "f16";            // f16 | q8_0 | q4_0
    int64_t kv_blocks = 0;                  // 0: derive from kv_memory
    int64_t kv_memory = 1ll << 30;          // KV byte budget
    int32_t max_queue = 64;                 // waiting requests before 429
    int32_t batch_size = 512;               // tokens per forward step, over all sequences
    int32_t prefill_chunk = 64;             // prompt tokens per step while other sequences decode; 0: no cap

    // Speculative decoding.
    std::string draft_model_path;    // --draft-model / -md: gemma4-assistant or a small same-vocabulary model
    std::string spec_type = "auto";  // auto | none | mtp | draft | ngram
    int32_t draft_max = 3;
    int32_t draft_min = 0;
    float draft_p_min = 0.0f;
    bool draft_adaptive = true;

    // Network.
    std::string host = "127.0.0.1";
    int32_t port = 8080;     // 0: an ephemeral port (tests)
    int32_t io_threads = 1;  // 1-2 I/O threads
    int32_t max_connections = 256;
    int64_t max_body_bytes = 8ll << 20;
    int64_t max_header_bytes = 16 << 10;
    int32_t max_header_fields = 100;  // header lines per request (as Apache's LimitRequestFields)
    double idle_timeout = 60;         // seconds a keep-alive connection may sit idle
    double read_timeout = 30;         // seconds to receive a request's header, then its body
    double write_timeout = 60;        // seconds for one write to the client
    double drain_timeout = 30;        // seconds in-flight requests get after SIGINT/SIGTERM
    double ping_interval = 10;        // seconds between SSE ": ping" comments before the first token
    int32_t max_n = 8;                // upper bound of the `n` request field

    // Web UI.
    bool webui = true;       // serve the embedded chat app at /
    std::string webui_path;  // serve this directory instead (UI development); empty: the embedded bundle

    // Access.
    std::vector<std::string> api_keys;      // --api-key (repeatable) and the lines of --api-key-file
    std::vector<std::string> cors_origins;  // exact origins; empty: CORS off
};

// Parses argv (argv[0] is the program or subcommand name and is skipped), the TANDEM_<KEY>
// environment and the --config TOML file. Throws tandem::error naming the key on bad values.
server_config server_config_parse(int argc, char** argv);

// Same, with the environment given explicitly (tests): `env(name)` returns nullptr when unset.
server_config server_config_parse(int argc, char** argv, const std::function<const char*(const char*)>& env);

// A byte count like 512M, 2G, 1.5GiB or 4096 (K/M/G/T are powers of 1024); throws naming `key`.
int64_t parse_byte_size(const std::string& key, const std::string& text);

// A local date and time like 2026-12-05, 2026-12-05T14:30 or 2026-12-05T14:30:15 as seconds since the
// epoch (mktime: the wall clock of this process's time zone); throws naming `key`.
std::time_t parse_local_time(const std::string& key, const std::string& text);

// One line per key, secrets redacted; logged at start.
std::string server_config_describe(const server_config& cfg);

// The engine settings the configuration implies.
engine_config server_config_engine(const server_config& cfg);

}  // namespace tandem
