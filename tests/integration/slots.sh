#!/bin/bash
# A/B disks and the slot switcher, against outside readers: sfdisk --json and blkid -p read the layout,
# veritysetup and openssl cms check what each slot holds; every refusal leaves the disk's bytes as they were.
. "$(dirname "$0")/../lib.sh"

# attrs DISK LABEL: the GPT attribute bits of a partition as sfdisk prints them ("-" for none)
# attrs DISK LABEL: the partition's GPT attribute bits as sfdisk prints them
attrs() {
	local p
	p=$(part "$1" "$2") || return 1
	echo "${p##* }"
}

t_disk_layout_and_reproducibility() {
	signed_demo out 1.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	sfdisk --json disk.img >layout.json
	python3 - layout.json out/demo_1.0.0.roothash <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["partitiontable"]
root = open(sys.argv[2]).read().strip()
assert t["label"] == "gpt"
want = [("esp", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        ("root-a", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"), ("verity-a", "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5"),
        ("verity-sig-a", "41092B05-9FC8-4523-994F-2DEF0408B176"),
        ("root-b", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"), ("verity-b", "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5"),
        ("verity-sig-b", "41092B05-9FC8-4523-994F-2DEF0408B176"), ("var", "4D21B016-B534-45C2-A9FB-5C16E091FD2D")]
got = [(p["name"], p["type"]) for p in t["partitions"]]
assert got == want, got
p = {x["name"]: x for x in t["partitions"]}
# slot a: priority 2 (bit 49) and successful (bit 56); b: nothing
assert p["root-a"].get("attrs") == "GUID:49,56", p["root-a"]
assert "attrs" not in p["root-b"], p["root-b"]
# systemd's pairing: root and verity partition UUIDs are the root hash's halves
uuid = lambda h: "-".join([h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]]).upper()
assert p["root-a"]["uuid"] == uuid(root[:32]) and p["verity-a"]["uuid"] == uuid(root[32:]), p["root-a"]
uuids = [x["uuid"] for x in t["partitions"]] + [t["id"]]
assert len(set(uuids)) == len(uuids), "duplicate UUIDs"
# 1 MiB alignment; slots twice the image, rounded up to MiB
for x in t["partitions"]:
    assert x["start"] * 512 % (1 << 20) == 0, x
import os
img = os.path.getsize("out/demo_1.0.0.raw")
assert p["root-a"]["size"] * 512 == -(-2 * img // (1 << 20)) * (1 << 20), p["root-a"]["size"]
assert p["root-b"]["size"] == p["root-a"]["size"]
assert p["verity-sig-a"]["size"] * 512 == 16384
PY
	p=$(part disk.img esp); read -r start _ <<<"$p"
	blkid -p -O "$start" disk.img | grep -q 'TYPE="vfat"'
	blkid -p -O "$start" disk.img | grep -q 'VERSION="FAT32"'
	p=$(part disk.img root-a); read -r start _ <<<"$p"
	blkid -p -O "$start" disk.img | grep -q 'TYPE="squashfs"'
	slot_verifies disk.img a keys/ingot.crt out/demo_1.0.0.roothash
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][1]["state"], s["next"]')" = "('good', 'empty', 'a')" ]
	# the same inputs give the same bytes
	"$INGOT" disk again.img --slot-a out/demo_1.0.0.raw
	cmp disk.img again.img
	# --size: var takes the rest; too small is refused without leaving a file
	"$INGOT" disk sized.img --slot-a out/demo_1.0.0.raw --size 1G
	[ "$(stat -c %s sized.img)" = $((1 << 30)) ]
	p=$(part sized.img var); read -r _ vsize _ <<<"$p"
	[ "$vsize" -gt $((400 << 20)) ]
	expect_fail "is too small" "$INGOT" disk small.img --slot-a out/demo_1.0.0.raw --size 100M
	[ ! -e small.img ]
	[ -z "$(ls -A | grep '^\.small')" ]
}
run disk_layout_and_reproducibility t_disk_layout_and_reproducibility

t_install_switch_and_state_words() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_2.0.0.raw | tee log
	grep -q "into slot b" log
	[ "$(attrs disk.img root-b)" = "GUID:49,52,53" ] # priority 2, tries 3, not successful
	[ "$(attrs disk.img root-a)" = "GUID:48,56" ]    # priority 1, still good
	slot_verifies disk.img b keys/ingot.crt out/demo_2.0.0.roothash
	"$INGOT" slot status --disk disk.img --json >st.json
	python3 - st.json out/demo_2.0.0.roothash <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert set(s) >= {"slots", "booted", "next", "reason"}, s.keys()
a, b = s["slots"]
for x in (a, b):
    assert set(x) >= {"name", "state", "priority", "tries", "successful", "version", "root_hash"}, x
assert (a["name"], a["state"], a["version"], a["successful"]) == ("a", "good", "1.0.0", True), a
assert (b["name"], b["state"], b["priority"], b["tries"], b["version"]) == ("b", "trying", 2, 3, "2.0.0"), b
assert b["root_hash"] == open(sys.argv[2]).read().strip()
assert s["next"] == "b" and s["booted"] is None, s
assert "b is on trial with 3 tries left" in s["reason"], s["reason"]
PY
	[ "$("$INGOT" slot next --disk disk.img)" = "b: b is on trial with 3 tries left, priority 2; a has priority 1" ]
	"$INGOT" slot mark-good b --disk disk.img
	[ "$(attrs disk.img root-b)" = "GUID:49,56" ]
	# anti-rollback: 1.0.0 is older than good 2.0.0; refused before any write
	sum=$(sha256sum <disk.img)
	expect_fail "older than '2.0.0' in good slot b" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_1.0.0.raw
	same_bytes disk.img "$sum"
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --allow-downgrade --tries 2 out/demo_1.0.0.raw | grep -q "slot a"
	[ "$(attrs disk.img root-a)" = "GUID:49,53" ] # priority 2, tries 2
	# switch, mark-bad, rollback: one GPT write each, as sfdisk sees it
	"$INGOT" slot switch b --tries 1 --disk disk.img
	[ "$(attrs disk.img root-b)" = "GUID:49,52" ]
	[ "$(attrs disk.img root-a)" = "GUID:48,53" ]
	"$INGOT" slot mark-bad b --disk disk.img
	[ "$(attrs disk.img root-b)" = "GUID:57" ] # priority 0, and why: 1 (ingot slot mark-bad) in bits 57-58
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = bad ]
	expect_fail "no good slot to roll back to" "$INGOT" slot rollback --disk disk.img
	"$INGOT" slot mark-good a --disk disk.img
	"$INGOT" slot switch b --disk disk.img
	"$INGOT" slot mark-good b --disk disk.img
	"$INGOT" slot rollback --disk disk.img | grep -q "slot a boots next"
	[ "$(status_field disk.img 's["next"]')" = a ]
	# nothing bootable: next says so and fails
	"$INGOT" slot mark-bad a --disk disk.img
	"$INGOT" slot mark-bad b --disk disk.img
	expect_fail "none: no bootable slot: a is bad (marked bad by ingot slot mark-bad), b is bad (marked bad by ingot slot mark-bad)" "$INGOT" slot next --disk disk.img
}
run install_switch_and_state_words t_install_switch_and_state_words

