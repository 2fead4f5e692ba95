#!/bin/bash
# Booting slots for real: a Debian kernel under QEMU (TCG here), the ingot initrd choosing the slot,
# counting tries, checking the signature, opening dm-verity and mounting var and the image's [Mounts],
# and the test image's init (recipes/vm-test/init) checking its health and marking its slot good.
# Each scenario reports its wall time.
. "$(dirname "$0")/../lib.sh"

INIT=$(dirname "$INGOT")/ingot-init

needs_vm() {
	command -v qemu-system-x86_64 >/dev/null || skip_test "qemu-system-x86_64 missing"
	ls /boot/vmlinuz-* >/dev/null 2>&1 || skip_test "no kernel in /boot (linux-image-amd64)"
	[ -x "$INIT" ] || skip_test "no $INIT"
	! ldd "$INGOT" | grep -q libasan || skip_test "an ASan build: the initrd's init would be PID 1 under ASan; make check boots"
}

# vm_image OUT VERSION [KEYDIR] [PROFILE]: recipes/vm-test.ini at VERSION, with this build's ingot inside
vm_image() {
	local keys=${3:-keys}
	[ -e "$keys/ingot.key" ] || "$INGOT" keygen "$keys" >/dev/null
	printf 'Include=%s\n[Image]\nVersion=%s\n%b[Content]\nBinaries=%s:/usr/bin/ingot\n' \
		"$TOP/recipes/vm-test.ini" "$2" "${4:+Profile=$4\n}" "$INGOT" >"vm-$2.ini"
	"$INGOT" build "vm-$2.ini" -o "$1" --key "$keys/ingot.key" --cert "$keys/ingot.crt" --quiet
}

# boot DISK EXPECT [APPEND] [ingot vm options...]: to EXPECT on the console (console.log). A guest whose
# kernel hung before any init ran (kernel_hung_before_init) is booted once more, and the report says so.
boot() {
	local disk=$1 expect=$2 append=${3:-} start=$SECONDS try
	shift 3 || shift $#
	for try in 1 2; do
		if "$INGOT" vm "$disk" --initrd initrd.zst --accel tcg --timeout 300 --expect "$expect" \
			--append "quiet init=/usr/lib/ingot-test/init $append" "$@" >console.log 2>&1; then
			break
		fi
		if [ "$try" = 1 ] && kernel_hung_before_init console.log; then
			echo "REPORT: $SCENARIO: the guest's kernel hung before its init ran (soft lockup under TCG); booted again" >>"$T/report"
			mv console.log console-hung.log
			continue
		fi
		tail -40 console.log
		return 1
	done
	echo "boot took $((SECONDS - start)) s"
	echo "REPORT: $SCENARIO: $((SECONDS - start)) s in the VM" >>"$T/report"
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
	boot disk.img "INGOT-READY"
	grep -q "ingot-init: booting slot a: a is good with priority 2; b is empty" console.log
	grep -q "^a\* *good" console.log
	grep -q "^booted: a" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	# var was empty: made ext4 on this first boot (blkid reads it from the host); the recipe's
	# [Mounts] made /etc a writable overlay and /tmp a tmpfs (the init checks /proc/mounts)
	grep -q "ingot-init: var: /dev/vda8 was empty: made ext4 and mounted on /var, noexec" console.log
	# the recipe's VarNoExec=yes: nothing on var runs (the init tries)
	grep -q "ingot-test: /var: ext4 rw,nosuid,nodev,noexec,.*; a program on it: .*Permission denied" console.log
	grep -q "ingot-init: overlay on /etc" console.log
	grep -q "ingot-init: tmpfs on /tmp" console.log
	! grep -q "is not" console.log || return 1
	grep -q "boot 1 on this var; /etc written: written" console.log
	p=$(part disk.img var); read -r start _ <<<"$p"
	[ "$(blkid -p -O "$start" -s TYPE -o value disk.img)" = ext4 ]
	[ "$(blkid -p -O "$start" -s LABEL -o value disk.img)" = var ]
	# the second boot keeps var (and what the first wrote to it), and /etc starts over from the image
	boot disk.img "INGOT-READY"
	grep -q "ingot-init: var: /dev/vda8 (e2fsck: clean) mounted on /var, noexec" console.log
	grep -q "boot 2 on this var; /etc written: written" console.log
	# var with errors the kernel flagged (its journal replayed first, as the VM stops without unmounting):
	# e2fsck -p repairs what it can before it is mounted
	p=$(part disk.img var)
	read -r start size _ <<<"$p"
	extract disk.img var var.img
	rc=0
	e2fsck -fy var.img >/dev/null 2>&1 || rc=$?
	[ "$rc" -le 1 ] # 1: it replayed the journal
	debugfs -w -R "ssv state 2" var.img 2>/dev/null
	dumpe2fs -h var.img 2>/dev/null | grep -q "^Filesystem state: .* with errors$"
	dd if=var.img of=disk.img bs=4096 seek=$((start / 4096)) conv=notrunc status=none
	boot disk.img "INGOT-READY"
	grep -q "ingot-init: var: /dev/vda8 (e2fsck: repaired) mounted on /var, noexec" console.log
	grep -q "boot 3 on this var" console.log
	# var damaged past what e2fsck -p repairs on its own: not mounted, a tmpfs instead, and the slot boots
	dd if=/dev/zero of=disk.img bs=4096 seek=$((start / 4096 + 1)) count=64 conv=notrunc status=none
	boot disk.img "INGOT-READY"
	grep -q "ingot-init: var: /sbin/e2fsck -p /dev/vda8: errors it cannot repair on its own (exit status [0-9]*); /var is a tmpfs for this boot" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	# the initrd repeats byte for byte
	"$INGOT" initrd -o again.zst --cert keys/ingot.crt --init "$INIT"
	cmp initrd.zst again.zst
}
run slot_a_boots t_slot_a_boots

