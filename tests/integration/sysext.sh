#!/bin/bash
# systemd-sysext layers: `ingot sysext build` makes a DDI that systemd-dissect reads as a signed,
# verity-protected system extension, or a plain squashfs with sidecars; veritysetup and openssl cms
# agree with its parts; content outside /usr and /opt, unallowed shadowing and a wrong base are
# refused with the reason; a tampered layer fails `ingot verify`. The merge by systemd-sysext in the
# systemd Debian VM is tests/integration/host.sh's sysext_layer_merges_on_the_host.
. "$(dirname "$0")/../lib.sh"

# base OUT VERSION: the signed demo image at VERSION in OUT (keys/ made once).
base() {
	signed_demo "$1" "$2"
}

# layer_recipe FILE [EXTRA-LINES]: a layer with /usr/bin/hello and /opt/tools/README, for base/demo_1.0.0;
# the extra lines go into [Content] (line 9 on) unless they open another section.
layer_recipe() {
	mkdir -p tree/usr/bin tree/opt/tools
	printf '#!/bin/sh\necho hello from the layer\n' >tree/usr/bin/hello
	chmod 0755 tree/usr/bin/hello
	head -c 20000 /dev/urandom | base64 >tree/opt/tools/README # several blocks: a real hash tree
	printf '[Extension]\nName=tools\nVersion=1.0\nBase=base/demo_1.0.0.manifest.json\n[Output]\nSourceDateEpoch=1735689600\n[Content]\nCopy=tree/:/\n' >"$1"
	[ $# -lt 2 ] || printf '%s\n' "$2" >>"$1"
}

# json FILE EXPR: a Python expression over the JSON in FILE (bound to j), printed.
json() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

sign_build() {
	"$INGOT" sysext build "$@" --key keys/ingot.key --cert keys/ingot.crt --quiet
}

dissect() { # dissect IMAGE OUT.json: systemd-dissect --json=short, skipping where it cannot run
	command -v systemd-dissect >/dev/null || skip_test "systemd-dissect (systemd-container) missing"
	if ! systemd-dissect --json=short "$1" >"$2" 2>err; then
		cat err
		grep -qi 'loop' err && skip_test "systemd-dissect cannot attach a loop device here"
		return 1
	fi
	cat "$2"
}

t_ddi_is_a_signed_system_extension() {
	base base 1.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o out
	[ ! -e out/tools_1.0.verity ]
	[ ! -e out/tools_1.0.roothash.p7s ] # both inside the DDI
	dissect out/tools_1.0.raw d.json
	python3 - <<'PY'
import json
d = json.load(open("d.json"))
m = {x["designator"]: x for x in d["mounts"]}
assert m["root"]["fstype"] == "squashfs" and m["root"]["verity"] == "signed", m["root"]
assert "root-verity" in m and "root-verity-sig" in m, m
rel = d["extensionRelease"]
for want in ("ID=demo", "VERSION_ID=1.0.0", "ARCHITECTURE=x86-64", "SYSEXT_SCOPE=system", "SYSEXT_ID=tools"):
    assert want in rel, (want, rel)
assert d["useSystemExtension"] and not d["usePortableExtension"], d
PY
	# the partition table: DPS types, and the data and verity UUIDs are the root hash's halves
	root=$(cat out/tools_1.0.roothash)
	sfdisk --json out/tools_1.0.raw >t.json
	python3 - "$root" <<'PY'
import json, sys
root = sys.argv[1]
p = json.load(open("t.json"))["partitiontable"]["partitions"]
types = [x["type"].lower() for x in p]
assert types == ["4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
                 "41092b05-9fc8-4523-994f-2def0408b176"], types
uuid = lambda h: "-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:32]))
assert p[0]["uuid"].lower() == uuid(root[:32]) and p[1]["uuid"].lower() == uuid(root[32:]), (p, root)
assert all("GUID:60" in x.get("attrs", "") for x in p), p  # read-only
PY
}
run ddi_is_a_signed_system_extension t_ddi_is_a_signed_system_extension

t_ddi_parts_verify_with_veritysetup_and_openssl() {
	base base 1.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o out
	extract out/tools_1.0.raw root-x86-64 data.part
	extract out/tools_1.0.raw root-x86-64-verity verity.part
	extract out/tools_1.0.raw root-x86-64-verity-sig sig.part
	python3 - <<'PY'
import base64, json
raw = open("sig.part", "rb").read()
assert len(raw) % 4096 == 0, len(raw)
text = raw.rstrip(b"\0")
j = json.loads(text)
open("sig.p7s", "wb").write(base64.b64decode(j["signature"]))
open("sig.content", "w").write(j["rootHash"])
import hashlib, subprocess
der = subprocess.run(["openssl", "x509", "-in", "keys/ingot.crt", "-outform", "DER"], capture_output=True, check=True).stdout
assert j["certificateFingerprint"] == hashlib.sha256(der).hexdigest(), j
PY
	[ "$(cat sig.content)" = "$(cat out/tools_1.0.roothash)" ]
	openssl cms -verify -binary -inform DER -in sig.p7s -content sig.content -CAfile keys/ingot.crt -purpose any -out /dev/null
	veritysetup verify data.part verity.part "$(cat sig.content)"
	unsquashfs -lln data.part >list
	grep -q ' squashfs-root/usr/bin/hello$' list
	grep -q ' squashfs-root/opt/tools/README$' list
	grep -q ' squashfs-root/usr/lib/extension-release.d/extension-release.tools$' list
	! grep -q 'squashfs-root/usr/lib/os-release' list || return 1
	unsquashfs -d x data.part >/dev/null
	cat x/usr/lib/extension-release.d/extension-release.tools
	grep -qx 'ID=demo' x/usr/lib/extension-release.d/extension-release.tools
	grep -qx 'VERSION_ID=1.0.0' x/usr/lib/extension-release.d/extension-release.tools
	grep -qx 'ARCHITECTURE=x86-64' x/usr/lib/extension-release.d/extension-release.tools
	# systemd accepts extension-release.tools in tools_1.0.raw because of this xattr
	[ "$(getfattr --only-values -n user.extension-release.strict x/usr/lib/extension-release.d/extension-release.tools)" = 0 ]
	# a tree that covers the squashfs exactly, a wrong root hash refused
	! veritysetup verify data.part verity.part "$(tr 0-9a-f 1-9a-f0 <sig.content)" 2>/dev/null || return 1
}
run ddi_parts_verify_with_veritysetup_and_openssl t_ddi_parts_verify_with_veritysetup_and_openssl

t_raw_format_with_sidecars() {
	base base 1.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o out --format raw
	for s in raw verity roothash roothash.p7s manifest.json; do [ -s "out/tools_1.0.$s" ]; done
	[ "$(head -c 4 out/tools_1.0.raw)" = hsqs ]
	veritysetup verify out/tools_1.0.raw out/tools_1.0.verity "$(cat out/tools_1.0.roothash)"
	openssl cms -verify -binary -inform DER -in out/tools_1.0.roothash.p7s \
		-content <(printf %s "$(cat out/tools_1.0.roothash)") -CAfile keys/ingot.crt -purpose any -out /dev/null
	[ "$(json out/tools_1.0.manifest.json 'j["kind"], j["extension"]["format"]')" = "('sysext', 'raw')" ]
	"$INGOT" verify out/tools_1.0.raw --cert keys/ingot.crt
	"$INGOT" sysext check out/tools_1.0.raw --base base/demo_1.0.0.manifest.json --cert keys/ingot.crt
	dissect out/tools_1.0.raw d.json
	python3 - <<'PY'
import json
d = json.load(open("d.json"))
assert d["mounts"][0]["verity"] == "external", d
assert "ID=demo" in d["extensionRelease"] and d["useSystemExtension"], d
PY
}
run raw_format_with_sidecars t_raw_format_with_sidecars

t_reproducible() {
	base base 1.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o one
	mkdir elsewhere
	cp -a tree tools.ini elsewhere/
	ln -s ../base elsewhere/base
	(cd elsewhere && "$INGOT" sysext build tools.ini -o ../two --key ../keys/ingot.key --cert ../keys/ingot.crt --quiet -j 1)
	for s in raw roothash manifest.json; do cmp "one/tools_1.0.$s" "two/tools_1.0.$s"; done
	sign_build tools.ini -o one-raw --format raw
	sign_build tools.ini -o two-raw --format raw -j 1
	for s in raw verity roothash roothash.p7s manifest.json; do cmp "one-raw/tools_1.0.$s" "two-raw/tools_1.0.$s"; done
	# the DDI holds exactly the raw build's squashfs and tree
	extract one/tools_1.0.raw root-x86-64 data.part
	cmp data.part one-raw/tools_1.0.raw
	# rebuilds that take their blocks from the raw layer (--reuse) are the same layers
	sign_build tools.ini -o three --reuse one-raw/tools_1.0.raw
	cmp one/tools_1.0.raw three/tools_1.0.raw
	sign_build tools.ini -o three-raw --format raw --reuse one-raw
	for s in raw verity roothash roothash.p7s manifest.json blocks; do cmp "one-raw/tools_1.0.$s" "three-raw/tools_1.0.$s"; done
}
run reproducible t_reproducible

t_content_outside_usr_and_opt_is_refused() {
	base base 1.0.0
	layer_recipe tools.ini
	mkdir -p etc-tree/etc
	echo 'setting=1' >etc-tree/etc/agent.conf
	printf 'Copy=etc-tree/:/\n' >>tools.ini
	expect_fail "tools.ini:9: /etc/agent.conf: a layer holds only /usr and /opt" \
		"$INGOT" sysext build tools.ini -o out --unsigned
	[ -z "$(ls -A out 2>/dev/null)" ] # nothing, not even a temporary
	layer_recipe mk.ini 'Mkdir=/var/lib/agent'
	expect_fail "mk.ini:9: Mkdir=/var/lib/agent: a layer holds only /usr and /opt" "$INGOT" plan mk.ini
	layer_recipe os.ini 'Mkdir=/usr/lib'
	mkdir -p os-tree/usr/lib
	echo 'ID=evil' >os-tree/usr/lib/os-release
	printf 'Copy=os-tree/:/\n' >>os.ini
	expect_fail "/usr/lib/os-release: systemd-sysext refuses a layer with an os-release" \
		"$INGOT" sysext build os.ini -o out --unsigned
}
run content_outside_usr_and_opt_is_refused t_content_outside_usr_and_opt_is_refused

t_wrong_base_is_refused_with_the_reason() {
	base base 1.0.0
	base base 2.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o out
	"$INGOT" sysext check out/tools_1.0.raw --base base/demo_1.0.0.manifest.json --cert keys/ingot.crt
	expect_fail "compatibility: extension 'tools' is for VERSION_ID '1.0.0', but the base demo 2.0.0 has VERSION_ID '2.0.0'" \
		"$INGOT" sysext check out/tools_1.0.raw --base base/demo_2.0.0.manifest.json
	! "$INGOT" sysext check out/tools_1.0.raw --base base/demo_2.0.0.manifest.json --json >c.json || return 1
	[ "$(json c.json '[c["state"] for c in j["checks"]]')" = "['failed', 'ok', 'ok']" ]
	# built for 2.0.0 with --base, it fits 2.0.0
	sign_build tools.ini -o out2 --base base/demo_2.0.0.manifest.json
	"$INGOT" sysext check out2/tools_1.0.raw --base base/demo_2.0.0.manifest.json
	# SYSEXT_LEVEL is matched instead of VERSION_ID when the base declares one
	layer_recipe level.ini $'[Extension]\nLevel=7'
	sign_build level.ini -o out3
	grep -q '"SYSEXT_LEVEL": "7"' out3/tools_1.0.manifest.json
	expect_fail "has no VERSION_ID (its SYSEXT_LEVEL does not count: the base has none)" \
		"$INGOT" sysext check out3/tools_1.0.raw --base base/demo_1.0.0.manifest.json
	# another OS and another architecture
	python3 - <<'PY'
import json
m = json.load(open("base/demo_1.0.0.manifest.json"))
m["os_release"]["ID"] = "other"
json.dump(m, open("base/other.manifest.json", "w"))
m["os_release"]["ID"] = "demo"; m["architecture"] = "arm64"
json.dump(m, open("base/arm.manifest.json", "w"))
PY
	expect_fail "is for OS ID 'demo', but the base demo 1.0.0 has ID 'other'" \
		"$INGOT" sysext check out/tools_1.0.raw --base base/other.manifest.json
	expect_fail "is for architecture 'x86-64', but the base demo 1.0.0 is 'arm64'" \
		"$INGOT" sysext check out/tools_1.0.raw --base base/arm.manifest.json
}
run wrong_base_is_refused_with_the_reason t_wrong_base_is_refused_with_the_reason

t_shadowing_needs_allow_shadow() {
	base base 1.0.0
	layer_recipe tools.ini
	cp tree/usr/bin/hello tree/usr/bin/sh # the base has /usr/bin/sh (busybox)
	expect_fail "tools.ini:8: /usr/bin/sh replaces what the base image demo 1.0.0 has there (1 path in all); name it in [Extension] AllowShadow=" \
		"$INGOT" sysext build tools.ini -o out --unsigned
	printf '[Extension]\nAllowShadow=/usr/bin/sh\n' >>tools.ini
	"$INGOT" sysext build tools.ini -o out --unsigned --quiet
	"$INGOT" sysext check out/tools_1.0.raw --base base/demo_1.0.0.manifest.json --json >c.json
	[ "$(json c.json 'j["shadowed"]')" = "[{'path': '/usr/bin/sh', 'allowed': True}]" ]
	# the same layer without its manifest: nothing says the shadowing was meant
	mv out/tools_1.0.manifest.json elsewhere.json
	expect_fail "shadowing: 1 file replaces the base's (/usr/bin/sh) and AllowShadow= does not allow it" \
		"$INGOT" sysext check out/tools_1.0.raw --base base/demo_1.0.0.manifest.json
}
run shadowing_needs_allow_shadow t_shadowing_needs_allow_shadow

t_tampered_layer_fails_verify() {
	base base 1.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o out
	"$INGOT" verify out/tools_1.0.raw --cert keys/ingot.crt
	cp out/tools_1.0.raw good.raw
	p=$(part out/tools_1.0.raw root-x86-64); read -r start _ <<<"$p"
	flip out/tools_1.0.raw $((start + 6000))
	expect_fail "hash tree: data block 1 (bytes 4096-8191) does not match the hash tree" \
		"$INGOT" verify out/tools_1.0.raw --cert keys/ingot.crt
	expect_fail "signature: " "$INGOT" sysext check out/tools_1.0.raw --base base/demo_1.0.0.manifest.json
	# a signature partition rewritten with another root hash
	cp good.raw out/tools_1.0.raw
	p=$(part out/tools_1.0.raw root-x86-64-verity-sig); read -r start _ <<<"$p"
	flip out/tools_1.0.raw $((start + 20))
	! "$INGOT" verify out/tools_1.0.raw --cert keys/ingot.crt >v.txt 2>&1 || return 1
	cat v.txt
	grep -q '^root hash  FAILED' v.txt
	# another signer is not trusted
	cp good.raw out/tools_1.0.raw
	"$INGOT" keygen other >/dev/null
	expect_fail "signature" "$INGOT" verify out/tools_1.0.raw --cert other/ingot.crt
	expect_fail "signature: " "$INGOT" sysext check out/tools_1.0.raw --base base/demo_1.0.0.manifest.json --cert other/ingot.crt
	# the raw format: a flipped byte in the squashfs
	sign_build tools.ini -o raw --format raw
	flip raw/tools_1.0.raw 5000
	expect_fail "hash tree: data block 1" "$INGOT" verify raw/tools_1.0.raw --cert keys/ingot.crt
	# a layer that is no squashfs at all is named with the reason (sysext check exited 1 without a word)
	head -c 8192 /dev/zero >zero.raw
	expect_fail "zero.raw: not a squashfs image" "$INGOT" sysext check zero.raw --base base/demo_1.0.0.manifest.json
}
run tampered_layer_fails_verify t_tampered_layer_fails_verify

t_recipe_mistakes() {
	base base 1.0.0
	printf '[Extension]\nName=x\nVersion=1\nScope=system everywhere\n' >a.ini
	expect_fail "a.ini:4: Scope='everywhere' is not one of system, initrd, portable" "$INGOT" plan a.ini
	printf '[Extension]\nName=x\nVersion=1\nLevl=3\n' >b.ini
	expect_fail "b.ini:4: unknown key 'Levl' in [Extension]; did you mean 'Level'?" "$INGOT" plan b.ini
	printf '[Image]\nName=x\nVersion=1\n[Extension]\nScope=initrd\n' >c.ini
	expect_fail "c.ini:1: [Image] in a layer recipe ([Extension] at c.ini:4)" "$INGOT" plan c.ini
	printf '[Extension]\nName=x\nVersion=1\n[Mounts]\nTmpfs=/srv\n' >d.ini
	expect_fail "d.ini:4: [Mounts] does not apply to a layer" "$INGOT" plan d.ini
	printf '[Extension]\nName=x\nVersion=1\n' >e.ini
	expect_fail "no base image: give --base BASE.manifest.json or [Extension] Base=" \
		"$INGOT" sysext build e.ini -o out --unsigned
	expect_fail "a layer recipe ([Extension] at e.ini:1): build it with 'ingot sysext build'" \
		"$INGOT" build e.ini -o out --unsigned
	expect_fail "not a layer recipe: it has no [Extension] section" \
		"$INGOT" sysext build demo-1.0.0.ini --base base/demo_1.0.0.manifest.json -o out --unsigned
	"$INGOT" sysext build e.ini --base out/nothing.json -o out --unsigned 2>err && return 1
	grep -q 'out/nothing.json: No such file or directory' err
	"$INGOT" plan e.ini --json >p.json
	[ "$(json p.json 'j["extension"]["scope"]')" = "[]" ]
	expect_fail "--format is ddi or raw, not 'iso'" "$INGOT" sysext build e.ini --format iso
}
run recipe_mistakes t_recipe_mistakes

t_inspect_shows_the_layer() {
	base base 1.0.0
	layer_recipe tools.ini $'[Extension]\nScope=system portable'
	sign_build tools.ini -o out
	"$INGOT" inspect out/tools_1.0.raw --json >i.json
	cat i.json
	[ "$(json i.json 'j["kind"], j["format"], j["signed"], j["base"]["version"]')" = "('sysext', 'ddi', True, '1.0.0')" ]
	json i.json 'j["extension_release"]' | grep -q "'SYSEXT_SCOPE=system portable'"
	[ "$(json i.json 'j["root_hash"]')" = "$(cat out/tools_1.0.roothash)" ]
	"$INGOT" inspect out/tools_1.0.raw | grep -q '^layer:        systemd-sysext, ddi, for demo 1.0.0$'
}
run inspect_shows_the_layer t_inspect_shows_the_layer

t_systemd_dissect_validate() {
	command -v systemd-dissect >/dev/null || skip_test "systemd-dissect (systemd-container) missing"
	systemd-dissect --help | grep -q -- '--validate' || skip_test "systemd-dissect $(systemd-dissect --version | sed -n '1s/systemd \([0-9]*\).*/\1/p') has no --validate (later versions do)"
	base base 1.0.0
	layer_recipe tools.ini
	sign_build tools.ini -o out
	systemd-dissect --validate out/tools_1.0.raw
}
run systemd_dissect_validate t_systemd_dissect_validate
