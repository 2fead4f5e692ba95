#!/bin/bash
# Real hosts in QEMU with OVMF (TCG): recipes/debian-host.ini (Debian bookworm, systemd, Debian's
# kernel) on a disk whose ESP holds systemd-boot, the boot kernel and the ingot initrd; the initrd
# restarts into the slot's own kernel when it is another one (docs/hosts.md). The guest reports on the
# console through tests/integration/host/ (a unit that waits for the boot to finish, a health check
# that fails when ingot.test-fail=SLOT says so, and one that merges sysext layers from extra drives
# when ingot.test-sysext is given). Both images are built once and shared.
. "$(dirname "$0")/../lib.sh"

INIT=$(dirname "$INGOT")/ingot-init
HOST=$TOP/tests/integration/host
S=$T/shared

needs_host_vm() {
	command -v qemu-system-x86_64 >/dev/null || skip_test "qemu-system-x86_64 missing"
	[ -r /usr/share/OVMF/OVMF_CODE.fd ] || skip_test "no OVMF firmware (package ovmf)"
	[ -r /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || skip_test "no systemd-boot (package systemd-boot-efi)"
	command -v mcopy >/dev/null || skip_test "mtools missing"
	ls /boot/vmlinuz-* >/dev/null 2>&1 || skip_test "no kernel in /boot (linux-image-amd64)"
	command -v mmdebstrap >/dev/null || skip_test "mmdebstrap missing"
	[ -x "$INIT" ] || skip_test "no $INIT"
	! ldd "$INGOT" | grep -q libasan || skip_test "an ASan build: the initrd's init would be PID 1 under ASan; make check boots"
}

# host_image VERSION RECIPE PACKAGE: RECIPE at VERSION with the slot's initrd, made before the build
# from the modules of the kernel PACKAGE installs, and the test's units; zstd level 3 (a test build)
host_image() {
	local v=$1 recipe=$2 pkg=$3 modules start=$SECONDS
	modules=$("$TOP/scripts/kernel-modules.sh" "$pkg" "kernel-$v")
	"$INGOT" initrd -o "initrd-$v.zst" --cert keys/ingot.crt --init "$INIT" --kernel-modules "$modules"
	cat >"host-$v.ini" <<-INI
		Include=$TOP/recipes/$recipe
		[Image]
		Version=$v
		[Content]
		Binaries=$INGOT:/usr/bin/ingot
		Copy=$PWD/initrd-$v.zst:/usr/lib/ingot/initrd
		Copy=$HOST/units/:/usr/lib/systemd/system/
		Copy=$HOST/report:/usr/lib/ingot-test/report
		Copy=$HOST/health:/usr/lib/ingot-test/health
		Copy=$HOST/sysext:/usr/lib/ingot-test/sysext
		Copy=$S/late-blob:/usr/lib/ingot-test/late-blob
		Copy=$PWD/keys/ingot.crt:/usr/lib/verity.d/ingot.crt
		Symlink=../ingot-test-report.service:/usr/lib/systemd/system/multi-user.target.wants/ingot-test-report.service
		Symlink=../ingot-test-sysext.service:/usr/lib/systemd/system/multi-user.target.wants/ingot-test-sysext.service
		Symlink=../ingot-test-health.service:/usr/lib/systemd/system/boot-complete.target.requires/ingot-test-health.service
		[Output]
		Level=3
	INI
	"$INGOT" build "host-$v.ini" -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["kernel_versions"][0])' \
		"out/debian-host_$v.manifest.json" >"kernel-$v.version"
	# the initrd was made for the kernel the build installed
	[ "$(basename "$modules")" = "$(cat "kernel-$v.version")" ] || {
		echo "the archive's $pkg is $(cat "kernel-$v.version"), the initrd has $(basename "$modules")"
		return 1
	}
	echo "REPORT: build of version $v ($recipe): $((SECONDS - start)) s, $(stat -c %s "out/debian-host_$v.raw") bytes" >>"$T/report"
}

# shared: keys, the boot kernel's initrd and both images, built by the first scenario, in $S
shared() {
	[ -e "$S/done" ] && return 0
	mkdir -p "$S"
	(
		cd "$S"
		"$INGOT" keygen keys >/dev/null
		head -c 1M /dev/urandom >late-blob # for the corruption found late: random, so stored as it is
		kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
		cp "$kernel" boot-kernel
		"$INGOT" initrd -o boot-initrd.zst --cert keys/ingot.crt --init "$INIT" --kernel-version "${kernel#/boot/vmlinuz-}"
		host_image 1 debian-host.ini linux-image-amd64
		host_image 2 debian-host-cloud.ini linux-image-cloud-amd64
		touch done
	)
}