# Whoever wrote var (unsigned) made symlinks on it that would take the image's [Mounts] below /var
# onto the image's own directories: each is refused, the rest is mounted, and the slot boots and is
# marked good (tests/unit/test-writable.c does the same without QEMU, and the absolute-symlink case).
t_var_symlinks_move_no_mount() {
	SCENARIO=var_symlinks
	setup
	# Tmpfs=/var/spool/etc is where var's spool -> .. aims a tmpfs over the image's whole /etc (an
	# image path ending in another name lands on the image's directory of that name); cache/ingot-test
	# is on no var yet: it is made there with the image's mode. Version 2 asks for both, in b, on trial.
	printf '[Content]\nMkdir=/var/spool\nMkdir=/var/spool/etc\nMkdir=/var/cache\nMkdir=/var/cache/ingot-test:0710\n[Mounts]\nTmpfs=/var/spool/etc\nTmpfs=/var/cache/ingot-test\n' >mounts.conf
	printf 'Include=%s\n' "$PWD/mounts.conf" >>vm-2.0.0.ini
	"$INGOT" build vm-2.0.0.ini -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/vm-test_2.0.0.raw
	# var as its writer left it: ext4 (the initrd does not format it again) holding spool -> ..
	p=$(part disk.img var); read -r start size _ <<<"$p"
	truncate -s "$size" var.img
	mkfs.ext4 -q -F -L var var.img
	debugfs -w -R "symlink spool .." var.img
	dd if=var.img of=disk.img bs=4096 seek=$((start / 4096)) conv=notrunc status=none
	boot disk.img "INGOT-READY"
	grep -q "booting slot b: b is on trial with 3 tries left" console.log
	grep -q "ingot-init: var: /dev/vda8 (e2fsck: clean) mounted on /var, noexec" console.log
	grep -q "ingot-init: overlay on /etc" console.log
	grep -q "ingot-init: \\[Mounts\\] /var/spool/etc: /var/spool is a symlink on var; not mounted" console.log
	grep -q "ingot-init: tmpfs on /var/cache/ingot-test" console.log
	# /etc is the image's overlay with nothing on it, the made path a tmpfs with the image's mode
	grep -q "ingot-test: \\[Mounts\\] overlay /etc: overlay, 755 0:0" console.log
	grep -q "ingot-test: \\[Mounts\\] tmpfs /var/cache/ingot-test: tmpfs, 710 0:0" console.log
	! grep -q "is not a" console.log || return 1
	grep -q "boot 1 on this var; /etc written: written" console.log
	# the health check ran and marked the slot good
	grep -q "slot b marked good" console.log
	grep -q "ready on slot b, version 2.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"]')" = "('good', 'b')" ]
	# the symlink is still there, on var as its writer left it
	extract disk.img var var.after
	debugfs -R "stat spool" var.after 2>/dev/null | grep -q "Type: symlink"
}
run var_symlinks_move_no_mount t_var_symlinks_move_no_mount

t_install_from_inside_the_vm() {
	SCENARIO=install_from_inside
	setup
	# version 2 reaches the VM on a second disk, a squashfs of the build's output
	mkdir media
	cp out/vm-test_2.0.0.* media/
	mksquashfs media media.sqfs -quiet -noappend >/dev/null
	boot disk.img "ready on slot b" ingot.test-install=/dev/vdb --drive media.sqfs
	grep -q "installing /mnt/vm-test_2.0.0.raw from /dev/vdb" console.log
	grep -q "installed /mnt/vm-test_2.0.0.raw into slot b; it boots next, on trial with 3 tries" console.log
	grep -q "^b *trying *2 *3 *2.0.0" console.log
	grep -q "booting slot b: b is on trial with 3 tries left, priority 2; a has priority 1; this try counted, 2 left after it" console.log
	grep -q "slot b marked good" console.log
	grep -q "^b\* *good *2 *0 *2.0.0" console.log
	grep -q "boot 2 on this var" console.log
	# the host reads the same state from the disk, and b's bytes are the image's
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["version"], s["next"]')" = "('good', '2.0.0', 'b')" ]
	slot_verifies disk.img b keys/ingot.crt
}
run install_from_inside_the_vm t_install_from_inside_the_vm

# Version 2 installed from a release nginx serves, seeded from slot a (docs/delivery.md): b's bytes are
# the published image's (cmp), fetched in part, and it boots.
t_new_version_in_b_boots_on_trial() {
	SCENARIO=new_version_in_b
	setup
	command -v nginx >/dev/null || skip_test "nginx missing (scripts/install-deps.sh)"
	. "$TOP/tests/tools/nginx.sh"
	trap nginx_stop EXIT
	"$INGOT" publish out www/vm --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	nginx_start "$PWD/nginx" "$PWD/www"
	no_proxy='*' "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --version 2.0.0 --json \
		"http://127.0.0.1:$NGINX_PORT/vm/" >events.json
	python3 - events.json out/vm-test_2.0.0.raw <<'PY'
import json, os, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
size = os.path.getsize(sys.argv[2])
assert r["installed"] and r["reused"] > size // 2 and r["reused"] + r["fetched"] == size, (r, size)
PY
	slot_holds disk.img b out/vm-test_2.0.0.raw
	boot disk.img "INGOT-READY"
	grep -q "booting slot b: b is on trial with 3 tries left" console.log
	grep -q "ready on slot b, version 2.0.0" console.log
	grep -q "^b\* *good" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["tries"], s["next"]')" = "('good', 0, 'b')" ]
}
run new_version_in_b_boots_on_trial t_new_version_in_b_boots_on_trial

t_failing_b_falls_back_to_a() {
	SCENARIO=failing_b_falls_back
	setup
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --tries 2 out/vm-test_2.0.0.raw
	boot disk.img "INGOT-READY" ingot.test-fail=b
	[ "$(grep -c 'health check FAILED on slot b' console.log)" = 2 ]
	grep -q "this try counted, 1 left after it" console.log
	grep -q "this try counted, 0 left after it" console.log
	grep -q "booting slot a: a is good with priority 1; b is bad (out of tries)" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"]')" = "('bad', 'a')" ]
}
run failing_b_falls_back_to_a t_failing_b_falls_back_to_a

