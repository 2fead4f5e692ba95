#!/bin/bash
# scripts/demo.sh: what `make demo` shows a newcomer: the demo recipe planned, built into a
# reproducible, verity-protected, signed squashfs image, checked by veritysetup and openssl, listed,
# and (as root) its own shell run from the image's contents.
# Verity signing, A/B disks and booting in QEMU join here as those issues land.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=$PWD/$BUILD/ingot
OUT=${OUT:-out}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "ingot plan recipes/demo.ini   (the recipe, validated and resolved)"
"$INGOT" plan recipes/demo.ini

KEYS=$OUT/keys
if [ ! -e "$KEYS/ingot.key" ]; then
	step "ingot keygen $KEYS   (a development key; real fleets sign in CI with their own)"
	"$INGOT" keygen "$KEYS"
fi

step "ingot build recipes/demo.ini -o $OUT --key $KEYS/ingot.key --cert $KEYS/ingot.crt"
"$INGOT" build recipes/demo.ini -o "$OUT" --key "$KEYS/ingot.key" --cert "$KEYS/ingot.crt"
image=$OUT/demo_1.0.0.raw

step "what the image holds (unsquashfs -lln $image)"
unsquashfs -lln "$image" | sed 's/squashfs-root//'

step "sha256 (rebuild it: the bytes are the same, signature included)"
sha256sum "$OUT"/demo_1.0.0.*

step "checked by the tools the kernel and systemd trust: veritysetup and openssl cms"
veritysetup verify "$image" "$OUT/demo_1.0.0.verity" "$(cat "$OUT/demo_1.0.0.roothash")" && echo "veritysetup verify: ok"
printf %s "$(cat "$OUT/demo_1.0.0.roothash")" >"$OUT/.roothash.txt"
openssl cms -verify -binary -inform DER -in "$OUT/demo_1.0.0.roothash.p7s" -content "$OUT/.roothash.txt" \
	-CAfile "$KEYS/ingot.crt" -purpose any -out /dev/null
rm -f "$OUT/.roothash.txt"

if [ "$(id -u)" -eq 0 ]; then
	step "running the image's own /usr/lib/ingot/hello in a chroot of its contents"
	x=$(mktemp -d)
	trap 'rm -rf "$x"' EXIT
	unsquashfs -q -no-progress -d "$x/root" "$image" >/dev/null
	chroot "$x/root" /usr/lib/ingot/hello
fi

step "an A/B disk with the image in slot a (ingot disk), read back by sfdisk"
"$INGOT" disk "$OUT/disk.img" --slot-a "$image"
sfdisk --json "$OUT/disk.img" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    size = "%d MiB" % (p["size"] // 2048) if p["size"] >= 2048 else "%d KiB" % (p["size"] // 2)
    print("  %-13s %8s  %s" % (p["name"], size, p.get("attrs", "")))'
"$INGOT" slot status --disk "$OUT/disk.img"

step "version 2.0.0 (the same recipe with Version= overridden) installed into slot b"
printf 'Include=%s/recipes/demo.ini\n[Image]\nVersion=2.0.0\n' "$PWD" >"$OUT/demo-2.ini"
"$INGOT" build "$OUT/demo-2.ini" -o "$OUT" --key "$KEYS/ingot.key" --cert "$KEYS/ingot.crt" --quiet
"$INGOT" slot install --disk "$OUT/disk.img" --cert "$KEYS/ingot.crt" "$OUT/demo_2.0.0.raw"
"$INGOT" slot status --disk "$OUT/disk.img"

step "done: $image, $OUT/disk.img"
echo "Next: '$INGOT build recipes/debian-minbase.ini --key $KEYS/ingot.key --cert $KEYS/ingot.crt' builds Debian bookworm from packages (about 20 s)."
