// Configuration: precedence flags > env > file > defaults, key spellings, byte sizes, and errors that
// name the bad key.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "common/error.h"
#include "server/http/server_config.h"

namespace tandem {
namespace {

struct argv_builder {
    std::vector<std::string> args;
    std::vector<char*> ptrs;
    explicit argv_builder(std::vector<std::string> a) : args(std::move(a)) {
        args.insert(args.begin(), "serve");
        for (auto& s : args) ptrs.push_back(s.data());
    }
    int argc() { return static_cast<int>(ptrs.size()); }
    char** argv() { return ptrs.data(); }
};

server_config parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    argv_builder a(std::move(args));
    return server_config_parse(a.argc(), a.argv(), [&env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

std::string temp_file(const std::string& name, const std::string& text) {
    const std::string path = std::string(TANDEM_BINARY_DIR) + "/" + name;
    std::ofstream(path) << text;
    return path;
}

// The message of the tandem::error the arguments provoke.
std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    try {
        parse(std::move(args), std::move(env));
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

TEST(Config, Defaults) {
    const server_config c = parse({"-m", "model.gguf"});
    EXPECT_EQ(c.model_path, "model.gguf");
    EXPECT_EQ(c.host, "127.0.0.1");
    EXPECT_EQ(c.port, 8080);
    EXPECT_EQ(c.kv_type, "f16");
    EXPECT_EQ(c.batch_size, 512);
    EXPECT_EQ(c.prefill_chunk, 64);
    EXPECT_EQ(c.reasoning_format, "auto");
    EXPECT_EQ(parse({"-m", "x", "--reasoning-format", "none"}).reasoning_format, "none");
    EXPECT_EQ(c.reasoning_budget, -1);
    EXPECT_EQ(parse({"-m", "x", "--reasoning-budget", "0"}).reasoning_budget, 0);
    EXPECT_EQ(parse({"-m", "x"}, {{"TANDEM_REASONING_FORMAT", "deepseek"}}).reasoning_format, "deepseek");
    EXPECT_TRUE(c.api_keys.empty());
    EXPECT_TRUE(c.cors_origins.empty());
}

TEST(Config, PrecedenceFlagsOverEnvOverFileOverDefaults) {
    const std::string file = temp_file("tandem_test_precedence.toml",
                                       "model = \"file.gguf\"\nport = 1111\nmax_queue = 5\nkv-type = \"q8_0\"\n"
                                       "parallel = 3\ncors_origin = [\"https://a.example\", \"https://b.example\"]\n");
    const server_config c = parse({"--config", file, "--port", "3333"},
                                  {{"TANDEM_PORT", "2222"}, {"TANDEM_MAX_QUEUE", "9"}, {"TANDEM_API_KEY", "k1,k2"}});
    EXPECT_EQ(c.port, 3333);       // flag beats env and file
    EXPECT_EQ(c.max_queue, 9);     // env beats file
    EXPECT_EQ(c.kv_type, "q8_0");  // file (dashed key) beats the default
    EXPECT_EQ(c.parallel, 3);
    EXPECT_EQ(c.model_path, "file.gguf");
    EXPECT_EQ(c.idle_timeout, 60);  // default
    EXPECT_EQ(c.api_keys, (std::vector<std::string>{"k1", "k2"}));
    EXPECT_EQ(c.cors_origins.size(), 2u);
    std::remove(file.c_str());
}

TEST(Config, ConfigPathFromEnvAndRepeatableFlags) {
    const std::string file = temp_file("tandem_test_env_path.toml", "model = \"m.gguf\"\nalias = \"friendly\"\n");
    const server_config c = parse({"--api-key", "a", "--api-key", "b", "--cors-origin", "https://x.example"},
                                  {{"TANDEM_CONFIG", file}, {"TANDEM_API_KEY", "ignored"}});
    EXPECT_EQ(c.alias, "friendly");
    EXPECT_EQ(c.api_keys, (std::vector<std::string>{"a", "b"}));  // flags replace the env's list
    EXPECT_EQ(c.cors_origins, (std::vector<std::string>{"https://x.example"}));
    std::remove(file.c_str());
}

TEST(Config, ApiKeyFile) {
    const std::string file = temp_file("tandem_test_keys.txt", "# comment\n  key-one  \n\nkey-two\n");
    const server_config c = parse({"-m", "x", "--api-key-file", file});
    EXPECT_EQ(c.api_keys, (std::vector<std::string>{"key-one", "key-two"}));
    std::remove(file.c_str());
}

TEST(Config, WebUiSwitchAndPath) {
    EXPECT_TRUE(parse({"-m", "x"}).webui);
    EXPECT_FALSE(parse({"-m", "x", "--no-webui"}).webui);
    EXPECT_FALSE(parse({"-m", "x"}, {{"TANDEM_WEBUI", "false"}}).webui);
    EXPECT_TRUE(parse({"-m", "x", "--webui", "true"}, {{"TANDEM_WEBUI", "false"}}).webui);
    EXPECT_NE(error_of({"-m", "x", "--no-webui", "--webui", "true"}).find("together"), std::string::npos);
    const std::string dir = std::filesystem::temp_directory_path().string();
    EXPECT_EQ(parse({"-m", "x", "--webui-path", dir}).webui_path, dir);
    EXPECT_NE(error_of({"-m", "x", "--webui-path", "/nonexistent/tandem-ui"}).find("webui_path"), std::string::npos);
    EXPECT_EQ(parse({"-m", "x", "--max-header-fields", "50"}).max_header_fields, 50);
    EXPECT_NE(error_of({"-m", "x", "--max-header-fields", "2"}).find("max_header_fields"), std::string::npos);
}

TEST(Config, ByteSizes) {
    EXPECT_EQ(parse_byte_size("k", "512M"), 512ll << 20);
    EXPECT_EQ(parse_byte_size("k", "2G"), 2ll << 30);
    EXPECT_EQ(parse_byte_size("k", "2GiB"), 2ll << 30);
    EXPECT_EQ(parse_byte_size("k", "1.5k"), 1536);
    EXPECT_EQ(parse_byte_size("k", "4096"), 4096);
    EXPECT_THROW(parse_byte_size("k", "12X"), error);
    EXPECT_THROW(parse_byte_size("k", "lots"), error);
    EXPECT_EQ(parse({"-m", "x", "--kv-memory", "2G"}).kv_memory, 2ll << 30);
}

// --chat-template-date is local wall-clock time: printed back through localtime it is what was given.
TEST(Config, LocalTimes) {
    auto text = [](std::time_t t) {
        std::tm tm{};
        localtime_r(&t, &tm);
        char buf[32];
        return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm));
    };
    EXPECT_EQ(text(parse_local_time("k", "2026-12-05")), "2026-12-05T00:00:00");
    EXPECT_EQ(text(parse_local_time("k", "2024-02-29T23:59")), "2024-02-29T23:59:00");
    EXPECT_EQ(text(parse_local_time("k", "1999-07-04T06:51:07")), "1999-07-04T06:51:07");
    EXPECT_EQ(parse_local_time("k", "2026-12-06") - parse_local_time("k", "2026-12-05T00:00:01"), 86399);
    for (const char* bad : {"2026-02-30", "2026-13-01", "2026-1-05", "2026-12-05T24:00", "2026-12-05 10:00",
                            "2026-12-05T10:00:60", "2026-12-05T10:00:00Z", "+026-12-05", "", "today"})
        EXPECT_THROW(parse_local_time("k", bad), error) << bad;
    EXPECT_EQ(parse({"-m", "x", "--chat-template-date", "2026-12-05T06:51"}).chat_template_date, "2026-12-05T06:51");
    EXPECT_NE(error_of({"-m", "x", "--chat-template-date", "5 Dec"}).find("'chat_template_date'"), std::string::npos);
}

TEST(Config, BadValuesNameTheKey) {
    EXPECT_NE(error_of({"-m", "x", "--port", "70000"}).find("'port'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--port", "80a"}).find("'port'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--kv-type", "q5_1"}).find("'kv_type'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--reasoning-format", "raw"}).find("'reasoning_format'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--reasoning-budget", "-2"}).find("'reasoning_budget'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--kv-memory", "huge"}).find("'kv_memory'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--parallel", "0"}).find("'parallel'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--batch-size", "0"}).find("'batch_size'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--prefill-chunk", "-1"}).find("'prefill_chunk'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--drain-timeout", "-1"}).find("'drain_timeout'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--cors-origin", "*"}).find("'cors_origin'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--api-key-file", "/nonexistent/keys"}).find("'api_key_file'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x"}, {{"TANDEM_THREADS", "many"}}).find("'threads'"), std::string::npos);
    EXPECT_NE(error_of({}).find("'model'"), std::string::npos);
    EXPECT_NE(error_of({"-m", "x", "--bogus", "1"}).find("bogus"), std::string::npos);
    const std::string file = temp_file("tandem_test_bad.toml", "model = \"m\"\nnot_a_key = 1\n");
    EXPECT_NE(error_of({"--config", file}).find("not_a_key"), std::string::npos);
    std::remove(file.c_str());
}

