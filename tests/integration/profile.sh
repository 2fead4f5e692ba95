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
	cp "$P"/*.conf . && mkdir db.conf.d
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
	expect_fail "nothing.conf: No such file or directory" "$INGOT" profile show nothing.conf
	rc=0; "$INGOT" profile explain "$P/db.conf" 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
	rc=0; "$INGOT" profile compare a b 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
	"$INGOT" profile --help | grep -q 'explain A B'
}
run bad_profiles t_bad_profiles
