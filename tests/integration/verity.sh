#!/bin/bash
# Every build writes NAME_VERSION.verity (dm-verity format 1 with superblock) and .roothash, hashed
# from the writes themselves, and veritysetup agrees: verify passes, dump shows the derived salt and
# the geometry, and any flipped byte in the data or the tree fails.
. "$(dirname "$0")/../lib.sh"

t_demo_verifies() {
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out --quiet
	image_verifies out/demo_1.0.0
	grep -qx '[0-9a-f]\{64\}' out/demo_1.0.0.roothash
	veritysetup dump out/demo_1.0.0.verity >dump
	cat dump
	salt=$(python3 -c 'import hashlib; print(hashlib.sha256(b"ingot verity salt\0demo\x001.0.0").hexdigest())')
	grep -q "^Salt:[[:space:]]*$salt$" dump
	grep -q '^Hash type:[[:space:]]*1$' dump
	grep -q '^Hash algorithm:[[:space:]]*sha256$' dump
	grep -q '^Data block size:[[:space:]]*4096$' dump
	grep -q '^Hash block size:[[:space:]]*4096$' dump
	grep -q "^Data blocks:[[:space:]]*$(($(stat -c %s out/demo_1.0.0.raw) / 4096))$" dump
}

t_corruption_is_caught() {
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out --quiet
	cp out/demo_1.0.0.raw good.raw
	cp out/demo_1.0.0.verity good.verity
	for off in 0 50000 $(($(stat -c %s good.raw) - 1)); do
		cp good.raw out/demo_1.0.0.raw
		flip out/demo_1.0.0.raw "$off" 0x40
		! image_verifies out/demo_1.0.0 2>/dev/null || { echo "data byte $off flip not caught"; return 1; }
	done
	cp good.raw out/demo_1.0.0.raw
	flip out/demo_1.0.0.verity 4200 0x40
	! image_verifies out/demo_1.0.0 2>/dev/null || return 1
	cp good.verity out/demo_1.0.0.verity
	image_verifies out/demo_1.0.0
	! veritysetup verify out/demo_1.0.0.raw out/demo_1.0.0.verity "$(sed 's/^./0/' out/demo_1.0.0.roothash | tr 0 1)" 2>/dev/null || return 1
}

t_deduplicated_and_sparse_data() {
	# duplicate files make libsquashfs write blocks and roll them back: the tree must follow
	mkdir -p tree/dups tree/big
	head -c 700000 /dev/urandom >tree/dups/a
	for i in $(seq 1 30); do cp tree/dups/a "tree/dups/copy$i"; head -c $((i * 1000)) /dev/urandom >"tree/dups/u$i"; done
	truncate -s 100M tree/big/sparse
	printf '[Image]\nName=d\nVersion=1\n[Base]\nTree=tree\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	image_verifies out/d_1
	[ "$(stat -c %s out/d_1.raw)" -lt 2000000 ] # the copies were deduplicated
}

t_one_block_image() {
	printf '[Image]\nName=tiny\nVersion=1\nOsRelease=no\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	[ "$(stat -c %s out/tiny_1.raw)" -eq 4096 ]
	image_verifies out/tiny_1
}

t_reproducible_artifacts() {
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o one --quiet
	mkdir elsewhere
	cp -a "$TOP/recipes" elsewhere/
	(cd elsewhere && "$INGOT" build --unsigned recipes/demo.ini -o ../two --quiet)
	for s in raw verity roothash manifest.json; do cmp "one/demo_1.0.0.$s" "two/demo_1.0.0.$s"; done
}

t_json_and_text_name_the_artifacts() {
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out --json >r.json
	python3 - <<'PY'
import json
r = json.load(open("r.json"))
assert r["verity"] == "out/demo_1.0.0.verity" and r["roothash"] == "out/demo_1.0.0.roothash", r
assert r["root_hash"] == open("out/demo_1.0.0.roothash").read().strip(), r
PY
}

run demo_verifies t_demo_verifies
run corruption_is_caught t_corruption_is_caught
run deduplicated_and_sparse_data t_deduplicated_and_sparse_data
run one_block_image t_one_block_image
run reproducible_artifacts t_reproducible_artifacts
run json_and_text_name_the_artifacts t_json_and_text_name_the_artifacts

t_systemd_dissect_reads_the_image() {
	command -v systemd-dissect >/dev/null || skip_test "systemd-dissect (systemd-container) missing"
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out --quiet
	if ! systemd-dissect --json=short out/demo_1.0.0.raw >d.json 2>err; then
		cat err
		grep -qi 'loop' err && skip_test "systemd-dissect cannot attach a loop device here"
		return 1
	fi
	cat d.json
	python3 - <<'PY'
import json
d = json.load(open("d.json"))
root = [m for m in d["mounts"] if m["designator"] == "root"][0]
assert root["fstype"] == "squashfs" and root["verity"] == "external", root
assert "IMAGE_ID=demo" in d["osRelease"] and "IMAGE_VERSION=1.0.0" in d["osRelease"], d["osRelease"]
PY
}
run systemd_dissect_reads_the_image t_systemd_dissect_reads_the_image

