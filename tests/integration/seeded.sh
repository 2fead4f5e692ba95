#!/bin/bash
# Installs from a URL seeded from the disk's slots (docs/delivery.md): the image assembled from extents
# the slots hold, found by the block indexes, and the rest fetched with Range requests, every extent
# checked by its SHA-256. Oracles: cmp of the slot against the published image, veritysetup and openssl
# cms (slot_verifies), nginx's access log for what was fetched.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/nginx.sh"
. "$TOP/tests/tools/releases.sh"

WWW=$T/www
mkdir -p "$WWW/norange" "$WWW/onerange"
trap 'nginx_stop; [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
if ! command -v nginx >/dev/null; then
	echo "SKIP: seeded: nginx is not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
nginx_start "$T/nginx" "$WWW" || exit 1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy= NO_PROXY=

# v1: the demo with 6 MiB of its own; v2: the same and one small file more; v3: 12 MiB that no other
# version has, and not the 6 MiB. Built once; each test links them.
IMG=$T/images
mkdir -p "$IMG"
(
	cd "$IMG" || exit 1
	head -c 6M /dev/urandom >blob-a
	head -c 12M /dev/urandom >blob-b
	echo "new in 2.0.0" >small
	fast='[Output]\nLevel=1'
	signed_demo out-1.0.0 1.0.0 "$(printf "[Content]\nCopy=$PWD/blob-a:/a\n$fast")" &&
		signed_demo out-2.0.0 2.0.0 "$(printf "[Content]\nCopy=$PWD/blob-a:/a\nCopy=$PWD/small:/small\n$fast")" &&
		signed_demo out-3.0.0 3.0.0 "$(printf "[Content]\nCopy=$PWD/blob-b:/b\n$fast")"
) || exit 1

# b_holds VERSION: slot b of disk.img is exactly the published image of VERSION (cmp), and verifies
# (veritysetup, openssl cms) against its root hash.
b_holds() {
	slot_holds disk.img b "out-$1/demo_$1.raw" || return 1
	slot_verifies disk.img b keys/ingot.crt "out-$1/demo_$1.roothash" || return 1
}

# event FILE TYPE EXPR: EXPR (Python, over e) holds for the last event of TYPE in the JSON lines of FILE.
event() {
	python3 - "$@" <<'PY' || return 1
import json, sys
path, kind, expr = sys.argv[1:4]
es = [e for e in map(json.loads, open(path)) if e["event"] == kind]
assert es, "no %s event" % kind
e = es[-1]
assert eval(expr), (expr, e)
PY
}

# served LOG NAME: the statuses nginx answered requests for NAME with (comma-separated, sorted) and the
# bytes it sent of it, in the access log lines LOG holds.
served() {
	python3 - "$1" "$2" <<'PY' || return 1
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.split()[1].endswith("/" + sys.argv[2])]
print(",".join(sorted({l[3] for l in lines})), sum(int(l[4]) for l in lines))
PY
}

# nginx's log from line N on, into FILE
log_since() { tail -n +"$(($1 + 1))" "$T/nginx/access.log" >"$2"; }