# host_disk OUT [CMDLINE]: slot a holds version 1; the ESP the boot kernel, the ingot initrd, systemd-boot
host_disk() {
	"$INGOT" disk "$1" --slot-a "$S/out/debian-host_1.raw" --esp-size 40M --var-size 64M \
		--boot-kernel "$S/boot-kernel" --boot-initrd "$S/boot-initrd.zst" --cmdline "console=ttyS0 ${2:-}"
}

# uefi_boot DISK EXPECT [VM-OPTION...]: through OVMF to EXPECT; console.log has each line with its second
# since the start
uefi_boot() {
	local start=$SECONDS rc
	set +e
	"$INGOT" vm "$1" --uefi --accel tcg --timeout 900 --expect "$2" "${@:3}" 2>&1 |
		while IFS= read -r line; do printf '%4d %s\n' $((SECONDS - start)) "${line%$'\r'}"; done >console.log
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" = 0 ] || { tail -60 console.log; return 1; }
	# our lines whole: the console puts the kernel's messages inside them
	without_kernel console.log timed >ours.log
	local login
	login=$(awk '/Debian GNU\/Linux 12 .* ttyS0/ { print $1; exit }' console.log)
	echo "REPORT: $SCENARIO: login prompt after ${login:-?} s, '$2' after $((SECONDS - start)) s (ingot vm --uefi, TCG)" >>"$T/report"
}