t_running_slot_is_never_written() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw --slot-b out/demo_1.0.0.raw
	mkdir run
	printf 'SLOT=a\nDISK_UUID=%s\nDEVICE=%s\n' "$(sfdisk --json disk.img | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["id"])')" "$PWD/disk.img" >run/booted
	export INGOT_RUNTIME_DIR=$PWD/run
	[ "$(status_field disk.img 's["booted"]')" = a ]
	sum=$(sha256sum <disk.img)
	expect_fail "slot a is the running slot; install into b" "$INGOT" slot install --slot a --cert keys/ingot.crt out/demo_2.0.0.raw
	same_bytes disk.img "$sum"
	# without --disk: the booted disk; without --slot: the other one
	p=$(part disk.img root-a); read -r astart asize _ <<<"$p"
	dd if=disk.img bs=1M iflag=skip_bytes,count_bytes skip="$astart" count="$asize" status=none | sha256sum >a.before
	"$INGOT" slot install --cert keys/ingot.crt out/demo_2.0.0.raw | grep -q "slot b"
	dd if=disk.img bs=1M iflag=skip_bytes,count_bytes skip="$astart" count="$asize" status=none | sha256sum | cmp - a.before
	"$INGOT" slot mark-good # the booted slot
	[ "$(attrs disk.img root-a)" = "GUID:48,56" ]
	# a record for another disk does not count
	sed -i 's/^DISK_UUID=.*/DISK_UUID=00000000-0000-0000-0000-000000000000/' run/booted
	[ "$(status_field disk.img 's["booted"]')" = None ]
}
run running_slot_is_never_written t_running_slot_is_never_written

