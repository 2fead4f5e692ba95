#!/bin/bash
# bench/build.sh: ingot build against mksquashfs on the same large real tree (hard-linked copies of
# /usr/share, /usr/bin and /usr/lib/x86_64-linux-gnu, at least 1 GiB), same compressor, level, block
# size and thread count, in the same run. Prints wall time and peak RSS of both, and the ratios.
# Goals: time ratio <= 0.9, ingot peak RSS <= 256 MiB; and for a signed, verity-protected image,
# ingot <= 0.8 of the mksquashfs + veritysetup format + openssl cms -sign pipeline.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
LEVEL=${LEVEL:-15}
JOBS=${JOBS:-$(nproc)}
W=$(mktemp -d /tmp/ingot-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/tree"
# hard-linked copies: the data is real and shared, the tree is ours to point both tools at
for d in /usr/share /usr/bin /usr/lib/x86_64-linux-gnu; do
	cp -al "$d" "$W/tree/$(basename "$d")" 2>/dev/null || cp -a "$d" "$W/tree/$(basename "$d")"
done
bytes=$(du -sb --apparent-size "$W/tree" | cut -f1)
files=$(find "$W/tree" -type f | wc -l)
[ "$bytes" -ge $((1024 * 1024 * 1024)) ] || { echo "tree is only $bytes bytes; want >= 1 GiB" >&2; exit 1; }

cat >"$W/bench.ini" <<EOR
[Image]
Name=bench
Version=1
OsRelease=no
[Base]
Tree=$W/tree
[Output]
Compression=zstd
Level=$LEVEL
BlockSize=128K
EOR

measure() { # measure OUTFILE CMD... -> "seconds maxrss_kib"
	local out=$1
	shift
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	/usr/bin/time -f '%e %M' -o "$out" "$@" >/dev/null 2>"$out.err" || { cat "$out.err" >&2; exit 1; }
}

# warm the page cache once so neither tool pays for the first read alone
tar -C "$W/tree" -cf - . | cat >/dev/null

measure "$W/ingot.time" "$INGOT" build --unsigned "$W/bench.ini" -o "$W/out" -j "$JOBS" --quiet
tar -C "$W/tree" -cf - . | cat >/dev/null
measure "$W/mksq.time" mksquashfs "$W/tree" "$W/mksquashfs.sqfs" -comp zstd -Xcompression-level "$LEVEL" \
	-b 131072 -processors "$JOBS" -no-progress -quiet

# The pipeline ingot replaces: mksquashfs, then veritysetup format, then openssl cms -sign, against
# ingot building, hashing and signing in one pass (same key).
openssl req -x509 -newkey rsa:3072 -nodes -keyout "$W/k.key" -out "$W/k.crt" -subj /CN=bench -days 2 2>/dev/null
tar -C "$W/tree" -cf - . | cat >/dev/null
measure "$W/signed.time" "$INGOT" build "$W/bench.ini" -o "$W/signed" -j "$JOBS" --quiet --key "$W/k.key" --cert "$W/k.crt"
tar -C "$W/tree" -cf - . | cat >/dev/null
cat >"$W/pipeline.sh" <<EOP
set -e
mksquashfs "$W/tree" "$W/p.sqfs" -comp zstd -Xcompression-level $LEVEL -b 131072 -processors $JOBS -no-progress -quiet >/dev/null
veritysetup format "$W/p.sqfs" "$W/p.verity" | sed -n 's/^Root hash:[[:space:]]*//p' | tr -d '\n' >"$W/p.roothash"
openssl cms -sign -binary -nosmimecap -noattr -outform DER -in "$W/p.roothash" -signer "$W/k.crt" -inkey "$W/k.key" -out "$W/p.p7s"
EOP
measure "$W/pipeline.time" bash "$W/pipeline.sh"

read -r it ir <"$W/ingot.time"
read -r mt mr <"$W/mksq.time"
read -r st _ <"$W/signed.time"
read -r pt _ <"$W/pipeline.time"
isz=$(stat -c %s "$W/out/bench_1.raw")
msz=$(stat -c %s "$W/mksquashfs.sqfs")
printf 'tree: %d files, %.2f GiB; zstd level %s, 128 KiB blocks, %s threads\n' "$files" \
	"$(echo "$bytes / 1073741824" | bc -l)" "$LEVEL" "$JOBS"
printf '%-12s %9s %12s %12s\n' tool seconds peak-RSS-MiB image-MiB
printf '%-12s %9.1f %12.1f %12.1f\n' ingot "$it" "$(echo "$ir / 1024" | bc -l)" "$(echo "$isz / 1048576" | bc -l)"
printf '%-12s %9.1f %12.1f %12.1f\n' mksquashfs "$mt" "$(echo "$mr / 1024" | bc -l)" "$(echo "$msz / 1048576" | bc -l)"
printf 'time ratio ingot/mksquashfs: %.2f (goal <= 0.90)\n' "$(echo "$it / $mt" | bc -l)"
printf 'ingot peak RSS: %.0f MiB (goal <= 256)\n' "$(echo "$ir / 1024" | bc -l)"
printf 'signed image: ingot %.1f s, mksquashfs + veritysetup format + openssl cms -sign %.1f s\n' "$st" "$pt"
printf 'time ratio ingot/pipeline: %.2f (goal <= 0.80)\n' "$(echo "$st / $pt" | bc -l)"
