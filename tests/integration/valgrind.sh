#!/bin/bash
# ingot is clean under valgrind (memcheck: no invalid accesses, no definite or indirect leaks) in
# every verb that takes files: build and plan (a directory, an archive with holes and hard links, error
# paths), verify, inspect, verity, keygen, disk, every slot action, initrd, vm and profile.
. "$(dirname "$0")/../lib.sh"

vg() { # the reason to stderr: callers often send stdout to /dev/null
	command -v valgrind >/dev/null || skip_test "valgrind missing" >&2
	! ldd "$INGOT" | grep -q libasan || skip_test "an ASan build (make check-asan): valgrind and ASan do not mix" >&2
	valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect -q "$@"
}

t_demo_build() {
	vg "$INGOT" build --unsigned --unsigned "$TOP/recipes/demo.ini" -o out --quiet
	[ -s out/demo_1.0.0.raw ]
	# a rebuild from it, on two threads, one of its blocks damaged (refused, compressed anew)
	cp -r out prev
	flip prev/demo_1.0.0.raw 1000
	vg "$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o again -j 2 --reuse prev --quiet 2>err
	grep -q "prev/demo_1.0.0.raw: 1 of its blocks did not match" err
	cmp out/demo_1.0.0.raw again/demo_1.0.0.raw
	# [Mounts], planned and built, and a refused one
	printf 'Include=%s\n[Mounts]\nOverlay=/etc\nTmpfs=/tmp\nTmpfs=\nTmpfs=/tmp\n' "$TOP/recipes/demo.ini" >m.ini
	vg "$INGOT" plan m.ini --json >/dev/null
	vg "$INGOT" build --unsigned m.ini -o out2 --quiet
	[ "$(unsquashfs -cat out2/demo_1.0.0.raw usr/lib/ingot/mounts)" = "tmpfs /tmp" ]
	printf 'Include=%s\n[Mounts]\nOverlay=/nowhere\n' "$TOP/recipes/demo.ini" >bad-m.ini
	rc=0
	vg "$INGOT" build --unsigned bad-m.ini -o out3 2>err || rc=$?
	[ "$rc" -eq 1 ]
	grep -q 'bad-m.ini:3: Overlay=/nowhere: there is no such directory' err
}

t_archive_with_holes_and_links() {
	mkdir -p tree/d
	truncate -s 300M tree/d/sparse
	echo data >tree/d/a
	ln tree/d/a tree/d/b
	tar --sort=name --sparse -C tree -cf - . | xz -0 -T1 >t.tar.xz
	printf '[Image]\nName=v\nVersion=1\n[Base]\nArchive=t.tar.xz\n[Content]\nRemove=/d/b\n' >r.ini
	vg "$INGOT" build --unsigned --unsigned r.ini -o out --quiet -j 2
	[ "$(unsquashfs -cat out/v_1.raw d/a)" = data ]
}

t_errors() {
	printf '[Image]\nName=v\nVersion=1\n[Output]\nCompresion=xz\n' >bad.ini
	rc=0
	vg "$INGOT" plan bad.ini 2>err || rc=$?
	cat err
	[ "$rc" -eq 1 ]
	mkdir tree
	ln -s tree/none tree/x
	printf '[Image]\nName=v\nVersion=1\n[Base]\nTree=tree\n[Content]\nMode=/nothing:0644\n' >r.ini
	rc=0
	vg "$INGOT" build --unsigned --unsigned r.ini -o out 2>err || rc=$?
	cat err
	[ "$rc" -eq 1 ]
	grep -q 'r.ini:7: Mode=/nothing' err
}

t_profiles() {
	cd "$TOP/recipes/profiles"
	vg "$INGOT" profile show db.conf --json >/dev/null
	vg "$INGOT" profile explain web.conf db.conf >/dev/null
	vg "$INGOT" profile diff db.conf web.conf --json >/dev/null
	cd "$T"
	printf '[Kernel]\nParameters=a b -a -c\n' >bad.conf
	rc=0
	vg "$INGOT" profile show bad.conf 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ]
}

run demo_build t_demo_build
run profiles t_profiles
run archive_with_holes_and_links t_archive_with_holes_and_links
run errors t_errors

