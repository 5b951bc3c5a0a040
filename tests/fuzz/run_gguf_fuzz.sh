#!/usr/bin/env bash
# Builds the GGUF libFuzzer target with clang++ (ASan + UBSan) outside the CMake build and runs it
# for a bounded time on a fresh seed corpus. Exits nonzero on any finding or setup problem.
# Usage: run_gguf_fuzz.sh <source dir> <output dir> <shared dir> [seconds=60]
set -euo pipefail

die() { echo "run_gguf_fuzz: FAIL: $*" >&2; exit 1; }

[[ $# -ge 3 && $# -le 4 ]] || die "usage: $0 <source dir> <output dir> <shared dir> [seconds]"
src=$1
out=$2
shared=$3
seconds=${4:-60}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || die "seconds must be a positive integer, got '$seconds'"
cxx=${TANDEM_FUZZ_CXX:-clang++}
command -v "$cxx" >/dev/null || die "$cxx not found (libFuzzer needs clang; set TANDEM_FUZZ_CXX to override)"
seed_model=$shared/models/stories260K.gguf
[[ -f $seed_model ]] || die "missing seed model $seed_model"

source "$(dirname "$0")/fuzz_lib.sh"
mkdir -p "$out"
echo "run_gguf_fuzz: compiling the fuzz target with $cxx into $out"
fuzz_build run_gguf_fuzz "$out/gguf_fuzz" "$cxx" "-I$src" "$src/tests/fuzz/gguf_fuzz.cpp" \
    "$src"/models/gguf/*.cpp "$src/kernels/types.cpp" "$src"/kernels/ref/dequant*.cpp "$src/kernels/iq_grids.cpp" \
    || die "building gguf_fuzz failed"
"$cxx" -std=c++20 -O1 -I"$src" "$src/tests/fuzz/make_gguf_seeds.cpp" -o "$out/make_gguf_seeds" \
    || die "compiling make_gguf_seeds failed"

rm -rf "$out/seeds" "$out/corpus"
mkdir -p "$out/seeds"
"$out/make_gguf_seeds" "$out/seeds" || die "writing the seed files failed"
cp "$seed_model" "$out/seeds/"
echo "run_gguf_fuzz: seeds: $(ls "$out/seeds" | tr '\n' ' ')"

mkdir -p "$out/corpus"
fuzz_run run_gguf_fuzz "$out/gguf_fuzz" "$out" "$seconds" 32768 "$out/corpus" "$out/seeds"
