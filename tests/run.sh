#!/bin/bash
# tests/run.sh [BUILD...]: runs every unit test (cmocka, TAP output) and every integration script
# against each build directory given (default: $BUILD, or build), counts results over all of them and
# ends with one line "N passed, N failed, N skipped"; exits non-zero on any failure or on none run.
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
	bash "$script" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "== integration $name took $((SECONDS - start)) s"
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	s=$(grep -c '^SKIP: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: the script itself exited with status $rc"
		f=1
	fi
	rm -f "$log"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done

}

if [ $# -eq 0 ]; then
	BUILD=${BUILD:-build}
	export BUILD INGOT=${INGOT:-$PWD/$BUILD/ingot}
	run_build
else
	for BUILD in "$@"; do
		export BUILD INGOT=$PWD/$BUILD/ingot
		echo "=== tests against $BUILD"
		run_build
	done
fi

echo "the tests took $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