t_disk_and_slots() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	vg "$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_2.0.0.raw
	vg "$INGOT" slot status --disk disk.img --json >/dev/null
	vg "$INGOT" slot mark-good b --disk disk.img
	vg "$INGOT" slot rollback --disk disk.img
	rc=0
	vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_1.0.0.raw 2>err || rc=$?
	cat err
	[ "$rc" -eq 1 ]
	grep -q "version floor" err
}
run disk_and_slots t_disk_and_slots

# From a URL, seeded from slot a, whole with --full, and refused for a tampered extent.
t_seeded_install_from_a_url() {
	command -v nginx >/dev/null || skip_test "nginx missing (scripts/install-deps.sh)"
	signed_demo out 1.0.0
	signed_demo out 2.0.0 "$(printf '[Content]\nMkdir=/new')"
	. "$TOP/tests/tools/nginx.sh"
	trap nginx_stop EXIT
	"$INGOT" publish out www/r --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	nginx_start "$PWD/nginx" "$PWD/www"
	url=http://127.0.0.1:$NGINX_PORT/r/
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	# a byte changed in an extent 1.0.0 does not have: refused
	off=$(python3 - out/demo_1.0.0.blocks out/demo_2.0.0.blocks <<'PY'
import json, sys
old = {e[3] for e in json.load(open(sys.argv[1]))["extents"]}
new = [e for e in json.load(open(sys.argv[2]))["extents"] if e[3] not in old and e[2] == "metadata"]
print(new[-1][0] + new[-1][1] // 2)
PY
)
	flip www/r/demo_2.0.0.raw "$off"
	rc=0
	no_proxy='*' vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url" 2>err || rc=$?
	cat err
	[ "$rc" -eq 1 ]
	grep -q "not what the signed block index names" err
	flip www/r/demo_2.0.0.raw "$off"
	no_proxy='*' vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	grep -q '"event":"seeded"' events.json
	no_proxy='*' vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b --full "$url" >/dev/null
}
run seeded_install_from_a_url t_seeded_install_from_a_url

t_sysext_layers() {
	"$INGOT" keygen keys >/dev/null
	"$INGOT" build "$TOP/recipes/demo.ini" -o base --key keys/ingot.key --cert keys/ingot.crt --quiet
	mkdir -p tree/usr/bin
	cp /bin/true tree/usr/bin/layer-tool
	printf '[Extension]\nName=l\nVersion=1\nBase=base/demo_1.0.0.manifest.json\n[Content]\nCopy=tree/:/\n' >l.ini
	vg "$INGOT" sysext build l.ini -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	vg "$INGOT" sysext build l.ini -o raw --format raw --unsigned --quiet
	vg "$INGOT" sysext check out/l_1.raw --base base/demo_1.0.0.manifest.json --cert keys/ingot.crt --json >/dev/null
	vg "$INGOT" verify out/l_1.raw --cert keys/ingot.crt >/dev/null
	vg "$INGOT" inspect out/l_1.raw >/dev/null
	vg "$INGOT" inspect raw/l_1.raw --json >/dev/null
	cp tree/usr/bin/layer-tool tree/usr/bin/sh # shadows the base's: refused
	rc=0
	vg "$INGOT" sysext build l.ini -o out2 --unsigned 2>err || rc=$?
	[ "$rc" -eq 1 ]
	grep -q 'l.ini:6: /usr/bin/sh replaces' err
}
run sysext_layers t_sysext_layers

t_verify_inspect_verity_keygen() {
	vg "$INGOT" keygen keys >/dev/null
	vg "$INGOT" keygen --ecdsa ec >/dev/null
	vg "$INGOT" build "$TOP/recipes/demo.ini" -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	vg "$INGOT" verify out/demo_1.0.0.raw --cert keys/ingot.crt >/dev/null
	vg "$INGOT" verify out/demo_1.0.0.raw --json >/dev/null
	vg "$INGOT" inspect out/demo_1.0.0.raw --json >/dev/null
	vg "$INGOT" inspect out/demo_1.0.0.raw >/dev/null
	cp out/demo_1.0.0.roothash before
	vg "$INGOT" verity out/demo_1.0.0.raw -j 2 >/dev/null
	cmp before out/demo_1.0.0.roothash
	# the failing paths: another signer, a flipped byte, a damaged .roothash
	rc=0
	vg "$INGOT" verify out/demo_1.0.0.raw --cert ec/ingot.crt >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ]
	printf 'X' | dd of=out/demo_1.0.0.raw bs=1 seek=70000 conv=notrunc status=none
	echo nothex >out/demo_1.0.0.roothash
	rc=0
	vg "$INGOT" verify out/demo_1.0.0.raw --cert keys/ingot.crt >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ]
	vg "$INGOT" inspect out/demo_1.0.0.raw --json >/dev/null
}
run verify_inspect_verity_keygen t_verify_inspect_verity_keygen

