#!/bin/bash
# bench/sysext.sh: `ingot sysext build` (a DDI: squashfs, hash tree, GPT) against systemd-repart
# making the same kind of DDI (squashfs via mksquashfs, root + root-verity partitions) from the same
# tree, in the same run, warm page cache, gzip in both. ingot also checks shadowing against the base
# and signs; repart (252) does neither. Prints the ratio.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
TREE=${TREE:-/usr/share/doc}
W=$(mktemp -d /tmp/ingot-bench-sysext.XXXXXX)
trap 'rm -rf "$W"' EXIT
command -v systemd-repart >/dev/null || { echo "systemd-repart missing" >&2; exit 1; }

"$INGOT" keygen "$W/keys" >/dev/null
"$INGOT" build recipes/demo.ini -o "$W/base" --key "$W/keys/ingot.key" --cert "$W/keys/ingot.crt" --quiet
printf '[Extension]\nName=bench\nVersion=1\nBase=%s/base/demo_1.0.0.manifest.json\n[Content]\nCopy=%s/:/usr/lib/bench\n[Output]\nCompression=gzip\n' \
	"$W" "$TREE" >"$W/layer.ini"
mkdir -p "$W/defs"
# repart 252 does not size a squashfs partition from CopyFiles=: give it the tree's size
size=$(du -sb "$TREE" | cut -f1)
printf '[Partition]\nType=root\nFormat=squashfs\nCopyFiles=%s:/usr/lib/bench\nVerity=data\nVerityMatchKey=root\nSizeMinBytes=%s\n' \
	"$TREE" "$((size + 16 * 1048576))" >"$W/defs/10-root.conf"
printf '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\nSizeMinBytes=%s\n' "$((size / 16 + 16 * 1048576))" >"$W/defs/20-verity.conf"
tar -cf - "$TREE" 2>/dev/null | cat >/dev/null # warm the cache

best() { # best OUTPUT CMD...: the fastest of two runs, in seconds, OUTPUT removed before each
	python3 - "$@" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(2):
    subprocess.run(["rm", "-rf", sys.argv[1]], check=True)
    start = time.monotonic()
    subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL)
    runs.append(time.monotonic() - start)
print(min(runs))
PY
}

ingot=$(best "$W/out" "$INGOT" sysext build "$W/layer.ini" -o "$W/out" --key "$W/keys/ingot.key" --cert "$W/keys/ingot.crt" --quiet)
repart=$(best "$W/repart.raw" systemd-repart --definitions="$W/defs" --empty=create --size=auto --dry-run=no "$W/repart.raw")
python3 - "$ingot" "$repart" "$size" "$(stat -c %s "$W/out/bench_1.raw")" "$(stat -c %s "$W/repart.raw")" <<'PY'
import sys
i, r, size, isz, rsz = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"sysext DDI of {size / 2**20:.0f} MiB: ingot sysext build {i:.1f} s ({isz / 2**20:.0f} MiB), "
      f"systemd-repart {r:.1f} s ({rsz / 2**20:.0f} MiB): ingot {r / i:.2f}x as fast")
PY