# The ESP without a VM: a small signed image, the boot chain read back with mtools (never mounted) and blkid
t_esp_holds_the_boot_chain() {
	command -v mcopy >/dev/null || skip_test "mtools missing"
	[ -r /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || skip_test "no systemd-boot (package systemd-boot-efi)"
	[ -x "$INIT" ] || skip_test "no $INIT"
	kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
	[ -n "$kernel" ] || skip_test "no kernel in /boot (linux-image-amd64)"
	signed_demo out 1.0.0
	"$INGOT" initrd -o initrd.zst --cert keys/ingot.crt --init "$INIT"
	# an ASan build's initrd (libasan, larger binaries) is about 31 MB: room for it and the kernel
	esp_disk() {
		"$INGOT" disk "$1" --slot-a out/demo_1.0.0.raw --esp-size 64M --var-size 8M \
			--boot-kernel "$kernel" --boot-initrd initrd.zst "${@:2}"
	}
	esp_disk disk.img --cmdline "console=ttyS0 quiet"
	p=$(part disk.img esp); read -r start _ <<<"$p"
	[ "$(blkid -p -O "$start" -s TYPE -o value disk.img)" = vfat ]
	mdir -i "disk.img@@$start" -b -/ :: >esp.list
	for f in EFI/BOOT/BOOTX64.EFI EFI/systemd/systemd-bootx64.efi ingot/vmlinuz ingot/initrd loader/loader.conf \
		loader/entries/ingot.conf loader/entries/ingot-slot-a.conf loader/entries/ingot-slot-b.conf; do
		grep -qx "::/$f" esp.list || { echo "no $f on the ESP"; cat esp.list; return 1; }
	done
	mtype -i "disk.img@@$start" ::/EFI/BOOT/BOOTX64.EFI | cmp - /usr/lib/systemd/boot/efi/systemd-bootx64.efi
	mtype -i "disk.img@@$start" ::/EFI/systemd/systemd-bootx64.efi | cmp - /usr/lib/systemd/boot/efi/systemd-bootx64.efi
	mtype -i "disk.img@@$start" ::/ingot/vmlinuz | cmp - "$kernel"
	mtype -i "disk.img@@$start" ::/ingot/initrd | cmp - initrd.zst
	mtype -i "disk.img@@$start" ::/loader/loader.conf >loader.conf
	grep -qx "timeout 0" loader.conf
	grep -qx "default ingot.conf" loader.conf
	mtype -i "disk.img@@$start" ::/loader/entries/ingot.conf >entry.conf
	grep -qx "linux /ingot/vmlinuz" entry.conf
	grep -qx "initrd /ingot/initrd" entry.conf
	# every entry pins the initrd to this disk, by the GUID slot status shows
	guid=$(status_field disk.img 's["disk_uuid"]')
	grep -qx "options ro console=ttyS0 quiet ingot.disk=$guid" entry.conf
	mtype -i "disk.img@@$start" ::/loader/entries/ingot-slot-b.conf | grep -qx "options ro console=ttyS0 quiet ingot.disk=$guid ingot.slot=b"
	# unless the command line names a disk itself
	esp_disk named.img --cmdline "console=ttyS0 ingot.disk=$guid"
	mtype -i "named.img@@$start" ::/loader/entries/ingot.conf | grep -qx "options ro console=ttyS0 ingot.disk=$guid"
	# every file at FAT's epoch, whatever the clock says
	mdir -i "disk.img@@$start" ::/loader | grep -q "loader.conf"
	! mdir -i "disk.img@@$start" -/ :: | grep -E " [0-9]{4}-[0-9]{2}-[0-9]{2} " | grep -v " 1980-01-01 " || return 1
	# the same inputs, the same disk, ESP included, at another time
	sleep 1
	esp_disk again.img --cmdline "console=ttyS0 quiet"
	cmp disk.img again.img
	# without a boot kernel the ESP is formatted and empty, as before
	"$INGOT" disk plain.img --slot-a out/demo_1.0.0.raw --esp-size 33M --var-size 8M
	[ -z "$(mdir -i "plain.img@@$start" -b :: 2>/dev/null)" ]
	expect_fail "go together" "$INGOT" disk bad.img --slot-a out/demo_1.0.0.raw --boot-kernel "$kernel"
	expect_fail "need --boot-kernel" "$INGOT" disk bad.img --slot-a out/demo_1.0.0.raw --cmdline quiet
	expect_fail "/nonexistent: No such file" esp_disk bad.img --loader /nonexistent
	[ ! -e bad.img ] || return 1
	expect_fail "--uefi boots what the ESP holds" "$INGOT" vm disk.img --uefi --initrd initrd.zst
	[ -z "$(ls -A | grep '^\.')" ] || { ls -A; return 1; }
}
run esp_holds_the_boot_chain t_esp_holds_the_boot_chain

t_host_boots() {
	SCENARIO=host_boots
	needs_host_vm
	shared
	host_disk disk.img
	uefi_boot disk.img "ingot-host-test: done"
	has ours.log "ingot-init: booting slot a"
	! grep -q "restarting into the slot's kernel" console.log || return 1
	has ours.log -E "ingot-host-test: system: (running|degraded)$"
	has ours.log "ingot-host-test: kernel: $(cat "$S/kernel-1.version")$"
	has ours.log "ingot-host-test: root: /dev/mapper/ingot-root squashfs ro,"
	has ours.log "ingot-host-test: dm: ingot-root: 0 [0-9]* verity 1 "
	has ours.log "ingot-host-test: root: read-only"
	has ours.log "ingot-host-test: mark-good: success active"
	# journald keeps its journal on var; systemd made a (transient) machine id for the empty file
	has ours.log "ingot-host-test: journal: [1-9][0-9]* files on /var"
	has ours.log -E "ingot-host-test: machine-id: [0-9a-f]{32}$"
	has ours.log "ingot-host-test: status: a\* *good"
	[ "$(status_field disk.img 's["slots"][0]["state"], s["next"]')" = "('good', 'a')" ]
	grep "ingot-host-test: \(system\|failed unit\)" console.log | sed 's/^ *[0-9]* /REPORT: host_boots: /' >>"$T/report"
}
run host_boots t_host_boots

t_update_to_another_kernel() {
	SCENARIO=update_to_another_kernel
	needs_host_vm
	shared
	host_disk disk.img
	"$INGOT" slot install --disk disk.img --cert "$S/keys/ingot.crt" "$S/out/debian-host_2.raw"
	uefi_boot disk.img "ingot-host-test: done"
	# the boot kernel's initrd counted b's try, then restarted into b's own kernel and initrd
	has ours.log "ingot-init: booting slot b: b is on trial with 3 tries left"
	# both stages boot the disk the entry names (ingot disk writes ingot.disk=GUID into it), the second
	# because the first passes it on
	guid=$(status_field disk.img 's["disk_uuid"]')
	[ "$(grep -c "ingot-init: disk /dev/vda (ingot.disk=$guid)" console.log)" = 2 ]
	has ours.log "ingot-init: slot kernel $(cat "$S/kernel-2.version"): restarting into the slot's kernel with: ro console=ttyS0 panic=10 ingot.kexec=b ingot.disk=$guid"
	has ours.log "ingot-init: booting slot b: b forced by ingot.slot="
	has ours.log "ingot-host-test: kernel: $(cat "$S/kernel-2.version")$"
	has ours.log -E "ingot-host-test: system: (running|degraded)$"
	has ours.log "ingot-host-test: dm: ingot-root: 0 [0-9]* verity 1 "
	has ours.log "ingot-host-test: status: b\* *good *2 *0 *2 "
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["tries"], s["next"]')" = "('good', 0, 'b')" ]
}
run update_to_another_kernel t_update_to_another_kernel

t_failing_health_check_falls_back() {
	SCENARIO=failing_health_check
	needs_host_vm
	shared
	host_disk disk.img ingot.test-fail=b
	"$INGOT" slot install --disk disk.img --cert "$S/keys/ingot.crt" --tries 1 "$S/out/debian-host_2.raw"
	uefi_boot disk.img "ingot-host-test: done"
	has ours.log "ingot-init: booting slot b: b is on trial with 1 try left"
	has ours.log "ingot-host-test: health check FAILED on slot b"
	has ours.log "ingot-init: booting slot a: a is good with priority 1; b is bad (out of tries)"
	has ours.log "ingot-host-test: health check passed on slot a"
	has ours.log "ingot-host-test: kernel: $(cat "$S/kernel-1.version")$"
	has ours.log "ingot-host-test: status: a\* *good"
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"]')" = "('bad', 'a')" ]
}
run failing_health_check_falls_back t_failing_health_check_falls_back

