#!/usr/bin/env bash
# Builds the OpenAI request (and chat template) libFuzzer target with clang++ (ASan + UBSan) outside the CMake
# build and runs it for a bounded time from the checked-in seeds. Exits nonzero on any finding.
# Usage: run_openai_fuzz.sh <source dir> <output dir> [seconds=30]
set -euo pipefail
die() { echo "run_openai_fuzz: FAIL: $*" >&2; exit 1; }
[[ $# -ge 2 && $# -le 3 ]] || die "usage: $0 <source dir> <output dir> [seconds]"
src=$1
out=$2
seconds=${3:-30}
cxx=${TANDEM_FUZZ_CXX:-clang++}
command -v "$cxx" >/dev/null || die "$cxx not found (libFuzzer needs clang; set TANDEM_FUZZ_CXX to override)"
source "$(dirname "$0")/fuzz_lib.sh"
mkdir -p "$out"
echo "run_openai_fuzz: compiling the fuzz target with $cxx into $out"
# Whole directories of the parser's dependencies: fuzz_build links only the objects referenced.
fuzz_build run_openai_fuzz "$out/openai_fuzz" "$cxx" "-DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -I$src" \
    "$src/tests/fuzz/openai_fuzz.cpp" "$src/server/http/openai_parse.cpp" "$src/server/http/errors.cpp" \
    "$src/server/http/answer_grammar.cpp" \
    "$src"/server/chat/*.cpp "$src"/server/jinja/*.cpp "$src"/engine/grammar/*.cpp -- -lspdlog -lfmt \
    || die "building openai_fuzz failed"
rm -rf "$out/corpus" && mkdir -p "$out/corpus"
export TANDEM_FUZZ_TEMPLATES="$src/tests/data/chat_templates"
fuzz_run run_openai_fuzz "$out/openai_fuzz" "$out" "$seconds" 8192 "$out/corpus" "$src/tests/fuzz/openai_seeds"
