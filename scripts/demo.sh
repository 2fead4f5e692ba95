#!/bin/bash
# scripts/demo.sh: what `make demo` shows a newcomer: the demo recipe planned, built into a
# reproducible squashfs image, listed, and (as root) its own shell run from the image's contents.
# Verity signing, A/B disks and booting in QEMU join here as those issues land.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=$PWD/$BUILD/ingot
OUT=${OUT:-out}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "ingot plan recipes/demo.ini   (the recipe, validated and resolved)"
"$INGOT" plan recipes/demo.ini

step "ingot build recipes/demo.ini -o $OUT"
"$INGOT" build recipes/demo.ini -o "$OUT"
image=$OUT/demo_1.0.0.raw

step "what the image holds (unsquashfs -lln $image)"
unsquashfs -lln "$image" | sed 's/squashfs-root//'

step "sha256 (rebuild it: the bytes are the same)"
sha256sum "$image"

if [ "$(id -u)" -eq 0 ]; then
	step "running the image's own /usr/lib/ingot/hello in a chroot of its contents"
	x=$(mktemp -d)
	trap 'rm -rf "$x"' EXIT
	unsquashfs -q -no-progress -d "$x/root" "$image" >/dev/null
	chroot "$x/root" /usr/lib/ingot/hello
fi

step "done: $image"
echo "Next: 'ingot build recipes/debian-minbase.ini' builds Debian bookworm from packages (about a minute)."