t_corrupted_b_is_marked_bad() {
	SCENARIO=corrupted_b
	setup
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/vm-test_2.0.0.raw
	# one byte in the middle of b's squashfs: its signature and tree are intact, so it mounts and the
	# read of that block fails later (dm-verity's EIO), when the health check reads every file; the
	# initrd's corruption watcher or the health check, whichever comes first, marks b bad
	size=$(stat -c %s out/vm-test_2.0.0.raw)
	flip_part disk.img root-b $((size / 2 / 4096 * 4096 + 1000))
	boot disk.img "INGOT-READY"
	grep -q "booting slot b" console.log
	grep -q "device-mapper: verity: .*: data block $((size / 2 / 4096)) is corrupted" console.log
	grep -q "slot b marked bad" console.log
	grep -q "booting slot a: a is good with priority 1; b is bad (" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"], s["slots"][1]["failure"] in ("corrupted", "marked-bad")')" = \
		"('bad', 'a', True)" ]
}
run corrupted_b_is_marked_bad t_corrupted_b_is_marked_bad

t_untrusted_b_is_refused() {
	SCENARIO=untrusted_b
	setup
	vm_image other 3.0.0 otherkeys
	"$INGOT" slot install --disk disk.img --cert otherkeys/ingot.crt out/vm-test_2.0.0.raw 2>/dev/null && return 1
	"$INGOT" slot install --disk disk.img --cert otherkeys/ingot.crt other/vm-test_3.0.0.raw
	boot disk.img "INGOT-READY"
	grep -q "slot b: signed by .*, which this initrd does not trust" console.log
	! grep -q "mounting its squashfs" console.log || return 1
	grep -q "ready on slot a" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = bad ]
}
run untrusted_b_is_refused t_untrusted_b_is_refused

t_both_slots_broken_boot_nothing() {
	SCENARIO=both_broken
	setup
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/vm-test_2.0.0.raw
	# a: its signature partition wiped (its data is intact, but nothing vouches for it any more);
	# b: the first block of its squashfs flipped (the superblock: mounting it fails)
	p=$(part disk.img verity-sig-a); read -r start size _ <<<"$p"
	dd if=/dev/zero of=disk.img bs=4096 seek=$((start / 4096)) count=$((size / 4096)) conv=notrunc status=none
	flip_part disk.img root-b 0
	boot disk.img "rebooting"
	grep -q "booting slot b" console.log
	grep -q "slot b: mounting its squashfs: Input/output error" console.log
	grep -q "slot b failed; marked bad, trying the other" console.log
	grep -q "no bootable slot: nothing signed and intact to boot" console.log
	! grep -q "ingot-test:" console.log || return 1
	! grep -q "booting slot a" console.log || return 1
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][1]["state"], s["next"]')" = "('empty', 'bad', None)" ]
}
run both_slots_broken_boot_nothing t_both_slots_broken_boot_nothing

# The attacker's disk (issue 25): another disk with ingot slots, an older vm-test signed by the same key,
# with a var of its own that a boot from it would format. Its bytes, to show afterwards that nothing wrote
# it. Which of two disks the initrd before the pin took was not the first name but the first /sys/block
# lists, and sysfs lists names in the order of their hashes: vdb before vda. So each scenario attaches it
# where that initrd takes it, and the first also before the real disk, as /dev/vda.
attacker_disk() {
	vm_image old 0.9.0
	"$INGOT" disk attacker.img --slot-a old/vm-test_0.9.0.raw --esp-size 33M --var-size 8M
	sha256sum attacker.img >attacker.sha256
}

# ingot vm pins the initrd to its disk (ingot.disk=GUID): the real disk boots, the attacker's first in line
# (/dev/vda) or listed first (/dev/vdb: the real disk goes first, and the pin comes from --append).
t_pinned_disk_beats_the_first() {
	SCENARIO=pinned_disk
	setup
	attacker_disk
	guid=$(status_field disk.img 's["disk_uuid"]')
	boot disk.img "INGOT-READY" "" --drive-first attacker.img
	grep -q "ingot-init: disk /dev/vdb (ingot.disk=$guid)" console.log
	grep -q "ingot-init: booting slot a: a is good with priority 2; b is empty" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	! grep -q "version 0.9.0" console.log || return 1
	sha256sum -c attacker.sha256
	mv console.log attacker-first.log
	boot attacker.img "INGOT-READY" "ingot.disk=$guid" --drive-first disk.img
	grep -q "ingot-init: disk /dev/vda (ingot.disk=$guid)" console.log
	! grep -q "ingot.disk=$(status_field attacker.img 's["disk_uuid"]')" console.log || return 1
	grep -q "ready on slot a, version 1.0.0" console.log
	grep -q "boot 2 on this var" console.log
	! grep -q "version 0.9.0" console.log || return 1
	sha256sum -c attacker.sha256
}
run pinned_disk_beats_the_first t_pinned_disk_beats_the_first

# Nothing pins the disk (ingot vm --no-pin: no ingot.disk=, no boot loader): two disks with slots are
# refused, not raced for. The attacker who copies the real disk's GUID onto its own gets a refusal too.
# Either way nothing is booted and neither disk is written.
t_two_disks_are_refused() {
	SCENARIO=two_disks_refused
	setup
	attacker_disk
	sha256sum disk.img >disk.sha256
	boot disk.img "rebooting" "" --drive-first attacker.img --no-pin
	grep -q "ingot-init: two disks with ingot slots (vda, vdb) and nothing says which: give ingot.disk=GUID" console.log
	! grep -q "booting slot" console.log || return 1
	sha256sum -c attacker.sha256 disk.sha256
	mv console.log unpinned.log
	guid=$(status_field disk.img 's["disk_uuid"]')
	sfdisk --quiet --disk-id attacker.img "$guid"
	sha256sum attacker.img >attacker.sha256
	boot disk.img "rebooting" "" --drive-first attacker.img
	grep -q "ingot-init: two disks carry the boot disk GUID $guid (vda, vdb): not guessing which one is the boot disk" console.log
	! grep -q "booting slot" console.log || return 1
	sha256sum -c attacker.sha256 disk.sha256
}
run two_disks_are_refused t_two_disks_are_refused

