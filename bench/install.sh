#!/bin/bash
# bench/install.sh: `ingot slot install` of a >= 1 GiB signed image against `dd` of the same bytes into
# the same partition (conv=fsync) and `veritysetup verify` of what dd wrote, in the same run. Each run
# starts from an unallocated slot (hole punched), a dropped page cache and a warm source image.
# Goal (issue 5): install <= 1.1x the dd time alone: it writes and checks in one pass.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
. bench/lib.sh
W=$(mktemp -d /tmp/ingot-bench-install.XXXXXX)
trap 'losetup -D 2>/dev/null || true; rm -rf "$W"' EXIT

big_image "$W/image.raw"
bytes=$(stat -c %s "$W/image.raw")
"$INGOT" verity "$W/image.raw" >/dev/null
"$INGOT" keygen "$W/keys" >/dev/null
printf %s "$(cat "$W/image.roothash")" >"$W/content"
openssl cms -sign -binary -noattr -outform DER -in "$W/content" -signer "$W/keys/ingot.crt" \
	-inkey "$W/keys/ingot.key" -out "$W/image.roothash.p7s"
"$INGOT" disk "$W/disk.img" --slot-a "$W/image.raw" --esp-size 33M --var-size 1M

read -r start _ < <(part_range "$W/disk.img" root-b)

fresh() { # an unallocated slot b, a cold cache, and the source image read once
	empty_slot_b "$W/disk.img"
	cat "$W/image.raw" "$W/image.verity" >/dev/null
}
dd_slot() {
	dd if="$W/image.raw" of="$W/disk.img" bs=4M seek="$start" oflag=seek_bytes conv=notrunc,fsync status=none
}
verify_slot() {
	local dev
	dev=$(losetup -f --show -r -o "$start" --sizelimit "$bytes" "$W/disk.img")
	veritysetup verify "$dev" "$W/image.verity" "$(cat "$W/image.roothash")"
	losetup -d "$dev"
}

tdd=() tver=() tin=()
for round in 1 2 3; do
	fresh
	tdd+=("$(seconds dd_slot)")
	tver+=("$(seconds verify_slot)")
	fresh
	tin+=("$(seconds "$INGOT" slot install --disk "$W/disk.img" --slot b --cert "$W/keys/ingot.crt" "$W/image.raw")")
done
dd_s=$(median "${tdd[@]}") ver_s=$(median "${tver[@]}") in_s=$(median "${tin[@]}")
printf 'image: %.2f GiB squashfs into a disk image file; %s cores; median of 3\n' \
	"$(echo "$bytes / 1073741824" | bc -l)" "$(nproc)"
printf '%-32s %7.2f s   (%s)\n' "dd conv=fsync" "$dd_s" "${tdd[*]}"
printf '%-32s %7.2f s   (%s)\n' "veritysetup verify" "$ver_s" "${tver[*]}"
printf '%-32s %7.2f s   (%s)\n' "ingot slot install" "$in_s" "${tin[*]}"
printf 'install / dd alone:             %.2fx (goal <= 1.1)\n' "$(echo "$in_s / $dd_s" | bc -l)"
printf 'install / (dd + verify):        %.2fx\n' "$(echo "$in_s / ($dd_s + $ver_s)" | bc -l)"
