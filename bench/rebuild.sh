#!/bin/bash
# bench/rebuild.sh: what a rebuild costs with `ingot build --reuse` of the image before it, in one run, on
# a tree of real files (hard-linked /usr/share, >= 0.5 GiB): v1 built cold; v2 (1% of the files changed,
# 50 added, 50 removed: bench/delta-tree.py) built cold and with --reuse of v1; v1 built again with --reuse
# of itself (nothing changed). Each build from a warm page cache (the tree read once before), wall time and
# peak RSS (/usr/bin/time); every artifact of a --reuse build cmp'd against the cold build's.
# Goals (issue 22): 1% changed <= 0.10x the cold build; nothing changed <= 0.05x; peak RSS <= 256 MiB.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
LEVEL=${LEVEL:-15}
JOBS=${JOBS:-$(nproc)}
W=$(mktemp -d /tmp/ingot-bench-rebuild.XXXXXX)
trap 'rm -rf "$W"' EXIT

cp -al /usr/share "$W/v1" 2>/dev/null || cp -a /usr/share "$W/v1"
bytes=$(du -sb --apparent-size "$W/v1" | cut -f1)
files=$(find "$W/v1" -type f | wc -l)
[ "$bytes" -ge $((512 * 1024 * 1024)) ] || { echo "tree is only $bytes bytes; want >= 0.5 GiB" >&2; exit 1; }
python3 bench/delta-tree.py "$W/v1" "$W/v2" 1 50 50

recipe() { # recipe V TREE: $W/tV.ini
	cat >"$W/t$1.ini" <<EOR
[Image]
Name=t
Version=$1
OsRelease=no
[Base]
Tree=$2
[Output]
Compression=zstd
Level=$LEVEL
BlockSize=128K
SourceDateEpoch=1700000000
EOR
}
recipe 1 "$W/v1"
recipe 2 "$W/v2"

# build NAME V [ARGS...]: tV into $W/NAME; "seconds maxrss_kib" in $W/NAME.time, the --json in NAME.json
build() {
	local name=$1 v=$2
	shift 2
	tar -C "$W/v$v" -cf - . | cat >/dev/null # a warm page cache for every build alike
	/usr/bin/time -f '%e %M' -o "$W/$name.time" "$INGOT" build --unsigned "$W/t$v.ini" -o "$W/$name" -j "$JOBS" \
		--json "$@" >"$W/$name.json" 2>"$W/$name.err" || { cat "$W/$name.err" >&2; exit 1; }
}

# same COLD WARM: every artifact of WARM is COLD's, byte for byte
same() {
	local f
	for f in "$W/$1"/*; do
		cmp "$f" "$W/$2/${f##*/}" || { echo "bench: $2/${f##*/} differs from the cold build's" >&2; exit 1; }
	done
	echo "identical (cmp of $(ls "$W/$1" | wc -l) artifacts)"
}

build cold1 1
build cold2 2
build warm2 2 --reuse "$W/cold1/t_1.raw"
build warm1 1 --reuse "$W/cold1/t_1.raw"

row() { # row LABEL NAME [COLD]
	local t m ratio="" counts
	read -r t m <"$W/$2.time"
	[ $# -lt 3 ] || ratio=$(read -r c _ <"$W/$3.time"; printf '%.3f' "$(echo "$t / $c" | bc -l)")
	counts=$(python3 -c 'import json, sys; b = json.load(open(sys.argv[1]))["block_reuse"]; print(b["reused"], b["compressed"])' "$W/$2.json")
	read -r reused compressed <<<"$counts"
	printf '  %-30s %8.2f %8s %9.0f %8d %10d\n' "$1" "$t" "$ratio" "$(echo "$m / 1024" | bc -l)" "$reused" "$compressed"
}
printf 'tree: %d files, %.2f GiB (hard-linked /usr/share); zstd level %s, 128 KiB blocks, %s threads\n' "$files" \
	"$(echo "$bytes / 1073741824" | bc -l)" "$LEVEL" "$JOBS"
printf '  %-30s %8s %8s %9s %8s %10s\n' build seconds x-cold RSS-MiB reused compressed
row "v1 cold" cold1
row "v2 (1% changed) cold" cold2
row "v2 --reuse v1" warm2 cold2
row "v1 again --reuse v1" warm1 cold1
printf '  v2 --reuse v1 against v2 cold: %s\n' "$(same cold2 warm2)"
printf '  v1 --reuse v1 against v1 cold: %s\n' "$(same cold1 warm1)"
read -r c2 _ <"$W/cold2.time"
read -r w2 r2 <"$W/warm2.time"
read -r c1 _ <"$W/cold1.time"
read -r w1 r1 <"$W/warm1.time"
printf '1%% changed: %.3f of the cold build (goal <= 0.10); nothing changed: %.3f (goal <= 0.05); peak RSS %.0f MiB (goal <= 256)\n' \
	"$(echo "$w2 / $c2" | bc -l)" "$(echo "$w1 / $c1" | bc -l)" "$(echo "$((r1 > r2 ? r1 : r2)) / 1024" | bc -l)"