# Through UEFI firmware and systemd-boot, with a boot entry that names no disk (an ESP another tool wrote;
# ingot disk's entries carry ingot.disk=): the loader's LoaderDevicePartUUID says which ESP it was started
# from, and the initrd boots the disk holding it (/dev/vda), not the attacker's, which /sys/block lists
# first (/dev/vdb; the firmware passes over its empty ESP).
t_uefi_loader_pins_its_disk() {
	SCENARIO=uefi_loader_pins
	needs_vm
	[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip_test "no OVMF firmware (package ovmf)"
	[ -r /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || skip_test "no systemd-boot (package systemd-boot-efi)"
	command -v mcopy >/dev/null || skip_test "mtools missing"
	local start_s=$SECONDS kernel guid esp start
	vm_image out 1.0.0
	"$INGOT" initrd -o initrd.zst --cert keys/ingot.crt --init "$INIT"
	kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
	"$INGOT" disk disk.img --slot-a out/vm-test_1.0.0.raw --esp-size 40M --var-size 8M --boot-kernel "$kernel" \
		--boot-initrd initrd.zst --cmdline "console=ttyS0 quiet init=/usr/lib/ingot-test/init"
	guid=$(status_field disk.img 's["disk_uuid"]')
	esp=$(sfdisk --part-uuid disk.img 1)
	p=$(part disk.img esp); read -r start _ <<<"$p"
	mtype -i "disk.img@@$start" ::/loader/entries/ingot.conf >entry.conf
	grep -qx "options ro console=ttyS0 quiet init=/usr/lib/ingot-test/init ingot.disk=$guid" entry.conf
	sed -i "s/ ingot.disk=$guid//" entry.conf
	mcopy -o -i "disk.img@@$start" entry.conf ::/loader/entries/ingot.conf
	! mtype -i "disk.img@@$start" ::/loader/entries/ingot.conf | grep -q "ingot.disk=" || return 1
	attacker_disk
	"$INGOT" vm attacker.img --uefi --accel tcg --timeout 600 --expect "INGOT-READY" --drive-first disk.img \
		>console.log 2>&1 || { tail -40 console.log; return 1; }
	echo "REPORT: $SCENARIO: $((SECONDS - start_s)) s in all (ingot vm --uefi)" >>"$T/report"
	grep -qi "ingot-init: disk /dev/vda (the ESP the boot loader was started from, LoaderDevicePartUUID $esp)" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	! grep -q "version 0.9.0" console.log || return 1
	sha256sum -c attacker.sha256
}
run uefi_loader_pins_its_disk t_uefi_loader_pins_its_disk

# kernel_image VERSION PROFILE: vm-test at VERSION baking PROFILE, carrying this host's kernel and the
# initrd (initrd.zst), for the initrd to restart into with the profile's parameters; disk.img holds it in a
kernel_image() {
	[ -e keys/ingot.key ] || "$INGOT" keygen keys >/dev/null
	"$INGOT" initrd -o initrd.zst --cert keys/ingot.crt --init "$INIT"
	kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
	printf '[Content]\nCopy=%s:/usr/lib/modules/%s/vmlinuz\nCopy=%s:/usr/lib/ingot/initrd\n' \
		"$kernel" "${kernel#/boot/vmlinuz-}" "$PWD/initrd.zst" >kernel.conf
	vm_image out "$1" keys "$2"
	printf 'Include=%s\n' "$PWD/kernel.conf" >>"vm-$1.ini"
	"$INGOT" build "vm-$1.ini" -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	"$INGOT" disk disk.img --slot-a "out/vm-test_$1.raw" --esp-size 33M --var-size 8M
}

t_profile_applied() {
	SCENARIO=profile_applied
	needs_vm
	printf 'Include=%s/recipes/profiles/base.conf\n[Kernel]\nParameters=-quiet test.profile=1\n[HugePages]\nPages=2M:32\n[Sysctl]\nvm.swappiness=7\n' \
		"$TOP" >vmhost.conf
	kernel_image 1.0.0 "$PWD/vmhost.conf"
	unsquashfs -cat out/vm-test_1.0.0.raw usr/lib/ingot/profile.json | grep -q '"name":"vmhost"'
	guid=$(status_field disk.img 's["disk_uuid"]')
	# nothing pins the first stage's disk (--no-pin): it finds the one disk with slots itself
	boot disk.img "INGOT-READY" "quiet" --no-pin
	grep -q "ingot-init: disk /dev/vda (the only non-removable disk with ingot slots, and nothing names one)" console.log
	# the first stage restarted into the slot's kernel with the profile's parameters added to the
	# running ones (a profile's -key only takes back what a profile it includes set), without
	# counting another try, and pinned the second stage to the disk it chose
	grep -q "ingot-init: profile vmhost: restarting into the slot's kernel with: .*mitigations=auto console=ttyS0 test.profile=1 ingot.kexec=a ingot.disk=$guid" console.log
	grep -q "ingot-init: disk /dev/vda (ingot.disk=$guid)" console.log
	[ "$(grep -c 'ingot-init: booting slot a' console.log)" = 2 ]
	grep -q "ingot-init: booting slot a: a forced by ingot.slot=" console.log
	grep "ingot-test: cmdline:" console.log | grep -q " test.profile=1 ingot.kexec=a ingot.disk=$guid"
	! grep -q "kernel parameters are not on this kernel's command line" console.log || return 1
	# the kernel's own view of the rest: /proc/sys and /proc/meminfo, read by the image's init
	grep -q "ingot-test: vm.swappiness=7, HugePages_Total: 32" console.log
	grep -q "ingot-init: profile vmhost: 32 2M huge pages" console.log
	grep -q "ingot-init: profile vmhost applied" console.log
	grep -q "ingot-test: profile: vmhost (image)" console.log
}
run profile_applied t_profile_applied

# web.conf (baked into the image), db.conf and huge.conf (compiled and signed by slot_profile, for slots
# of their own)
role_profiles() {
	printf 'Include=%s/recipes/profiles/base.conf\n[Kernel]\nParameters=test.role=web\n[Sysctl]\nvm.swappiness=30\n' \
		"$TOP" >web.conf
	printf 'Include=%s/recipes/profiles/base.conf\n[Kernel]\nParameters=-quiet test.role=db\n[HugePages]\nPages=2M:64\n[Sysctl]\nvm.swappiness=1\n' \
		"$TOP" >db.conf
	# more huge pages than the VM has: the kernel gives what it can, the health check wants them all
	printf 'Include=db.conf\n[Kernel]\nParameters=test.role=huge\n[HugePages]\nPages=2M:200000\n[Sysctl]\nvm.swappiness=2\n' >huge.conf
	"$INGOT" keygen keys >/dev/null
}

# slot_profile CONF DIR: CONF compiled and signed into DIR for the image kernel_image made (a slot takes
# a profile only for its own image)
slot_profile() {
	"$INGOT" profile compile "$1" -o "$2" --key keys/ingot.key --cert keys/ingot.crt --for out/vm-test_1.0.0.raw >/dev/null
}

t_reprofile_web_to_db() {
	SCENARIO=reprofile_web_to_db
	needs_vm
	role_profiles
	kernel_image 1.0.0 "$PWD/web.conf"
	slot_profile db.conf media
	# db reaches the VM on a second disk; the host on slot a (web) reprofiles itself and reboots
	mksquashfs media media.sqfs -quiet -noappend >/dev/null
	boot disk.img "ready on slot b" ingot.test-reprofile=/dev/vdb --drive media.sqfs --timeout 900
	sed -n '/ready on slot a/,$p' console.log >after.log
	grep -q "ingot-test: vm.swappiness=30, HugePages_Total: 0" console.log
	grep -q "ingot-test: profile: web (image)" console.log
	grep -q "ingot-test: reprofiling to /mnt/db.profile.json from /dev/vdb" after.log
	grep -q "^b *trying *2 *3 *1.0.0 .* db (slot)" after.log
	# b boots on trial, restarts into its kernel with db's parameters, and holds db's values
	grep -q "booting slot b: b is on trial with 3 tries left, priority 2; a has priority 1; this try counted, 2 left after it" after.log
	grep -q "ingot-init: profile db: restarting into the slot's kernel with: .*test.role=db ingot.kexec=b" after.log
	grep "ingot-test: cmdline:" after.log | grep -q " test.role=db ingot.kexec=b"
	! grep "ingot-test: cmdline:" after.log | grep -q " test.role=web" || return 1
	grep -q "ingot-test: vm.swappiness=1, HugePages_Total: 64" after.log
	grep -q "ingot-test: profile: db (slot)" after.log
	grep -q "slot b marked good" after.log
	grep -q "^b\* *good *2 *0 *1.0.0 .* db (slot)" after.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["profile"], s["slots"][0]["profile"], s["next"]')" = \
		"('good', 'db', 'web', 'b')" ]
	slot_verifies disk.img b keys/ingot.crt >/dev/null
}
run reprofile_web_to_db t_reprofile_web_to_db

t_failing_profile_falls_back() {
	SCENARIO=failing_profile_falls_back
	needs_vm
	role_profiles
	kernel_image 1.0.0 "$PWD/web.conf"
	slot_profile huge.conf prof
	# reprofiled from the host this time, on the disk file: a (good) is copied into b with huge
	"$INGOT" reprofile disk.img prof/huge.profile.json --cert keys/ingot.crt --tries 1 >/dev/null
	boot disk.img "INGOT-READY" "" --timeout 900
	# b: its tries spent on a host that cannot hold its huge pages, then a with web's values again
	[ "$(grep -c 'health check FAILED on slot b: its profile did not all apply' console.log)" = 1 ]
	grep -q "ingot-init: profile huge: 200000 2M huge pages: Cannot allocate memory" console.log
	# and the pages it did find went back, or the rest of the boot starves before its health check
	grep -q "ingot-init: profile huge: gave the [0-9]* 2M huge pages back" console.log
	grep -q "booting slot a: a is good with priority 1; b is bad (out of tries)" console.log
	sed -n '/booting slot a: a is good/,$p' console.log >after.log
	grep -q "ingot-test: cmdline: .*test.role=web ingot.kexec=a" after.log
	grep -q "ingot-test: vm.swappiness=30, HugePages_Total: 0" after.log
	grep -q "ready on slot a, version 1.0.0" after.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["profile"], s["next"]')" = "('bad', 'huge', 'a')" ]
}
run failing_profile_falls_back t_failing_profile_falls_back

# breaking_profile NAME LINES TRIES: disk.img with the web image (carrying its kernel) good in a, reprofiled
# into b on trial with TRIES tries and profile NAME (web's plus LINES), booted until a is ready again
breaking_profile() {
	needs_vm
	role_profiles
	printf 'Include=web.conf\n%b\n' "$2" >"$1.conf"
	kernel_image 1.0.0 "$PWD/web.conf"
	slot_profile "$1.conf" prof
	"$INGOT" reprofile disk.img "prof/$1.profile.json" --cert keys/ingot.crt --tries "$3" >/dev/null
	boot disk.img "INGOT-READY" "" --timeout 900
}

# back_on_a FILE: after b failed, a boots with its own profile and is ready
back_on_a() {
	grep -q "ingot-test: cmdline: .*test.role=web ingot.kexec=a" "$1" || return 1
	grep -q "ready on slot a, version 1.0.0" "$1" || return 1
}

# A profile that breaks its own slot is judged under its slot's kernel and command line only: b fails
# there, is marked bad, and the machine restarts so that a boots under its own (boot/README.md).
t_bogus_init_profile_falls_back() {
	SCENARIO=bogus_init_profile
	breaking_profile bogus '[Kernel]\nParameters=init=/bogus test.role=bogus' 2
	grep -q "booting slot b: b is on trial with 2 tries left" console.log
	grep -q "ingot-init: profile bogus: restarting into the slot's kernel with: .*init=/bogus .*ingot.kexec=b" console.log
	grep -q "ingot-init: slot b: /bogus: No such file or directory" console.log
	grep -q "slot b failed under its own kernel and command line; marked bad, restarting so that the other slot boots under its own" console.log
	# a was never tried under b's kernel and command line: the next boot is a fresh one, from the start
	! grep -q "trying the other" console.log || return 1
	sed -n '/slot b failed under its own kernel/,$p' console.log >after.log
	grep -q "booting slot a: a is good with priority 1; b is bad (the initrd could not boot it under its own kernel and command line)" after.log
	back_on_a after.log
	! grep "ingot-test: cmdline:" after.log | grep -q "bogus" || return 1
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][0]["profile"], s["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = \
		"('good', 'web', 'bad', 'initrd', 'a')" ]
	"$INGOT" slot next --disk disk.img | grep -q "b is bad (the initrd could not boot it under its own kernel and command line)"
}
run bogus_init_profile_falls_back t_bogus_init_profile_falls_back

# A profile that keeps the slot's kernel from finding its disk (in its initrd, before the switch to the
# slot's root): nothing can be marked, the counted tries run out, and a boots.
t_initrd_breaking_profile_falls_back() {
	SCENARIO=initrd_breaking_profile
	breaking_profile nodisk '[Kernel]\nParameters=module_blacklist=virtio_blk test.role=nodisk' 1
	guid=$(status_field disk.img 's["disk_uuid"]')
	[ "$(grep -c "profile nodisk: restarting into the slot's kernel" console.log)" = 1 ]
	[ "$(grep -c "ingot-init: the boot disk GUID $guid (ingot.disk=) did not appear" console.log)" = 1 ]
	grep -q "booting slot a: a is good with priority 1; b is bad (out of tries)" console.log
	sed -n '/booting slot a: a is good/,$p' console.log >after.log
	back_on_a after.log
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = \
		"('good', 'bad', 'out-of-tries', 'a')" ]
}
run initrd_breaking_profile_falls_back t_initrd_breaking_profile_falls_back

# A profile whose sysctl the slot's kernel does not have: it boots, its health check fails (after the
# switch to the slot's root, under its own kernel), the tries run out, and a boots with its profile.
t_health_breaking_profile_falls_back() {
	SCENARIO=health_breaking_profile
	breaking_profile nosuch '[Kernel]\nParameters=test.role=nosuch\n[Sysctl]\nvm.no_such_knob=1' 1
	[ "$(grep -c "ingot-init: profile nosuch: sysctl vm.no_such_knob=1: No such file or directory" console.log)" = 1 ]
	[ "$(grep -c 'health check FAILED on slot b: its profile did not all apply' console.log)" = 1 ]
	! grep -q "profile nosuch applied" console.log || return 1
	grep -q "booting slot a: a is good with priority 1; b is bad (out of tries)" console.log
	sed -n '/booting slot a: a is good/,$p' console.log >after.log
	back_on_a after.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = "('bad', 'out-of-tries', 'a')" ]
}
run health_breaking_profile_falls_back t_health_breaking_profile_falls_back

# A disk writer grafts another slot's signed profile: b holds the same image as a, with db as its own
# profile, and db's fields in b's signature partition are replaced by those of a lab profile signed for
# another image. The initrd refuses it (the profile is not for b's image), marks b bad, and a boots.
t_grafted_profile_is_refused() {
	SCENARIO=grafted_profile
	needs_vm
	role_profiles
	kernel_image 1.0.0 "$PWD/web.conf"
	slot_profile db.conf prof
	# the lab's profile, signed by the same key for the lab's image (another version)
	vm_image lab 2.0.0
	printf 'Include=web.conf\n[Kernel]\nParameters=test.role=lab mitigations=off\n' >lab.conf
	"$INGOT" profile compile lab.conf -o labprof --key keys/ingot.key --cert keys/ingot.crt --for lab/vm-test_2.0.0.raw \
		>/dev/null
	"$INGOT" reprofile disk.img prof/db.profile.json --cert keys/ingot.crt --tries 2 >/dev/null
	extract disk.img verity-sig-b sig.part
	python3 - sig.part labprof/lab.profile.json <<'PY'
import base64, json, sys
raw = open(sys.argv[1], "rb").read()
j = json.loads(raw.rstrip(b"\0"))
j["ingotProfile"] = open(sys.argv[2]).read()
j["ingotProfileSignature"] = base64.b64encode(open(sys.argv[2] + ".p7s", "rb").read()).decode()
out = json.dumps(j, separators=(",", ":")).encode()
assert len(out) < len(raw)
open(sys.argv[1], "wb").write(out + b"\0" * (len(raw) - len(out)))
PY
	p=$(part disk.img verity-sig-b)
	read -r start _ <<<"$p"
	dd if=sig.part of=disk.img bs=4096 seek=$((start / 4096)) conv=notrunc status=none
	# the grafted profile's own signature is intact: only what it is for gives it away
	slot_profile_verifies disk.img b keys/ingot.crt labprof/lab.profile.json
	boot disk.img "INGOT-READY" "" --timeout 900
	grep -q "booting slot b: b is on trial" console.log
	grep -q "ingot-init: slot b: its profile lab: signed for the images $(head -c 16 lab/vm-test_2.0.0.roothash)..., not for this one (root hash $(head -c 16 out/vm-test_1.0.0.roothash)...)" console.log
	! grep -q "profile lab: restarting\|profile lab applied\|test.role=lab" console.log || return 1
	grep -q "booting slot a: a is good with priority 1; b is bad (the initrd could not boot it under its own kernel and command line)" console.log
	grep -q "ingot-test: cmdline: .*test.role=web ingot.kexec=a" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = "('bad', 'initrd', 'a')" ]
}
run grafted_profile_is_refused t_grafted_profile_is_refused

