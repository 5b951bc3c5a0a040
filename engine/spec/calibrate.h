// The start-up measurement behind the draft policy (engine/spec/draft_policy.h).
#pragma once

#include "engine/engine.h"
#include "engine/spec/draft_policy.h"

namespace tandem {

class runner;
class kv_cache_manager;

// Times anchor steps and drafter forwards on throwaway sequences; leaves the KV cache as it was.
step_costs measure_step_costs(runner& r, kv_cache_manager& kv, drafter* d, const engine_config& cfg);

}  // namespace tandem
