#!/bin/bash
# Hostile input that bad-input.sh does not cover: archives with absolute and looping symlinks and
# hard links out of the archive, devices a recipe forbids, names squashfs cannot store, files and
# offsets past 4 GiB, GPTs whose partitions overlap or leave the disk, and an image that changes
# on disk between the checks and the copy of `ingot slot install`. Each ends with a message naming
# the file (and member, partition or slot), a non-zero exit, and no byte written where it must not be.
. "$(dirname "$0")/../lib.sh"
# faultinject.so is preloaded into ASan builds too (as in powercut.sh)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

t_absolute_symlink_is_not_followed() {
	tarball evil.tar "etc=->/etc" "etc/passwd=owned"
	recipe Archive evil.tar
	expect_fail "evil.tar: cannot add '/etc/passwd'" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
	# alone, an absolute symlink is stored as it is, pointing at nothing on the build host
	tarball ok.tar "host-etc=->/etc" "root=->/"
	recipe Archive ok.tar
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/bad_1.raw | grep -q 'squashfs-root/host-etc -> /etc$'
	unsquashfs -lln out/bad_1.raw | grep -q 'squashfs-root/root -> /$'
}

t_looping_symlinks_in_an_archive() {
	tarball loop.tar "a=->b" "b=->a" "a/x=data"
	recipe Archive loop.tar
	expect_fail "loop.tar: cannot add '/a/x'" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
	tarball self.tar "s=->s" "s/s/s=data"
	recipe Archive self.tar
	expect_fail "self.tar: cannot add '/s/s/s'" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_hard_link_out_of_the_archive() {
	for target in /etc/passwd etc/shadow ./etc/../../etc/passwd; do
		tarball link.tar "inside=ok" "stolen==>$target"
		recipe Archive link.tar
		set +e
		out=$("$INGOT" build --unsigned r.ini -o out 2>&1)
		rc=$?
		set -e
		echo "$out"
		[ "$rc" -eq 1 ]
		grep -qE "link.tar: (hard link '/stolen' points to '.*', which is not in the archive|member .* contains '\.\.')" <<<"$out"
		nothing_left out
	done
}

t_devices_forbidden() {
	tarball dev.tar "dev/null=c:1:3" "etc/ok=fine"
	recipe Archive dev.tar $'AllowDevices=no\n'
	expect_fail "dev.tar: 'dev/null' is a character device (1:3), and r.ini:6 forbids devices" \
		"$INGOT" build --unsigned r.ini -o out
	nothing_left out
	"$INGOT" plan r.ini | grep -qx 'AllowDevices=no'
	[ "$("$INGOT" plan r.ini --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["base"]["allow_devices"])')" = False ]
	recipe Archive dev.tar $'AllowDevices=maybe\n'
	expect_fail "r.ini:6: AllowDevices='maybe' is not a boolean" "$INGOT" plan r.ini
	# allowed by default, and stored as the archive says
	recipe Archive dev.tar
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/bad_1.raw | grep -q '^crw-r--r-- 0/0 *1, *3 .*squashfs-root/dev/null$'
	# a host tree's devices, too
	[ "$(id -u)" -eq 0 ] || return 0
	rm -rf out
	mkdir -p tree/dev
	mknod tree/dev/loop9 b 7 9
	recipe Tree tree $'AllowDevices=no\n'
	expect_fail "tree: 'dev/loop9' is a block device (7:9), and r.ini:6 forbids devices" \
		"$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_long_names() {
	# 4096 bytes and more of path: squashfs has no limit on a path, only on a name
	long=$(python3 -c 'print("/".join(("d%02d" % i) + "x" * 200 for i in range(21)) + "/file")')
	[ "${#long}" -gt 4096 ]
	tarball deep.tar "$long=deep data"
	recipe Archive deep.tar
	"$INGOT" build --unsigned r.ini -o out --quiet
	[ "$(unsquashfs -cat out/bad_1.raw "$long")" = "deep data" ]
	[ "$(rdsquashfs -c "/$long" out/bad_1.raw)" = "deep data" ]
	# a name of 255 bytes is the most Linux reads; 256 and more are refused before anything is written
	tarball ok.tar "$(printf 'n%.0s' $(seq 255))=fine"
	recipe Archive ok.tar
	"$INGOT" build --unsigned r.ini -o out2 --quiet
	unsquashfs -d x out2/bad_1.raw >/dev/null
	[ "$(cat x/nnn*)" = fine ]
	tarball long.tar "etc/ok=fine" "dir/$(printf 'n%.0s' $(seq 256))=data"
	recipe Archive long.tar
	expect_fail "long.tar: member 'dir/nnnnnnnnnnnnnnnnnnnn" "$INGOT" build --unsigned r.ini -o out3
	expect_fail "...' has a name longer than 255 bytes, which squashfs cannot store" \
		"$INGOT" build --unsigned r.ini -o out3
	nothing_left out3
	printf '[Image]\nName=bad\nVersion=1\n[Content]\nMkdir=/%s\n' "$(printf 'm%.0s' $(seq 300))" >m.ini
	expect_fail "m.ini:5: Mkdir=: image path '/mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm...' has a name longer than 255 bytes" \
		"$INGOT" plan m.ini
}

# A 5 GiB sparse file with data on both sides of 4 GiB, from a tree and from a sparse tar: sizes and
# offsets past 2^32 survive into the image (read back by unsquashfs and rdsquashfs, the image checked
# by veritysetup).
t_files_past_4g() {
	mkdir -p tree/big
	truncate -s 5G tree/big/sparse
	printf 'below 4G' | dd of=tree/big/sparse bs=1 seek=$((4 * 1024 * 1024 * 1024 - 4096)) conv=notrunc status=none
	printf 'above 4G' | dd of=tree/big/sparse bs=1 seek=$((4 * 1024 * 1024 * 1024 + 12345)) conv=notrunc status=none
	tar --sparse -C tree -cf big.tar big
	for base in "Tree tree" "Archive big.tar"; do
		rm -rf out x
		recipe $base
		"$INGOT" build --unsigned r.ini -o out --quiet
		unsquashfs -lln out/bad_1.raw | grep -q ' 5368709120 .*squashfs-root/big/sparse$'
		veritysetup verify out/bad_1.raw out/bad_1.verity "$(cat out/bad_1.roothash)"
		unsquashfs -d x out/bad_1.raw >/dev/null
		[ "$(stat -c %s x/big/sparse)" = 5368709120 ]
		[ "$(dd if=x/big/sparse bs=1 skip=$((4 * 1024 * 1024 * 1024 + 12345)) count=8 status=none)" = "above 4G" ]
		[ "$(dd if=x/big/sparse bs=1 skip=$((4 * 1024 * 1024 * 1024 - 4096)) count=8 status=none)" = "below 4G" ]
		[ "$(rdsquashfs -s /big/sparse out/bad_1.raw | sed -n 's/^File size: //p')" = 5368709120 ]
	done
}

# An image past 4 GiB: 4.25 GiB of data that does not compress (AES-CTR of zeros, so it repeats). The
# verity tree, the signature, a damaged block's report and the slot copy address bytes past 2^32:
# veritysetup verify on the image and on the slot, rdsquashfs reading the last file back, `ingot
# verify` naming the damaged data block and its bytes, and the copy compared byte for byte.
t_image_past_4g() {
	plain_pass_only "its 2 minutes go to writing and hashing 4.25 GiB with the same code as the plain pass (files_past_4g keeps 64-bit file sizes under ASan)"
	mkdir -p tree/data
	for i in $(seq 10 26); do # 17 files of 256 MiB
		head -c 256M /dev/zero | openssl enc -aes-128-ctr -nosalt -K "000000000000000000000000000000$i" -iv 00000000000000000000000000000000 \
			>"tree/data/$i"
	done
	last=$(sha256sum <tree/data/26)
	"$INGOT" keygen keys >/dev/null
	recipe Tree tree $'[Output]\nLevel=1\n'
	"$INGOT" build r.ini -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	rm -rf tree
	local img=out/bad_1.raw size
	size=$(stat -c %s $img)
	[ "$size" -gt $((4 * 1024 * 1024 * 1024 + 256 * 1024 * 1024)) ] || { echo "only $size bytes"; return 1; }
	veritysetup verify $img out/bad_1.verity "$(cat out/bad_1.roothash)"
	[ "$(rdsquashfs -c /data/26 $img | sha256sum)" = "$last" ]
	"$INGOT" verify $img --cert keys/ingot.crt >/dev/null
	[ "$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["squashfs"]["size"], m["artifacts"]["raw"]["size"])' \
		out/bad_1.manifest.json)" = "$size $size" ]

	# one byte past 4 GiB damaged, then put back: block 1048586 holds byte 4 GiB + 40967
	at=$((4 * 1024 * 1024 * 1024 + 40967))
	orig=$(dd if=$img bs=1 skip=$at count=1 status=none | od -An -tx1 | tr -d ' ')
	flip $img $at
	expect_fail "hash tree: data block 1048586 (bytes 4295008256-4295012351) does not match the hash tree" \
		"$INGOT" verify $img --cert keys/ingot.crt
	flip $img $at
	[ "$(dd if=$img bs=1 skip=$at count=1 status=none | od -An -tx1 | tr -d ' ')" = "$orig" ]

	# installed into slot b of a disk whose a holds the demo: the bytes, the tree and the signature
	signed_demo small 0.1
	"$INGOT" disk disk.img --slot-a small/demo_0.1.raw --slot-size 4400M --esp-size 8M --var-size 8M
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt $img >/dev/null
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["version"]')" = "('trying', '1')" ]
	p=$(part disk.img root-b); read -r b_start _ _ <<<"$p"
	[ "$b_start" -gt $((4 * 1024 * 1024 * 1024)) ] || { echo "root-b starts at $b_start"; return 1; }
	cmp <(dd if=disk.img bs=1M iflag=skip_bytes,count_bytes skip="$b_start" count="$size" status=none) $img
	rm -f $img
	slot_verifies disk.img b keys/ingot.crt out/bad_1.roothash
}

# gpt_edit DISK PYTHON: runs PYTHON on the partition entries (list e of dicts with first, last, name)
# of both GPT headers, then rewrites entries and CRCs: the table says what no tool would write.
gpt_edit() {
	python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
path, code = sys.argv[1], sys.argv[2]
f = open(path, "r+b")
size = f.seek(0, 2)
def rewrite(lba):
    f.seek(lba * 512); h = bytearray(f.read(92))
    assert h[:8] == b"EFI PART", "no GPT header at LBA %d" % lba
    ents_lba, n, esz = struct.unpack_from("<QII", h, 72)
    f.seek(ents_lba * 512); raw = bytearray(f.read(n * esz))
    e = []
    for i in range(n):
        ent = raw[i * esz:(i + 1) * esz]
        first, last = struct.unpack_from("<QQ", ent, 32)
        e.append({"i": i, "first": first, "last": last, "name": ent[56:128].decode("utf-16-le").rstrip("\0")})
    exec(code, {"e": e, "by": {x["name"]: x for x in e if x["name"]}, "disk_lbas": size // 512})
    for x in e:
        struct.pack_into("<QQ", raw, x["i"] * esz + 32, x["first"], x["last"])
    f.seek(ents_lba * 512); f.write(raw)
    struct.pack_into("<I", h, 88, zlib.crc32(raw)); struct.pack_into("<I", h, 16, 0)
    struct.pack_into("<I", h, 16, zlib.crc32(bytes(h[:struct.unpack_from("<I", h, 12)[0]])))
    f.seek(lba * 512); f.write(h)
    return struct.unpack_from("<Q", h, 32)[0]
backup = rewrite(1)
rewrite(backup)
PY
}

t_gpt_overlapping_and_out_of_range() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk good.img --slot-a out/demo_1.0.0.raw
	cp good.img overlap.img
	gpt_edit overlap.img 'by["root-b"]["first"] = by["verity-a"]["first"] - 8'
	sfdisk --verify overlap.img 2>&1 | grep -qi overlap # the oracle sees it too
	sum=$(sha256sum <overlap.img)
	expect_fail "overlap.img: partition 5 ('root-b', bytes" "$INGOT" slot status --disk overlap.img
	expect_fail "overlaps partition 2 ('root-a', bytes" "$INGOT" slot install --disk overlap.img --cert keys/ingot.crt out/demo_2.0.0.raw
	expect_fail "nothing was done" "$INGOT" slot mark-bad a --disk overlap.img
	same_bytes overlap.img "$sum"

	cp good.img outside.img
	gpt_edit outside.img 'by["var"]["last"] = disk_lbas + 100000'
	sum=$(sha256sum <outside.img)
	expect_fail "outside.img: partition 8 ('var', bytes" "$INGOT" slot status --disk outside.img
	expect_fail "lies outside the usable area" "$INGOT" slot install --disk outside.img --cert keys/ingot.crt out/demo_2.0.0.raw
	same_bytes outside.img "$sum"

	cp good.img inverted.img
	gpt_edit inverted.img 'by["verity-sig-b"]["last"] = by["verity-sig-b"]["first"] - 100'
	sum=$(sha256sum <inverted.img)
	expect_fail "inverted.img: partition 7 ('verity-sig-b') ends before it starts; nothing was done" \
		"$INGOT" slot install --disk inverted.img --cert keys/ingot.crt out/demo_2.0.0.raw
	same_bytes inverted.img "$sum"
}

# An image whose file is replaced between the checks of `slot install` and its copy into the slot
# (tests/tools/faultinject.c overwrites it just before the data is read): ingot writes only bytes
# the signed hash tree covers, and checks the version floor on those bytes, not on what it read first.
t_image_changes_during_install() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	signed_demo out 3.0.0
	[ "$(stat -c %s out/demo_1.0.0.raw)" = "$(stat -c %s out/demo_3.0.0.raw)" ] # the swap needs equal sizes
	"$INGOT" disk disk.img --slot-a out/demo_2.0.0.raw
	p=$(part disk.img root-a); read -r a_start a_size _ <<<"$p"
	a_sum=$(dd if=disk.img bs=1M iflag=skip_bytes,count_bytes skip="$a_start" count="$a_size" status=none | sha256sum)
	preload=$TOP/$BUILD/tests/faultinject.so
	size=$(stat -c %s out/demo_1.0.0.raw)

	# 1. a rollback in disguise: version 3's bytes while checked, then version 1's, which its own
	#    signed sidecars cover; the floor (2.0.0, good in slot a) must still hold. The version is read
	#    behind the tree those sidecars give, so version 3's bytes are refused at the first block read,
	#    before anything is written
	mkdir atk
	cp out/demo_1.0.0.{verity,roothash,roothash.p7s} atk/
	cp out/demo_3.0.0.raw atk/demo_1.0.0.raw
	disk_sum=$(sha256sum <disk.img)
	set +e
	out=$(LD_PRELOAD=$preload FAULT_CHANGE_FILE=atk/demo_1.0.0.raw FAULT_CHANGE_WITH=out/demo_1.0.0.raw \
		FAULT_CHANGE_READ="$size" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt atk/demo_1.0.0.raw 2>&1)
	rc=$?
	set -e
	echo "$out"
	[ "$rc" -eq 1 ]
	grep -q "atk/demo_1.0.0.raw: data block [0-9]* (bytes [0-9]*-[0-9]*) does not match the hash tree; its signed sidecars are an image's" <<<"$out"
	same_bytes disk.img "$disk_sum"

	# 2. bytes that no longer match the tree when copied: refused, slot b left empty
	cp out/demo_2.0.0.raw flipped.raw
	printf 'X' | dd of=flipped.raw bs=1 seek=70000 conv=notrunc status=none
	mkdir chg
	cp out/demo_2.0.0.* chg/
	set +e
	out=$(LD_PRELOAD=$preload FAULT_CHANGE_FILE=chg/demo_2.0.0.raw FAULT_CHANGE_WITH=flipped.raw \
		FAULT_CHANGE_READ="$size" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt chg/demo_2.0.0.raw 2>&1)
	rc=$?
	set -e
	echo "$out"
	[ "$rc" -eq 1 ]
	grep -q "chg/demo_2.0.0.raw: .*data block 17 .* the image is damaged (or changed while it was read); root-b was left unbootable" <<<"$out"
	[ "$(status_field disk.img 's["slots"][1]["state"], s["next"]')" = "('empty', 'a')" ]

	# 3. damaged while checked, whole when copied: installed, and the slot holds the signed bytes
	mkdir heal
	cp out/demo_3.0.0.* heal/
	cp heal/demo_3.0.0.raw heal.good
	printf 'X' | dd of=heal/demo_3.0.0.raw bs=1 seek=70000 conv=notrunc status=none
	LD_PRELOAD=$preload FAULT_CHANGE_FILE=heal/demo_3.0.0.raw FAULT_CHANGE_WITH=heal.good FAULT_CHANGE_READ="$size" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt heal/demo_3.0.0.raw
	slot_verifies disk.img b keys/ingot.crt out/demo_3.0.0.roothash
	p=$(part disk.img root-b); read -r b_start _ _ <<<"$p"
	cmp <(dd if=disk.img bs=1M iflag=skip_bytes,count_bytes skip="$b_start" count="$size" status=none) out/demo_3.0.0.raw

	# and the running slot's bytes never changed
	[ "$(dd if=disk.img bs=1M iflag=skip_bytes,count_bytes skip="$a_start" count="$a_size" status=none | sha256sum)" = "$a_sum" ]
}

run absolute_symlink_is_not_followed t_absolute_symlink_is_not_followed
run looping_symlinks_in_an_archive t_looping_symlinks_in_an_archive
run hard_link_out_of_the_archive t_hard_link_out_of_the_archive
run devices_forbidden t_devices_forbidden
run long_names t_long_names
run files_past_4g t_files_past_4g
run image_past_4g t_image_past_4g
run gpt_overlapping_and_out_of_range t_gpt_overlapping_and_out_of_range
run image_changes_during_install t_image_changes_during_install