# Corruption found after b was marked good: a block of a file that nothing read during its trial is
# damaged on the disk, then read; the initrd's watcher marks b bad and restarts, and a boots.
t_late_corruption_on_the_host() {
	SCENARIO=late_corruption_on_the_host
	needs_host_vm
	shared
	host_disk disk.img ingot.test-read=/usr/lib/ingot-test/late-blob
	"$INGOT" slot install --disk disk.img --cert "$S/keys/ingot.crt" "$S/out/debian-host_2.raw"
	uefi_boot disk.img "ingot-host-test: done"
	! grep -q "ingot-host-test: reading" console.log || return 1
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = good ]
	off=$(offset_in "$S/out/debian-host_2.raw" "$S/late-blob")
	flip_part disk.img root-b $((off + 300000))
	block=$(((off + 300000) / 4096))
	mv console.log first-boot.log
	uefi_boot disk.img "ingot-host-test: done"
	has ours.log "ingot-init: booting slot b: b is good with priority 2"
	has ours.log "ingot-host-test: reading /usr/lib/ingot-test/late-blob on slot b"
	has console.log "device-mapper: verity: .*: data block $block is corrupted"
	has ours.log "ingot-init: slot b: dm-verity found data block $block corrupted while the slot ran"
	has ours.log "ingot-init: slot b marked bad (corrupted); restarting, slot a boots next"
	has ours.log "ingot-init: booting slot a: a is good with priority 1; b is bad (dm-verity found a corrupted block while it ran)"
	has ours.log "ingot-host-test: kernel: $(cat "$S/kernel-1.version")$"
	has ours.log "ingot-host-test: status: a\* *good"
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][1]["state"], s["slots"][1]["failure"], s["next"]')" = \
		"('good', 'bad', 'corrupted', 'a')" ]
}
run late_corruption_on_the_host t_late_corruption_on_the_host

