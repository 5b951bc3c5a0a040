// Run-time choice of the SIMD level: what the CPU supports, capped by TANDEM_CPU or by tests.
#pragma once

namespace tandem {

enum class cpu_level { scalar, avx2, avx512 };

cpu_level cpu_level_detect();  // what the CPU supports
cpu_level cpu_level_active();  // detect(), capped by env TANDEM_CPU=scalar|avx2|avx512 (read once), or by cpu_level_set
void cpu_level_set(cpu_level level);  // for tests; refuses (throws tandem::error) a level the CPU lacks
const char* cpu_level_name(cpu_level level);

}  // namespace tandem
