#!/bin/bash
# The shipped recipes build: the demo (offline, reproducible, runnable in a chroot) and Debian
# bookworm minbase from packages (mmdebstrap streamed, never unpacked), checked as Debian ships it.
. "$(dirname "$0")/../lib.sh"

t_demo() {
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out1 --quiet
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out2 --quiet
	cmp out1/demo_1.0.0.raw out2/demo_1.0.0.raw
	unsquashfs -lln out1/demo_1.0.0.raw | grep -q 'usr/bin/busybox$'
	require_root
	unsquashfs -q -d x out1/demo_1.0.0.raw >/dev/null
	chroot x /usr/lib/ingot/hello | grep -qx 'hello from demo 1.0.0 (x86_64)'
}

t_make_demo() {
	! ldd "$INGOT" | grep -q libasan || skip_test "an ASan build: the demo boots its init as PID 1; make check runs the demo"
	here=$PWD
	out=$(cd "$TOP" && OUT="$here/demo-out" scripts/demo.sh 2>&1)
	echo "$out"
	grep -q 'hello from demo 1.0.0' <<<"$out" || [ "$(id -u)" -ne 0 ]
	[ -s demo-out/demo_1.0.0.raw ]
	# booted from the A/B disk: a first, then version 2 from b after the install, marked good
	grep -q 'ingot-test: ready on slot a, version 1.0.0' <<<"$out"
	grep -q 'booting slot b: b is on trial with 3 tries left' <<<"$out"
	grep -q 'ingot-test: ready on slot b, version 2.0.0' <<<"$out"
	[ "$(status_field demo-out/disk.img 's["slots"][1]["state"], s["next"]')" = "('good', 'b')" ]
}

t_debian_minbase() {
	need_debian_mirror
	# watch for the tree ever touching the disk: nothing but the image may appear under $TMPDIR
	mkdir tmp
	TMPDIR=$PWD/tmp "$INGOT" build --unsigned "$TOP/recipes/debian-minbase.ini" -o out --json >result.json
	cat result.json
	unsquashfs -lln out/debian-minbase_12.0.raw >list.txt
	grep -q '^-rw-r----- 0/42 .* squashfs-root/etc/shadow$' list.txt
	grep -q '^-rwsr-xr-x 0/0 .* squashfs-root/usr/bin/passwd$' list.txt
	grep -q '^crw-rw-rw- 0/0 .* squashfs-root/dev/null$' list.txt
	! grep -q 'squashfs-root/usr/share/doc/' list.txt || return 1
	# nothing of the build machine: mmdebstrap copies its /etc/hostname and /etc/resolv.conf in
	! grep -E 'squashfs-root/etc/(hostname|resolv\.conf)' list.txt || return 1
	unsquashfs -cat out/debian-minbase_12.0.raw usr/lib/os-release >os
	grep -qx ID=debian os
	grep -qx IMAGE_ID=debian-minbase os
	python3 -c 'import json; r = json.load(open("result.json")); assert r["contents"]["files"] > 3000, r'
	veritysetup verify out/debian-minbase_12.0.raw out/debian-minbase_12.0.verity "$(cat out/debian-minbase_12.0.roothash)"
	# the manifest lists the installed packages from the image's own dpkg status
	python3 - <<'PY'
import json
m = json.load(open("out/debian-minbase_12.0.manifest.json"))
names = {p["name"]: p["version"] for p in m["packages"]}
assert len(names) > 80 and "base-files" in names and "dpkg" in names, sorted(names)
assert names["base-files"].startswith("12."), names["base-files"]
assert m["os_release"]["ID"] == "debian" and m["os_release"]["IMAGE_ID"] == "debian-minbase", m["os_release"]
PY
	"$INGOT" verify out/debian-minbase_12.0.raw
	"$INGOT" inspect out/debian-minbase_12.0.raw | grep -q 'Debian GNU/Linux 12 (bookworm)'
}

run demo t_demo
run make_demo t_make_demo
run debian_minbase t_debian_minbase