# vm_image_with OUT VERSION LINES: vm_image with LINES added to its recipe
vm_image_with() {
	vm_image "$1" "$2"
	printf '%b\n' "$3" >>"vm-$2.ini"
	"$INGOT" build "vm-$2.ini" -o "$1" --key keys/ingot.key --cert keys/ingot.crt --quiet
}

# A disk writer copies an old, validly signed image into slot b and gives it priority: a (2.0.0, good)
# says MinVersion=2.0.0, so the initrd refuses b's 1.0.0 as a rollback, marks b bad, and a boots.
t_rollback_below_the_floor_is_refused() {
	SCENARIO=rollback_below_the_floor
	needs_vm
	"$INGOT" keygen keys >/dev/null
	vm_image_with out 2.0.0 '[Image]\nMinVersion=2.0.0'
	vm_image out 1.0.0
	"$INGOT" initrd -o initrd.zst --cert keys/ingot.crt --init "$INIT"
	"$INGOT" disk disk.img --slot-a out/vm-test_2.0.0.raw --esp-size 33M --var-size 8M
	# the old image, as a disk writer puts it there: its partitions copied from another disk, b's bits set
	"$INGOT" disk old.img --slot-a out/vm-test_1.0.0.raw --esp-size 33M --var-size 8M --slot-size "$(part disk.img root-a | cut -d' ' -f2)"
	for p in root verity verity-sig; do
		extract old.img "$p-a" "$p.part"
		q=$(part disk.img "$p-b")
		read -r start _ <<<"$q"
		dd if="$p.part" of=disk.img bs=4096 seek=$((start / 4096)) conv=notrunc status=none
	done
	sfdisk -q --part-attrs disk.img 5 "GUID:48,49,52,53" # priority 3 (above a's 2), 3 tries
	slot_verifies disk.img b keys/ingot.crt out/vm-test_1.0.0.roothash
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["version"], s["next"]')" = "('trying', '1.0.0', 'b')" ]
	boot disk.img "INGOT-READY"
	grep -q "booting slot b: b is on trial with 3 tries left" console.log
	grep -q "ingot-init: slot b: version 1.0.0 is below 2.0.0, the version floor good slot a's image sets (MinVersion=): a rollback, refused" console.log
	grep -q "booting slot a: a is good with priority 2; b is bad (the initrd could not boot it under its own kernel and command line)" console.log
	! grep -q "ingot-test: slot b" console.log || return 1
	grep -q "ready on slot a, version 2.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = "('bad', 'initrd', 'a')" ]
}
run rollback_below_the_floor_is_refused t_rollback_below_the_floor_is_refused

