#!/usr/bin/env bash
# Writes the synthetic models of ../shared/bench/PEER.md with `tandem make-model` (into $1, default
# /tmp/tandem-peer) and runs `tandem bench` (pp512, tg128, 1 and 4 streams through the engine) and
# build/bench/bench_steps (N-row step cost, memory bandwidth) on each, for ratios against llama.cpp's
# figures there (llama-bench's "N rows" are bench_steps' rows). Build first: scripts/build.sh.
# usage: bench/peer_bench.sh [DIR] [SHAPES...]   (shapes: llama-tiny llama-110m llama-1b)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/tandem-peer}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(llama-tiny llama-110m llama-1b)
bin=build/server/tandem
steps=build/bench/bench_steps
vocab=../shared/models/vocab/ggml-vocab-llama-spm.gguf
mkdir -p "$dir"
for shape in "${shapes[@]}"; do
  first=f32
  [ "$shape" = llama-1b ] && first=f16
  for type in $first q8_0 q4_0 q4_k_m; do
    f="$dir/$shape-$type.gguf"
    [ -f "$f" ] || "$bin" make-model --shape "$shape" --type "$type" --vocab "$vocab" -o "$f"
    reps=3
    [ "$shape" = llama-1b ] && reps=2
    echo "=== $shape $type"
    "$bin" bench -m "$f" -t 2 -r "$reps" --np 1,4
    "$steps" -m "$f" -t 2
  done
done
