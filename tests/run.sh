#!/bin/bash
# tests/run.sh [BUILD...]: runs every unit test (cmocka, TAP output) and every integration script
# against each build directory given (default: $BUILD, or build), counts results over all of them and
# ends with one line "N passed, N failed, N skipped"; exits non-zero on any failure or on none run.
# Several builds run side by side, in lanes: the first build's QEMU boots in two lanes of their own
# (boot.sh, host.sh: one TCG thread each, the longest scripts), its other tests in two more, and each
# further build (make check: the ASan one, whose boots skip) in one more; each lane says one line per
# script as it ends, and the lanes' logs follow in order.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0

# run_build [SCRIPT...]: the unit tests and the lint, then SCRIPT... (default: every integration script);
# with UNITS=no only the scripts.
run_build() {
local scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(tests/integration/*.sh)
if [ "${UNITS:-yes}" = yes ]; then
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

# static_check NAME WHAT CMD...: a check of the tree itself, passed when CMD exits 0; else WHAT and CMD's
# output, which says where.
static_check() {
	local name=$1 what=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		echo "PASS: $name"
		passed=$((passed + 1))
	else
		echo "FAIL: $name: $what:"
		sed 's/^/    /' <<<"$out"
		failed=$((failed + 1))
	fi
}

# Test code that cannot fail: `! cmd` and `a && b` statements, helpers used where set -e is off
# (tests/lint.py says which and why).
echo "== lint tests"
static_check lint_tests_can_fail "test code that cannot fail a test" python3 tests/lint.py
# Folders are the dependency graph: no include or call against their order, no cycle between modules,
# no builder symbol in the initrd's /init (tests/arch.py, docs/architecture.md)
echo "== architecture"
static_check folders_are_the_dependency_graph "what goes against the folders' order" python3 tests/arch.py "$BUILD"

fi

for script in "${scripts[@]}"; do
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
	vm=(tests/integration/boot.sh tests/integration/host.sh)
	rest=()
	for script in tests/integration/*.sh; do
		[[ " ${vm[*]} " == *" $script "* ]] || rest+=("$script")
	done
	# lane LOG BUILD UNITS SCRIPT...: one lane in the background
	lane() {
		local n=$1 build=$2 units=$3
		shift 3
		(
			export BUILD=$build UNITS=$units INGOT=$PWD/$build/ingot PROGRESS_FD=3
			if [ "$units" = no ]; then echo "=== tests against $BUILD: $*"; else echo "=== tests against $BUILD"; fi
			run_build "$@"
			echo "$passed $failed $skipped" >"$logs/$n.counts"
		) >"$logs/$n.log" 2>&1 &
	}
	# the first build's other scripts in two lanes of about equal time: the longest first, each to the
	# lane with less so far (seconds a script took in a make check here; 60 for the rest)
	declare -A took=([powercut]=365 [hostile]=351 [fleet]=227 [reproducible]=182 [recipes]=178
		[block-index]=143 [valgrind]=129 [slots]=98 [debian]=94 [oracles]=92 [bad-input]=87 [rebuild]=80)
	mapfile -t rest < <(for s in "${rest[@]}"; do n=$(basename "$s" .sh); echo "${took[$n]:-60} $s"; done |
		sort -k1,1nr -k2 | cut -d' ' -f2)
	restA=() restB=()
	sumA=0 sumB=0
	for s in "${rest[@]}"; do
		t=${took[$(basename "$s" .sh)]:-60}
		if [ "$sumA" -le "$sumB" ]; then restA+=("$s"); sumA=$((sumA + t)); else restB+=("$s"); sumB=$((sumB + t)); fi
	done
	lane 1 "$1" no "${vm[0]}"
	lane 2 "$1" no "${vm[1]}"
	lane 3 "$1" yes "${restA[@]}"
	lane 4 "$1" no "${restB[@]}"
	i=4
	for BUILD in "${@:2}"; do
		i=$((i + 1))
		lane "$i" "$BUILD" yes
	done
	wait
	for ((n = 1; n <= i; n++)); do
		cat "$logs/$n.log"
		read -r p f s <"$logs/$n.counts" || { echo "FAIL: a lane of the tests did not finish ($n)"; p=0 f=1 s=0; }
		passed=$((passed + p))
		failed=$((failed + f))
		skipped=$((skipped + s))
	done
	rm -rf "$logs"
fi

echo "the tests took $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
