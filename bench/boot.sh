#!/bin/bash
# bench/boot.sh: seconds from `ingot vm` start to the image's ready marker (kernel, ingot initrd: slot
# choice and try count, signature check, dm-verity, squashfs, var, switch root) against a plain
# `qemu-system-x86_64 -kernel ... -initrd ...` boot of the same kernel with a minimal busybox initrd
# that prints the marker from its /init, in the same run, same QEMU machine (TCG here), alternating.
# Goal (issue 6): ingot's boot within 1.5x of the plain one.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
RUNS=${RUNS:-5}
ACCEL=${ACCEL:-tcg}
CPU=$([ "$ACCEL" = kvm ] && echo host || echo max) # as ingot vm runs it
W=$(mktemp -d /tmp/ingot-bench-boot.XXXXXX)
trap 'rm -rf "$W"' EXIT
KERNEL=$(ls /boot/vmlinuz-* | sort -V | tail -1)

# the image: the demo recipe with an init that prints the marker and powers off
printf '#!/bin/sh\necho BOOT-READY\npoweroff -f\n' >"$W/ready"
printf 'Include=%s/recipes/demo.ini\n[Content]\nCopy=%s/ready:/usr/lib/bench/ready\nMode=/usr/lib/bench/ready:0755\n' \
	"$PWD" "$W" >"$W/bench.ini"
"$INGOT" keygen "$W/keys" >/dev/null
"$INGOT" build "$W/bench.ini" -o "$W/out" --key "$W/keys/ingot.key" --cert "$W/keys/ingot.crt" --quiet
"$INGOT" initrd -o "$W/initrd.zst" --cert "$W/keys/ingot.crt" --init "$PWD/$BUILD/ingot-init"
"$INGOT" disk "$W/disk.img" --slot-a "$W/out/demo_1.0.0.raw" --esp-size 33M --var-size 8M

# the peer: busybox as /init, compressed the same way
mkdir -p "$W/plain/bin" "$W/plain/dev" "$W/plain/proc"
cp /bin/busybox "$W/plain/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox echo BOOT-READY\n/bin/busybox poweroff -f\n' >"$W/plain/init"
chmod 0755 "$W/plain/init"
(cd "$W/plain" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | zstd -q -19 >"$W/plain.zst")

ms() { echo $(( $(date +%s%N) / 1000000 )); }
ingot_boot() {
	local t0
	t0=$(ms)
	"$INGOT" vm "$W/disk.img" --kernel "$KERNEL" --initrd "$W/initrd.zst" --accel "$ACCEL" --timeout 120 \
		--expect BOOT-READY --append "quiet init=/usr/lib/bench/ready" >"$W/ingot.log" 2>&1
	echo $(( $(ms) - t0 ))
}
plain_boot() {
	local t0
	t0=$(ms)
	timeout 120 qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -m 1G -smp 2 -display none -monitor none -serial stdio \
		-no-user-config -nodefaults -kernel "$KERNEL" -initrd "$W/plain.zst" \
		-append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 | { grep -m1 -q BOOT-READY && ms >"$W/plain.t"; } || true
	[ -s "$W/plain.t" ] || { echo "the plain boot printed no marker" >&2; exit 1; }
	echo $(( $(cat "$W/plain.t") - t0 ))
	rm -f "$W/plain.t"
}

ti=() tp=()
for i in $(seq "$RUNS"); do
	tp+=("$(plain_boot)")
	ti+=("$(ingot_boot)")
	echo "run $i: plain ${tp[-1]} ms, ingot ${ti[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mp=$(median "${tp[@]}")
mi=$(median "${ti[@]}")
grep -q "ingot-init: booting slot a" "$W/ingot.log"
awk -v i="$mi" -v p="$mp" -v a="$ACCEL" -v n="$RUNS" 'BEGIN {
	printf "boot to the marker (%s, median of %d): ingot %.2f s, plain qemu -kernel -initrd busybox %.2f s: %.2fx (goal <= 1.5x)\n",
	       a, n, i / 1000, p / 1000, i / p }'
