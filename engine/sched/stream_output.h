// The emit step of the engine loop: what the scheduler accepted and ended, turned into the
// requests' stream events (a token event per accepted token, then the done event of each ended
// sequence, with its usage and times).
#pragma once

#include "engine/sched/scheduler.h"

namespace tandem {

// Pushes every event of `out`; its sequences stay alive until it is next reused or dropped.
void stream_output(sched_output& out);

}  // namespace tandem
