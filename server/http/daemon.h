// The entry point of `tandem serve`: the daemon loop that listens, loads the model, serves HTTP until
// SIGINT/SIGTERM, then drains.
#pragma once

#include <functional>
#include <memory>

#include "engine/engine.h"
#include "server/http/server_config.h"

namespace tandem {

// Runs the daemon until SIGINT/SIGTERM and the drain finish; returns the exit code. `make_engine`
// is called once, after the listener is up, to load the model (so /health answers 503 while loading).
int serve(const server_config& cfg, std::function<std::unique_ptr<engine>(const engine_config&)> make_engine);

}  // namespace tandem