t_refused_images_write_nothing() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	signed_demo big 3.0.0 "$(printf '[Content]\nCopy=%s/blob:/blob' "$PWD")" 2>/dev/null || {
		head -c 8M /dev/urandom >blob
		signed_demo big 3.0.0 "$(printf '[Content]\nCopy=%s/blob:/blob' "$PWD")"
	}
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	"$INGOT" build --unsigned "demo-2.0.0.ini" -o unsigned --quiet
	expect_fail "unsigned" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt unsigned/demo_2.0.0.raw
	same_bytes disk.img "$sum"
	"$INGOT" keygen other >/dev/null
	expect_fail "signed by a certificate that is not trusted" "$INGOT" slot install --disk disk.img --cert other/ingot.crt out/demo_2.0.0.raw
	same_bytes disk.img "$sum"
	cp -r out trunc
	truncate -s -4096 trunc/demo_2.0.0.raw
	expect_fail "truncated or grown" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt trunc/demo_2.0.0.raw
	same_bytes disk.img "$sum"
	expect_fail "does not fit slot b" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt big/demo_3.0.0.raw
	same_bytes disk.img "$sum"
	# a damaged image that passes the sidecar checks is caught as it is written, and never made bootable
	cp -r out flip
	printf 'X' | dd of=flip/demo_2.0.0.raw bs=1 seek=70000 conv=notrunc status=none
	expect_fail "does not match the hash tree" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt flip/demo_2.0.0.raw
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"]')" = "('empty', 'a')" ]
	expect_fail "no trusted certificate" "$INGOT" slot install --disk disk.img out/demo_2.0.0.raw
	expect_fail "'c' is not a slot" "$INGOT" slot switch c --disk disk.img
	expect_fail "slot b is empty" "$INGOT" slot switch b --disk disk.img
}
run refused_images_write_nothing t_refused_images_write_nothing

t_bad_disks() {
	signed_demo out 1.0.0
	truncate -s 64M zeros.img
	expect_fail "zeros.img: no GPT partition table" "$INGOT" slot status --disk zeros.img
	cp zeros.img dos.img
	printf 'label: dos\n,10M,L\n' | sfdisk -q dos.img
	expect_fail "dos.img: no GPT partition table" "$INGOT" slot status --disk dos.img
	cp zeros.img foreign.img
	printf 'label: gpt\n,10M,L\n' | sfdisk -q foreign.img
	sum=$(sha256sum <foreign.img)
	expect_fail "a GPT without ingot slots (no partition labelled 'root-a')" \
		"$INGOT" slot install --disk foreign.img --cert keys/ingot.crt out/demo_1.0.0.raw
	same_bytes foreign.img "$sum"
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	cp disk.img trunc.img
	truncate -s 300M trunc.img
	sum=$(sha256sum <trunc.img)
	expect_fail "the disk is truncated or both GPT headers are damaged" "$INGOT" slot switch a --disk trunc.img
	same_bytes trunc.img "$sum"
	# a corrupt primary header: read from the backup, said so, and the next write repairs it
	cp disk.img corrupt.img
	printf 'XXXX' | dd of=corrupt.img bs=1 seek=$((512 + 16)) conv=notrunc status=none
	"$INGOT" slot status --disk corrupt.img >out.txt 2>err.txt
	grep -q "primary GPT table is corrupt" err.txt
	grep -q "^a    good" out.txt
	"$INGOT" slot mark-good a --disk corrupt.img 2>/dev/null
	"$INGOT" slot status --disk corrupt.img 2>err.txt >/dev/null
	[ ! -s err.txt ]
	sfdisk --verify corrupt.img >/dev/null 2>&1
	# a read-only device
	require_root
	dev=$(losetup -f --show -r disk.img) || skip_test "no loop device"
	sum=$(sha256sum <disk.img)
	set +e
	"$INGOT" slot switch a --disk "$dev" >ro.log 2>&1
	rc=$?
	"$INGOT" slot status --disk "$dev" >ro-status.log 2>&1
	rc2=$?
	set -e
	losetup -d "$dev"
	cat ro.log
	[ "$rc" -ne 0 ]
	grep -q "read-only" ro.log
	[ "$rc2" -eq 0 ]
	same_bytes disk.img "$sum"
}
run bad_disks t_bad_disks

