#!/bin/bash
# Booting slots for real: a Debian kernel under QEMU (TCG here), the ingot initrd choosing the slot,
# counting tries, checking the signature and opening dm-verity, and the test image's init marking
# its slot good. Each scenario reports its wall time.
. "$(dirname "$0")/../lib.sh"

INIT=$(dirname "$INGOT")/ingot-init

needs_vm() {
	command -v qemu-system-x86_64 >/dev/null || skip_test "qemu-system-x86_64 missing"
	ls /boot/vmlinuz-* >/dev/null 2>&1 || skip_test "no kernel in /boot (linux-image-amd64)"
	[ -x "$INIT" ] || skip_test "no $INIT"
	! ldd "$INGOT" | grep -q libasan || skip_test "an ASan build: the initrd's init would be PID 1 under ASan; make check boots"
}

# vm_image OUT VERSION [KEYDIR]: the vm-test image at VERSION, with this build's ingot inside
vm_image() {
	local keys=${3:-keys}
	[ -e "$keys/ingot.key" ] || "$INGOT" keygen "$keys" >/dev/null
	cat >"vm-$2.ini" <<EOR
Include=$TOP/recipes/demo.ini
[Image]
Name=vm-test
Version=$2
[Content]
Binaries=$INGOT:/usr/bin/ingot
Copy=$TOP/recipes/vm-test/init:/usr/lib/ingot-test/init
Mode=/usr/lib/ingot-test/init:0755
EOR
	"$INGOT" build "vm-$2.ini" -o "$1" --key "$keys/ingot.key" --cert "$keys/ingot.crt" --quiet
}

boot() { # boot DISK [APPEND]: to the ready marker; the console goes to console.log
	local start=$SECONDS
	"$INGOT" vm "$1" --initrd initrd.zst --accel tcg --timeout 240 --expect "INGOT-READY" \
		--append "quiet init=/usr/lib/ingot-test/init ${2:-}" >console.log 2>&1 || { tail -40 console.log; return 1; }
	echo "boot took $((SECONDS - start)) s"
	echo "REPORT: $SCENARIO: boot to the marker $((SECONDS - start)) s" >>"$T/report"
}

setup() {
	needs_vm
	vm_image out 1.0.0
	vm_image out 2.0.0
	"$INGOT" initrd -o initrd.zst --cert keys/ingot.crt --init "$INIT"
	"$INGOT" disk disk.img --slot-a out/vm-test_1.0.0.raw --esp-size 33M --var-size 8M
}

t_slot_a_boots() {
	SCENARIO=slot_a_boots
	setup
	boot disk.img
	grep -q "ingot-init: booting slot a: a is good with priority 2; b is empty" console.log
	grep -q "^a\* *good" console.log
	grep -q "^booted: a" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	# the initrd repeats byte for byte
	"$INGOT" initrd -o again.zst --cert keys/ingot.crt --init "$INIT"
	cmp initrd.zst again.zst
}
run slot_a_boots t_slot_a_boots

t_new_version_in_b_boots_on_trial() {
	SCENARIO=new_version_in_b
	setup
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/vm-test_2.0.0.raw
	boot disk.img
	grep -q "booting slot b: b is on trial with 3 tries left" console.log
	grep -q "ready on slot b, version 2.0.0" console.log
	grep -q "^b\* *good" console.log
	# the host reads the same state from the disk
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["tries"], s["next"]')" = "('good', 0, 'b')" ]
}
run new_version_in_b_boots_on_trial t_new_version_in_b_boots_on_trial

t_failing_b_falls_back_to_a() {
	SCENARIO=failing_b_falls_back
	setup
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --tries 2 out/vm-test_2.0.0.raw
	boot disk.img ingot.test-fail=b
	[ "$(grep -c 'health check FAILED on slot b' console.log)" = 2 ]
	grep -q "booting slot a: a is good with priority 1; b is bad (out of tries)" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"]')" = "('bad', 'a')" ]
}
run failing_b_falls_back_to_a t_failing_b_falls_back_to_a

t_untrusted_b_is_refused() {
	SCENARIO=untrusted_b
	setup
	vm_image other 3.0.0 otherkeys
	"$INGOT" slot install --disk disk.img --cert otherkeys/ingot.crt out/vm-test_2.0.0.raw 2>/dev/null && return 1
	"$INGOT" slot install --disk disk.img --cert otherkeys/ingot.crt other/vm-test_3.0.0.raw
	boot disk.img
	grep -q "slot b: signed by .*, which this initrd does not trust" console.log
	grep -q "ready on slot a" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = bad ]
}
run untrusted_b_is_refused t_untrusted_b_is_refused

[ ! -s "$T/report" ] || sed 's/^REPORT: /    /' "$T/report"