t_verity_section_changes_hash_and_sizes() {
	for cfg in "sha512 4K 4K" "sha1 1K 512" "sha256 512 2K"; do
		set -- $cfg
		printf '[Image]\nName=v\nVersion=1\n[Base]\nTree=%s\n[Verity]\nHash=%s\nDataBlockSize=%s\nHashBlockSize=%s\n' \
			"$TOP/recipes/demo/overlay" "$1" "$2" "$3" >r.ini
		rm -rf out
		"$INGOT" build --unsigned r.ini -o out --quiet
		veritysetup dump out/v_1.verity >dump
		grep -q "^Hash algorithm:[[:space:]]*$1$" dump
		image_verifies out/v_1
		"$INGOT" verify out/v_1.raw >/dev/null
		# `ingot verity` populates its mapping from page boundaries, whatever the data block: the same tree
		cp out/v_1.verity build.verity
		"$INGOT" verity out/v_1.raw -j 2 >/dev/null
		cmp out/v_1.verity build.verity
		python3 -c 'import json,sys; v = json.load(open("out/v_1.manifest.json"))["verity"]; assert v["algorithm"] == sys.argv[1], v' "$1"
	done
	printf '[Image]\nName=v\nVersion=1\n[Verity]\nDataBlockSize=8K\n' >bad.ini
	expect_fail "bad.ini:5: DataBlockSize='8K' must be 512, 1K, 2K or 4K" "$INGOT" plan bad.ini
	printf '[Image]\nName=v\nVersion=1\n[Verity]\nHash=md5\n' >bad.ini
	expect_fail "bad.ini:5: Hash='md5' is not one of sha256, sha512, sha1" "$INGOT" plan bad.ini
}
run verity_section_changes_hash_and_sizes t_verity_section_changes_hash_and_sizes

t_ingot_verity_on_an_existing_image() {
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out --quiet
	cp out/demo_1.0.0.verity build.verity
	cp out/demo_1.0.0.roothash build.roothash
	# with the manifest: the build's salt, so the very same files, on any number of threads
	"$INGOT" verity out/demo_1.0.0.raw -j 3 >printed
	cmp out/demo_1.0.0.verity build.verity
	cmp out/demo_1.0.0.roothash build.roothash
	[ "$(cat printed)" = "$(cat build.roothash)" ]
	# a plain file of 40 MiB + 4 KiB: veritysetup agrees on the root hash for the same salt
	head -c $((40 * 1048576 + 4096)) /dev/urandom >blob.raw
	"$INGOT" verity blob.raw >root
	salt=$(veritysetup dump blob.verity | sed -n 's/^Salt:[[:space:]]*//p')
	veritysetup format --salt="$salt" blob.raw ref.verity | sed -n 's/^Root hash:[[:space:]]*//p' >ref.root
	[ "$(cat root)" = "$(cat ref.root)" ]
	veritysetup verify blob.raw blob.verity "$(cat root)"
	head -c 1000 /dev/urandom >odd.raw
	expect_fail "odd.raw: 1000 bytes is not a multiple of the 4096-byte data block" "$INGOT" verity odd.raw
	[ ! -e odd.verity ]
}
run ingot_verity_on_an_existing_image t_ingot_verity_on_an_existing_image

# `ingot verity` hashes from a mapping of the image (tests/tools/faultinject.c plays the kernel)
t_ingot_verity_without_populate_or_with_a_shrinking_image() {
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	local preload=$TOP/$BUILD/tests/faultinject.so
	head -c $((8 * 1048576 + 4096)) /dev/urandom >blob.raw
	"$INGOT" verity blob.raw -j 2 >mapped.root
	mv blob.verity mapped.verity
	# a kernel before 5.14 refuses MADV_POPULATE_READ: read instead, the very same tree
	LD_PRELOAD=$preload FAULT_NO_POPULATE=1 "$INGOT" verity blob.raw -j 2 >read.root 2>err
	grep -q 'faultinject: MADV_POPULATE_READ refused' err
	cmp blob.verity mapped.verity
	cmp read.root mapped.root
	veritysetup verify blob.raw blob.verity "$(cat read.root)"
	# the image cut to one page before its blocks are read: an error naming it, no tree left behind
	mkdir cut
	cp blob.raw cut/s.raw
	expect_fail "cut/s.raw: shrank from 8392704 to 4096 bytes while it was hashed" \
		env LD_PRELOAD="$preload" FAULT_SHRINK_FILE=cut/s.raw "$INGOT" verity cut/s.raw -j 1
	[ "$(ls -A cut)" = s.raw ] || { ls -la cut; return 1; }
	# the same with reads
	cp blob.raw cut/s.raw
	expect_fail "cut/s.raw: shrank from 8392704 to 4096 bytes while it was hashed" \
		env LD_PRELOAD="$preload" FAULT_NO_POPULATE=1 FAULT_SHRINK_FILE=cut/s.raw "$INGOT" verity cut/s.raw -j 1
	[ "$(ls -A cut)" = s.raw ] || { ls -la cut; return 1; }
}
run ingot_verity_without_populate_or_with_a_shrinking_image t_ingot_verity_without_populate_or_with_a_shrinking_image