# A disk file too small to hold a partition table, empty included: every verb that takes a disk says so,
# naming the file, and fails with exit status 1 (libfdisk used to abort ingot on it); nothing is written.
t_tiny_disks() {
	signed_demo out 1.0.0
	for n in 0 1 511; do
		head -c "$n" /dev/zero >tiny.img
		for verb in status next "switch a" "mark-good a" "mark-bad a" rollback \
			"install --cert keys/ingot.crt out/demo_1.0.0.raw"; do
			# shellcheck disable=SC2086 # the verb's words
			exits_1_with "tiny.img: $n byte" "$INGOT" slot $verb --disk tiny.img
			grep -qF "too small to be a disk: no GPT partition table" last.log
		done
		exits_1_with "tiny.img: $n byte" "$INGOT" reprofile tiny.img db.profile.json --cert keys/ingot.crt
		[ "$(stat -c %s tiny.img)" = "$n" ]
		cmp tiny.img <(head -c "$n" /dev/zero)
	done
	# one sector is no longer too small, only not a GPT
	head -c 512 /dev/zero >sector.img
	exits_1_with "sector.img: no GPT partition table" "$INGOT" slot status --disk sector.img
}
run tiny_disks t_tiny_disks

# What is not an image is named and said so, before anything is written: a file with no sidecars
# beside it, one with a root hash but no hash tree, and bytes that are not squashfs under sidecars that
# are a real image's.
t_not_an_image_is_named() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	head -c 100000 /dev/urandom >junk.raw
	exits_1_with "junk.raw: not an ingot image: no junk.roothash beside it" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt junk.raw
	cp out/demo_2.0.0.roothash junk.roothash
	cp out/demo_2.0.0.roothash.p7s junk.roothash.p7s
	exits_1_with "junk.raw: not an ingot image: no junk.verity beside it" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt junk.raw
	mkdir g
	cp out/demo_2.0.0.verity out/demo_2.0.0.roothash out/demo_2.0.0.roothash.p7s g/
	head -c "$(stat -c %s out/demo_2.0.0.raw)" /dev/urandom >g/demo_2.0.0.raw
	! unsquashfs -s g/demo_2.0.0.raw >/dev/null 2>&1 || return 1
	exits_1_with "g/demo_2.0.0.raw: data block 0 (bytes 0-4095) does not match the hash tree" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt g/demo_2.0.0.raw
	same_bytes disk.img "$sum"
}
run not_an_image_is_named t_not_an_image_is_named

# A damaged signature is said to be damaged, naming its file, and never "signed by a certificate that is
# not trusted"; a whole signature by another key is the reverse. Oracles: openssl cms refuses every
# damaged one, and the certificate openssl finds in it carries the trusted key but is not the trusted
# certificate (a damaged copy, not another signer's).
t_damaged_signature_is_not_a_foreign_signer() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	openssl x509 -in keys/ingot.crt -noout -pubkey >trusted.pub
	for part in subject signature; do
		rm -rf d
		cp -r out d
		python3 "$TOP/tests/tools/damage-cert.py" d/demo_2.0.0.roothash.p7s keys/ingot.crt "$part"
		printf %s "$(cat d/demo_2.0.0.roothash)" >content
		! openssl cms -verify -binary -inform DER -in d/demo_2.0.0.roothash.p7s -content content \
			-CAfile keys/ingot.crt -purpose any -out /dev/null 2>/dev/null || return 1
		openssl pkcs7 -inform DER -in d/demo_2.0.0.roothash.p7s -print_certs >carried.pem
		openssl x509 -in carried.pem -noout -pubkey | cmp - trusted.pub
		! cmp -s <(openssl x509 -in carried.pem -outform DER) <(openssl x509 -in keys/ingot.crt -outform DER) || return 1
		exits_1_with "d/demo_2.0.0.roothash.p7s: damaged signature" \
			"$INGOT" slot install --disk disk.img --cert keys/ingot.crt d/demo_2.0.0.raw
		! grep -q "not trusted" last.log || return 1
	done
	# the PKCS#7 cut short, and its signature value damaged
	rm -rf d
	cp -r out d
	head -c 700 out/demo_2.0.0.roothash.p7s >d/demo_2.0.0.roothash.p7s
	exits_1_with "d/demo_2.0.0.roothash.p7s: damaged signature" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt d/demo_2.0.0.raw
	cp out/demo_2.0.0.roothash.p7s d/
	flip d/demo_2.0.0.roothash.p7s $(($(stat -c %s d/demo_2.0.0.roothash.p7s) - 10))
	exits_1_with "d/demo_2.0.0.roothash.p7s: damaged signature" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt d/demo_2.0.0.raw
	! grep -q "not trusted" last.log || return 1
	# whole, by another key: not trusted, and not called damaged
	"$INGOT" keygen other >/dev/null
	exits_1_with "out/demo_2.0.0.raw: signed by a certificate that is not trusted" \
		"$INGOT" slot install --disk disk.img --cert other/ingot.crt out/demo_2.0.0.raw
	! grep -q "damaged" last.log || return 1
	same_bytes disk.img "$sum"
}
run damaged_signature_is_not_a_foreign_signer t_damaged_signature_is_not_a_foreign_signer