t_every_slot_action() {
	# with a stand-in kernel and initrd: the slots take db's kernel parameters below
	signed_demo out 1.0.0 "$(with_kernel)"
	signed_demo out 2.0.0 "$(with_kernel)"
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt out/demo_2.0.0.raw
	vg "$INGOT" slot next --disk disk.img >/dev/null
	vg "$INGOT" slot status --disk disk.img >/dev/null
	vg "$INGOT" slot switch a --disk disk.img
	vg "$INGOT" slot mark-bad b --disk disk.img
	vg "$INGOT" slot switch b --tries 2 --disk disk.img
	rc=0
	vg "$INGOT" slot switch c --disk disk.img 2>/dev/null || rc=$?
	[ "$rc" -eq 2 ] || [ "$rc" -eq 1 ]
	rc=0
	vg "$INGOT" slot status --disk out/demo_1.0.0.raw 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ]
	# a slot's own profile: installed with an image, and a reprofile copying the slot that boots next
	"$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt \
		--for out/demo_1.0.0.raw --for out/demo_2.0.0.raw >/dev/null
	vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot a --allow-downgrade \
		--profile prof/db.profile.json out/demo_1.0.0.raw >/dev/null
	vg "$INGOT" reprofile disk.img prof/db.profile.json --cert keys/ingot.crt >/dev/null
	vg "$INGOT" slot status --disk disk.img --json >/dev/null
}
run every_slot_action t_every_slot_action

t_initrd_vm_profile_compile() {
	[ -e keys/ingot.key ] || "$INGOT" keygen keys >/dev/null
	vg "$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	[ -s prof/db.profile.json ]
	[ -s prof/db.profile.json.p7s ]
	# a refused kernel parameter, warned ones, and a build that bakes them into an image without a kernel
	printf '[Kernel]\nParameters=init=/sbin/init ingot.debug\n' >refused.conf
	rc=0
	vg "$INGOT" profile show refused.conf >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ]
	printf '[Kernel]\nParameters=init=/sbin/init root=/dev/vda\n' >warned.conf
	vg "$INGOT" profile show warned.conf >/dev/null 2>warned.err
	[ "$(grep -c '^ingot: warning: ' warned.err)" -eq 2 ]
	printf 'Include=%s\n[Image]\nProfile=%s/warned.conf\n' "$TOP/recipes/demo.ini" "$PWD" >baked.ini
	vg "$INGOT" build --unsigned baked.ini -o baked --quiet 2>baked.err
	grep -q 'baked.ini:3: Profile=.*cannot take effect' baked.err
	ls /lib/modules/*/modules.dep >/dev/null 2>&1 || skip_test "no kernel modules for the initrd"
	vg "$INGOT" initrd -o initrd.zst --cert keys/ingot.crt
	[ -s initrd.zst ]
	ls /boot/vmlinuz-* >/dev/null 2>&1 && command -v qemu-system-x86_64 >/dev/null || return 0
	signed_demo out 1.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw
	# ingot vm's own code under valgrind (QEMU is its child, not traced): a boot cut short by --timeout
	rc=0
	vg "$INGOT" vm disk.img --initrd initrd.zst --snapshot --timeout 5 --expect NEVER-PRINTED >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ]
}
run initrd_vm_profile_compile t_initrd_vm_profile_compile
