#!/usr/bin/env bash
# One command that installs what is missing, builds, and runs every test. The parser-facing and
# engine unit tests also run under ASan+UBSan first; the full ctest run comes last, so its summary
# line closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
bash scripts/install-deps.sh
status=0
stage() { echo "== [$((SECONDS / 60))m$((SECONDS % 60))s] $* =="; }
stage "format check"
bash scripts/check-format.sh || status=$?
stage "build"
bash scripts/build.sh

stage "sanitizer build (address,undefined): parsers, tokenizer, KV, sampler, scheduler, HTTP, Jinja, attention, speculative decoding"
asan_tests=(gguf_corrupt_test gguf_model_test test_tokenizer_unit test_tokenizer_model test_kv test_kv_pool test_sampler
            test_scheduler test_http_units test_http_server test_daemon test_jinja test_kernel_attention test_thread_pool
            test_spec_units test_spec_drafters test_spec_engine)
# -O1 -g1 (line tables: reports still name file and line): GCC builds the sanitized code at -O2 -g
# in about 2.5x the time.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DTANDEM_WERROR=ON -DTANDEM_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$(nproc)" --target "${asan_tests[@]}"
regex="^($(IFS='|'; echo "${asan_tests[*]}"))\$"
# The three long greedy-equivalence runs of the speculative engine (one per drafter) run in the full
# suite only: under the sanitizers the "everything at once" and sampled tests drive the same drafters.
(cd build-asan && GTEST_FILTER='-spec_engine.*greedy_equals_plain_decoding' ctest --output-on-failure -j2 -R "$regex") ||
    status=$?

stage "full suite"
(cd build && ctest --output-on-failure -j2 --timeout 900) || status=$?
exit $status