t_block_device() {
	require_root
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	dev=$(losetup -f --show disk.img) || skip_test "no loop device"
	set +e
	(
		set -e
		"$INGOT" slot install --disk "$dev" --cert keys/ingot.crt out/demo_2.0.0.raw
		[ "$("$INGOT" slot next --disk "$dev" | cut -d: -f1)" = b ]
		"$INGOT" slot mark-good b --disk "$dev"
		# both slots checked through the device's partitions
		"$INGOT" slot verify --disk "$dev" --cert keys/ingot.crt >verify.txt
		[ "$(grep -c '^hash tree  ok ' verify.txt)" = 2 ]
	)
	rc=$?
	set -e
	losetup -d "$dev"
	[ "$rc" -eq 0 ]
	[ "$(attrs disk.img root-b)" = "GUID:49,56" ]
	slot_verifies disk.img b keys/ingot.crt out/demo_2.0.0.roothash
}
run block_device t_block_device

t_concurrent_calls_wait_then_fail() {
	signed_demo out 1.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	flock disk.img sleep 4 &
	sleep 0.5
	start=$(date +%s%N)
	expect_fail "another ingot call holds the disk (waited 1.0 s)" "$INGOT" slot mark-good a --disk disk.img --wait 1
	[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 900 ]
	wait
	"$INGOT" slot mark-good a --disk disk.img
}
run concurrent_calls_wait_then_fail t_concurrent_calls_wait_then_fail

# fingerprint CERT: SHA-256 of the certificate's DER, as openssl computes it
fingerprint() {
	local der
	der=$(openssl x509 -in "$1" -outform DER | sha256sum) || { echo "$1: openssl reads no certificate"; return 1; }
	echo "${der%% *}"
}

# ab_disk: disk.img with 1.0.0 in slot a and 2.0.0 in slot b, both signed by keys/
ab_disk() {
	signed_demo out 1.0.0 || return 1
	signed_demo out 2.0.0 || return 1
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw --slot-b out/demo_2.0.0.raw || return 1
}

# verify_fails OUT ARGS...: `ingot slot verify ARGS` exits 1 (a check failed); its stdout and stderr in OUT
verify_fails() {
	local out=$1 rc
	shift
	set +e
	"$INGOT" slot verify "$@" >"$out" 2>&1
	rc=$?
	set -e
	cat "$out"
	[ "$rc" -eq 1 ] || { echo "slot verify $*: exit $rc, expected 1"; return 1; }
}

t_slot_verify_passes_intact_slots() {
	ab_disk
	# the outside readers agree that both slots are intact and signed by keys/
	slot_verifies disk.img a keys/ingot.crt out/demo_1.0.0.roothash
	slot_verifies disk.img b keys/ingot.crt out/demo_2.0.0.roothash
	fp=$(fingerprint keys/ingot.crt)
	for s in a b; do
		v=$([ $s = a ] && echo 1.0.0 || echo 2.0.0)
		blocks=$(($(stat -c %s out/demo_$v.raw) / 4096))
		[ $s = a ] || echo
		printf '%s\n' "slot $s" \
			"hash tree  ok      $blocks data blocks of 4096 bytes, sha256 (root-$s against verity-$s)" \
			"root hash  ok      $(cat out/demo_$v.roothash) (verity-sig-$s)" \
			"signature  ok      signed by keys/ingot.crt (SHA-256 $fp)" \
			"version    ok      demo $v (the verified data's /usr/lib/os-release)" \
			"profile    skipped the slot has no profile of its own"
	done >want.txt
	"$INGOT" slot verify --disk disk.img --cert keys/ingot.crt >out.txt 2>err.txt
	diff -u want.txt out.txt
	# stderr is not a terminal: no progress line, no escape sequence
	[ ! -s err.txt ] || { cat -A err.txt; return 1; }
	"$INGOT" slot verify b --disk disk.img --cert keys/ingot.crt >b.txt
	sed -n '/^slot b/,$p' want.txt >want-b.txt
	diff -u want-b.txt b.txt
	"$INGOT" slot verify --disk disk.img --cert keys/ingot.crt --json >v.json
	python3 - v.json "$fp" out/demo_1.0.0.roothash out/demo_2.0.0.roothash <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
fp = sys.argv[2]
assert v["ok"] is True and v["disk"] == "disk.img", v
assert [s["slot"] for s in v["slots"]] == ["a", "b"], v["slots"]
for s, hashfile, version in zip(v["slots"], sys.argv[3:], ["1.0.0", "2.0.0"]):
    assert s["ok"] is True and s["trusted"] is True, s
    assert s["root_hash"] == open(hashfile).read().strip(), s
    assert s["signer_fingerprint"] == fp, s
    assert (s["image_id"], s["version"]) == ("demo", version), s
    states = {c["name"]: c["state"] for c in s["checks"]}
    assert states == {"hash tree": "ok", "root hash": "ok", "signature": "ok", "version": "ok",
                      "profile": "skipped"}, states
PY
}
run slot_verify_passes_intact_slots t_slot_verify_passes_intact_slots

