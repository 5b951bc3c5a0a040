#!/usr/bin/env bash
# Tandem beside llama.cpp on the same files, interleaved in one run: pp512 and tg128 (`tandem bench`
# against `llama-bench`), the throughput of a 1/2/4/8/16-row step (bench_steps --one-sequence against
# llama-bench -p 1,2,4,8,16 -n 0), the memory-bandwidth bound of tg and, for float weights, the
# compute bound of pp (bench_steps' FMA peak), printed as one table of ratios. A step's N rows are N
# tokens of one sequence after CTX tokens of context on both sides (bench_steps --ctx, llama-bench
# -d), with logits for the last: the same work. The last column is Tandem's decode step of 16
# streams (one row each of 16 sequences, as continuous batching runs them): more work than
# llama-bench's 16-row step (16 rows of logits, 16 contexts of K/V), given beside it for scale.
# Files are written by `tandem make-model` (the shapes of ../shared/bench/PEER.md, real llama-spm
# vocabulary; types it cannot write, e.g. iq4_xs, q3_k_m or iq2_xxs, by llama-quantize from its F16
# file, with an importance matrix of ones for the IQ1 / IQ2 / IQ3 types)
# into DIR and reused. Build first: scripts/build.sh. Progress goes to stderr, the
# table to stdout.
# usage: bench/peer_bench.sh [-d DIR] [-r ROUNDS] [-t THREADS] [-c CTX] [SHAPE:TYPE ...]
#   default cases: llama-110m and llama-1b in f16, q8_0, q4_0, q4_k_m; ROUNDS (default 3) rounds
#   alternate the engines and the medians are printed; CTX (default 128): context of each step row.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=/tmp/tandem-peer rounds=3 threads=2 ctx=128
while getopts "d:r:t:c:" opt; do
  case $opt in
    d) dir=$OPTARG ;;
    r) rounds=$OPTARG ;;
    t) threads=$OPTARG ;;
    c) ctx=$OPTARG ;;
    *) sed -n 14,16p "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  for shape in llama-110m llama-1b; do
    for type in f16 q8_0 q4_0 q4_k_m; do cases+=("$shape:$type"); done
  done
fi
bin=build/server/tandem
steps=build/bench/bench_steps
vocab=../shared/models/vocab/ggml-vocab-llama-spm.gguf
peer=../shared/peer
for f in "$bin" "$steps" "$vocab" "$peer/lib/llama-bench"; do
  [ -e "$f" ] || { echo "peer_bench: missing $f (build with scripts/build.sh; ../shared must be present)" >&2; exit 1; }
done
mkdir -p "$dir"

