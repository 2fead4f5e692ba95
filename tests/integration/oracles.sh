#!/bin/bash
# The oracle helpers of tests/lib.sh, each given a damaged input: a flipped data byte, a flipped hash
# tree byte, a signature by another key, a GPT with wrong slot labels, a root hash that is not the
# expected one. Each must fail where bash ignores `set -e` (in `if`), so that only a failure the helper
# returns itself counts. And tests/lint.py, given the patterns that made checks silent, must say so.
. "$(dirname "$0")/../lib.sh"

# refuses WHAT CMD...: CMD (a helper given a damaged input) fails on its own.
refuses() {
	local what=$1
	shift
	if "$@" >refused.log 2>&1; then
		echo "$what: '$*' passed"
		cat refused.log
		return 1
	fi
	echo "$what: refused ($(tail -n 1 refused.log))"
}

# A disk with 1.0.0 in a (good) and 2.0.0 in b (on trial, next), signed by keys/; other/ is another key.
setup() {
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" keygen other >/dev/null
	"$INGOT" disk good.img --slot-a out/demo_1.0.0.raw --esp-size 33M --var-size 1M
	"$INGOT" slot install --disk good.img --cert keys/ingot.crt out/demo_2.0.0.raw >/dev/null
	# the intact disk passes every helper
	gpt_has_slots good.img
	slot_verifies good.img a keys/ingot.crt out/demo_1.0.0.roothash
	slot_verifies good.img b keys/ingot.crt out/demo_2.0.0.roothash
	cat out/*.roothash >hashes
	disk_consistent good.img hashes keys/ingot.crt
}

# damaged NAME: a copy of good.img to damage
damaged() {
	cp good.img "$1"
}

t_slot_verifies_refuses_damage() {
	plain_pass_only "it tests the test helpers and the lint, the same in both passes"
	setup
	refuses "another root hash than expected" slot_verifies good.img a keys/ingot.crt out/demo_2.0.0.roothash
	refuses "another root hash (hex)" slot_verifies good.img a keys/ingot.crt "$(tr 0-9a-f 1-9a-f0 <out/demo_1.0.0.roothash)"
	refuses "a certificate that did not sign" slot_verifies good.img a other/ingot.crt
	damaged data.img
	flip_part data.img root-a 70000
	refuses "a flipped data byte" slot_verifies data.img a keys/ingot.crt
	slot_holds good.img a out/demo_1.0.0.raw
	refuses "a flipped data byte (slot_holds)" slot_holds data.img a out/demo_1.0.0.raw
	refuses "another image (slot_holds)" slot_holds good.img a out/demo_2.0.0.raw
	refuses "no such slot (slot_holds)" slot_holds good.img c out/demo_1.0.0.raw
	damaged tree.img
	flip_part tree.img verity-a 4200
	refuses "a flipped hash tree byte" slot_verifies tree.img a keys/ingot.crt
	# a's root hash signed by another key, put where a's signature was
	extract good.img verity-sig-a sig.part
	slot_root_hash good.img a | tr -d '\n' >content
	openssl cms -sign -binary -noattr -outform DER -signer other/ingot.crt -inkey other/ingot.key -in content -out foreign.p7s
	python3 - sig.part foreign.p7s <<'PY'
import base64, json, sys
raw = open(sys.argv[1], "rb").read()
j = json.loads(raw.rstrip(b"\0"))
j["signature"] = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
out = json.dumps(j).encode()
assert len(out) <= len(raw)
open(sys.argv[1], "wb").write(out + b"\0" * (len(raw) - len(out)))
PY
	damaged sig.img
	p=$(part sig.img verity-sig-a)
	read -r start _ <<<"$p"
	dd if=sig.part of=sig.img bs=4096 seek=$((start / 4096)) conv=notrunc status=none
	slot_verifies sig.img a other/ingot.crt out/demo_1.0.0.roothash
	refuses "a foreign signature" slot_verifies sig.img a keys/ingot.crt
	# nothing in the signature partition
	damaged empty.img
	p=$(part empty.img verity-sig-a)
	read -r start size _ <<<"$p"
	dd if=/dev/zero of=empty.img bs=4096 seek=$((start / 4096)) count=$((size / 4096)) conv=notrunc status=none
	refuses "an empty signature partition" slot_verifies empty.img a keys/ingot.crt
	refuses "a slot that is not there" slot_verifies good.img c keys/ingot.crt
}
run slot_verifies_refuses_damage t_slot_verifies_refuses_damage

t_disk_consistent_refuses_damage() {
	plain_pass_only "it tests the test helpers and the lint, the same in both passes"
	setup
	refuses "a root hash not among those built" disk_consistent good.img out/demo_1.0.0.roothash keys/ingot.crt
	refuses "a certificate that did not sign" disk_consistent good.img hashes other/ingot.crt
	damaged data.img
	flip_part data.img root-b 70000
	refuses "a flipped data byte in the next slot" disk_consistent data.img hashes keys/ingot.crt
	damaged fallback.img
	flip_part fallback.img root-a 70000
	refuses "a flipped data byte in the slot to fall back to" disk_consistent fallback.img hashes keys/ingot.crt
	# slot labels swapped: a's signature now names b's data
	damaged swapped.img
	sfdisk --part-label swapped.img 2 root-b
	sfdisk --part-label swapped.img 5 root-a
	sfdisk --json swapped.img | grep -q '"name": *"root-a"'
	refuses "root-a and root-b swapped" disk_consistent swapped.img hashes keys/ingot.crt
	damaged label.img
	sfdisk --part-label label.img 5 root-x
	refuses "no root-b" gpt_has_slots label.img
	refuses "no root-b" disk_consistent label.img hashes keys/ingot.crt
	damaged type.img
	sfdisk --part-type type.img 6 0FC63DAF-8483-4772-8E79-3D69D8477DE4
	refuses "verity-b of the wrong type" gpt_has_slots type.img
	# no partition table any more: both headers gone
	damaged nogpt.img
	dd if=/dev/zero of=nogpt.img bs=512 seek=1 count=1 conv=notrunc status=none
	dd if=/dev/zero of=nogpt.img bs=512 seek=$(($(stat -c %s nogpt.img) / 512 - 1)) count=1 conv=notrunc status=none
	refuses "no GPT" gpt_has_slots nogpt.img
	refuses "no GPT" disk_consistent nogpt.img hashes keys/ingot.crt
	refuses "no GPT" part nogpt.img root-a
	refuses "no GPT" status_field nogpt.img 's["next"]'
	refuses "no such partition" part good.img root-c
	refuses "no such partition" extract good.img root-c x.part
	refuses "past the partition's end" flip_part good.img verity-sig-a 999999999
}
run disk_consistent_refuses_damage t_disk_consistent_refuses_damage

t_image_helpers_refuse_damage() {
	plain_pass_only "it tests the test helpers and the lint, the same in both passes"
	signed_demo out 1.0.0
	"$INGOT" keygen other >/dev/null
	image_verifies out/demo_1.0.0 keys/ingot.crt
	cms_verifies out/demo_1.0.0 keys/ingot.crt
	listing out/demo_1.0.0.raw >/dev/null
	refuses "a certificate that did not sign" image_verifies out/demo_1.0.0 other/ingot.crt
	refuses "a certificate that did not sign" cms_verifies out/demo_1.0.0 other/ingot.crt
	for what in raw verity roothash.p7s; do
		rm -rf d
		cp -r out d
		case $what in
		raw) flip d/demo_1.0.0.raw 70000 ;;
		verity) flip d/demo_1.0.0.verity 4200 ;;
		roothash.p7s) flip d/demo_1.0.0.roothash.p7s $(($(stat -c %s d/demo_1.0.0.roothash.p7s) - 20)) ;;
		esac
		refuses "a flipped byte in .$what" image_verifies d/demo_1.0.0 keys/ingot.crt
	done
	rm -rf d
	cp -r out d
	tr 0-9a-f 1-9a-f0 <out/demo_1.0.0.roothash >d/demo_1.0.0.roothash
	refuses "another root hash" image_verifies d/demo_1.0.0
	refuses "another root hash" cms_verifies d/demo_1.0.0 keys/ingot.crt
	dd if=/dev/zero of=d/demo_1.0.0.raw bs=4096 count=1 conv=notrunc status=none
	refuses "no squashfs superblock" listing d/demo_1.0.0.raw
	refuses "past the end" flip out/demo_1.0.0.roothash 1000
	refuses "other bytes" same_bytes out/demo_1.0.0.raw "$(sha256sum <out/demo_1.0.0.verity)"

	# block_index_matches, given an index that lies about the image in each way it checks
	block_index_matches out/demo_1.0.0
	for lie in digest offset kind-fragment kind-padding drop-last root-hash format data-byte content content-gone \
		block-size; do
		rm -rf d
		cp -r out d
		if [ "$lie" = data-byte ]; then
			flip d/demo_1.0.0.raw 200
		else
			python3 - "$lie" <<'PY'
import json, sys
lie, path = sys.argv[1], "d/demo_1.0.0.blocks"
x = json.load(open(path))
e = x["extents"]
if lie == "digest":
    e[3][3] = e[3][3][::-1]
elif lie == "offset":
    e[2][0] += 1
elif lie == "kind-fragment":
    e[1][2] = "fragment"
elif lie == "kind-padding":
    e[-1][2] = "metadata"
elif lie == "drop-last":
    e.pop()
elif lie == "root-hash":
    x["root_hash"] = x["root_hash"][::-1]
elif lie == "format":
    x["format"] = 3
elif lie in ("content", "content-gone"):
    b = next(b for b in e if len(b) == 5 and b[3] != b[4])  # a compressed block
    if lie == "content":
        b[4] = b[4][::-1]
    else:
        b.pop()
elif lie == "block-size":
    x["block_size"] //= 2
json.dump(x, open(path, "w"))
PY
		fi
		refuses "a block index with a false $lie" block_index_matches d/demo_1.0.0
	done
}
run image_helpers_refuse_damage t_image_helpers_refuse_damage

t_profile_helper_refuses_damage() {
	plain_pass_only "it tests the test helpers and the lint, the same in both passes"
	signed_demo out 1.0.0 "$(with_kernel)" # db's kernel parameters need a kernel to restart into
	"$INGOT" keygen other >/dev/null
	"$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt \
		--for out/demo_1.0.0.raw >/dev/null
	"$INGOT" profile compile "$TOP/recipes/profiles/web.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt \
		--for out/demo_1.0.0.raw >/dev/null
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw --esp-size 33M --var-size 1M
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_1.0.0.raw >/dev/null
	slot_profile_verifies disk.img b keys/ingot.crt prof/db.profile.json
	refuses "another profile" slot_profile_verifies disk.img b keys/ingot.crt prof/web.profile.json
	refuses "a certificate that did not sign" slot_profile_verifies disk.img b other/ingot.crt prof/db.profile.json
	refuses "a slot without a profile" slot_profile_verifies disk.img a keys/ingot.crt prof/db.profile.json
}
run profile_helper_refuses_damage t_profile_helper_refuses_damage

t_generic_helpers_refuse() {
	plain_pass_only "it tests the test helpers and the lint, the same in both passes"
	refuses "a command that succeeds" expect_fail "anything" true
	refuses "another message" expect_fail "the reason" sh -c 'echo something else; exit 1'
	expect_fail "the reason" sh -c 'echo the reason; exit 1' >/dev/null
	refuses "a crash (exit 134)" exits_1_with "the reason" sh -c 'echo the reason; exit 134'
	refuses "a command that succeeds" exits_1_with "the reason" sh -c 'echo the reason'
	refuses "another message" exits_1_with "the reason" sh -c 'echo something else; exit 1'
	exits_1_with "the reason" sh -c 'echo the reason; exit 1' >/dev/null
	mkdir full
	touch full/.tmp
	refuses "a file left behind" nothing_left full
	nothing_left empty-or-missing
	head -c 8192 /dev/urandom >blob
	{ head -c 5000 /dev/zero; cat blob; } >image
	[ "$(offset_in image blob)" = 5000 ]
	head -c 8192 /dev/urandom >other
	refuses "a file not in the image" offset_in image other
	printf 'ingot-init: slot b is e[   13.414078] device-mapper: verity: 253:2: data block 6 is corrupted\nmpty\n[    1.000000] x\n' >console
	[ "$(without_kernel console)" = "ingot-init: slot b is empty" ]
	printf '  12 ingot-sysext-test: go[   13.414078] device-mapper: verity: x\n  13 od\n  13 [    1.000000] x\n  14 y\n' >console
	[ "$(without_kernel console timed)" = "$(printf '  12 ingot-sysext-test: good\n  13 y')" ]
	has console "ingot-sysext-test: go" "^ *13 \[ *1\.0"
	printf '[  264.587426] watchdog: BUG: soft lockup - CPU#0 stuck for 246s! [swapper/0:1]\n' >hung
	kernel_hung_before_init hung
	printf 'ingot-init: booting slot a\n' >>hung
	refuses "a hang after ingot's initrd spoke" kernel_hung_before_init hung
	printf '[  264.587426] watchdog: BUG: soft lockup - CPU#0 stuck for 246s! [ingot-init:1]\n' >hung
	refuses "a soft lockup of PID 1 once it runs an init" kernel_hung_before_init hung
	has console -E "^ {2}1[34] (od|y)$"
	refuses "a line that is not there" has console "ingot-sysext-test: go" "ingot-sysext-test: good"
	refuses "an extended expression without -E" has console "1[34] (od|y)"
}
run generic_helpers_refuse t_generic_helpers_refuse

# The lint, given a helper that checks without returning its failure and the patterns that silenced it
t_lint_finds_silent_checks() {
	plain_pass_only "it tests the test helpers and the lint, the same in both passes"
	mkdir -p t/integration
	cp "$TOP/tests/lint.py" t/
	: >t/lib.sh
	cat >t/integration/silent.sh <<'EOF'
check_silently() {
	openssl cms -verify -in sig.p7s
	veritysetup verify root.part verity.part "$root"
	echo "$root"
}
check_explicitly() {
	openssl cms -verify -in sig.p7s || return 1
	veritysetup verify root.part verity.part "$root" || return 1
	echo "$root"
}
t_a() {
	[ "$(check_silently disk.img a)" = "$(cat x.roothash)" ]
	check_silently disk.img || { echo inconsistent; return 1; }
	if check_silently disk.img; then :; fi
	read -r x _ < <(check_silently disk.img)
	! grep -q x file
	[ -e a ] && [ -e b ]
	[ "$(check_explicitly disk.img a)" = "$(cat x.roothash)" ]
	check_explicitly disk.img || { echo inconsistent; return 1; }
	! grep -q x file || return 1
	(cd x && ls)
}
EOF
	set +e
	python3 t/lint.py t/integration/silent.sh >lint.out
	rc=$?
	set -e
	cat lint.out
	[ "$rc" -eq 1 ]
	[ "$(grep -c 'helper: check_silently' lint.out)" -eq 4 ]
	[ "$(grep -c ': negation:' lint.out)" -eq 1 ]
	[ "$(grep -c ': and-list:' lint.out)" -eq 1 ]
	[ "$(wc -l <lint.out)" -eq 6 ]
	! grep -q check_explicitly lint.out || return 1
}
run lint_finds_silent_checks t_lint_finds_silent_checks

# The architecture check (tests/arch.py), given a copy of the sources with an include against the
# folders' order, a cycle between two modules of one folder, and an initrd that holds a builder symbol
t_arch_check_finds_breaches() {
	plain_pass_only "it tests the architecture check, the same in both passes"
	mkdir -p t/tests
	cp -a "$TOP/include" "$TOP/lib" "$TOP/builder" "$TOP/sysext" "$TOP/boot" "$TOP/cli" t/
	cp "$TOP/tests/arch.py" t/tests/
	python3 t/tests/arch.py
	# the tree's image code uses the recipe compiler's header
	sed -i '0,/^#include "tree.h"/s//#include "tree.h"\n#include "build.h"/' t/lib/image/tree.c
	# util and ini, one folder, each using the other
	sed -i '0,/^#include "util.h"/s//#include "util.h"\n#include "ini.h"/' t/lib/base/util.c
	exits_1_with 'lib/image/tree.c:' python3 t/tests/arch.py
	has last.log "lib/image/tree.c:[0-9]*: #include \"build.h\": lib/image/ may not use builder/" \
		"a cycle between modules: lib/base/ini lib/base/util"
	# an initrd that links the recipe parser: the CLI's binary in its place
	mkdir -p b/builder
	cp "$INGOT" b/ingot-init
	cp "$(dirname "$INGOT")/builder/recipe.o" b/builder/
	exits_1_with 'b/ingot-init: holds ingot_recipe_load from builder/recipe.c' python3 "$TOP/tests/arch.py" b
}
run arch_check_finds_breaches t_arch_check_finds_breaches