t_slot_verify_names_a_flipped_data_block() {
	ab_disk
	off=70000 # a byte of root-b, inside the image
	flip_part disk.img root-b $off
	block=$((off / 4096))
	first=$((block * 4096))
	last=$((first + 4095))
	p=$(part disk.img root-b)
	read -r start _ <<<"$p"
	# veritysetup finds root-b damaged, at the first byte of that block
	extract disk.img root-b root.part
	extract disk.img verity-b verity.part
	set +e
	veritysetup verify root.part verity.part "$(cat out/demo_2.0.0.roothash)" >vs.log 2>&1
	rc=$?
	set -e
	cat vs.log
	[ "$rc" -ne 0 ]
	grep -qxF "Verification failed at position $first." vs.log
	verify_fails b.txt b --disk disk.img --cert keys/ingot.crt
	grep -qxF "hash tree  FAILED  data block $block (bytes $first-$last) does not match the hash tree; bytes count from the start of root-b, which is at byte $start of disk.img" b.txt
	# the tree and the signature are intact: only the data is wrong, and its version is not read
	grep -qxF "root hash  ok      $(cat out/demo_2.0.0.roothash) (verity-sig-b)" b.txt
	grep -qx "signature  ok      signed by keys/ingot.crt .*" b.txt
	grep -qxF "version    skipped the data does not match the hash tree: its os-release is not read" b.txt
	# every slot: a passes, b fails, exit 1; the failure also on stderr
	verify_fails all.txt --disk disk.img --cert keys/ingot.crt
	grep -qF "ingot: slot b: hash tree: data block $block (bytes $first-$last)" all.txt
	set +e
	"$INGOT" slot verify --disk disk.img --cert keys/ingot.crt --json >all.json 2>/dev/null
	set -e
	python3 - all.json "$block" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
a, b = v["slots"]
assert v["ok"] is False and a["ok"] is True and b["ok"] is False, v
tree = [c for c in b["checks"] if c["name"] == "hash tree"][0]
assert tree["state"] == "failed" and tree["message"].startswith("data block %s (" % sys.argv[2]), tree
PY
	"$INGOT" slot verify a --disk disk.img --cert keys/ingot.crt >/dev/null
}
run slot_verify_names_a_flipped_data_block t_slot_verify_names_a_flipped_data_block

t_slot_verify_finds_a_damaged_hash_tree() {
	ab_disk
	# the third block of verity-b: after the superblock and the top level, this image's lowest level
	flip_part disk.img verity-b $((2 * 4096 + 100))
	extract disk.img root-b root.part
	extract disk.img verity-b verity.part
	if veritysetup verify root.part verity.part "$(cat out/demo_2.0.0.roothash)" >/dev/null 2>&1; then
		echo "veritysetup finds verity-b intact"
		return 1
	fi
	verify_fails b.txt b --disk disk.img --cert keys/ingot.crt
	grep -qxF "hash tree  FAILED  disk.img (verity-b): hash tree block 2 of level 0 does not match" b.txt
	"$INGOT" slot verify a --disk disk.img --cert keys/ingot.crt >/dev/null
}
run slot_verify_finds_a_damaged_hash_tree t_slot_verify_finds_a_damaged_hash_tree

t_slot_verify_refuses_an_untrusted_signer() {
	ab_disk
	"$INGOT" keygen other >/dev/null
	# openssl agrees: signed by keys/, not by other/
	slot_verifies disk.img a keys/ingot.crt
	if slot_verifies disk.img a other/ingot.crt >/dev/null; then
		echo "openssl takes other/ingot.crt as a's signer"
		return 1
	fi
	fp=$(fingerprint keys/ingot.crt)
	verify_fails a.txt a --disk disk.img --cert other/ingot.crt
	grep -qxF "signature  FAILED  disk.img (verity-sig-a): signed by a certificate that is not trusted (signer ${fp:0:16}...)" a.txt
	grep -qxF "version    skipped the signature is not a trusted one: its os-release is not read" a.txt
	# any one trusted certificate will do
	"$INGOT" slot verify a --disk disk.img --cert other/ingot.crt --cert keys/ingot.crt >/dev/null
}
run slot_verify_refuses_an_untrusted_signer t_slot_verify_refuses_an_untrusted_signer