# An image that boots only with a profile of its own (SlotProfile=required) in slot b, installed with one; a
# disk writer strips the profile from b's signature partition. The initrd refuses b, and a boots.
t_stripped_profile_is_refused() {
	SCENARIO=stripped_profile
	setup
	vm_image_with out 2.0.0 '[Image]\nSlotProfile=required'
	printf '[Sysctl]\nvm.swappiness=11\n' >calm.conf
	"$INGOT" profile compile calm.conf -o prof --key keys/ingot.key --cert keys/ingot.crt --for out/vm-test_2.0.0.raw >/dev/null
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/calm.profile.json out/vm-test_2.0.0.raw
	extract disk.img verity-sig-b sig.part
	python3 - sig.part <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
j = json.loads(raw.rstrip(b"\0"))
del j["ingotProfile"], j["ingotProfileSignature"]
out = json.dumps(j, separators=(",", ":")).encode()
open(sys.argv[1], "wb").write(out + b"\0" * (len(raw) - len(out)))
PY
	p=$(part disk.img verity-sig-b)
	read -r start _ <<<"$p"
	dd if=sig.part of=disk.img bs=4096 seek=$((start / 4096)) conv=notrunc status=none
	slot_verifies disk.img b keys/ingot.crt out/vm-test_2.0.0.roothash
	boot disk.img "INGOT-READY"
	grep -q "ingot-init: slot b: its image boots only with a profile of its own (SlotProfile=required), and the slot has none" console.log
	grep -q "booting slot a: a is good with priority 1; b is bad (the initrd could not boot it under its own kernel and command line)" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = "('bad', 'initrd', 'a')" ]
}
run stripped_profile_is_refused t_stripped_profile_is_refused

