#!/bin/bash
# `ingot build --reuse PREVIOUS`: a rebuild takes the blocks an earlier image holds instead of compressing
# them again, and every artifact is the cold build's, byte for byte (cmp): after a change, with nothing
# changed, from a directory of releases, for the signed demo; an earlier image with a damaged block, one
# built at another level and an index that lies about a block's content are not trusted (a warning names
# the image and the byte), and the output is still the cold build's.
. "$(dirname "$0")/../lib.sh"

# same_artifacts COLD WARM NAME: NAME's artifacts in COLD (five at least) are WARM's, byte for byte.
same_artifacts() {
	local f n=0
	for f in "$1/$3".*; do
		cmp "$f" "$2/${f##*/}" || { echo "$2/${f##*/} is not the cold build's"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -ge 5 ] || { echo "$1: $n artifacts of $3"; return 1; }
	[ "$(ls "$1" | grep -c "^$3\.")" = "$(ls "$2" | grep -c "^$3\.")" ] || { ls "$1" "$2"; return 1; }
}

# reuse_counts JSON EXPR: EXPR (Python, over reused and compressed: the build's block_reuse) holds.
reuse_counts() {
	python3 - "$@" <<'PY' || return 1
import json, sys
b = json.load(open(sys.argv[1]))["block_reuse"]
reused, compressed = b["reused"], b["compressed"]
assert eval(sys.argv[2]), "%s: reused %d, compressed %d; expected %s" % (sys.argv[1], reused, compressed, sys.argv[2])
PY
}