t_slot_verify_empty_slot() {
	signed_demo out 1.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	expect_fail "disk.img: slot b is empty" "$INGOT" slot verify b --disk disk.img --cert keys/ingot.crt
	# without a slot: the installed one only
	"$INGOT" slot verify --disk disk.img --cert keys/ingot.crt >out.txt
	[ "$(grep -c '^slot ' out.txt)" = 1 ]
	grep -qx "slot a" out.txt
	expect_fail "verify takes at most a slot" "$INGOT" slot verify a b --disk disk.img --cert keys/ingot.crt
}
run slot_verify_empty_slot t_slot_verify_empty_slot

# put_sig DISK SLOT FILE: the slot's signature partition zeroed, then FILE's bytes at its start
put_sig() {
	local p start size
	p=$(part "$1" "verity-sig-$2") || return 1
	read -r start size _ <<<"$p"
	dd if=/dev/zero of="$1" bs=1 seek="$start" count="$size" conv=notrunc status=none || return 1
	dd if="$3" of="$1" bs=1 seek="$start" conv=notrunc status=none || return 1
}

t_status_says_an_unreadable_signature_partition() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_2.0.0.raw >/dev/null
	[ "$(status_field disk.img 's["next"]')" = b ]
	extract disk.img verity-sig-b good.sig
	# garbage after a NUL; a JSON payload cut short; one whose signature is not base64
	printf '\0garbage' >garbage.sig
	head -c 100 good.sig >truncated.sig
	printf '{"rootHash": "%s", "signature": "not base64!"}' "$(cat out/demo_2.0.0.roothash)" >nob64.sig
	for kind in garbage truncated nob64; do
		case $kind in
		garbage) why="signature partition: garbage" ;;
		truncated) why="signature partition: not the JSON object systemd expects" ;;
		nob64) why="signature partition: the signature is not base64" ;;
		esac
		put_sig disk.img b $kind.sig
		# the outside reader finds no signature payload there either
		if slot_verifies disk.img b keys/ingot.crt >/dev/null; then
			echo "$kind: slot_verifies reads a payload"
			return 1
		fi
		"$INGOT" slot status --disk disk.img >st.txt
		cat st.txt
		grep -q "^b    unreadable " st.txt
		grep -qxF "b is unreadable: $why" st.txt
		[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["unreadable"], s["slots"][0]["unreadable"]')" = \
			"('unreadable', '$why', None)" ]
		# never the boot choice, and next says why
		[ "$("$INGOT" slot next --disk disk.img)" = "a: a is good with priority 1; b's signature partition is unreadable" ]
		verify_fails b.txt b --disk disk.img --cert keys/ingot.crt
		grep -qxF "root hash  FAILED  disk.img (verity-sig-b) holds no signature payload: $why" b.txt
		expect_fail "slot b holds no image: its signature partition is unreadable ($why)" \
			"$INGOT" slot switch b --disk disk.img
	done
	# zeros: a never-written partition is empty, without a word
	put_sig disk.img b /dev/null
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["unreadable"]')" = "('empty', None)" ]
	"$INGOT" slot status --disk disk.img >st.txt
	if grep -q "unreadable" st.txt; then
		cat st.txt
		return 1
	fi
	[ "$("$INGOT" slot next --disk disk.img)" = "a: a is good with priority 1; b is empty" ]
}
run status_says_an_unreadable_signature_partition t_status_says_an_unreadable_signature_partition