# The peer's lib/ may hold its .so symlinks as small text files naming the target: link them properly.
peer_lib="$dir/peer-lib"
mkdir -p "$peer_lib"
for f in "$peer"/lib/*; do
  target=$f
  if [ "$(stat -c %s "$f")" -lt 256 ]; then
    name=$(cat "$f")
    [ -e "$peer/lib/$name" ] && target=$peer/lib/$name
  fi
  ln -sf "$(realpath "$target")" "$peer_lib/$(basename "$f")"
done
llama_bench() { LD_LIBRARY_PATH="$peer_lib" "$peer_lib/llama-bench" -t "$threads" -o csv "$@" 2>/dev/null; }

results="$dir/results.txt"  # lines: CASE ENGINE METRIC VALUE (tok/s; "bound" is the tg bound)
: >"$results"
rows=1,2,4,8,16
for c in "${cases[@]}"; do
  shape=${c%%:*} type=${c#*:}
  f="$dir/$shape-$type.gguf"
  if [ ! -f "$f" ]; then
    case $type in
      f32 | f16 | q8_0 | q4_0 | q4_k_m) "$bin" make-model --shape "$shape" --type "$type" --vocab "$vocab" -o "$f" >&2 ;;
      *) # any other type: llama.cpp's own quantizer, from the F16 file
        f16="$dir/$shape-f16.gguf"
        [ -f "$f16" ] || "$bin" make-model --shape "$shape" --type f16 --vocab "$vocab" -o "$f16" >&2
        imatrix=()
        case $type in
          iq1* | iq2* | iq3*) # llama-quantize writes these only with an importance matrix: ones
            python3 -c 'import sys; sys.path.insert(0, "tests"); from peer_tools import write_ones_imatrix as w; w(*sys.argv[1:])' \
              "$dir/$shape.imatrix" "$f16"
            imatrix=(--imatrix "$dir/$shape.imatrix") ;;
        esac
        LD_LIBRARY_PATH="$peer_lib" "$peer_lib/llama-quantize" "${imatrix[@]}" "$f16" "$f" "${type^^}" 2 >/dev/null 2>&1 ||
          { echo "peer_bench: llama-quantize cannot write $type" >&2; exit 1; } ;;
    esac
  fi
  for r in $(seq "$rounds"); do
    echo "peer_bench: $c round $r/$rounds" >&2
    "$bin" bench -m "$f" -t "$threads" -r 1 -p 512 -n 128 --np 1 --steps 2 2>/dev/null |
      awk -v c="$c" '/^pp512:/ {print c, "tandem pp", $2} /^tg128:/ {print c, "tandem tg", $2}' >>"$results"
    llama_bench -m "$f" -p 512 -n 128 -r 1 |
      awk -F, -v c="$c" 'NR == 1 {next} {gsub(/"/, ""); if ($(NF-7) > 0) print c, "llama pp", $(NF-1); else print c, "llama tg", $(NF-1)}' >>"$results"
    "$steps" -m "$f" -t "$threads" --rows "$rows" --ctx "$ctx" --steps 5 --one-sequence 2>/dev/null |
      awk -v c="$c" '/^  rows/ {sub(":", "", $2); print c, "tandem rows" $2, $5}
        /^decode bound/ {sub(/^decode bound /, ""); print c, "tandem bound", $1}
        /^prompt bound/ {sub(/^prompt bound /, ""); print c, "tandem pbound", $1}
        /^threads:/ {sub(/,$/, "", $4); print "all tandem level", $4}' >>"$results"
    "$steps" -m "$f" -t "$threads" --rows 16 --ctx "$ctx" --steps 5 2>/dev/null |
      awk -v c="$c" '/^  rows/ {print c, "tandem streams", $5}' >>"$results"
    llama_bench -m "$f" -p "$rows" -n 0 -d "$ctx" -r 3 |
      awk -F, -v c="$c" 'NR == 1 {next} {gsub(/"/, ""); print c, "llama rows" $(NF-7), $(NF-1)}' >>"$results"
  done
done

# The table: medians over the rounds, Tandem / llama.cpp and their ratio.
awk -v cases="${cases[*]}" -v rows="$rows" '
  function median(key,   n, i, j, t, v) {
    n = split(vals[key], v, " ")
    if (n == 0) return -1
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function cell(c, m,   a, b) {
    a = median(c " tandem " m); b = median(c " llama " m)
    if (a < 0 || b <= 0) return "n/a"
    return sprintf("%.1f / %.1f (%.2fx)", a, b, a / b)
  }
  { key = $1 " " $2 " " $3; vals[key] = vals[key] (key in vals ? " " : "") $4 }
  END {
    nr = split(rows, r, ",")
    printf "| model | pp512 | pp bound (Tandem / llama.cpp %% of it) | tg128 | tg bound (tg %% of it) |"
    for (i = 1; i <= nr; i++) printf " %s-row step |", r[i]
    printf " 16 streams (x llama.cpp 16-row) |"
    printf "\n|---|---|---|---|---|"
    for (i = 1; i <= nr + 1; i++) printf "---|"
    printf "\n"
    nc = split(cases, cs, " ")
    for (k = 1; k <= nc; k++) {
      c = cs[k]; bound = median(c " tandem bound"); tg = median(c " tandem tg")
      pb = median(c " tandem pbound"); pt = median(c " tandem pp"); pl = median(c " llama pp")
      pcell = pb > 0 ? sprintf("%.1f (%.0f%% / %.0f%%)", pb, 100 * pt / pb, 100 * pl / pb) : "n/a"
      printf "| %s | %s | %s | %s | %.1f (%.0f%%) |", c, cell(c, "pp"), pcell, cell(c, "tg"), bound, (bound > 0 ? 100 * tg / bound : 0)
      for (i = 1; i <= nr; i++) printf " %s |", cell(c, "rows" r[i])
      st = median(c " tandem streams"); sl = median(c " llama rows16")
      printf " %s |\n", (st > 0 && sl > 0 ? sprintf("%.1f (%.2fx)", st, st / sl) : "n/a")
    }
    print "Tandem / llama.cpp tok/s, median of the rounds; a ratio above 1 is Tandem ahead. The pp bound (float"
    print "weights only) is a prompt token'"'"'s multiply-adds at the FMA peak of all threads, measured in the run."
    split(vals["all tandem level"], lv, " ")
    printf "Tandem ran its %s kernels (TANDEM_CPU to choose); llama.cpp, those its build has (../shared/peer/README.md).\n", lv[1]
    print "An N-row step is N tokens of one sequence after the context, logits of the last, on both sides; 16"
    print "streams is Tandem'"'"'s step of one row each of 16 sequences, every row with logits and its own context."
  }' "$results"
