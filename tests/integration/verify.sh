#!/bin/bash
# `ingot verify` passes a good image and names what is wrong with a damaged one: a flipped byte in the
# data, in the hash tree, in the root hash or in the signature; another signer; a truncated signature;
# a manifest edited by hand. Exit 0 only when every check holds.
. "$(dirname "$0")/../lib.sh"

setup() {
	"$INGOT" keygen keys >/dev/null
	"$INGOT" build "$TOP/recipes/demo.ini" -o good --key keys/ingot.key --cert keys/ingot.crt --quiet
	rm -rf out
	cp -a good out
}

img=out/demo_1.0.0

t_good_image() {
	setup
	"$INGOT" verify $img.raw --cert keys/ingot.crt
	"$INGOT" verify $img.raw --cert keys/ingot.crt --json >r.json
	python3 - <<'PY'
import json
r = json.load(open("r.json"))
assert r["ok"] and r["trusted"], r
assert [c["state"] for c in r["checks"]] == ["ok"] * 4, r["checks"]
assert r["root_hash"] == open("out/demo_1.0.0.roothash").read().strip()
PY
	"$INGOT" verify $img.raw | grep -q 'not checked against a trusted certificate'
}

t_data_byte() {
	setup
	flip $img.raw 300000
	expect_fail "hash tree: data block 73 (bytes 299008-303103) does not match the hash tree" \
		"$INGOT" verify $img.raw --cert keys/ingot.crt
	cp good/demo_1.0.0.raw $img.raw
	flip $img.raw 0 # the squashfs superblock
	expect_fail "data block 0 (bytes 0-4095) does not match" "$INGOT" verify $img.raw --cert keys/ingot.crt
}

t_tree_byte() {
	setup
	flip $img.verity 4096 # the top of the tree
	expect_fail "hash tree block" "$INGOT" verify $img.raw --cert keys/ingot.crt
	cp good/demo_1.0.0.verity $img.verity
	flip $img.verity 10 # the superblock
	expect_fail "hash tree:" "$INGOT" verify $img.raw --cert keys/ingot.crt
}

t_root_hash_byte() {
	setup
	sed -i 's/^\(.\{10\}\)./\1z/; s/z/0/; ' $img.roothash
	sed -i "s/^\(.\{20\}\)\(.\)/\1$(cut -c21 good/demo_1.0.0.roothash | tr 0-9a-f 1-9a-f0)/" $img.roothash
	cat $img.roothash good/demo_1.0.0.roothash
	expect_fail "root hash: $img.roothash does not match the hash tree" "$INGOT" verify $img.raw --cert keys/ingot.crt
	expect_fail "signature: $img.roothash.p7s: the signature does not match the root hash" \
		"$INGOT" verify $img.raw --cert keys/ingot.crt
}

t_signature_byte() {
	setup
	size=$(stat -c %s $img.roothash.p7s)
	flip $img.roothash.p7s $((size - 20)) # inside the RSA signature value
	expect_fail "signature: $img.roothash.p7s: damaged signature: its signature value is corrupt" \
		"$INGOT" verify $img.raw --cert keys/ingot.crt
}

t_another_signer() {
	setup
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -subj /CN=other -days 3 2>/dev/null
	expect_fail "signature made by another key" "$INGOT" verify $img.raw --cert other.crt
}

t_truncated_signature() {
	setup
	head -c 200 good/demo_1.0.0.roothash.p7s >$img.roothash.p7s
	expect_fail "damaged signature: not a PKCS#7 signature (truncated or corrupt)" "$INGOT" verify $img.raw --cert keys/ingot.crt
	# a signature stripped from a signed image: the manifest knew it
	rm $img.roothash.p7s
	expect_fail "cannot read $img.roothash.p7s" "$INGOT" verify $img.raw
	# an image built unsigned passes without --cert, says so, and fails with one
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o plain --quiet
	"$INGOT" verify plain/demo_1.0.0.raw | grep -q 'skipped unsigned'
	expect_fail "unsigned: plain/demo_1.0.0.roothash.p7s does not exist" \
		"$INGOT" verify plain/demo_1.0.0.raw --cert keys/ingot.crt
}

t_manifest_edited() {
	setup
	sed -i 's/"version": "1.0.0"/"version": "1.0.1"/' $img.manifest.json
	expect_fail "name and version say demo_1.0.1.raw, the image is demo_1.0.0.raw" "$INGOT" verify $img.raw
	cp good/demo_1.0.0.manifest.json $img.manifest.json
	python3 - <<'PY'
import json
p = "out/demo_1.0.0.manifest.json"
m = json.load(open(p))
m["artifacts"]["verity"]["sha256"] = "0" * 64
json.dump(m, open(p, "w"))
PY
	expect_fail "sha256 of demo_1.0.0.verity does not match" "$INGOT" verify $img.raw
	cp good/demo_1.0.0.manifest.json $img.manifest.json
	sed -i 's/"root_hash": "./"root_hash": "x/' $img.manifest.json
	expect_fail "root_hash differs from" "$INGOT" verify $img.raw
	echo '{ truncated' >$img.manifest.json
	expect_fail "manifest.json: missing or not JSON" "$INGOT" verify $img.raw
}

run good_image t_good_image
run data_byte t_data_byte
run tree_byte t_tree_byte
run root_hash_byte t_root_hash_byte
run signature_byte t_signature_byte
run another_signer t_another_signer
run truncated_signature t_truncated_signature
run manifest_edited t_manifest_edited

t_inspect() {
	setup
	"$INGOT" inspect $img.raw >text
	cat text
	grep -q '^name: *demo 1.0.0' text
	grep -q "^root hash: *$(cat $img.roothash)$" text
	grep -q '^signed: *yes, certificate SHA-256 ' text
	"$INGOT" inspect $img.raw --json >i.json
	unsquashfs -s $img.raw >super
	python3 - <<'PY'
import json, re
i = json.load(open("i.json"))
m = json.load(open("out/demo_1.0.0.manifest.json"))
sq = open("super").read()
assert i["squashfs"]["compression"] == "zstd" and "Compression zstd" in sq
assert re.search(r"Number of inodes %d\n" % i["squashfs"]["inodes"], sq), sq
assert i["squashfs"]["block_size"] == 131072 and i["size"] == m["squashfs"]["size"]
assert i["root_hash"] == m["root_hash"] and i["signed"] and i["signer_fingerprint"] == m["signer_fingerprint"]
assert i["verity"] == m["verity"] and i["files"] == 7 and i["packages"] is None
PY
	expect_fail "not a squashfs image" "$INGOT" inspect $img.verity
}
run inspect t_inspect
