#!/bin/bash
# bench/delta.sh: what an update from one image to the next fetches, on two pairs in one run: (a) a tree
# of real files (hard-linked /usr/share, >= 0.5 GiB) and the same with 1% of its files changed, 50 added
# and 50 removed (bench/delta-tree.py); (b) two Debian trees as a real update differs: bookworm's point
# release, then the same with bookworm-security and bookworm-updates (mmdebstrap, the same packages).
# For each: ingot by the block index (extents of the new image whose SHA-256 the old one lacks), casync
# (`casync make` of both images, the new store's chunks the old store lacks), the full image, and the
# lower bound (the changed files compressed alone + the metadata tables). Goals (issue 21): ingot
# <= 1/4 of casync and <= 2x the lower bound. PAIRS="a" runs one pair only.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
LEVEL=${LEVEL:-15}
JOBS=${JOBS:-$(nproc)}
PAIRS=${PAIRS:-a b}
W=$(mktemp -d /tmp/ingot-bench-delta.XXXXXX)
trap 'rm -rf "$W"' EXIT
command -v casync >/dev/null || { echo "bench: casync is not installed (scripts/install-deps.sh)" >&2; exit 1; }

build() { # build NAME VERSION TREE: $W/out/NAME_VERSION.{raw,blocks}
	cat >"$W/$1_$2.ini" <<EOR
[Image]
Name=$1
Version=$2
OsRelease=no
[Base]
Tree=$3
[Output]
Compression=zstd
Level=$LEVEL
BlockSize=128K
EOR
	"$INGOT" build --unsigned "$W/$1_$2.ini" -o "$W/out" -j "$JOBS" --quiet
}

casync_fetched() { # casync_fetched OLD.raw NEW.raw: bytes of NEW's chunks (as stored) OLD's store lacks
	rm -rf "$W/cs-old" "$W/cs-new"
	casync make --store="$W/cs-old" "$W/old.caibx" "$1" >/dev/null
	casync make --store="$W/cs-new" "$W/new.caibx" "$2" >/dev/null
	python3 - "$W/cs-old" "$W/cs-new" <<'EOP'
import os, sys
def chunks(store):
    return {n: os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(store) for n in ns if n.endswith(".cacnk")}
old, new = chunks(sys.argv[1]), chunks(sys.argv[2])
print(sum(size for name, size in new.items() if name not in old))
EOP
}

mib() { echo "$1" | awk '{ printf "%.1f", $1 / 1048576 }'; }
pct() { echo "$1 $2" | awk '{ printf "%.1f%%", 100 * $1 / $2 }'; }

pair() { # pair LABEL NAME V1 V2
	local label=$1 name=$2 full ingot casync_bytes bound kinds
	build "$name" 1 "$3"
	build "$name" 2 "$4"
	full=$(stat -c %s "$W/out/${name}_2.raw")
	python3 bench/delta-bytes.py "$W/out/${name}_1.blocks" "$W/out/${name}_2.blocks" >"$W/$name.ingot.json"
	python3 bench/delta-lower-bound.py "$3" "$4" "$W/out/${name}_2.blocks" "$LEVEL" >"$W/$name.bound.json"
	casync_bytes=$(casync_fetched "$W/out/${name}_1.raw" "$W/out/${name}_2.raw")
	ingot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fetched"])' "$W/$name.ingot.json")
	kinds=$(python3 -c 'import json,sys; print(" ".join("%s %.1f MiB" % (k, v / 1048576) for k, v in sorted(json.load(open(sys.argv[1]))["by_kind"].items())))' "$W/$name.ingot.json")
	bound=$(python3 -c 'import json,sys; b = json.load(open(sys.argv[1])); print(b["bound"], b["files"], b["content"], b["metadata"])' "$W/$name.bound.json")
	read -r bound files content metadata <<<"$bound"
	echo "pair ($label): $files files changed or added; image $(mib "$full") MiB"
	printf '  %-22s %10s %8s\n' what MiB "of image"
	printf '  %-22s %10s %8s\n' "full download" "$(mib "$full")" 100%
	printf '  %-22s %10s %8s\n' casync "$(mib "$casync_bytes")" "$(pct "$casync_bytes" "$full")"
	printf '  %-22s %10s %8s   (%s)\n' "ingot, by the index" "$(mib "$ingot")" "$(pct "$ingot" "$full")" "$kinds"
	printf '  %-22s %10s %8s   (content %s MiB, metadata %s MiB)\n' "lower bound" "$(mib "$bound")" \
		"$(pct "$bound" "$full")" "$(mib "$content")" "$(mib "$metadata")"
	printf '  ingot/casync %.2f (goal <= 0.25); ingot/lower bound %.2f (goal <= 2)\n' \
		"$(echo "$ingot / $casync_bytes" | bc -l)" "$(echo "$ingot / $bound" | bc -l)"
}

for p in $PAIRS; do
	case $p in
	a)
		mkdir -p "$W/a"
		cp -al /usr/share "$W/a/v1" 2>/dev/null || cp -a /usr/share "$W/a/v1"
		bytes=$(du -sb --apparent-size "$W/a/v1" | cut -f1)
		[ "$bytes" -ge $((512 * 1024 * 1024)) ] || { echo "tree is only $bytes bytes; want >= 0.5 GiB" >&2; exit 1; }
		python3 bench/delta-tree.py "$W/a/v1" "$W/a/v2" 1 50 50
		pair a tree "$W/a/v1" "$W/a/v2"
		rm -rf "$W/a" "$W/out"/tree_*
		;;
	b)
		# the same packages, bookworm's point release then with its security and stable updates
		pkgs=systemd,systemd-sysv,udev,openssh-server,curl,ca-certificates,iproute2,less,procps,kmod
		export SOURCE_DATE_EPOCH=1700000000
		mkdir -p "$W/b"
		mmdebstrap --quiet --variant=minbase --include="$pkgs" bookworm "$W/b/v1" \
			"deb http://deb.debian.org/debian bookworm main"
		mmdebstrap --quiet --variant=minbase --include="$pkgs" bookworm "$W/b/v2" \
			"deb http://deb.debian.org/debian bookworm main" \
			"deb http://deb.debian.org/debian bookworm-updates main" \
			"deb http://deb.debian.org/debian-security bookworm-security main"
		# systemd's tmpfiles put POSIX ACLs on /var/log/journal, which squashfs cannot store
		python3 - "$W/b/v1" "$W/b/v2" <<'EOP'
import os, sys
for top in sys.argv[1:]:
    for root, dirs, names in os.walk(top):
        for p in [root] + [os.path.join(root, n) for n in names]:
            for a in ("system.posix_acl_access", "system.posix_acl_default"):
                try:
                    os.removexattr(p, a, follow_symlinks=False)
                except OSError:
                    pass
EOP
		pair b debian "$W/b/v1" "$W/b/v2"
		rm -rf "$W/b" "$W/out"/debian_*
		;;
	*) echo "bench: no pair '$p' (a, b)" >&2; exit 1 ;;
	esac
done
echo "install time from nginx on 127.0.0.1: not measured; the install seeded from both slots is not built yet (issue 21)"
