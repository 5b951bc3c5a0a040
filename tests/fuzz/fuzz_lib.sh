# Shared by the fuzz runner scripts: build a libFuzzer binary, run it for a bounded time, fail on findings.

# fuzz_build NAME OUT_BINARY CXX EXTRA_FLAGS MAIN_SOURCE [LIBRARY_SOURCE...] [-- LINK_FLAGS...]
# Compiles every source into its own object, two at a time (CI has 2 cores), archives the library
# objects and links the main one against the archive: only the objects the target references are
# linked, so listing a whole directory of the parser's dependencies is safe.
fuzz_build() {
    local name=$1 bin=$2 cxx=$3 extra=$4 main=$5
    shift 5
    local libs=() link=()
    while [[ $# -gt 0 && $1 != -- ]]; do libs+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift && link=("$@")
    local objdir="$bin.objs"
    rm -rf "$objdir" && mkdir -p "$objdir"
    local flags="-std=c++20 -g1 -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
    flags+=" -fno-sanitize-recover=all $extra"
    local i=0 src
    for src in "$main" "${libs[@]}"; do
        [[ -f $src ]] || { echo "$name: FAIL: missing source $src" >&2; return 1; }
        printf '%s\0%s\0' "$src" "$objdir/$i.o"
        i=$((i + 1))
    done | xargs -0 -n 2 -P 2 sh -c "$cxx $flags -c \"\$0\" -o \"\$1\" || exit 255" \
        || { echo "$name: FAIL: compiling failed" >&2; return 1; }
    ar rcs "$objdir/lib.a" "$objdir"/[1-9]*.o 2>/dev/null || ar rcs "$objdir/lib.a"
    "$cxx" -fsanitize=fuzzer,address,undefined "$objdir/0.o" "$objdir/lib.a" "${link[@]}" -o "$bin" \
        || { echo "$name: FAIL: linking failed" >&2; return 1; }
}

# fuzz_run NAME BINARY OUT_DIR SECONDS MAX_LEN CORPUS_DIR...
fuzz_run() {
    local name=$1 bin=$2 out=$3 seconds=$4 max_len=$5
    shift 5
    rm -rf "$out/artifacts" && mkdir -p "$out/artifacts"
    echo "$name: fuzzing for ${seconds}s (log: $out/fuzz.log)"
    local status=0
    ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$@" \
        >"$out/fuzz.log" 2>&1 || status=$?
    tail -n 25 "$out/fuzz.log"
    local findings
    findings=$(find "$out/artifacts" -type f | wc -l)
    if [[ $status -ne 0 || $findings -ne 0 ]]; then
        echo "$name: FAIL: libFuzzer exited with $status and left $findings reproducer(s) in $out/artifacts:" >&2
        find "$out/artifacts" -type f >&2
        echo "$name: reproduce with: $bin <reproducer>" >&2
        return 1
    fi
    echo "$name: PASS: no findings in ${seconds}s"
}
