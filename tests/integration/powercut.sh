#!/bin/bash
# Power cuts: every state-changing `ingot slot` command (and `ingot reprofile`) is stopped before each of its writes to the
# disk in turn (k = 0, 1, ... until it completes; tests/tools/faultinject.c) and each time the disk must
# have a valid GPT that sfdisk reads, a status that parses, and a next slot that is complete: its
# signature verifies with openssl cms and its data with veritysetup (in the plain pass; the ASan pass
# reads each torn disk with ingot only). Single-write commands must leave the old state or the new one.
# Then install is killed with SIGKILL at random moments.
. "$(dirname "$0")/../lib.sh"

SHIM=$TOP/${BUILD:-build}/tests/faultinject.so
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

# state DISK: the slot bits and the next slot, one line
state() {
	local json
	json=$("$INGOT" slot status --disk "$1" --json 2>/dev/null) || { echo "(no slot status)"; return 1; }
	python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join("%s:%s/%d/%d/%d" % (x["name"], x["state"], x["priority"], x["tries"], x["successful"]) for x in s["slots"]), "next:" + str(s["next"]))' <<<"$json" || return 1
}

# consistent DISK HASHES CERT: disk_consistent in the plain pass. Under ASan what the pass adds is ingot
# reading each torn disk (status, next) with the sanitizers watching; the checks of each bootable slot by
# veritysetup and openssl (two thirds of the script's time) are the plain pass's, on the same torn disks.
asan=no
if asan_build; then asan=yes; fi
consistent() {
	if [ "$asan" = no ]; then
		disk_consistent "$@" || return 1
		return 0
	fi
	gpt_has_slots "$1" || return 1
	"$INGOT" slot status --disk "$1" --json >/dev/null || { echo "$1: no slot status"; return 1; }
	"$INGOT" slot next --disk "$1" >/dev/null || { echo "$1: no next slot"; return 1; }
}

# cut NAME BASE CMD...: runs CMD on a copy of BASE stopped before its k-th write for every k.
cut_every_write() {
	local name=$1 base=$2 n k before after now rc single=$3
	shift 3
	cp "$base" work.img
	before=$(state work.img)
	FAULT_FILE=work.img FAULT_COUNT=count LD_PRELOAD=$SHIM "$@" --disk work.img >/dev/null
	n=$(cat count)
	after=$(state work.img)
	[ "$n" -gt 0 ]
	[ "$before" != "$after" ]
	for ((k = 0; k < n; k++)); do
		cp "$base" work.img
		set +e
		FAULT_FILE=work.img FAULT_AFTER=$k LD_PRELOAD=$SHIM "$@" --disk work.img >/dev/null 2>&1
		rc=$?
		set -e
		[ "$rc" -eq 99 ] || { echo "$name: stop at write $k: exit $rc, not the harness's 99"; return 1; }
		consistent work.img hashes keys/ingot.crt || { echo "$name: inconsistent after $k writes: $(state work.img)"; return 1; }
		now=$(state work.img)
		if [ "$single" = single ] && [ "$now" != "$before" ] && [ "$now" != "$after" ]; then
			echo "$name: after $k writes neither old ($before) nor new ($after): $now"
			return 1
		fi
	done
	echo "$name: $n write boundaries covered"
	echo "REPORT: $name: $n write boundaries covered" >>"$T/report"
}

t_stop_at_every_write() {
	# with a stand-in kernel and initrd: the reprofile below gives a slot db's kernel parameters
	signed_demo out 1.0.0 "$(with_kernel)"
	signed_demo out 2.0.0 "$(with_kernel)"
	cat out/*.roothash >hashes
	"$INGOT" disk base.img --slot-a out/demo_1.0.0.raw
	cut_every_write install base.img multi "$INGOT" slot install --cert keys/ingot.crt out/demo_2.0.0.raw
	"$INGOT" slot install --disk base.img --cert keys/ingot.crt out/demo_2.0.0.raw >/dev/null
	cut_every_write mark-good base.img single "$INGOT" slot mark-good b
	cut_every_write switch base.img single "$INGOT" slot switch a --tries 2
	cut_every_write mark-bad base.img single "$INGOT" slot mark-bad b
	"$INGOT" slot mark-good b --disk base.img
	cut_every_write rollback base.img single "$INGOT" slot rollback
	# a reprofile copies the slot that boots next into the other one: that one stays next until the copy is whole
	"$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt \
		--for out/demo_1.0.0.raw --for out/demo_2.0.0.raw >/dev/null
	cut_every_write reprofile base.img multi "$INGOT" reprofile --cert keys/ingot.crt prof/db.profile.json
	# a second install over a slot that held an image: the old one stays next until the new one is whole
	cut_every_write reinstall base.img multi "$INGOT" slot install --cert keys/ingot.crt --slot a --allow-downgrade out/demo_1.0.0.raw
}
run stop_at_every_write t_stop_at_every_write

t_kill_during_install() {
	head -c 40M /dev/urandom >blob1
	head -c 40M /dev/urandom >blob2
	signed_demo out 1.0.0 "$(printf '[Content]\nCopy=%s/blob1:/blob\n[Output]\nLevel=1' "$PWD")"
	signed_demo out 2.0.0 "$(printf '[Content]\nCopy=%s/blob2:/blob\n[Output]\nLevel=1' "$PWD")"
	cat out/*.roothash >hashes
	"$INGOT" disk base.img --slot-a out/demo_1.0.0.raw --esp-size 33M --var-size 1M
	cp base.img work.img
	start=$(date +%s%N)
	"$INGOT" slot install --disk work.img --cert keys/ingot.crt out/demo_2.0.0.raw >/dev/null
	ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
	echo "install takes $ms ms"
	killed=0
	for i in $(seq 1 12); do
		cp base.img work.img
		"$INGOT" slot install --disk work.img --cert keys/ingot.crt out/demo_2.0.0.raw >/dev/null 2>&1 &
		pid=$!
		sleep "$(awk -v r="$RANDOM" -v ms="$ms" 'BEGIN { printf "%.3f", r / 32768 * ms / 1000 }')"
		if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
		wait "$pid" 2>/dev/null || true
		consistent work.img hashes keys/ingot.crt || { echo "inconsistent after kill $i: $(state work.img)"; return 1; }
	done
	echo "killed $killed of 12 installs mid-way"
	echo "REPORT: kill -9 during install: $killed of 12 runs killed mid-way, all consistent" >>"$T/report"
	[ "$killed" -gt 0 ]
}
run kill_during_install t_kill_during_install

[ ! -s "$T/report" ] || sed 's/^REPORT: /    /' "$T/report"