# What an image says of its slots, signed with it: MinVersion= is a floor no install goes below once a slot
# with that image is good (--allow-downgrade or not), and SlotProfile=required refuses an install without a
# profile of its own. Both are read from the image behind its hash tree.
t_image_policy() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0 "$(printf '[Image]\nMinVersion=2.0.0')"
	signed_demo out 2.1.0 "$(printf '[Image]\nSlotProfile=required')"
	unsquashfs -cat out/demo_2.0.0.raw usr/lib/os-release | grep -qx 'INGOT_MIN_VERSION=2.0.0'
	unsquashfs -cat out/demo_2.1.0.raw usr/lib/os-release | grep -qx 'INGOT_SLOT_PROFILE=required'
	! unsquashfs -cat out/demo_1.0.0.raw usr/lib/os-release | grep -q '^INGOT_' || return 1
	"$INGOT" disk disk.img --slot-a out/demo_2.0.0.raw
	sum=$(sha256sum <disk.img)
	exits_1_with "out/demo_1.0.0.raw: version '1.0.0' is below 2.0.0, the version floor that good slot a's image (demo 2.0.0) sets with MinVersion=: a rollback past it is refused, --allow-downgrade or not" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --allow-downgrade out/demo_1.0.0.raw
	same_bytes disk.img "$sum"
	exits_1_with "out/demo_2.1.0.raw: its image boots only with a profile of its own (SlotProfile=required): give --profile" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_2.1.0.raw
	same_bytes disk.img "$sum"
	printf '[Sysctl]\nvm.swappiness=5\n' >calm.conf
	"$INGOT" profile compile calm.conf -o prof --key keys/ingot.key --cert keys/ingot.crt --for out/demo_2.1.0.raw >/dev/null
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/calm.profile.json out/demo_2.1.0.raw |
		grep -q "into slot b"
	slot_profile_verifies disk.img b keys/ingot.crt prof/calm.profile.json
	# the floor is the good slot's: with b (2.1.0, no floor of its own) good and a marked bad, 1.0.0 goes in
	"$INGOT" slot mark-good b --disk disk.img
	"$INGOT" slot mark-bad a --disk disk.img
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --allow-downgrade out/demo_1.0.0.raw | grep -q "into slot a"
	# VarNoExec= goes the same way, and the plan says it back
	signed_demo out 2.2.0 "$(printf '[Mounts]\nVarNoExec=yes')"
	unsquashfs -cat out/demo_2.2.0.raw usr/lib/os-release | grep -qx 'INGOT_VAR_NOEXEC=yes'
	"$INGOT" plan demo-2.2.0.ini >plan.ini
	grep -qx 'VarNoExec=yes' plan.ini
	"$INGOT" plan demo-2.2.0.ini --json | python3 -c 'import json, sys; assert json.load(sys.stdin)["image"]["var_noexec"] is True'
	# and a recipe cannot set a floor above itself, nor one for a layer
	printf 'Include=%s/demo-1.0.0.ini\n[Image]\nMinVersion=1.1\n' "$PWD" >high.ini
	expect_fail "high.ini:3: MinVersion=1.1 is above the image's own Version=1.0.0: it could never boot" \
		"$INGOT" plan high.ini
}
run image_policy t_image_policy

# A disk writer crafts slot b: an unsigned image claiming version 99.0.0, with its own tree and a payload
# whose signature is by a key nobody trusts, marked good. Its squashfs is not parsed until its signer is
# trusted (nothing of it is read), so it sets no version floor: 2.0.0 installs, and status says why b's
# version was not read.
t_untrusted_slot_sets_no_floor() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" keygen evil >/dev/null
	sed 's/^Version=.*/Version=99.0.0/' demo-1.0.0.ini >evil.ini
	"$INGOT" build evil.ini -o evilout --key evil/ingot.key --cert evil/ingot.crt --quiet
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw --slot-b evilout/demo_99.0.0.raw
	"$INGOT" slot mark-good b --disk disk.img
	# before, the floor came from b's unchecked os-release: "older than '99.0.0' in good slot b"
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot a out/demo_2.0.0.raw | grep -q "into slot a"
	slot_verifies disk.img a keys/ingot.crt out/demo_2.0.0.roothash
	# what status reads for the eye needs an intact signature and then its tree: a damaged tree is named
	"$INGOT" slot status --disk disk.img --json >st.json
	python3 -c 'import json; s = json.load(open("st.json")); b = s["slots"][1]; assert b["version"] == "99.0.0" and b["unverified"] is None, b'
	flip_part disk.img verity-b 4200
	"$INGOT" slot status --disk disk.img >st.txt
	cat st.txt
	grep -q "^b: its version and profile were not read: disk.img (verity-b): does not hold the tree of the root hash" st.txt
	grep -q '^b .* - ' st.txt
}
run untrusted_slot_sets_no_floor t_untrusted_slot_sets_no_floor

t_help() {
	"$INGOT" slot --help | grep -q "install IMAGE.raw"
	"$INGOT" slot --help | grep -qF "verify [a|b] [--cert CERT]... [--json]"
	"$INGOT" disk --help | grep -q -- "--slot-a"
	"$INGOT" --help | grep -q "^  slot"
	expect_fail "expected an action" "$INGOT" slot
	expect_fail "unknown action 'swtich'" "$INGOT" slot swtich a --disk x
	expect_fail "--slot-a IMAGE is required" "$INGOT" disk x.img
}
run help t_help