# The same with nothing to fall back to: a alone, good, with a corrupted block read late. The watcher
# does not mark the last bootable slot bad (one bad block is better than nothing to boot): a keeps running.
t_late_corruption_with_one_slot_keeps_it() {
	SCENARIO=late_corruption_one_slot
	needs_vm
	"$INGOT" keygen keys >/dev/null
	mkdir late
	head -c 1M /dev/urandom >late/blob
	vm_image_with out 1.0.0 "[Content]\nCopy=$PWD/late/:/usr/lib/ingot-test/late/"
	"$INGOT" initrd -o initrd.zst --cert keys/ingot.crt --init "$INIT"
	"$INGOT" disk disk.img --slot-a out/vm-test_1.0.0.raw --esp-size 33M --var-size 8M
	boot disk.img "INGOT-READY" "ingot.test-read=/usr/lib/ingot-test/late/blob"
	off=$(offset_in out/vm-test_1.0.0.raw late/blob)
	flip_part disk.img root-a $((off + 200000))
	boot disk.img "INGOT-READY" "ingot.test-read=/usr/lib/ingot-test/late/blob"
	grep -q "device-mapper: verity: .*: data block $(((off + 200000) / 4096)) is corrupted" console.log
	without_kernel console.log >ours.log
	grep -q "ingot-init: slot a: dm-verity found data block $(((off + 200000) / 4096)) corrupted while the slot ran" ours.log
	grep -q "ingot-init: slot a: /dev/vda: slot b is empty, nothing to fall back to: it keeps running, and reads of that block fail" ours.log
	grep -q "ingot-test: reading /usr/lib/ingot-test/late/blob failed: .*Input/output error" ours.log
	! grep -q "marked bad" ours.log || return 1
	[ "$(status_field disk.img 's["slots"][0]["state"], s["next"]')" = "('good', 'a')" ]
}
run late_corruption_with_one_slot_keeps_it t_late_corruption_with_one_slot_keeps_it

