#!/bin/bash
# The command line: help for ingot and each verb, version, usage errors (exit 2), `ingot plan` in both
# forms, recipe errors as file:line with the nearest key, and JSON that a program can read.
. "$(dirname "$0")/../lib.sh"

t_help_and_version() {
	"$INGOT" --help | grep -q '^Usage: ingot VERB'
	"$INGOT" --help | grep -q 'build *RECIPE'
	"$INGOT" help build | grep -q -- '--output DIR'
	"$INGOT" build --unsigned --help | grep -q -- '--json'
	"$INGOT" plan --help | grep -q 'drop-ins'
	"$INGOT" verify --help | grep -q -- '--cert CERT'
	"$INGOT" inspect --help | grep -q 'ingot verify'
	"$INGOT" verity --help | grep -q -- '--jobs N'
	"$INGOT" keygen --help | grep -q -- '--ecdsa'
	"$INGOT" --version | grep -qx 'ingot [0-9.]*'
	"$INGOT" version | grep -q '^ingot '
}

t_usage_errors_exit_2() {
	rc=0; "$INGOT" >/dev/null 2>&1 || rc=$?; [ "$rc" -eq 2 ]
	rc=0; "$INGOT" bulid x 2>err || rc=$?; [ "$rc" -eq 2 ]; grep -q "did you mean 'build'" err
	rc=0; "$INGOT" build --unsigned 2>err || rc=$?; [ "$rc" -eq 2 ]; grep -q "expected exactly one RECIPE" err
	rc=0; "$INGOT" build --unsigned --frobnicate r.ini 2>err || rc=$?; [ "$rc" -eq 2 ]
	rc=0; "$INGOT" build --unsigned -j 0 r.ini 2>err || rc=$?; [ "$rc" -eq 2 ]
	rc=0; SOURCE_DATE_EPOCH=yesterday "$INGOT" build --unsigned r.ini 2>err || rc=$?; [ "$rc" -eq 2 ]
}

t_recipe_errors_name_file_and_line() {
	printf '[Image]\nName=demo\nVersion=1\n\n# output settings\n[Output]\nCompression=zstd\nLevel=3\n\n\n\nCompresion=xz\n' \
		>recipe.ini
	expect_fail "recipe.ini:12: unknown key 'Compresion' in [Output]; did you mean 'Compression'?" \
		"$INGOT" plan recipe.ini
	rc=0; "$INGOT" build --unsigned recipe.ini -o out 2>/dev/null || rc=$?; [ "$rc" -eq 1 ]
	[ ! -e out ]
	mkdir -p recipe2.ini.d
	printf '[Image]\nName=demo\nVersion=1\n' >recipe2.ini
	printf '[Output]\nBlockSize=7\n' >recipe2.ini.d/10-size.conf
	expect_fail "recipe2.ini.d/10-size.conf:2: BlockSize='7' must be a power of two" "$INGOT" plan recipe2.ini
}

t_plan_resolves() {
	mkdir -p overlay sub
	printf '[Output]\nCompression=xz\n' >sub/common.conf
	printf '[Image]\nName=demo\nVersion=1.0.0\nInclude=sub/common.conf\n[Content]\nCopy=overlay/:/\n' >r.ini
	mkdir r.ini.d
	printf '[Output]\nLevel=9\n' >r.ini.d/50-level.conf
	"$INGOT" plan r.ini >plan.ini
	grep -qx 'Compression=xz' plan.ini
	grep -qx 'Level=9' plan.ini
	grep -qx "Copy=$PWD/overlay:/" plan.ini
	# the printed plan is itself a recipe that plans to the same thing
	"$INGOT" plan plan.ini | grep -v '^#' >again.ini
	grep -v '^#' plan.ini | diff - again.ini
	"$INGOT" plan r.ini --json >plan.json
	python3 - <<'PY'
import json
p = json.load(open("plan.json"))
assert p["image"]["name"] == "demo", p
assert p["output"]["compression"] == "xz" and p["output"]["level"] == 9, p
assert p["content"][0]["op"] == "Copy" and p["content"][0]["where"] == "r.ini:6", p
assert [f.split("/")[-1] for f in p["files"]] == ["r.ini", "common.conf", "50-level.conf"], p["files"]
PY
}

