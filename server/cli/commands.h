// The subcommands of the `tandem` binary; each parses its own options (CLI11) and returns an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "kernels/types.h"

namespace tandem {

// --kv-type of run and bench; throws tandem::error naming the flag for anything but f16/q8_0/q4_0.
dtype cli_kv_type(const std::string& name);

// A CLI11 validator for --device values (cpu, vulkan, vulkan:N).
CLI::Validator device_check();

void cli_add_run(CLI::App& app);
void cli_add_inspect(CLI::App& app);
void cli_add_bench(CLI::App& app);
void cli_add_make_model(CLI::App& app);
void cli_add_devices(CLI::App& app);

}  // namespace tandem
