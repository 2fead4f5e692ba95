#!/bin/bash
# Every fuzz target, built as a plain program (fuzz/replay.c), runs over its committed corpus and over
# every crash ever found (fuzz/crashes/TARGET/): none may crash, leak under ASan or trip UBSan again.
. "$(dirname "$0")/../lib.sh"

replay() {
	local t=$1 bin=$TOP/$BUILD/fuzz/$1
	[ -x "$bin" ] || { echo "$bin missing (make test builds it)"; return 1; }
	ls "$TOP/fuzz/corpus/$t"/* >/dev/null # a target without seeds tests nothing
	"$bin" "$TOP/fuzz/corpus/$t" "$TOP/fuzz/crashes/$t" | tee out
	grep -q '^replayed [1-9][0-9]* inputs$' out
}

for src in "$TOP"/fuzz/*.c; do
	t=$(basename "$src" .c)
	[ "$t" = replay ] && continue
	eval "t_$(tr - _ <<<"$t")() { replay $t; }"
	run "fuzz_replay_$t" "t_$(tr - _ <<<"$t")"
done