# A signed sysext layer (DDI) for the shared image, merged by the guest's systemd-sysext (252) from
# /var/lib/extensions: the binary under /usr from a dm-verity device named for the layer's root hash,
# the signature checked in userspace against /usr/lib/verity.d/ingot.crt (docs/sysext.md). The same
# layer for another VERSION_ID, a tampered copy and an untrusted signer are not merged.
# tests/integration/host/sysext runs in the guest and reports on the console.
t_sysext_layer_merges_on_the_host() {
	SCENARIO=sysext_layer_merges_on_the_host
	needs_host_vm
	shared
	local base=$S/out/debian-host_1.manifest.json root start used
	mkdir -p tree/usr/bin
	printf '#!/bin/sh\necho INGOT-SYSEXT-HELLO\n' >tree/usr/bin/ingot-sysext-hello
	chmod 0755 tree/usr/bin/ingot-sysext-hello
	printf '[Extension]\nName=hello\nVersion=1\n[Content]\nCopy=tree/:/\n' >hello.ini
	layer() { "$INGOT" sysext build hello.ini -o "$1" --base "$2" --key "$S/keys/ingot.key" --cert "$S/keys/ingot.crt" --quiet; }
	layer good "$base"
	"$INGOT" sysext check good/hello_1.raw --base "$base" --cert "$S/keys/ingot.crt"
	root=$(cat good/hello_1.roothash)
	# what systemd-sysext compares with the guest's /usr/lib/os-release (ID=debian, VERSION_ID="12")
	[ "$(python3 -c 'import json, sys; o = json.load(open(sys.argv[1]))["os_release"]; print(o["ID"], o["VERSION_ID"])' "$base")" = "debian 12" ]
	# the same layer for another base version: the manifest's VERSION_ID changed (its image beside it)
	python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["os_release"]["VERSION_ID"] = "0-other"; json.dump(m, open("other.manifest.json", "w"))' "$base"
	ln -s "$S/out/debian-host_1.raw" .
	layer other other.manifest.json
	expect_fail "compatibility: extension 'hello' is for VERSION_ID '0-other', but the base debian-host 1 has VERSION_ID '12'" \
		"$INGOT" sysext check other/hello_1.raw --base "$base"
	# tampered: a bit flipped in the padding after the squashfs's bytes_used, in the last block the
	# hash tree covers: squashfs itself never reads it (systemd reads the layer's metadata without
	# verity first), only dm-verity notices
	cp good/hello_1.raw tampered.raw
	p=$(part tampered.raw root-x86-64); read -r start _ <<<"$p"
	used=$(python3 -c 'import struct, sys; f = open(sys.argv[1], "rb"); f.seek(int(sys.argv[2]) + 40); print(struct.unpack("<Q", f.read(8))[0])' tampered.raw "$start")
	[ $((used % 4096)) != 0 ] || { echo "the squashfs ends on a block boundary ($used bytes): no padding to flip"; return 1; }
	flip tampered.raw $((start + (used + 4095) / 4096 * 4096 - 1))
	expect_fail "does not match the hash tree" "$INGOT" verify tampered.raw --cert "$S/keys/ingot.crt"
	host_disk disk.img ingot.test-sysext
	uefi_boot disk.img "ingot-sysext-test: done" --drive good/hello_1.raw --drive other/hello_1.raw --drive tampered.raw
	grep "ingot-sysext-test: " ours.log | sed 's/^ *[0-9]* //' >sysext.log
	cat sysext.log
	# says SAID...: each a fixed text some line of the guest's report holds (not anchored: the
	# console may put a login prompt before it)
	says() {
		local t
		for t; do grep -qF -- "ingot-sysext-test: $t" sysext.log || { echo "not on the console: $t"; return 1; }; done
	}
	# the good layer: the kernel refuses the signature (ingot's certificate is in no kernel keyring),
	# systemd checks it against /usr/lib/verity.d and activates verity with the root hash; the binary
	# runs from /usr, an overlay, over a verity device named for the layer's root hash
	has console.log "verity: Root hash verification failed (-ENOKEY)"
	says "good: merge: Validation of dm-verity signature failed via the kernel, trying userspace validation instead" \
		"good: merge: Userspace PKCS#7 validation succeeded." "good: merge: Merged extensions into '/usr'." \
		"good: hello: INGOT-SYSEXT-HELLO" "good: usr: sysext overlay" "good: verity: $root-verity"$'\t' \
		"good: gone after unmerge"
	has sysext.log -E "ingot-sysext-test: good: status: /usr +hello "
	has sysext.log -E "ingot-sysext-test: good: loop: /dev/loop[0-9]+ .*/extensions/hello.raw$"
	if grep -q "good after unmerge: verity: $root" sysext.log; then
		echo "the good layer's verity device outlived unmerge; what held it:"
		grep "good after unmerge" sysext.log
		return 1
	fi
	# another base version: refused, with systemd-sysext's reason
	says "other: merge: Extension 'hello' is for OS '0-other', but deployed on top of '12'." \
		"other: merge: No suitable extensions found (1 ignored due to incompatible version)." "other: hello: FAILED"
	# tampered: the signature holds, the data does not: verity fails the first read
	says "tampered: merge: Userspace PKCS#7 validation succeeded." \
		"tampered: merge: Verity device detected corruption after activation." "tampered: hello: FAILED"
	has console.log -E "device-mapper: verity: [0-9]+:[0-9]+: data block 0 is corrupted"
	# the signer's certificate masked: neither the kernel nor systemd trusts the signature
	says "untrusted: merge: File '/etc/verity.d/ingot.crt' is a mask." \
		"untrusted: merge: Activation of signed Verity volume worked neither via the kernel nor in userspace, can't activate." \
		"untrusted: hello: FAILED"
}
run sysext_layer_merges_on_the_host t_sysext_layer_merges_on_the_host

[ ! -s "$T/report" ] || sed 's/^REPORT: /    /' "$T/report"
