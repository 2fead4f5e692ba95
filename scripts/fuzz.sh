#!/bin/bash
# scripts/fuzz.sh TARGET...: runs each libFuzzer target (build-fuzz/fuzzer/TARGET, `make fuzz-build`)
# for FUZZ_SECONDS over fuzz/corpus/TARGET, new inputs going to build-fuzz/corpus/TARGET and crashes
# to fuzz/crashes/TARGET/ (committed, replayed by `make check` forever). FUZZ_JOBS targets at once
# (default 1), each under nice. FUZZ_MERGE=1 then merges what adds coverage into fuzz/corpus/TARGET.
# Prints each target's last libFuzzer status line (executions per second, cov, ft, corpus).
# A single allocation is reported only above 4 GiB (-malloc_limit_mb): libarchive allocates what an
# archive header claims before it reads it (docs/security.md); the process's RSS stays capped at 2 GiB.
set -u
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
status=0

one() {
	local t=$1 bin=build-fuzz/fuzzer/$1 log=build-fuzz/logs/$1.log
	mkdir -p "build-fuzz/corpus/$t" "fuzz/corpus/$t" "fuzz/crashes/$t" build-fuzz/logs
	local start=$SECONDS
	nice -n "${FUZZ_NICE:-15}" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-malloc_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="fuzz/crashes/$t/" "build-fuzz/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
	local rc=$?
	if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
		"$bin" -merge=1 "fuzz/corpus/$t" "build-fuzz/corpus/$t" >>"$log" 2>&1 || rc=$?
	fi
	local last
	last=$(grep -E '^#[0-9]+' "$log" | grep -v 'INITED' | tail -1)
	echo "fuzz $t: exit $rc after $((SECONDS - start))s: $last"
	[ "$rc" -eq 0 ] || { echo "fuzz $t: see $log and fuzz/crashes/$t/"; grep -E 'ERROR|SUMMARY' "$log" | head -5; }
	return "$rc"
}

running=0
for t in "$@"; do
	one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || status=1
		running=$((running - 1))
	fi
done
while [ "$running" -gt 0 ]; do
	wait -n || status=1
	running=$((running - 1))
done
exit "$status"
