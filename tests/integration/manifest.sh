#!/bin/bash
# NAME_VERSION.manifest.json describes the image, and every claim in it is checked against an outside
# tool: sha256sum of each artifact, veritysetup dump for salt and geometry, openssl for the signer's
# fingerprint, unsquashfs for compression and block size, the tree for kernels, dpkg-query for packages.
. "$(dirname "$0")/../lib.sh"

t_manifest_agrees_with_the_artifacts() {
	"$INGOT" keygen keys
	"$INGOT" build "$TOP/recipes/demo.ini" -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	veritysetup dump out/demo_1.0.0.verity >dump
	unsquashfs -s out/demo_1.0.0.raw >super
	fp=$(openssl x509 -in keys/ingot.crt -outform DER | sha256sum | cut -d' ' -f1)
	for f in out/demo_1.0.0.*; do sha256sum "$f"; done >sums
	python3 - "$fp" <<'PY'
import json, os, re, sys
m = json.load(open("out/demo_1.0.0.manifest.json"))
assert m["manifest_version"] == 1
assert (m["name"], m["version"], m["architecture"]) == ("demo", "1.0.0", "x86-64"), m
assert m["root_hash"] == open("out/demo_1.0.0.roothash").read().strip()
assert m["signer_fingerprint"] == sys.argv[1]
dump = open("dump").read()
v = m["verity"]
assert re.search(r"Salt:\s*" + v["salt"] + "\n", dump), dump
assert re.search(r"Data blocks:\s*%d\n" % v["data_blocks"], dump)
assert v["data_size"] == os.path.getsize("out/demo_1.0.0.raw") == m["squashfs"]["size"]
assert (v["algorithm"], v["data_block_size"], v["hash_block_size"], v["hash_offset"]) == ("sha256", 4096, 4096, 4096)
sums = dict(reversed(l.split()) for l in open("sums"))
assert set(m["artifacts"]) == {"raw", "verity", "roothash", "roothash.p7s", "blocks"}, m["artifacts"]
for kind, a in m["artifacts"].items():
    path = "out/" + a["file"]
    assert a["sha256"] == sums[path], (kind, a, sums)
    assert a["size"] == os.path.getsize(path)
sq = open("super").read()
assert "Compression zstd" in sq and "Block size %d" % m["squashfs"]["block_size"] in sq
assert m["os_release"]["IMAGE_VERSION"] == "1.0.0"
assert m["contents"]["files"] == 7 and m["packages"] is None and m["kernel_versions"] == []
assert re.fullmatch("[0-9a-f]{64}", m["recipe_sha256"])
PY
}

t_kernels_and_recipe_digest() {
	mkdir -p tree/usr/lib/modules/6.1.0-99-amd64/kernel tree/usr/lib/modules/6.2.0-test tree/var/lib/dpkg
	touch tree/usr/lib/modules/6.1.0-99-amd64/modules.dep
	printf 'Package: a\nStatus: install ok installed\nVersion: 1.2\nArchitecture: amd64\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 3\nArchitecture: all\n\nPackage: c\nStatus: install ok installed\nVersion: 2:0.1-1\nArchitecture: all\n' \
		>tree/var/lib/dpkg/status
	printf '[Image]\nName=k\nVersion=1\n[Base]\nTree=tree\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	# the packages as dpkg itself reads the image's database: installed ones only
	unsquashfs -q -d x out/k_1.raw >/dev/null
	dpkg-query --admindir=x/var/lib/dpkg -W -f '${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\n' 2>/dev/null |
		awk '$1 == "ii" { print $2, $3, $4 }' >dpkg.txt
	[ "$(wc -l <dpkg.txt)" -eq 2 ]
	python3 - <<'PY'
import json
m = json.load(open("out/k_1.manifest.json"))
assert m["kernel_versions"] == ["6.1.0-99-amd64", "6.2.0-test"], m["kernel_versions"]
assert m["signer_fingerprint"] is None and "roothash.p7s" not in m["artifacts"]
listed = [" ".join((p["name"], p["version"], p["architecture"])) for p in m["packages"]]
assert listed == open("dpkg.txt").read().splitlines(), (listed, open("dpkg.txt").read())
PY
	digest=$(python3 -c 'import json; print(json.load(open("out/k_1.manifest.json"))["recipe_sha256"])')
	# the same recipe elsewhere has the same digest; a changed recipe has another
	mkdir -p elsewhere
	cp -a tree r.ini elsewhere/
	(cd elsewhere && "$INGOT" build --unsigned r.ini -o out --quiet)
	[ "$(python3 -c 'import json; print(json.load(open("elsewhere/out/k_1.manifest.json"))["recipe_sha256"])')" = "$digest" ]
	printf '[Output]\nLevel=3\n' >>elsewhere/r.ini
	(cd elsewhere && "$INGOT" build --unsigned r.ini -o out2 --quiet)
	[ "$(python3 -c 'import json; print(json.load(open("elsewhere/out2/k_1.manifest.json"))["recipe_sha256"])')" != "$digest" ]
}

run manifest_agrees_with_the_artifacts t_manifest_agrees_with_the_artifacts
run kernels_and_recipe_digest t_kernels_and_recipe_digest
