# Shared by the fuzz runner scripts: run a libFuzzer binary for a bounded time and fail on findings.
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
