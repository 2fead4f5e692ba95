#!/bin/bash
# bench/delta.sh: what an update from one image to the next fetches, on two pairs in one run: (a) a tree
# of real files (hard-linked /usr/share, >= 0.5 GiB) and the same with 1% of its files changed, 50 added
# and 50 removed (bench/delta-tree.py); (b) two Debian trees as a real update differs: bookworm's point
# release, then the same with bookworm-security and bookworm-updates (mmdebstrap, the same packages).
# For each: ingot by the block index (extents of the new image whose SHA-256 the old one lacks), casync
# (`casync make` of both images, the new store's chunks the old store lacks), the full image, and the
# lower bound (the changed files compressed alone + the metadata tables). Then v2 installed over a disk
# whose slot a holds v1, from nginx on 127.0.0.1, seeded and with --full (median of three, each from an
# emptied slot b and a dropped page cache, the served files warm), on loopback and limited to 1 Gbit/s:
# the bytes it fetched and its time. Goals (issue 21): ingot
# <= 1/4 of casync and <= 2x the lower bound; install time <= 1.1x the full install. PAIRS="a" runs
# one pair only.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
LEVEL=${LEVEL:-15}
JOBS=${JOBS:-$(nproc)}
PAIRS=${PAIRS:-a b}
. tests/tools/nginx.sh
. bench/lib.sh
W=$(mktemp -d /tmp/ingot-bench-delta.XXXXXX)
trap 'nginx_stop; rm -rf "$W"' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
command -v casync >/dev/null || { echo "bench: casync is not installed (scripts/install-deps.sh)" >&2; exit 1; }
"$INGOT" keygen "$W/keys" >/dev/null
mkdir -p "$W/www"
ln -s . "$W/www/gbit" # the same files, sent at most at 1 Gbit/s
nginx_start "$W/nginx" "$W/www"

build() { # build NAME VERSION TREE: $W/out/NAME_VERSION.{raw,blocks}
	cat >"$W/$1_$2.ini" <<EOR
[Image]
Name=$1
Version=$2
[Base]
Tree=$3
[Output]
Compression=zstd
Level=$LEVEL
BlockSize=128K
EOR
	"$INGOT" build "$W/$1_$2.ini" -o "$W/out/$1_$2" -j "$JOBS" --quiet --key "$W/keys/ingot.key" --cert "$W/keys/ingot.crt"
}

# install PATH ARGS...: v2 into slot b of $W/disk.img from the release at $W/www/PATH, after emptying b;
# prints "seconds fetched" (the image's bytes the install fetched, by its --json result).
install() {
	local name=$1 t0 t1
	shift
	empty_slot_b "$W/disk.img"
	cat "$W/www/$name"/*.raw "$W/www/$name"/*.verity >/dev/null # a warm server, as a CDN's would be
	t0=$(date +%s%N)
	"$INGOT" slot install --disk "$W/disk.img" --cert "$W/keys/ingot.crt" --json "$@" \
		"http://127.0.0.1:$NGINX_PORT/$name/" >"$W/install.json" || { echo "bench: the install failed" >&2; return 1; }
	t1=$(date +%s%N)
	python3 -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1])][-1]; assert r["installed"]; print("%.3f %d" % (int(sys.argv[2]) / 1e9, r["fetched"]))' \
		"$W/install.json" $((t1 - t0))
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
	local label=$1 name=$2 full ingot casync_bytes bound kinds v1 v2
	build "$name" 1 "$3"
	build "$name" 2 "$4"
	v1=$W/out/${name}_1/${name}_1
	v2=$W/out/${name}_2/${name}_2
	full=$(stat -c %s "$v2.raw")
	python3 bench/delta-bytes.py "$v1.blocks" "$v2.blocks" >"$W/$name.ingot.json"
	python3 bench/delta-lower-bound.py "$3" "$4" "$v2.blocks" "$LEVEL" >"$W/$name.bound.json"
	casync_bytes=$(casync_fetched "$v1.raw" "$v2.raw")
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

	# the install itself, from nginx: seeded from slot a (v1), and whole
	for v in 1 2; do
		"$INGOT" publish "$W/out/${name}_$v" "$W/www/$name" --key "$W/keys/ingot.key" --cert "$W/keys/ingot.crt" >/dev/null
	done
	"$INGOT" disk "$W/disk.img" --slot-a "$v1.raw" --esp-size 33M --var-size 1M --slot-size $((full * 3 / 2 / 1048576 + 8))M >/dev/null
	local fetched t f r where
	for where in "$name" "gbit/$name"; do
		local seeded=() whole=()
		for _ in 1 2 3; do
			r=$(install "$where")
			read -r t f <<<"$r"
			seeded+=("$t")
			fetched=$f
			r=$(install "$where" --full)
			read -r t f <<<"$r"
			whole+=("$t")
		done
		local ts tw
		ts=$(median "${seeded[@]}")
		tw=$(median "${whole[@]}")
		printf '  install from nginx%s: seeded %.2f s (fetched %s MiB of the image, and the hash tree), full %.2f s; seeded/full %.2f%s\n' \
			"$([ "$where" = "$name" ] && echo "" || echo " at 1 Gbit/s")" "$ts" "$(mib "$fetched")" "$tw" \
			"$(echo "$ts / $tw" | bc -l)" "$([ "$where" = "$name" ] && echo " (goal <= 1.1)" || echo "")"
	done
	rm -rf "$W/www/$name" "$W/disk.img"
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
		rm -rf "$W/a" "$W/out"
		;;
	b)
		# the same packages, bookworm's point release then with its security and stable updates
		pkgs=systemd,systemd-sysv,udev,openssh-server,curl,ca-certificates,iproute2,less,procps,kmod
		mkdir -p "$W/b"
		SOURCE_DATE_EPOCH=1700000000 mmdebstrap --quiet --variant=minbase --include="$pkgs" bookworm "$W/b/v1" \
			"deb http://deb.debian.org/debian bookworm main"
		SOURCE_DATE_EPOCH=1700000000 mmdebstrap --quiet --variant=minbase --include="$pkgs" bookworm "$W/b/v2" \
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
		rm -rf "$W/b" "$W/out"
		;;
	*) echo "bench: no pair '$p' (a, b)" >&2; exit 1 ;;
	esac
done
