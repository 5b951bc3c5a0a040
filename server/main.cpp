// `tandem`: one binary with subcommands (serve, run, inspect, bench, make-model, devices). Load and
// config errors are caught here once and printed with their context.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "common/error.h"
#include "server/cli/commands.h"
#include "server/http/daemon.h"

int main(int argc, char** argv) {
    try {
        // Logs go to stderr: stdout carries only a command's data (`tandem run ... > out.txt` is the text).
        spdlog::set_default_logger(spdlog::stderr_color_mt("tandem"));
        // llama.cpp's two-letter short flags, which CLI11 cannot declare: -md, -np.
        std::vector<std::string> args(argv, argv + argc);
        for (std::string& a : args) {
            if (a == "-md") a = "--draft-model";
            if (a == "-np") a = "--parallel";
        }
        std::vector<char*> argp;
        for (std::string& a : args) argp.push_back(a.data());
        argv = argp.data();
        // `serve` owns its whole option set (flags > env > file), so it bypasses CLI11's parent app.
        if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) {
            const tandem::server_config cfg = tandem::server_config_parse(argc - 1, argv + 1);
            return tandem::serve(cfg, [](const tandem::engine_config& ec) { return tandem::engine::create(ec); });
        }
        CLI::App app{"Tandem: an OpenAI-compatible inference server for GGUF models"};
        app.set_version_flag("--version", "tandem " TANDEM_VERSION);
        app.require_subcommand(1);
        app.add_subcommand("serve", "Serve the OpenAI HTTP API (see `tandem serve --help`)");
        tandem::cli_add_run(app);
        tandem::cli_add_inspect(app);
        tandem::cli_add_bench(app);
        tandem::cli_add_make_model(app);
        tandem::cli_add_devices(app);
        CLI11_PARSE(app, argc, argv);
        return 0;
    } catch (const tandem::error& e) {
        std::cerr << "tandem: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "tandem: unexpected error: " << e.what() << "\n";
        return 1;
    }
}
