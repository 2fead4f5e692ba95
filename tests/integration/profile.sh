#!/bin/bash
# Host profiles: show, diff and explain of recipes/profiles/ against golden output (tests/golden/),
# the shown profile resolving to itself, JSON a program reads, and each kind of bad profile refused
# with its file and line.
. "$(dirname "$0")/../lib.sh"

P=$TOP/recipes/profiles
G=$TOP/tests/golden

t_golden_show_diff_explain() {
	cd "$P"
	"$INGOT" profile show db.conf | diff -u "$G/profile-show-db.txt" -
	"$INGOT" profile diff web.conf db.conf | diff -u "$G/profile-diff-web-db.txt" -
	"$INGOT" profile explain web.conf db.conf | diff -u "$G/profile-explain-web-db.txt" -
	"$INGOT" profile explain db.conf db.conf | grep -qx "no differences: a reprofile from db.conf to db.conf changes nothing"
	[ -z "$("$INGOT" profile diff db.conf db.conf)" ]
}
run golden_show_diff_explain t_golden_show_diff_explain

t_show_resolves_to_itself() {
	"$INGOT" profile show "$P/db.conf" >shown.conf
	"$INGOT" profile show shown.conf >again.conf
	diff <(grep -v '^#' shown.conf) <(grep -v '^#' again.conf)
	# a drop-in (db.conf.d/*.conf) comes last and wins, and show names it
	cp "$P"/*.conf .
	mkdir db.conf.d
	printf '[Sysctl]\nvm.swappiness=5\n[HugePages]\nPages=2M:64\n' >db.conf.d/host.conf
	"$INGOT" profile show db.conf >host.txt
	grep -B1 -x 'vm.swappiness=5' host.txt | grep -qx '# db.conf.d/host.conf:2'
	grep -B1 -x 'Pages=2M:64' host.txt | grep -qx '# db.conf.d/host.conf:4'
	! grep -q 'Pages=2M:512' host.txt || return 1
}
run show_resolves_to_itself t_show_resolves_to_itself

t_json() {
	cd "$P"
	"$INGOT" profile show db.conf --json >"$T/show.json"
	"$INGOT" profile explain web.conf db.conf --json >"$T/explain.json"
	cd "$T"
	python3 - <<'PY'
import json
s = json.load(open("show.json"))
assert [(p["key"], p["value"]) for p in s["kernel"]["parameters"]] == [("mitigations", "auto"), ("console", "ttyS0")], s["kernel"]
assert s["hugepages"]["default_size"] == {"value": "2M", "where": "db.conf:8"}, s["hugepages"]
assert [(p["size"], p["bytes"], p["count"], p["node"]) for p in s["hugepages"]["pages"]] == [("1G", 1 << 30, 4, None), ("2M", 2 << 20, 512, None)]
assert s["sysctl"]["vm.swappiness"] == {"value": "1", "where": "db.conf:13"}, s["sysctl"]
e = json.load(open("explain.json"))
assert e["reboot_needed"] is True and e["live"] == 2 and e["reboot"] == 5, e
kinds = {(c["kind"], c["name"]): c["applies"] for c in e["changes"]}
assert kinds[("huge pages", "1G")] == "reboot" and kinds[("huge pages", "2M")] == "live", kinds
assert kinds[("sysctl", "vm.swappiness")] == "live" and kinds[("kernel parameter", "quiet")] == "reboot", kinds
PY
}
run json t_json

t_compile() {
	"$INGOT" keygen keys >/dev/null
	"$INGOT" profile compile "$P/db.conf" -o out --key keys/ingot.key --cert keys/ingot.crt
	diff -u "$G/profile-compile-db.json" out/db.profile.json
	# the signature is the root hash's kind: detached PKCS#7 over the JSON bytes, openssl checks it
	openssl cms -verify -binary -inform DER -in out/db.profile.json.p7s -content out/db.profile.json \
		-CAfile keys/ingot.crt -purpose any -out /dev/null
	# reproducible, signature included (RSA, no signing time)
	"$INGOT" profile compile "$P/db.conf" -o again --key keys/ingot.key --cert keys/ingot.crt --json >c.json
	cmp out/db.profile.json again/db.profile.json
	cmp out/db.profile.json.p7s again/db.profile.json.p7s
	python3 -c 'import json; c = json.load(open("c.json")); assert c["signed"] and c["compiled"]["cmdline"].endswith("hugepagesz=1G hugepages=4"), c'
	# 1G pages per NUMA node go on the command line in the kernel's node:count form
	printf '[HugePages]\nPages=1G:2@0\nPages=1G:3@1\nPages=2M:8@1\n' >numa.conf
	"$INGOT" profile compile numa.conf -o out --unsigned --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["compiled"]
assert c["cmdline"] == "hugepagesz=1G hugepages=0:2,1:3", c
assert c["runtime_hugepages"] == [{"size": 2097152, "count": 8, "node": 1}], c'
	[ ! -e out/numa.profile.json.p7s ]
	# refused before anything is written: no key, huge pages beyond the hosts' memory
	expect_fail "no signing key: give --key and --cert, or --unsigned" "$INGOT" profile compile "$P/db.conf" -o none
	expect_fail "db.conf:10: the huge pages come to 5120 MiB, more than the hosts' 4096 MiB" \
		"$INGOT" profile compile "$P/db.conf" -o none --unsigned --memory 4G
	[ ! -e none ]
	"$INGOT" profile compile "$P/db.conf" -o fits --unsigned --memory 8G >/dev/null
	# against a kernel's sysctls (this host's /proc/sys here): the running kernel has db's, not a made-up one
	"$INGOT" profile compile "$P/db.conf" -o fits --unsigned --kernel-sysctls /proc/sys >/dev/null
	printf 'Include=%s/db.conf\n[Sysctl]\nvm.no_such_knob=1\n' "$P" >knob.conf
	expect_fail "knob.conf:3: vm.no_such_knob: the kernel of /proc/sys has no such sysctl" \
		"$INGOT" profile compile knob.conf -o knob --unsigned --kernel-sysctls /proc/sys
	[ ! -e knob ]
	rc=0; "$INGOT" profile compile "$P/db.conf" 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
	rc=0; "$INGOT" profile show "$P/db.conf" -o x 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
}
run compile t_compile

t_bad_profiles() {
	bad() { # bad MESSAGE LINES...: the profile made of LINES is refused with MESSAGE
		local msg=$1
		shift
		printf '%s\n' "$@" >bad.conf
		expect_fail "$msg" "$INGOT" profile show bad.conf
	}
	bad "bad.conf:1: unknown section [Sysctls]; did you mean [Sysctl]?" '[Sysctls]' 'vm.swappiness=1'
	bad "bad.conf:2: unknown key 'Parameter' in [Kernel]; did you mean 'Parameters'?" '[Kernel]' 'Parameter=quiet'
	bad "bad.conf:2: 'vm swappiness' is not a sysctl name" '[Sysctl]' 'vm swappiness=1'
	bad "bad.conf:2: 'swappiness' is not a sysctl name" '[Sysctl]' 'swappiness=1'
	bad "bad.conf:2: vm.swappiness= needs a value" '[Sysctl]' 'vm.swappiness='
	bad "bad.conf:2: Pages='4M:10': x86-64 huge pages are 2M or 1G, not '4M'" '[HugePages]' 'Pages=4M:10'
	bad "bad.conf:2: Pages='2M': use SIZE:COUNT or SIZE:COUNT@NODE" '[HugePages]' 'Pages=2M'
	bad "bad.conf:2: Pages='2M:many': the count 'many' is not a number" '[HugePages]' 'Pages=2M:many'
	bad "bad.conf:2: DefaultSize='64K': x86-64 huge pages are 2M or 1G" '[HugePages]' 'DefaultSize=64K'
	bad "bad.conf:2: Parameters=: -quiet removes nothing: no earlier file sets quiet" '[Kernel]' 'Parameters=-quiet'
	bad "bad.conf:2: Parameters=: 'a=\"b' is not a kernel parameter" '[Kernel]' 'Parameters=a="b c"'
	bad "bad.conf:2: Parameters=hugepages= conflicts with [HugePages] at bad.conf:4: set huge pages in one place" \
		'[Kernel]' 'Parameters=hugepages=64' '[HugePages]' 'Pages=2M:64'
	# the boot machinery's parameters: the initrd's ingot.*, the boot loader's initrd=, an rdinit= that
	# replaces the initrd's /init, and a panic that never restarts the machine (sysctl too)
	bad "bad.conf:2: Parameters=ingot.slot=a: ingot.* parameters are the ingot initrd's" '[Kernel]' 'Parameters=quiet ingot.slot=a'
	bad "bad.conf:3: Parameters=ingot.kexec=b: ingot.* parameters are the ingot initrd's" \
		'[Kernel]' 'Parameters=quiet' 'Parameters=ingot.kexec=b'
	bad "bad.conf:2: Parameters=initrd=/x: initrd= is the boot loader's" '[Kernel]' 'Parameters=initrd=/x'
	bad "bad.conf:2: Parameters=panic=0: a kernel panic must restart the machine, so that a slot whose kernel panics falls back instead of hanging: give panic=SECONDS other than 0, or none (the restart into a slot's kernel adds panic=10 when the command line has no panic= word)" \
		'[Kernel]' 'Parameters=panic=0'
	bad "bad.conf:2: Parameters=rdinit=/x: rdinit= replaces the ingot initrd's own /init" '[Kernel]' 'Parameters=rdinit=/x'
	bad "bad.conf:2: Parameters=init=/var/lib/evil: init= below /var would run what the var partition holds, which no signature covers" \
		'[Kernel]' 'Parameters=init=/var/lib/evil'
	bad "bad.conf:3: kernel.panic=0: a kernel panic must restart the machine" '[Sysctl]' 'kernel.panic=10' 'kernel.panic=0'
	# named where the resolved profile got it, by every verb that reads a profile source
	printf 'Include=%s/db.conf\n[Kernel]\nParameters=panic=0\n' "$P" >panic.conf
	expect_fail "panic.conf:3: Parameters=panic=0: a kernel panic must restart the machine" \
		"$INGOT" profile compile panic.conf -o none --unsigned
	[ ! -e none ]
	expect_fail "panic.conf:3: Parameters=panic=0" "$INGOT" profile diff "$P/db.conf" panic.conf
	expect_fail "panic.conf:3: Parameters=panic=0" "$INGOT" profile explain panic.conf "$P/db.conf"
	# what a later file takes back or sets right is not refused: the resolved profile is what counts
	printf 'Include=panic.conf\n[Kernel]\nParameters=-panic\n' >unpanic.conf
	printf 'Include=panic.conf\n[Kernel]\nParameters=panic=-1\n[Sysctl]\nkernel.panic=10\n' >repanic.conf
	"$INGOT" profile compile unpanic.conf -o fine --unsigned --json >unpanic.json
	"$INGOT" profile compile repanic.conf -o fine --unsigned --json >repanic.json
	python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["compiled"]["cmdline"].split(); assert not [w for w in c if w.startswith("panic")], c' unpanic.json
	python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["compiled"]["cmdline"].split(); assert "panic=-1" in c, c' repanic.json
	expect_fail "nothing.conf: No such file or directory" "$INGOT" profile show nothing.conf
	rc=0; "$INGOT" profile explain "$P/db.conf" 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
	rc=0; "$INGOT" profile compare a b 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
	"$INGOT" profile --help | grep -q 'explain A B'
}
run bad_profiles t_bad_profiles

t_init_and_root_warned() {
	printf '[Kernel]\nParameters=quiet init=/bogus\nParameters=root=/dev/vda\n' >warn.conf
	# compiled all the same, with one line on stderr for each
	"$INGOT" profile compile warn.conf -o out --unsigned --json >c.json 2>warn.err
	cat warn.err
	python3 -c 'import json; c = json.load(open("c.json")); assert c["compiled"]["cmdline"] == "quiet init=/bogus root=/dev/vda", c'
	grep -qxF "ingot: warning: warn.conf:2: Parameters=init=/bogus: init= replaces the image's init: the initrd checks that it is there in the image, and a wrong one fails the slot" warn.err
	grep -qxF "ingot: warning: warn.conf:3: Parameters=root=/dev/vda: the ingot initrd ignores root=: it mounts the slot's verity root itself" warn.err
	[ "$(wc -l <warn.err)" -eq 2 ]
	# show says the same, and its output stays a profile
	"$INGOT" profile show warn.conf >shown.conf 2>show.err
	diff warn.err show.err
	grep -qx "Parameters=init=/bogus" shown.conf
	# a profile without them warns about nothing
	"$INGOT" profile compile "$P/db.conf" -o out --unsigned >/dev/null 2>db.err
	[ ! -s db.err ]
}
run init_and_root_warned t_init_and_root_warned

# compile_for CONF: CONF compiled and signed into prof/ for every image now in out/ (a slot takes a
# profile only for an image it names)
compile_for() {
	local args=() f
	for f in out/*.raw; do args+=(--for "$f"); done
	"$INGOT" profile compile "$1" -o prof --key keys/ingot.key --cert keys/ingot.crt "${args[@]}" >/dev/null
}

# disk_with_profiles: keys/, the signed demo images 1.0.0 and 2.0.0 (with a stand-in kernel and initrd,
# which db's and web's kernel parameters need), 1.0.0 in slot a of disk.img, db and web compiled and signed
# for both
disk_with_profiles() {
	signed_demo out 1.0.0 "$(with_kernel)"
	signed_demo out 2.0.0 "$(with_kernel)"
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw --esp-size 33M --var-size 8M
	compile_for "$P/db.conf"
	compile_for "$P/web.conf"
}

t_install_with_profile() {
	disk_with_profiles
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_2.0.0.raw
	[ "$(status_field disk.img '[(x["profile"], x["profile_source"]) for x in s["slots"]], s["next"]')" = \
		"([(None, None), ('db', 'slot')], 'b')" ]
	"$INGOT" slot status --disk disk.img | grep -q '^b *trying .* db (slot)$'
	slot_verifies disk.img b keys/ingot.crt >/dev/null
	slot_profile_verifies disk.img b keys/ingot.crt prof/db.profile.json
	# an image that bakes a profile in says so; the slot's own beats it
	signed_demo out 3.0.0 "$(printf '[Image]\nProfile=%s/web.conf' "$P")"
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot a out/demo_3.0.0.raw
	[ "$(status_field disk.img 's["slots"][0]["profile"], s["slots"][0]["profile_source"]')" = "('web', 'image')" ]
}
run install_with_profile t_install_with_profile

t_reprofile_copies_the_booted_slot() {
	disk_with_profiles
	# booted from slot a of this disk, as the initrd records it
	mkdir run
	printf 'SLOT=a\nDISK_UUID=%s\nDEVICE=%s\n' "$(sfdisk --json disk.img | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["id"])')" "$PWD/disk.img" >run/booted
	export INGOT_RUNTIME_DIR=$PWD/run
	for p in root-a verity-a verity-sig-a; do extract disk.img $p $p.before; done
	"$INGOT" reprofile --cert keys/ingot.crt --tries 2 prof/db.profile.json | grep -q "slot b now holds the booted image with profile"
	# the running slot is untouched; b holds its image, verified, with db as its own profile, on trial
	for p in root-a verity-a verity-sig-a; do
		extract disk.img $p $p.after
		cmp $p.before $p.after
	done
	slot_verifies disk.img a keys/ingot.crt out/demo_1.0.0.roothash
	slot_verifies disk.img b keys/ingot.crt out/demo_1.0.0.roothash
	slot_profile_verifies disk.img b keys/ingot.crt prof/db.profile.json
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["tries"], s["slots"][1]["profile"], s["slots"][1]["version"], s["next"]')" = \
		"('trying', 2, 'db', '1.0.0', 'b')" ]
	# partition UUIDs stay unique with the same image in both slots
	[ "$(sfdisk --json disk.img | python3 -c 'import json,sys; u=[p["uuid"] for p in json.load(sys.stdin)["partitiontable"]["partitions"]]; print(len(u) == len(set(u)))')" = True ]
	# again, to web: b is rewritten (never a, the running slot)
	"$INGOT" reprofile disk.img prof/web.profile.json --cert keys/ingot.crt >/dev/null
	slot_profile_verifies disk.img b keys/ingot.crt prof/web.profile.json
	extract disk.img verity-sig-a verity-sig-a.after
	cmp verity-sig-a.before verity-sig-a.after
	# on a disk nothing booted from, the good slot is the source and the one on trial is overwritten
	unset INGOT_RUNTIME_DIR
	"$INGOT" reprofile disk.img prof/db.profile.json --cert keys/ingot.crt | grep -q "^slot b now holds"
	[ "$(status_field disk.img 's["slots"][0]["state"], s["slots"][1]["profile"]')" = "('good', 'db')" ]
}
run reprofile_copies_the_booted_slot t_reprofile_copies_the_booted_slot

t_reprofile_refuses_bad_profiles() {
	disk_with_profiles
	"$INGOT" keygen otherkeys >/dev/null
	"$INGOT" profile compile "$P/db.conf" -o other --key otherkeys/ingot.key --cert otherkeys/ingot.crt >/dev/null
	"$INGOT" profile compile "$P/db.conf" -o unsigned --unsigned >/dev/null
	mkdir tampered
	sed 's/"vm.swappiness","1"/"vm.swappiness","9"/' prof/db.profile.json >tampered/db.profile.json
	cp prof/db.profile.json.p7s tampered/
	# signed by the trusted key, but not a profile: something else, and another kind of signed JSON
	printf '{"format":2}\n' >not.profile.json
	printf '{"kind":"ingot-release-index","format":2,"versions":[]}\n' >index.profile.json
	for f in not index; do
		openssl cms -sign -binary -noattr -outform DER -signer keys/ingot.crt -inkey keys/ingot.key \
			-in $f.profile.json -out $f.profile.json.p7s
	done
	# the same profile, but for no image, and for another image than slot a's
	"$INGOT" profile compile "$P/db.conf" -o unbound --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	"$INGOT" profile compile "$P/db.conf" -o elsewhere --key keys/ingot.key --cert keys/ingot.crt \
		--for out/demo_2.0.0.raw >/dev/null
	before=$(sha256sum <disk.img)
	expect_fail "unsigned (no unsigned/db.profile.json.p7s); a slot only takes a signed profile" \
		"$INGOT" reprofile disk.img unsigned/db.profile.json --cert keys/ingot.crt
	expect_fail "other/db.profile.json: signed by a certificate that is not trusted" \
		"$INGOT" reprofile disk.img other/db.profile.json --cert keys/ingot.crt
	expect_fail "tampered/db.profile.json.p7s" "$INGOT" reprofile disk.img tampered/db.profile.json --cert keys/ingot.crt
	expect_fail "not.profile.json: not a compiled host profile" "$INGOT" reprofile disk.img not.profile.json --cert keys/ingot.crt
	expect_fail "index.profile.json: a signed ingot-release-index, not a host profile" \
		"$INGOT" reprofile disk.img index.profile.json --cert keys/ingot.crt
	expect_fail "unbound/db.profile.json: signed for no image: a slot's own profile names the images it may boot with" \
		"$INGOT" reprofile disk.img unbound/db.profile.json --cert keys/ingot.crt
	expect_fail "elsewhere/db.profile.json: signed for the images $(head -c 16 out/demo_2.0.0.roothash)..., not for this one (root hash $(head -c 16 out/demo_1.0.0.roothash)...)" \
		"$INGOT" reprofile disk.img elsewhere/db.profile.json --cert keys/ingot.crt
	expect_fail "elsewhere/db.profile.json: signed for the images" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile elsewhere/db.profile.json out/demo_1.0.0.raw
	expect_fail "db.conf: a profile source; compile and sign it first: ingot profile compile" \
		"$INGOT" reprofile disk.img "$P/db.conf" --cert keys/ingot.crt
	expect_fail "not.img: No such file or directory" "$INGOT" reprofile not.img prof/db.profile.json --cert keys/ingot.crt
	# the image in slot a was signed by keys/: a host trusting only otherkeys/ does not copy it
	expect_fail "signed by a certificate that is not trusted" \
		"$INGOT" reprofile disk.img other/db.profile.json --cert otherkeys/ingot.crt
	[ "$(sha256sum <disk.img)" = "$before" ]
	rc=0; "$INGOT" reprofile 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
	"$INGOT" reprofile --help | grep -q 'boot next on trial'
}
run reprofile_refuses_bad_profiles t_reprofile_refuses_bad_profiles

# A certificate damaged inside the slot's signature partition: reprofile, which checks the slot it copies,
# says that partition's signature is damaged, not that another key signed it; nothing is written.
t_reprofile_refuses_a_damaged_slot_signature() {
	disk_with_profiles
	read -r start _ < <(part disk.img verity-sig-a)
	for where in subject signature; do
		cp disk.img d.img
		extract d.img verity-sig-a sig.part
		python3 "$TOP/tests/tools/damage-cert.py" sig.part keys/ingot.crt "$where"
		dd if=sig.part of=d.img bs=1M seek="$start" oflag=seek_bytes conv=notrunc status=none
		sum=$(sha256sum <d.img)
		exits_1_with "d.img (verity-sig-a): damaged signature" \
			"$INGOT" reprofile d.img prof/db.profile.json --cert keys/ingot.crt
		! grep -q "not trusted" last.log || return 1
		[ "$(sha256sum <d.img)" = "$sum" ]
	done
}
run reprofile_refuses_a_damaged_slot_signature t_reprofile_refuses_a_damaged_slot_signature
t_kernel_parameters_need_a_kernel() {
	"$INGOT" keygen keys >/dev/null
	signed_demo out 1.0.0
	signed_demo out 2.0.0
	"$INGOT" disk disk.img --slot-a out/demo_1.0.0.raw --esp-size 33M --var-size 8M
	compile_for "$P/db.conf"
	printf '[Sysctl]\nvm.swappiness=5\n[HugePages]\nPages=2M:16\n' >sysctl.conf
	compile_for sysctl.conf
	# the demo image carries no kernel: db's parameters could never take effect, so neither the copy
	# of slot a nor an install takes db, and the disk is left as it was
	before=$(sha256sum <disk.img)
	why="its kernel parameters (mitigations=auto console=ttyS0 default_hugepagesz=2M hugepagesz=1G hugepages=4) cannot take effect: the image demo %s carries no kernel and initrd to restart into (/usr/lib/modules/*/vmlinuz or /boot/vmlinuz-*, and /usr/lib/ingot/initrd); every try would fail its health check"
	# shellcheck disable=SC2059
	expect_fail "prof/db.profile.json: $(printf "$why" 1.0.0)" "$INGOT" reprofile disk.img prof/db.profile.json --cert keys/ingot.crt
	# shellcheck disable=SC2059
	expect_fail "prof/db.profile.json: $(printf "$why" 2.0.0)" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_2.0.0.raw
	same_bytes disk.img "$before"
	# a kernel without the initrd, or a Debian /boot/vmlinuz-V without its modules directory, is not enough
	printf '[Content]\nCopy=%s/standin:/usr/lib/modules/6.1.0-test/vmlinuz\n' "$PWD" >kernel-only.conf
	echo "a stand-in" >standin
	signed_demo out 3.0.0 "$(cat kernel-only.conf)"
	compile_for "$P/db.conf"
	expect_fail "the image demo 3.0.0 carries no kernel and initrd to restart into" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_3.0.0.raw
	signed_demo out 3.1.0 "$(printf '[Content]\nCopy=%s/standin:/boot/vmlinuz-6.1.0-test\nCopy=%s/standin:/usr/lib/ingot/initrd' "$PWD" "$PWD")"
	compile_for "$P/db.conf"
	expect_fail "the image demo 3.1.0 carries no kernel and initrd to restart into" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_3.1.0.raw
	same_bytes disk.img "$before"
	# a profile of sysctls and huge pages needs no restart: the kernel-less image takes it, copied and installed
	"$INGOT" reprofile disk.img prof/sysctl.profile.json --cert keys/ingot.crt >/dev/null
	slot_profile_verifies disk.img b keys/ingot.crt prof/sysctl.profile.json
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/sysctl.profile.json out/demo_2.0.0.raw >/dev/null
	slot_profile_verifies disk.img b keys/ingot.crt prof/sysctl.profile.json
	slot_verifies disk.img b keys/ingot.crt out/demo_2.0.0.roothash
	# an image with a kernel and an initrd (Debian's place for the kernel too) takes db, installed and copied
	signed_demo out 4.0.0 "$(with_kernel)"
	compile_for "$P/db.conf"
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_4.0.0.raw >/dev/null
	slot_profile_verifies disk.img b keys/ingot.crt prof/db.profile.json
	slot_verifies disk.img b keys/ingot.crt out/demo_4.0.0.roothash
	"$INGOT" slot mark-good b --disk disk.img
	"$INGOT" reprofile disk.img prof/db.profile.json --cert keys/ingot.crt | grep -q "^slot a now holds"
	slot_profile_verifies disk.img a keys/ingot.crt prof/db.profile.json
	slot_verifies disk.img a keys/ingot.crt out/demo_4.0.0.roothash
	signed_demo out 5.0.0 "$(printf '[Content]\nCopy=%s/standin:/boot/vmlinuz-6.1.0-test\nMkdir=/usr/lib/modules/6.1.0-test\nCopy=%s/standin:/usr/lib/ingot/initrd' "$PWD" "$PWD")"
	compile_for "$P/db.conf"
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json out/demo_5.0.0.raw |
		grep -q "into slot a"
	slot_profile_verifies disk.img a keys/ingot.crt prof/db.profile.json
	slot_verifies disk.img a keys/ingot.crt out/demo_5.0.0.roothash
}
run kernel_parameters_need_a_kernel t_kernel_parameters_need_a_kernel

