#!/bin/bash
# NAME_VERSION.blocks, the image's block index, checked against outside tools: its extents tile the image
# with the SHA-256 of their bytes (hashlib), its data blocks are those rdsquashfs lists, its fragment
# count unsquashfs's; it is reproducible, listed in the manifest and in a published release's signed index.
. "$(dirname "$0")/../lib.sh"

t_block_index_describes_the_demo_image() {
	signed_demo out 1.0.0
	block_index_matches out/demo_1.0.0
	# one extent for each block: the index stays a small part of the image
	python3 - <<'PY'
import os
size, image = os.path.getsize("out/demo_1.0.0.blocks"), os.path.getsize("out/demo_1.0.0.raw")
assert size * 100 <= image, (size, image)
PY
}
run block_index_describes_the_demo_image t_block_index_describes_the_demo_image

# Every kind of entry, compressor options (a zstd level) ahead of the data, hard links, a sparse file,
# xattrs, and a file whose blocks are another's (deduplicated: written, then taken back).
t_block_index_describes_a_full_tree() {
	NO_SOCKET=1 make_full_tree tree
	head -c 1000000 /dev/urandom >tree/bin/big
	cp tree/bin/big tree/etc/big-copy
	printf '[Image]\nName=full\nVersion=1\n[Base]\nTree=%s/tree\n[Output]\nCompression=zstd\nLevel=19\n' "$PWD" >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	block_index_matches out/full_1
	python3 - <<'PY'
import json
x = json.load(open("out/full_1.blocks"))["extents"]
assert x[1][2] == "metadata", x[:2]  # zstd's options at level 19, between the superblock and the data
PY
	"$INGOT" build --unsigned r.ini -o again --quiet
	cmp out/full_1.blocks again/full_1.blocks
}
run block_index_describes_a_full_tree t_block_index_describes_a_full_tree

t_block_index_is_in_the_manifest_and_the_release() {
	signed_demo out 1.0.0
	"$INGOT" publish out pub --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	cmp out/demo_1.0.0.blocks pub/demo_1.0.0.blocks
	grep -q " demo_1.0.0.blocks\$" pub/SHA256SUMS
	(cd pub && sha256sum -c --quiet --ignore-missing SHA256SUMS)
	openssl cms -verify -binary -inform DER -in pub/index.json.p7s -content pub/index.json -CAfile keys/ingot.crt \
		-purpose any -out /dev/null 2>/dev/null
	sum=$(sha256sum out/demo_1.0.0.blocks | cut -d' ' -f1)
	python3 - "$sum" <<'PY'
import json, sys
m = json.load(open("out/demo_1.0.0.manifest.json"))
assert m["artifacts"]["blocks"] == {"file": "demo_1.0.0.blocks", "size": m["artifacts"]["blocks"]["size"],
                                    "sha256": sys.argv[1]}, m["artifacts"]
(e,) = json.load(open("pub/index.json"))["versions"]
assert (e["blocks"], e["blocks_sha256"]) == ("demo_1.0.0.blocks", sys.argv[1]), e
PY
}
run block_index_is_in_the_manifest_and_the_release t_block_index_is_in_the_manifest_and_the_release

# Layout stability (docs/block-index.md): fragment blocks end where the files' paths say, so a grown, an
# added and a removed small file rewrite their own fragment blocks, not the ones after them; the closes
# are there (more blocks than packing until full gives) and every file reads back as it was. Packing
# in arrival order, as libsquashfs alone does, rewrote 17 of this tree's 65 fragment blocks.
t_block_index_changes_stay_local() {
	plain_pass_only "two builds of 2,000 files and Python's reading of their indexes: the ASan pass builds and indexes in every other test"
	python3 - <<'PY'
import os, random
rng = random.Random(7)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(500)]
for i in range(2000):
    d = "tree/d%02d" % (i // 50)
    os.makedirs(d, exist_ok=True)
    size = rng.randint(200, 8000)
    text = b" ".join(rng.choice(words) for _ in range(size // 5))[:size]
    open("%s/f%04d" % (d, i), "wb").write(text)
PY
	cp -a tree v2
	head -c 3000 /dev/urandom >>v2/d01/f0060
	printf 'a new file\n%.0s' {1..300} >v2/d20/added
	rm v2/d30/f1510
	for v in 1 2; do
		src=tree
		if [ $v = 2 ]; then src=v2; fi
		printf '[Image]\nName=t\nVersion=%s\nOsRelease=no\n[Base]\nTree=%s/%s\n[Output]\nSourceDateEpoch=1700000000\n' $v "$PWD" $src >r$v.ini
		"$INGOT" build --unsigned r$v.ini -o out --quiet
		block_index_matches out/t_$v
	done
	unsquashfs -q -n -d back out/t_1.raw >/dev/null
	diff -r tree back
	python3 - <<'PY'
import json, os
def fragments(v):
    return [e for e in json.load(open("out/t_%s.blocks" % v))["extents"] if e[2] == "fragment"]
one, two = fragments(1), fragments(2)
new = [e for e in two if e[3] not in {f[3] for f in one}]
assert len(new) <= 6, ("three changes rewrote %d of %d fragment blocks" % (len(new), len(two)))
tails = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk("tree") for n in ns)
assert len(one) * 131072 >= 1.5 * tails, ("fragment blocks no more than packing until full", len(one), tails)
PY
}
run block_index_changes_stay_local t_block_index_changes_stay_local