# write_slot DISK SLOT DIR/NAME: NAME.raw, .verity and .roothash.p7s written into SLOT's partitions as a disk
# writer would, with the signature payload systemd reads, and priority 3 with 3 tries (above a good slot's 2)
write_slot() {
	local p start
	for p in "root:raw" "verity:verity"; do
		q=$(part "$1" "${p%%:*}-$2") || return 1
		read -r start _ <<<"$q"
		dd if="$3.${p#*:}" of="$1" bs=4096 seek=$((start / 4096)) conv=notrunc status=none || return 1
	done
	q=$(part "$1" "verity-sig-$2") || return 1
	read -r start size _ <<<"$q"
	python3 - "$3" keys/ingot.crt "$size" >payload <<'PY' || return 1
import base64, hashlib, json, ssl, sys
base, cert, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
der = ssl.PEM_cert_to_DER_cert(open(cert).read())
j = {"rootHash": open(base + ".roothash").read().strip(), "certificateFingerprint": hashlib.sha256(der).hexdigest(),
     "signature": base64.b64encode(open(base + ".roothash.p7s", "rb").read()).decode()}
out = json.dumps(j, separators=(",", ":")).encode()
sys.stdout.buffer.write(out + b"\0" * (size - len(out)))
PY
	dd if=payload of="$1" bs=4096 seek=$((start / 4096)) conv=notrunc status=none || return 1
	sfdisk -q --part-attrs "$1" "$([ "$2" = a ] && echo 2 || echo 5)" "GUID:48,49,52,53" || return 1
}

# The same key signs sysext layers: a layer written into slot b is a validly signed root hash, but the
# initrd finds an extension-release in what it mounted, refuses it, and a boots.
t_layer_in_a_slot_is_refused() {
	SCENARIO=layer_in_a_slot
	setup
	"$INGOT" build "$TOP/recipes/demo.ini" -o base --key keys/ingot.key --cert keys/ingot.crt --quiet
	mkdir -p tree/usr/bin tree/opt/tools
	printf '#!/bin/sh\necho hello from the layer\n' >tree/usr/bin/hello
	head -c 60000 /dev/urandom >tree/opt/tools/blob
	printf '[Extension]\nName=tools\nVersion=1.0\nBase=base/demo_1.0.0.manifest.json\n[Output]\nSourceDateEpoch=1\n[Content]\nCopy=tree/:/\n' >l.ini
	"$INGOT" sysext build l.ini -o layer --format raw --key keys/ingot.key --cert keys/ingot.crt --quiet
	expect_fail "layer/tools_1.0.raw: a system extension layer (/usr/lib/extension-release.d), not an image for a slot" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --allow-downgrade layer/tools_1.0.raw
	write_slot disk.img b layer/tools_1.0
	slot_verifies disk.img b keys/ingot.crt layer/tools_1.0.roothash
	boot disk.img "INGOT-READY"
	grep -q "booting slot b: b is on trial with 3 tries left, priority 3" console.log
	grep -q "ingot-init: slot b: a system extension layer (/usr/lib/extension-release.d), not an image for a slot: its signature is a layer's" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = "('bad', 'initrd', 'a')" ]
}
run layer_in_a_slot_is_refused t_layer_in_a_slot_is_refused

# Corruption found after a slot was marked good: b (good) reads a block the health check never read; the
# initrd's watcher marks b bad with the reason and restarts, and a boots.
t_late_corruption_falls_back() {
	SCENARIO=late_corruption
	setup
	mkdir late
	head -c 1M /dev/urandom >late/blob
	printf '[Content]\nCopy=%s/late/:/usr/lib/ingot-test/late/\n' "$PWD" >>vm-2.0.0.ini
	"$INGOT" build vm-2.0.0.ini -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/vm-test_2.0.0.raw
	boot disk.img "INGOT-READY" "ingot.test-read=/usr/lib/ingot-test/late/blob"
	grep -q "ready on slot b, version 2.0.0" console.log
	! grep -q "reading /usr/lib/ingot-test/late/blob" console.log || return 1
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = good ]
	# the blob is stored as it is (random data does not compress): flip a byte of it in root-b
	off=$(offset_in out/vm-test_2.0.0.raw late/blob)
	flip_part disk.img root-b $((off + 200000))
	block=$(((off + 200000) / 4096))
	boot disk.img "ready on slot a, version 1.0.0" "ingot.test-read=/usr/lib/ingot-test/late/blob"
	grep -q "booting slot b: b is good with priority 2" console.log
	grep -q "ingot-test: reading /usr/lib/ingot-test/late/blob on slot b, marked good" console.log
	grep -q "device-mapper: verity: .*: data block $block is corrupted" console.log
	without_kernel console.log >ours.log
	grep -q "ingot-init: slot b: dm-verity found data block $block corrupted while the slot ran" ours.log
	grep -q "ingot-init: slot b marked bad (corrupted); restarting, slot a boots next" ours.log
	grep -q "booting slot a: a is good with priority 1; b is bad (dm-verity found a corrupted block while it ran)" console.log
	grep -q "ready on slot a, version 1.0.0" console.log
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = \
		"('good', 'bad', 'corrupted', 'a')" ]
	"$INGOT" slot status --disk disk.img | grep -q "b is bad (dm-verity found a corrupted block while it ran)"
}
run late_corruption_falls_back t_late_corruption_falls_back

[ ! -s "$T/report" ] || sed 's/^REPORT: /    /' "$T/report"
