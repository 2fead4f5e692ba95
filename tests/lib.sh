# tests/lib.sh: sourced by integration scripts: a scratch directory per script, and `run NAME FUNCTION`
# which runs FUNCTION under `set -e` in a subshell and prints PASS, FAIL (with the log) or SKIP.
set -u
: "${INGOT:?INGOT must point at the ingot binary}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$(mktemp -d /tmp/ingot-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

# A test calls this to be reported as skipped, never as passed.
skip_test() {
	echo "SKIP-REASON: $*"
	exit 77
}

run() {
	local name=$1 fn=$2 log rc
	log=$T/$name.log
	mkdir -p "$T/$name"
	(
		set -e
		cd "$T/$name"
		$fn
	) >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $name"
	elif [ "$rc" -eq 77 ]; then
		echo "SKIP: $name: $(sed -n 's/^SKIP-REASON: //p' "$log" | tail -1)"
	else
		echo "FAIL: $name (exit $rc)"
		tail -n 25 "$log" | sed 's/^/    /'
	fi
	return 0
}

# expect_fail "TEXT" CMD...: CMD must fail and print TEXT (a fixed string) on stderr or stdout.
expect_fail() {
	local text=$1 out rc
	shift
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	echo "$out"
	if [ "$rc" -eq 0 ]; then
		echo "expected failure, got success: $*"
		return 1
	fi
	if ! grep -qF -- "$text" <<<"$out"; then
		echo "expected message containing: $text"
		return 1
	fi
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_test "needs root"
}
