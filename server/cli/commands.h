// The subcommands of the `tandem` binary; each parses its own options (CLI11) and returns an exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace tandem {

void cli_add_run(CLI::App& app);
void cli_add_inspect(CLI::App& app);
void cli_add_bench(CLI::App& app);
void cli_add_make_model(CLI::App& app);

}  // namespace tandem