# tree DIR: 40 files of 150-300 KB (data blocks and tails) and 300 small ones, of words (compressible)
make_tree() {
	python3 - "$1" <<'PY' || return 1
import os, random, sys
rng = random.Random(11)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(800)]
def text(n):
    return b" ".join(rng.choice(words) for _ in range(n // 5 + 1))[:n]
for i in range(40):
    os.makedirs("%s/big" % sys.argv[1], exist_ok=True)
    open("%s/big/b%02d" % (sys.argv[1], i), "wb").write(text(rng.randint(150000, 300000)))
for i in range(300):
    d = "%s/small/d%d" % (sys.argv[1], i // 30)
    os.makedirs(d, exist_ok=True)
    open("%s/f%03d" % (d, i), "wb").write(text(rng.randint(100, 6000)))
PY
}

# tree_recipe V SRC [LEVEL]: rV.ini, image t_V from tree SRC
tree_recipe() {
	printf '[Image]\nName=t\nVersion=%s\nOsRelease=no\n[Base]\nTree=%s/%s\n[Output]\nSourceDateEpoch=1700000000\n%s' \
		"$1" "$PWD" "$2" "${3:+Level=$3
}" >"r$1.ini"
}

# v1 built cold; v2 (two files changed, one added, one removed) cold and with --reuse of v1
prepare() {
	make_tree tree
	cp -a tree v2
	head -c 2000 /dev/urandom >>v2/big/b07
	echo changed >>v2/small/d3/f095
	echo added >v2/small/d5/new
	rm v2/small/d8/f250
	tree_recipe 1 tree
	tree_recipe 2 v2
	"$INGOT" build --unsigned r1.ini -o one --quiet
	"$INGOT" build --unsigned r2.ini -o cold --quiet
}

t_rebuild_after_a_change() {
	prepare
	"$INGOT" build --unsigned r2.ini -o warm --reuse one/t_1.raw --json >warm.json
	same_artifacts cold warm t_2
	block_index_matches warm/t_2
	# three of 340 files: their blocks and their fragment blocks are compressed, nothing else
	reuse_counts warm.json "reused >= 60 and 1 <= compressed <= 8"
	# the text says it too
	"$INGOT" build --unsigned r2.ini -o text --reuse one/t_1.raw >out.txt
	has out.txt "text/t_2.raw: [0-9]* blocks reused (.* MiB), [0-9]* compressed"
}
run rebuild_after_a_change t_rebuild_after_a_change

t_rebuild_of_the_same() {
	make_tree tree
	tree_recipe 1 tree
	"$INGOT" build --unsigned r1.ini -o one --quiet
	"$INGOT" build --unsigned r1.ini -o again --reuse one --json >again.json
	same_artifacts one again t_1
	reuse_counts again.json "reused >= 60 and compressed == 0"
	# and the signed demo, with its signature
	signed_demo demo 1.0.0
	"$INGOT" build demo-1.0.0.ini -o demo2 --key keys/ingot.key --cert keys/ingot.crt --reuse demo/demo_1.0.0.raw \
		--json >demo.json
	same_artifacts demo demo2 demo_1.0.0
	reuse_counts demo.json "reused > 0 and compressed == 0"
}
run rebuild_of_the_same t_rebuild_of_the_same

# A block of the earlier image flipped: its stored bytes are not its index's; one that decompresses to
# other content than its index says (two content digests swapped): neither is taken, each said once.
t_untrusted_blocks_are_compressed_anew() {
	prepare
	cp -r one dmg
	off=$(python3 -c '
import json
e = [e for e in json.load(open("dmg/t_1.blocks"))["extents"] if e[2] == "data" and e[3] != e[4]]
print(e[5][0] + e[5][1] // 2)')
	flip dmg/t_1.raw "$off"
	"$INGOT" build --unsigned r2.ini -o warm --reuse dmg/t_1.raw --json >warm.json 2>err
	same_artifacts cold warm t_2
	has err "dmg/t_1.raw: 1 of its blocks did not match its block index or their content (the first at byte [0-9]*): compressed anew"
	reuse_counts warm.json "compressed >= 2"

	cp -r one lie
	python3 - <<'PY'
import json
x = json.load(open("lie/t_1.blocks"))
a, b = [e for e in x["extents"] if e[2] == "data" and e[3] != e[4]][1:3]
a[4], b[4] = b[4], a[4]
open("lie/t_1.blocks", "w").write(json.dumps(x, separators=(",", ":")) + "\n")
PY
	"$INGOT" build --unsigned r2.ini -o warm2 --reuse lie/t_1.raw 2>err2 >/dev/null
	same_artifacts cold warm2 t_2
	has err2 "lie/t_1.raw: 2 of its blocks did not match its block index or their content"
}
run untrusted_blocks_are_compressed_anew t_untrusted_blocks_are_compressed_anew

# Built at another level, with no index, an index of another image: not used at all, and said why.
t_unusable_previous_is_said() {
	prepare
	tree_recipe 1 tree 3
	"$INGOT" build --unsigned r1.ini -o level3 --quiet
	"$INGOT" build --unsigned r2.ini -o warm --reuse level3/t_1.raw --json >warm.json 2>err
	same_artifacts cold warm t_2
	has err "level3/t_1.raw: not reused: compressed with compressor 6 level 3, blocks of 131072 bytes; this build: compressor 6 level 15"
	reuse_counts warm.json "reused == 0"

	cp one/t_1.raw noindex.raw
	"$INGOT" build --unsigned r2.ini -o warm2 --reuse noindex.raw --quiet 2>err2
	same_artifacts cold warm2 t_2
	has err2 "noindex.raw: no block index (No such file or directory): not reused"

	cp one/t_1.raw other.raw
	cp cold/t_2.blocks other.blocks
	"$INGOT" build --unsigned r2.ini -o warm3 --reuse other.raw --quiet 2>err3
	same_artifacts cold warm3 t_2
	has err3 "other.raw: not reused: its index is another image's (the superblock differs)"

	exits_1_with "--reuse nothere: No such file or directory" "$INGOT" build --unsigned r2.ini -o none --reuse nothere
	nothing_left none
	mkdir empty
	exits_1_with "empty: no image with a block index (NAME.raw and NAME.blocks) to reuse" \
		"$INGOT" build --unsigned r2.ini -o none --reuse empty
	nothing_left none
}
run unusable_previous_is_said t_unusable_previous_is_said
