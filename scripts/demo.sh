#!/bin/bash
# scripts/demo.sh: what `make demo` shows a newcomer: the demo recipe planned, built into a
# reproducible, verity-protected, signed squashfs image, checked by veritysetup and openssl, listed,
# (as root) its own shell run from the image's contents; then an A/B disk booted in QEMU, version 2
# installed into slot b, and the reboot into it.
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

step "the bootable image: recipes/vm-test.ini, the demo plus ingot itself and an init that checks its health and marks its slot good"
for v in 1.0.0 2.0.0; do # this build's ingot inside, whatever $BUILD is
	printf 'Include=%s/recipes/vm-test.ini\n[Image]\nVersion=%s\n[Content]\nBinaries=%s:/usr/bin/ingot\n' \
		"$PWD" "$v" "$INGOT" >"$OUT/vm-test-$v.ini"
	"$INGOT" build "$OUT/vm-test-$v.ini" -o "$OUT" --key "$KEYS/ingot.key" --cert "$KEYS/ingot.crt" --quiet
done
ls -l "$OUT"/vm-test_*.raw

step "ingot disk $OUT/disk.img --slot-a $OUT/vm-test_1.0.0.raw   (an A/B disk, read back by sfdisk)"
rm -f "$OUT/disk.img"
"$INGOT" disk "$OUT/disk.img" --slot-a "$OUT/vm-test_1.0.0.raw"
sfdisk --json "$OUT/disk.img" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    size = "%d MiB" % (p["size"] // 2048) if p["size"] >= 2048 else "%d KiB" % (p["size"] // 2)
    print("  %-13s %8s  %s" % (p["name"], size, p.get("attrs", "")))'

step "ingot initrd -o $OUT/initrd.zst --cert $KEYS/ingot.crt   (the init, its modules and libraries, the trusted certificate)"
"$INGOT" initrd -o "$OUT/initrd.zst" --cert "$KEYS/ingot.crt" --init "$PWD/$BUILD/ingot-init"
ls -l "$OUT/initrd.zst"

boot() {
	"$INGOT" vm "$OUT/disk.img" --initrd "$OUT/initrd.zst" --expect INGOT-READY --timeout 300 \
		--append "quiet init=/usr/lib/ingot-test/init"
}
step "ingot vm $OUT/disk.img --initrd $OUT/initrd.zst --expect INGOT-READY   (Debian's kernel in QEMU: slot a boots)"
boot

step "before: ingot slot status --disk $OUT/disk.img"
"$INGOT" slot status --disk "$OUT/disk.img"

step "ingot slot install --disk $OUT/disk.img $OUT/vm-test_2.0.0.raw   (into the inactive slot, b)"
"$INGOT" slot install --disk "$OUT/disk.img" --cert "$KEYS/ingot.crt" "$OUT/vm-test_2.0.0.raw"

step "reboot: b boots on trial, counts its try, passes its health check and marks itself good"
boot

step "after: ingot slot status --disk $OUT/disk.img"
"$INGOT" slot status --disk "$OUT/disk.img"

step "done: $image, $OUT/disk.img, $OUT/initrd.zst"
echo "Boot it yourself:  $INGOT vm $OUT/disk.img --initrd $OUT/initrd.zst   (busybox init and a shell; poweroff -f leaves)"
echo "Next: '$INGOT build recipes/debian-minbase.ini --key $KEYS/ingot.key --cert $KEYS/ingot.crt' builds Debian bookworm from packages (about 20 s)."