t_seeded_install_fetches_what_changed() {
	images
	url=$(release s 1.0.0 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	before=$(wc -l <"$T/nginx/access.log")
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	log_since "$before" access.log
	cat events.json access.log
	size=$(stat -c %s out-2.0.0/demo_2.0.0.raw)
	b_holds 2.0.0
	# the 6 MiB came from slot a: what was fetched is a small part, and with the reused all of the image
	event events.json seeded "e['reused'] > 6 << 20"
	event events.json result "e['reused'] + e['fetched'] == $size and e['fetched'] * 20 < $size"
	# nginx sent the image in Range requests only (206), as many bytes as ingot says it fetched, and the
	# 96 of the probe, and the framing of the parts of requests with several ranges (at most 512 a part)
	sent=$(served access.log demo_2.0.0.raw)
	read -r statuses bytes <<<"$sent"
	[ "$statuses" = 206 ]
	python3 - access.log events.json "$bytes" <<'PY'
import json, re, sys
fetched = [json.loads(l) for l in open(sys.argv[2])][-1]["fetched"]
parts = [len(m.group(1).split(",")) for m in re.finditer(r"demo_2.0.0.raw .* range=bytes=(\S+)", open(sys.argv[1]).read())]
framing = sum(512 * n for n in parts if n > 1)
assert fetched + 96 <= int(sys.argv[3]) <= fetched + 96 + framing, (fetched, sys.argv[3], parts)
PY
	# and the text output says so
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b "$url" >out.log
	grep -E "installed 2.0.0 .*MiB fetched, [0-9.]+ MiB from the disk" out.log
}
run seeded_install_fetches_what_changed t_seeded_install_fetches_what_changed

# The slot being written seeds what it held: slot a holds 3.0.0 (none of blob a), b holds 1.0.0; 2.0.0
# into b takes blob a from b itself, where the install has not yet written.
t_target_slot_seeds_itself() {
	images
	url=$(release ts 1.0.0 2.0.0 3.0.0)
	"$INGOT" disk disk.img --slot-a out-3.0.0/demo_3.0.0.raw --slot-size 48M
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b --full --version 1.0.0 --allow-downgrade "$url" >/dev/null
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b --version 2.0.0 --allow-downgrade --json "$url" >events.json
	cat events.json
	event events.json result "e['reused'] > 6 << 20"
	b_holds 2.0.0
}
run target_slot_seeds_itself t_target_slot_seeds_itself

# A byte changed on the server in an extent no slot has: refused, naming the bytes, before they are
# written, and slot b left unbootable; in text and JSON.
t_tampered_extent_is_refused() {
	images
	url=$(release t 1.0.0 2.0.0)
	off=$(python3 - out-1.0.0/demo_1.0.0.blocks out-2.0.0/demo_2.0.0.blocks <<'PY'
import json, sys
old = {e[3] for e in json.load(open(sys.argv[1]))["extents"]}
new = [e for e in json.load(open(sys.argv[2]))["extents"] if e[3] not in old and e[2] != "superblock"]
print(new[0][0] + new[0][1] // 2)
PY
)
	flip "$WWW/t/demo_2.0.0.raw" "$off"
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	expect_fail "are not what the signed block index names" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	[ "$(status_field disk.img 's["slots"][1]["state"] in ("empty", "bad"), s["next"]')" = "(True, 'a')" ]
	rc=0
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ]
	event events.json error "'not what the signed block index names' in e['message']"
}
run tampered_extent_is_refused t_tampered_extent_is_refused

# A damaged block in the booted slot: its extent is not taken (its SHA-256 differs), it is fetched, and
# the install says which bytes of which slot; the new slot is exactly the image.
t_damaged_seed_block_is_fetched() {
	images
	url=$(release d 1.0.0 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	off=$(python3 -c 'import json, sys; d = [e for e in json.load(open(sys.argv[1]))["extents"] if e[2] == "data"]; print(d[len(d) // 2][0] + 100)' \
		out-1.0.0/demo_1.0.0.blocks)
	flip_part disk.img root-a "$off"
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json 2>err.log
	cat events.json
	event events.json seed-damaged "'root-a' in e['url'] and 'not what its index names' in e['message']"
	event events.json result "e['fetched'] > 100000"
	b_holds 2.0.0
}
run damaged_seed_block_is_fetched t_damaged_seed_block_is_fetched

# A block index on the server that is not the one the signed index names: not used; the whole image is
# fetched, and the install says why.
t_index_that_does_not_match_is_not_used() {
	images
	url=$(release m 1.0.0 2.0.0)
	cp "$WWW/m/demo_1.0.0.blocks" "$WWW/m/demo_2.0.0.blocks"
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	before=$(wc -l <"$T/nginx/access.log")
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	log_since "$before" access.log
	event events.json full "'demo_2.0.0.blocks: its SHA-256 is not the one the signed index gives' in e['message']"
	read -r statuses bytes <<<"$(served access.log demo_2.0.0.raw)"
	[ "$statuses" = 200 ]
	[ "$bytes" -eq "$(stat -c %s out-2.0.0/demo_2.0.0.raw)" ]
	b_holds 2.0.0
	# in text, on stderr
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b "$url" >/dev/null 2>err.log
	grep -q "fetching the whole image: .*demo_2.0.0.blocks: its SHA-256 is not the one the signed index gives" err.log
}
run index_that_does_not_match_is_not_used t_index_that_does_not_match_is_not_used

# A server that ignores Range (nginx with max_ranges 0 answers 200 with the whole file): the whole image,
# fetched once, with the reason.
t_server_without_range() {
	images
	url=$(release norange/r 1.0.0 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	event events.json full "'does not answer Range requests' in e['message']"
	event events.json result "e['reused'] == 0"
	b_holds 2.0.0
}
run server_without_range t_server_without_range

# A server that answers one range a request (nginx max_ranges 1 sends the whole file for several):
# ranges one at a time, still seeded.
t_server_with_one_range_a_request() {
	images
	url=$(release onerange/o 1.0.0 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	before=$(wc -l <"$T/nginx/access.log")
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	log_since "$before" access.log
	cat access.log
	event events.json result "e['reused'] > 6 << 20"
	# several ranges asked once, then one a request
	grep -Eq 'demo_2.0.0.raw .* 200 [0-9]+ range=bytes=[0-9-]+,' access.log
	grep -Eq 'demo_2.0.0.raw .* 206 [0-9]+ range=bytes=[0-9]+-[0-9]+$' access.log
	b_holds 2.0.0
}
run server_with_one_range_a_request t_server_with_one_range_a_request

# proxy_start CUT [stall]: tests/tools/cut-proxy.py in front of nginx; its port in proxy.port.
proxy_start() {
	python3 "$TOP/tests/tools/cut-proxy.py" proxy.port "$NGINX_PORT" "$1" proxy.log ${2:-} &
	echo $! >proxy.pid
	for _ in $(seq 100); do [ -e proxy.port ] && return 0; sleep 0.05; done
	return 1
}

# A Range response cut in the middle: the request goes on from the byte where it stopped.
t_cut_range_goes_on() {
	images
	url=$(release c 1.0.0 3.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	proxy_start 3000000
	trap 'kill $(cat proxy.pid) 2>/dev/null || true' EXIT
	http_proxy=http://127.0.0.1:$(cat proxy.port) "$INGOT" slot install --disk disk.img --cert keys/ingot.crt \
		--json "$url" >events.json
	cat events.json proxy.log
	event events.json retry "'demo_3.0.0.raw' in e['url']"
	# the request after the cut asks again for what the cut one did not bring, to the same end, and for
	# nothing before it (a single range goes on from the byte where it stopped)
	python3 - proxy.log <<'PY'
import re, sys
asked = [m.group(1) for m in re.finditer(r"demo_3.0.0.raw HTTP/1.1 Range: bytes=(\S+)", open(sys.argv[1]).read())]
span = [(int(s.split(",")[0].split("-")[0]), int(s.split(",")[-1].split("-")[1])) for s in asked]
big = [i for i, (a, b) in enumerate(span) if b - a >= 3000000]
assert big and big[0] + 1 < len(span), asked
cut, again = span[big[0]], span[big[0] + 1]
assert again[1] == cut[1] and again[0] >= cut[0], (cut, again)
PY
	b_holds 3.0.0
}
run cut_range_goes_on t_cut_range_goes_on

# kill -9 in the middle of an install, then the same install again: it takes what the killed one wrote
# into slot b (checked by SHA-256 against the new index, as every extent) and fetches the rest.
t_killed_install_goes_on() {
	images
	url=$(release k 1.0.0 3.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 48M
	# the image's bytes stall after 9 MiB relayed: the first range of 8 MiB is written by then
	proxy_start $(((8 << 20) + (1 << 20))) stall
	trap 'kill $(cat proxy.pid) 2>/dev/null || true' EXIT
	http_proxy=http://127.0.0.1:$(cat proxy.port) "$INGOT" slot install --disk disk.img --cert keys/ingot.crt \
		--json "$url" >killed.json 2>&1 &
	pid=$!
	for _ in $(seq 300); do grep -q stalled proxy.log && break; sleep 0.1; done
	grep -q stalled proxy.log
	sleep 1
	kill -9 "$pid"
	wait "$pid" || true
	# slot b is not bootable: its signature went first
	[ "$(status_field disk.img 's["slots"][1]["state"] in ("empty", "bad"), s["next"]')" = "(True, 'a')" ]
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	cat events.json
	# blob b is in no slot but what the killed install wrote: at least 4 MiB of it now comes from b
	event events.json result "e['reused'] >= 4 << 20"
	b_holds 3.0.0
}
run killed_install_goes_on t_killed_install_goes_on