t_build_warns_about_a_baked_profile() {
	printf '[Kernel]\nParameters=quiet\nParameters=init=/sbin/init\n' >init.conf
	printf '[Sysctl]\nvm.swappiness=5\n' >sysctl.conf
	# db's kernel parameters in the demo image, which has no kernel: built, with a warning naming the
	# recipe's Profile= line, on stderr and in --json
	signed_demo out 1.0.0 "$(printf '[Image]\nProfile=%s/db.conf' "$P")" 2>build.err
	cat build.err
	line=$(grep -n '^Profile=' demo-1.0.0.ini | cut -d: -f1)
	want="warning: demo-1.0.0.ini:$line: Profile=$P/db.conf: its kernel parameters (mitigations=auto console=ttyS0 default_hugepagesz=2M hugepagesz=1G hugepages=4) cannot take effect: the image demo 1.0.0 carries no kernel and initrd to restart into (/usr/lib/modules/*/vmlinuz or /boot/vmlinuz-*, and /usr/lib/ingot/initrd); booted through the ingot initrd, every try would fail its health check, unless the boot loader passes those parameters itself"
	grep -qxF "ingot: $want" build.err
	[ "$(wc -l <build.err)" -eq 1 ]
	unsquashfs -cat out/demo_1.0.0.raw usr/lib/ingot/profile.json >baked.json
	python3 -c 'import json; j = json.load(open("baked.json")); assert j["name"] == "db" and j["cmdline"], j'
	"$INGOT" build demo-1.0.0.ini -o json --unsigned --json >build.json 2>/dev/null
	python3 - "${want#warning: }" <<'PY'
import json, sys
w = json.load(open("build.json"))["warnings"]
assert w == [sys.argv[1]], w
PY
	# with a kernel and an initrd, or with sysctls only, nothing to say; the profile's own warnings are the build's
	signed_demo out 2.0.0 "$(with_kernel)$(printf '\n[Image]\nProfile=%s/db.conf' "$P")" 2>build.err
	[ ! -s build.err ]
	signed_demo out 3.0.0 "$(printf '[Image]\nProfile=%s/sysctl.conf' "$PWD")" 2>build.err
	[ ! -s build.err ]
	signed_demo out 4.0.0 "$(with_kernel)$(printf '\n[Image]\nProfile=%s/init.conf' "$PWD")" 2>build.err
	grep -qxF "ingot: warning: $PWD/init.conf:3: Parameters=init=/sbin/init: init= replaces the image's init: the initrd checks that it is there in the image, and a wrong one fails the slot" build.err
	[ "$(wc -l <build.err)" -eq 1 ]
	# a refused word stops the build, naming the profile's line
	printf '[Kernel]\nParameters=ingot.debug\n' >debug.conf
	expect_fail "debug.conf:2: Parameters=ingot.debug: ingot.* parameters are the ingot initrd's" \
		signed_demo bad 5.0.0 "$(printf '[Image]\nProfile=%s/debug.conf' "$PWD")"
	nothing_left bad
}
run build_warns_about_a_baked_profile t_build_warns_about_a_baked_profile
