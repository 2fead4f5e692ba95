# bench/lib.sh: sourced by the install benches: the >= 1 GiB image, a partition's place, an emptied
# slot, a cold cache, a timer and the median of three.

# big_image PATH: a squashfs of the host's libraries and programs, padded to 4 KiB; >= 1 GiB or fails.
# Its /usr/lib/os-release says IMAGE_ID=bench IMAGE_VERSION=1.0.0, what bench/install-http.sh's
# manifest says: an install checks that the bytes it wrote are the image the index named.
big_image() {
	local src
	src=$(mktemp -d)
	mkdir -p "$src/usr/lib"
	printf 'ID=bench
IMAGE_ID=bench
IMAGE_VERSION=1.0.0
' >"$src/usr/lib/os-release"
	mksquashfs /usr/lib/x86_64-linux-gnu /usr/bin "$src/usr" "$1" -noI -noD -noF -noX -no-progress -quiet >/dev/null
	rm -rf "$src"
	truncate -s %4096 "$1"
	local bytes
	bytes=$(stat -c %s "$1")
	[ "$bytes" -ge $((1024 * 1024 * 1024)) ] || { echo "image is only $bytes bytes; want >= 1 GiB" >&2; return 1; }
}

# part_range DISK LABEL: "START SIZE" in bytes, as sfdisk reads the partition.
part_range() {
	sfdisk --json "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
p = [p for p in t["partitions"] if p["name"] == sys.argv[1]][0]
print(p["start"] * 512, p["size"] * 512)' "$2"
}

# empty_slot_b DISK: slot b unbootable and its root and verity partitions unallocated, then a cold cache.
empty_slot_b() {
	local start size
	"$INGOT" slot mark-bad b --disk "$1" >/dev/null 2>&1 || true
	for p in root-b verity-b; do
		read -r start size < <(part_range "$1" "$p")
		fallocate --punch-hole -o "$start" -l "$size" "$1"
	done
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches
	return 0
}

seconds() { # seconds CMD...
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null || { echo "bench: failed: $*" >&2; return 1; } # a failed run is no measurement
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000000 ))" | awk '{ printf "%.3f", $1 / 1000 }'
}

median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