t_mounts_section() {
	mkdir -p tree/etc tree/tmp tree/srv
	printf '[Image]\nName=m\nVersion=1\n[Base]\nTree=tree\n[Mounts]\nOverlay=/etc\nTmpfs=/tmp\nTmpfs=/srv/\n' >m.ini
	"$INGOT" plan m.ini >plan.ini
	grep -A6 -x '\[Mounts\]' plan.ini | grep -v '^#' | diff - <(printf '[Mounts]\nOverlay=/etc\nTmpfs=/tmp\nTmpfs=/srv\n')
	"$INGOT" plan plan.ini | grep -v '^#' | diff <(grep -v '^#' plan.ini) -
	"$INGOT" plan m.ini --json | python3 -c '
import json, sys
m = json.load(sys.stdin)["mounts"]
assert [(x["kind"], x["path"], x["where"]) for x in m] == [("overlay", "/etc", "m.ini:7"), ("tmpfs", "/tmp", "m.ini:8"), ("tmpfs", "/srv", "m.ini:9")], m'
	# the image carries the request for the initrd, in order
	"$INGOT" build --unsigned m.ini -o out --quiet
	unsquashfs -cat out/m_1.raw usr/lib/ingot/mounts | diff - <(printf 'overlay /etc\ntmpfs /tmp\ntmpfs /srv\n')
	# an empty assignment clears the list (a drop-in can take the parent's back)
	mkdir m.ini.d
	printf '[Mounts]\nTmpfs=\n' >m.ini.d/clear.conf
	"$INGOT" plan m.ini --json | python3 -c 'import json, sys; assert json.load(sys.stdin)["mounts"] == []'
	rm -r m.ini.d
	# the verified image and var are not for overlays; a path must be a directory in the image
	printf '[Image]\nName=m\nVersion=1\n[Mounts]\nOverlay=/usr/lib\n' >bad1.ini
	expect_fail "bad1.ini:5: Overlay=/usr/lib: / and /usr are the verified image and /var is the var partition" "$INGOT" plan bad1.ini
	printf '[Image]\nName=m\nVersion=1\n[Mounts]\nTmpfs=/tmp\nOverlay=/tmp\n' >bad2.ini
	expect_fail "bad2.ini:6: Overlay=/tmp: already mounted by bad2.ini:5" "$INGOT" plan bad2.ini
	printf '[Image]\nName=m\nVersion=1\n[Base]\nTree=tree\n[Mounts]\nOverlay=/opt\n' >bad3.ini
	expect_fail "bad3.ini:7: Overlay=/opt: there is no such directory in the image" "$INGOT" build --unsigned bad3.ini -o out3
	[ ! -e out3/m_1.raw ]
	printf '[Image]\nName=m\nVersion=1\n[Mount]\nTmpfs=/tmp\n' >bad4.ini
	expect_fail "bad4.ini:4: unknown section [Mount]; did you mean [Mounts]?" "$INGOT" plan bad4.ini
}

t_build_json() {
	mkdir -p tree/etc
	echo x >tree/etc/a
	ln -s a tree/etc/b
	printf '[Image]\nName=j\nVersion=1\n[Base]\nTree=tree\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --json >result.json
	python3 - <<'PY'
import json, os
r = json.load(open("result.json"))
assert r["image"] == "out/j_1.raw" and os.path.getsize(r["image"]) == r["size"], r
c = r["contents"]
assert c["files"] == 2 and c["symlinks"] == 2, c   # etc/a + os-release; etc/b + etc/os-release
PY
}

t_progress_on_a_terminal() {
	command -v script >/dev/null || skip_test "script (bsdutils) missing"
	mkdir -p tree
	head -c 20000000 /dev/urandom >tree/blob
	printf '[Image]\nName=p\nVersion=1\n[Base]\nTree=tree\n' >r.ini
	script -qec "$INGOT build --unsigned r.ini -o out" /dev/null >typescript
	grep -q 'files' typescript
	grep -q 'MiB/s' typescript
	# and never when the output is not a terminal
	"$INGOT" build --unsigned r.ini -o out2 2>err >/dev/null
	! grep -q 'MiB/s' err || return 1
}

# ingot vm's disk options, refused or failing before QEMU starts (tests/integration/boot.sh boots them)
t_vm_disk_options() {
	"$INGOT" vm --help | grep -q -- '--drive-first FILE'
	"$INGOT" vm --help | grep -q -- '--no-pin'
	: >a.img
	: >b.img
	rc=0; "$INGOT" vm a.img --uefi --no-pin 2>err || rc=$?; [ "$rc" -eq 2 ]; grep -q "no --kernel, --initrd, --append or --no-pin" err
	rc=0; "$INGOT" vm a.img --initrd x --drive-first a.img --drive-first b.img 2>err || rc=$?; [ "$rc" -eq 2 ]
	grep -q "at most one --drive-first" err
	expect_fail "nothing.img: No such file" "$INGOT" vm a.img --initrd x --drive-first nothing.img
	# a disk without a GPT has no GUID to pin the initrd to
	expect_fail "a.img: 0 bytes, too small to be a disk: no GPT partition table (--no-pin boots it without ingot.disk=)" \
		"$INGOT" vm a.img --kernel /dev/null --initrd x
}

run help_and_version t_help_and_version
run vm_disk_options t_vm_disk_options
run usage_errors_exit_2 t_usage_errors_exit_2
run recipe_errors_name_file_and_line t_recipe_errors_name_file_and_line
run plan_resolves t_plan_resolves
run mounts_section t_mounts_section
run build_json t_build_json
run progress_on_a_terminal t_progress_on_a_terminal
