#!/bin/bash
# tests/run.sh [BUILD...]: runs every unit test (cmocka, TAP output) and every integration script
# against each build directory given (default: $BUILD, or build), counts results over all of them and
# ends with one line "N passed, N failed, N skipped"; exits non-zero on any failure or on none run.
# Several builds run side by side (make check: the plain one, mostly single-threaded QEMU boots, beside
# the ASan one, mostly CPU), each with one line per script as it ends and its whole log at the end.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0

run_build() {
for bin in "$BUILD"/tests/test-*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$bin" 2>&1)
	rc=$?
	# a skipped test (cmocka's skip(), after printing "SKIP-REASON: why") is "not ok N # SKIP NAME" in
	# cmocka 1.1's TAP, "ok N # SKIP" in TAP's own
	skip=$(grep -Ec '^(not )?ok [0-9]+ # SKIP' <<<"$out")
	ok=$(grep -c '^ok ' <<<"$out")
	bad=$(grep -c '^not ok ' <<<"$out")
	ok=$((ok - $(grep -Ec '^ok [0-9]+ # SKIP' <<<"$out")))
	bad=$((bad - $(grep -Ec '^not ok [0-9]+ # SKIP' <<<"$out")))
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1 # crashed or failed outside a test
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	skipped=$((skipped + skip))
	echo "== unit $name: $ok passed, $bad failed, $skip skipped"
	sed -n 's/^SKIP-REASON: /SKIP: unit '"$name"': /p' <<<"$out"
	[ "$bad" -eq 0 ] || sed 's/^/    /' <<<"$out"
done

# Test code that cannot fail: `! cmd` and `a && b` statements, helpers used where set -e is off
# (tests/lint.py says which and why).
echo "== lint tests"
if silent=$(python3 tests/lint.py 2>&1); then
	echo "PASS: lint_tests_can_fail"
	passed=$((passed + 1))
else
	echo "FAIL: lint: test code that cannot fail a test:"
	sed 's/^/    /' <<<"$silent"
	failed=$((failed + 1))
fi

for script in tests/integration/*.sh; do
	name=$(basename "$script" .sh)
	echo "== integration $name"
	log=$(mktemp)
	start=$SECONDS
	bash "$script" 3>&- 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	s=$(grep -c '^SKIP: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: the script itself exited with status $rc"
		f=1
	fi
	echo "== integration $name took $((SECONDS - start)) s: $p passed, $f failed, $s skipped"
	[ -z "${PROGRESS_FD:-}" ] || echo "$BUILD: $name: $p passed, $f failed, $s skipped ($((SECONDS - start)) s)" >&"$PROGRESS_FD"
	rm -f "$log"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done

}

if [ $# -le 1 ]; then
	BUILD=${1:-${BUILD:-build}}
	export BUILD INGOT=${INGOT:-$PWD/$BUILD/ingot}
	run_build
else
	logs=$(mktemp -d)
	exec 3>&1
	i=0
	for BUILD in "$@"; do
		i=$((i + 1))
		(
			export BUILD INGOT=$PWD/$BUILD/ingot PROGRESS_FD=3
			echo "=== tests against $BUILD"
			run_build
			echo "$passed $failed $skipped" >"$logs/$i.counts"
		) >"$logs/$i.log" 2>&1 &
	done
	wait
	i=0
	for BUILD in "$@"; do
		i=$((i + 1))
		cat "$logs/$i.log"
		read -r p f s <"$logs/$i.counts" || { echo "FAIL: the run against $BUILD did not finish"; p=0 f=1 s=0; }
		passed=$((passed + p))
		failed=$((failed + f))
		skipped=$((skipped + s))
	done
	rm -rf "$logs"
fi

echo "the tests took $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