TEST(Config, StepSizesReachTheEngine) {
    const engine_config e = server_config_engine(parse({"-m", "x", "-b", "256", "--prefill-chunk", "0"}));
    EXPECT_EQ(e.batch_size, 256);
    EXPECT_EQ(e.prefill_chunk, 0);
}

TEST(Config, ExampleFileParses) {
    const std::string example = std::string(TANDEM_SOURCE_DIR) + "/config/tandem.toml";
    const server_config c = parse({"--config", example, "-m", "x"});
    EXPECT_EQ(c.port, server_config{}.port);  // everything in it is commented out
}

TEST(Config, DescribeRedactsSecrets) {
    const server_config c = parse({"-m", "x", "--api-key", "supersecret"});
    const std::string d = server_config_describe(c);
    EXPECT_EQ(d.find("supersecret"), std::string::npos);
    EXPECT_NE(d.find("api_keys=1"), std::string::npos);
}

TEST(Config, SpeculativeDecodingKeys) {
    const server_config d = parse({"-m", "a.gguf"});
    EXPECT_EQ(d.spec_type, "auto");
    EXPECT_EQ(d.draft_max, 3);
    EXPECT_TRUE(d.draft_model_path.empty());
    const std::string toml = temp_file("spec.toml", "draft_min = 2\ndraft_p_min = 0.5\n");
    const server_config c = parse({"-m", "a.gguf", "--draft-model", "b.gguf", "--spec-type", "draft", "--config", toml},
                                  {{"TANDEM_DRAFT_MAX", "5"}, {"TANDEM_DRAFT_ADAPTIVE", "false"}});
    EXPECT_EQ(c.draft_model_path, "b.gguf");
    EXPECT_EQ(c.spec_type, "draft");
    EXPECT_EQ(c.draft_max, 5);
    EXPECT_EQ(c.draft_min, 2);
    EXPECT_FLOAT_EQ(c.draft_p_min, 0.5f);
    EXPECT_FALSE(c.draft_adaptive);
    const engine_config e = server_config_engine(c);
    EXPECT_EQ(e.draft_model_path, "b.gguf");
    EXPECT_EQ(e.spec, spec_type::draft);
    EXPECT_EQ(e.draft_max, 5);
    EXPECT_EQ(e.draft_min, 2);
    EXPECT_FALSE(e.draft_adaptive);
    EXPECT_NE(error_of({"-m", "a", "--spec-type", "eagle"}).find("spec_type"), std::string::npos);
    EXPECT_NE(error_of({"-m", "a", "--draft-max", "0"}).find("draft_max"), std::string::npos);
    EXPECT_NE(error_of({"-m", "a", "--draft-max", "17"}).find("draft_max"), std::string::npos);
    EXPECT_NE(error_of({"-m", "a", "--draft-p-min", "1.5"}).find("draft_p_min"), std::string::npos);
    EXPECT_NE(error_of({"-m", "a", "--draft-adaptive", "maybe"}).find("draft_adaptive"), std::string::npos);
}

}  // namespace
}  // namespace tandem
