#!/bin/bash
# Fleet delivery: `ingot publish` into a directory nginx serves on 127.0.0.1, and `ingot slot install URL`
# and `ingot update` from it into disks made by `ingot disk`. Oracles: sha256sum -c and openssl cms for
# the release, nginx's access log for Range requests, veritysetup and openssl cms for the slots.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/nginx.sh"
. "$TOP/tests/tools/releases.sh"

WWW=$T/www
mkdir -p "$WWW"
trap 'nginx_stop; rm -rf "$T"' EXIT
if ! command -v nginx >/dev/null; then
	echo "SKIP: fleet: nginx is not installed (scripts/install-deps.sh installs it)"
	exit 0
fi
# a CA and a certificate for 127.0.0.1 it signed, for HTTPS
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ingot test CA" -keyout "$T/ca.key" -out "$T/ca.crt" \
	2>/dev/null || exit 1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$T/tls.key" -out "$T/tls.csr" 2>/dev/null || exit 1
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/tls.ext"
openssl x509 -req -in "$T/tls.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -days 2 -extfile "$T/tls.ext" \
	-out "$T/tls.crt" 2>/dev/null || exit 1
nginx_start "$T/nginx" "$WWW" "$T/tls.crt" "$T/tls.key" || exit 1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy= NO_PROXY=

# The demo image at three versions, signed by keys/, built once: each test links them (out-VERSION, keys).
IMG=$T/images
mkdir -p "$IMG"
(cd "$IMG" && for v in 1.0.0 2.0.0 3.0.0; do signed_demo "out-$v" "$v"; done) || exit 1

t_publish_and_install() {
	images
	url=$(release pi 1.0.0 2.0.0)
	rel=$WWW/pi
	# the second publish kept the first version; newest first
	python3 - "$rel/index.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["format"] == 2 and i["kind"] == "ingot-release-index", i
assert [v["version"] for v in i["versions"]] == ["2.0.0", "1.0.0"], i["versions"]
for v in i["versions"]:
    assert set(v) >= {"name", "version", "image", "size", "root_hash", "signer", "verity", "signature", "blocks",
                      "blocks_sha256"}, v
PY
	[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["versions"][0]["root_hash"])' "$rel/index.json")" = \
		"$(cat out-2.0.0/demo_2.0.0.roothash)" ]
	# SHA256SUMS as sha256sum reads it, covering every artifact (six each); both lists signed by the key
	(cd "$rel" && sha256sum --strict -c SHA256SUMS) >sums.log
	[ "$(grep -c ': OK$' sums.log)" = 12 ]
	for f in SHA256SUMS index.json; do
		openssl cms -verify -binary -inform DER -in "$rel/$f.p7s" -content "$rel/$f" -CAfile keys/ingot.crt \
			-purpose any -out /dev/null
	done
	# no temporary left behind
	[ -z "$(find "$rel" -name '.*')" ]
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >events.json
	python3 - events.json <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds[0] == "index" and "selected" in kinds and "installed" in kinds, kinds
assert ev[-1]["event"] == "result" and ev[-1]["slot"] == "b" and ev[-1]["version"] == "2.0.0", ev[-1]
PY
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["version"], s["next"]')" = "('trying', '2.0.0', 'b')" ]
	# --version picks an older one when the floor allows it (a is good at 1.0.0)
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b --version 1.0.0 "$url" | grep -q "installed 1.0.0"
	slot_verifies disk.img b keys/ingot.crt out-1.0.0/demo_1.0.0.roothash
	expect_fail "no version '9.0.0'" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --version 9.0.0 "$url"
	# a published version never changes
	signed_demo changed 2.0.0 "$(printf '[Content]\nMkdir=/changed')"
	expect_fail "exists with other bytes" "$INGOT" publish changed "$rel" --key keys/ingot.key --cert keys/ingot.crt
	"$INGOT" publish out-2.0.0 "$rel" --key keys/ingot.key --cert keys/ingot.crt | grep -q "published 2.0.0"
}
run publish_and_install t_publish_and_install

t_cut_connection_resumes() {
	images
	url=$(release cut 1.0.0 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	python3 "$TOP/tests/tools/cut-proxy.py" proxy.port "$NGINX_PORT" 300000 proxy.log &
	proxy=$!
	trap 'kill $proxy 2>/dev/null || true' EXIT
	for _ in $(seq 100); do [ -e proxy.port ] && break; sleep 0.05; done
	before=$(wc -l <"$T/nginx/access.log")
	# through the proxy as curl users set one: http_proxy
	http_proxy=http://127.0.0.1:$(cat proxy.port) "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json \
		--full "$url" >events.json
	cat events.json proxy.log
	grep -q '"event":"resume"' events.json
	grep -q '"event":"retry"' events.json
	# the proxy saw the image asked twice, the second time from where the cut left it
	[ "$(grep -c 'demo_2.0.0.raw HTTP' proxy.log)" = 2 ]
	grep 'demo_2.0.0.raw HTTP' proxy.log | tail -1 | grep -Eq 'Range: bytes=[1-9][0-9]*-$'
	# and nginx answered it with 206 Partial Content
	tail -n +"$((before + 1))" "$T/nginx/access.log" | grep 'demo_2.0.0.raw' | tail -1 | grep -Eq ' 206 [0-9]+ range=bytes=[1-9]'
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = trying ]
}
run cut_connection_resumes t_cut_connection_resumes

t_flipped_byte_is_refused() {
	images
	url=$(release flip 1.0.0 2.0.0 3.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --version 2.0.0 "$url" >/dev/null
	[ "$(status_field disk.img 's["slots"][1]["state"]')" = trying ]
	# one byte of the served 3.0.0 image changed, in the middle
	f=$WWW/flip/demo_3.0.0.raw
	off=$(($(stat -c %s "$f") / 2))
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\x$(printf %02x $(((b + 1) % 256)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	expect_fail "does not match the hash tree" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --full "$url"
	# b was the target: priority 0 and no signature, so nothing boots it; a is next
	[ "$(status_field disk.img 's["slots"][1]["priority"], s["slots"][1]["state"] in ("empty", "bad"), s["next"]')" = "(0, True, 'a')" ]
	"$INGOT" slot status --disk disk.img | grep -E '^b +(empty|bad) +0 '
	p=$(part disk.img root-b); read -r _ _ attrs <<<"$p"
	[ "$attrs" = - ]
	extract disk.img verity-sig-b sig.part
	[ -z "$(tr -d '\0' <sig.part | head -c1)" ]
}
run flipped_byte_is_refused t_flipped_byte_is_refused

# b_unbootable DISK: slot b has priority 0 and a boots next, as status --json and next say.
b_unbootable() {
	[ "$(status_field "$1" 's["slots"][1]["priority"], s["next"]')" = "(0, 'a')" ] || return 1
	"$INGOT" slot next --disk "$1" >next.txt || return 1
	grep -q '^a: ' next.txt || return 1
}

# One byte flipped in the first 4 MiB chunk of a 70 MiB image (past its superblock), installed from a file
# and from a URL, in text and JSON: the error names the damaged block and its bytes, where veritysetup
# finds the damage, exit status 1, and slot b is left unbootable. (Only damage in the last chunk used to
# be named; any other gave "Bad message".)
t_damaged_block_is_named() {
	images
	head -c 70M /dev/urandom >blob
	signed_demo big 2.0.0 "$(printf '[Content]\nCopy=%s/blob:/blob\n[Output]\nLevel=1' "$PWD")"
	[ "$(stat -c %s big/demo_2.0.0.raw)" -ge $((64 << 20)) ]
	"$INGOT" publish big "$WWW/bigflip" --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	url=http://127.0.0.1:$NGINX_PORT/bigflip/
	off=$(((1 << 20) + 12345))
	flip big/demo_2.0.0.raw "$off"
	flip "$WWW/bigflip/demo_2.0.0.raw" "$off"
	cmp big/demo_2.0.0.raw "$WWW/bigflip/demo_2.0.0.raw"
	! veritysetup verify big/demo_2.0.0.raw big/demo_2.0.0.verity "$(cat big/demo_2.0.0.roothash)" >vs.log 2>&1 || return 1
	cat vs.log
	pos=$(sed -n 's/^Verification failed at position \([0-9]*\)\.$/\1/p' vs.log)
	[ -n "$pos" ]
	[ "$pos" -lt $((4 << 20)) ]
	want="data block $((pos / 4096)) (bytes $pos-$((pos + 4095))) does not match the hash tree"
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw --slot-size 100M
	rc=0
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt big/demo_2.0.0.raw >out.log 2>err.log || rc=$?
	cat err.log
	[ "$rc" -eq 1 ]
	grep -qF "big/demo_2.0.0.raw: $want" err.log
	grep -qF "root-b was left unbootable" err.log
	b_unbootable disk.img
	rc=0
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --full "$url" >out.log 2>err.log || rc=$?
	cat err.log
	[ "$rc" -eq 1 ]
	grep -qF "${url}demo_2.0.0.raw: $want" err.log
	b_unbootable disk.img
	rc=0
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json --full "$url" >events.json 2>err.log || rc=$?
	cat events.json err.log
	[ "$rc" -eq 1 ]
	python3 - events.json "${url}demo_2.0.0.raw: $want" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])][-1]
assert e["event"] == "error" and sys.argv[2] in e["message"], e
PY
	b_unbootable disk.img
}
run damaged_block_is_named t_damaged_block_is_named

# With --json, or with stderr not a terminal, nothing draws a progress line: stderr holds no carriage
# return and no escape sequence, whether the install succeeds or fails.
t_no_terminal_codes_off_a_terminal() {
	images
	url=$(release quiet 1.0.0 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json --slot b --version 1.0.0 "$url" \
		>events.json 2>err.log
	grep -q '"event":"progress"' events.json
	"$INGOT" update disk.img "$url" --cert keys/ingot.crt --json >>events.json 2>>err.log
	grep -q '"event":"result"' events.json
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b "$url" >/dev/null 2>>err.log
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b out-2.0.0/demo_2.0.0.raw >/dev/null 2>>err.log
	# failing installs, after progress was reported
	flip "$WWW/quiet/demo_2.0.0.raw" 70000
	! "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json --slot b --full "$url" >>events.json 2>>err.log || return 1
	! "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b --full "$url" >/dev/null 2>>err.log || return 1
	cat err.log
	grep -q "does not match the hash tree" err.log
	! grep -q $'\r' err.log || return 1
	! grep -q $'\e' err.log || return 1
}
run no_terminal_codes_off_a_terminal t_no_terminal_codes_off_a_terminal

# A damaged signature served for an image or for the index is "damaged", naming its URL, and not "not trusted".
t_damaged_served_signature() {
	images
	url=$(release dsig 2.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	cp "$WWW/dsig/demo_2.0.0.roothash.p7s" p7s.good
	python3 "$TOP/tests/tools/damage-cert.py" "$WWW/dsig/demo_2.0.0.roothash.p7s" keys/ingot.crt signature
	exits_1_with "${url}demo_2.0.0.roothash.p7s: damaged signature" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	! grep -q "not trusted" last.log || return 1
	cp p7s.good "$WWW/dsig/demo_2.0.0.roothash.p7s"
	python3 "$TOP/tests/tools/damage-cert.py" "$WWW/dsig/index.json.p7s" keys/ingot.crt subject
	exits_1_with "${url}index.json.p7s: damaged signature" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	! grep -q "not trusted" last.log || return 1
	same_bytes disk.img "$sum"
}
run damaged_served_signature t_damaged_served_signature

# A disk file under one sector, for the verbs that install from a URL: exit 1 naming the file, no abort.
t_tiny_disk() {
	images
	url=$(release tiny 1.0.0)
	: >tiny.img
	exits_1_with "tiny.img: 0 bytes, too small to be a disk" \
		"$INGOT" slot install --disk tiny.img "$url" --cert keys/ingot.crt
	exits_1_with "tiny.img: 0 bytes, too small to be a disk" "$INGOT" update tiny.img "$url" --cert keys/ingot.crt
	[ ! -s tiny.img ]
}
run tiny_disk t_tiny_disk
t_profile_needs_a_kernel_from_a_url() {
	images
	url=$(release nokernel 1.0.0 2.0.0)
	"$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt \
		--for out-2.0.0/demo_2.0.0.raw >/dev/null
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	# the image streams in: what it carries is known once it is written, and then b is left empty
	expect_fail "prof/db.profile.json: its kernel parameters (mitigations=auto console=ttyS0 default_hugepagesz=2M hugepagesz=1G hugepages=4) cannot take effect: the image demo 2.0.0 carries no kernel and initrd to restart into (/usr/lib/modules/*/vmlinuz or /boot/vmlinuz-*, and /usr/lib/ingot/initrd); every try would fail its health check; slot b was left empty" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json "$url"
	[ "$(status_field disk.img 's["slots"][1]["state"], s["slots"][1]["priority"], s["next"]')" = "('empty', 0, 'a')" ]
	extract disk.img verity-sig-b sig.part
	[ -z "$(tr -d '\0' <sig.part | head -c1)" ]
	# the same release with a kernel and an initrd in its image takes the profile
	signed_demo out-k 3.0.0 "$(with_kernel)"
	"$INGOT" publish out-k "$WWW/nokernel" --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	"$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt \
		--for out-2.0.0/demo_2.0.0.raw --for out-k/demo_3.0.0.raw >/dev/null
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --profile prof/db.profile.json "$url" | grep -q "installed 3.0.0"
	slot_verifies disk.img b keys/ingot.crt out-k/demo_3.0.0.roothash
	slot_profile_verifies disk.img b keys/ingot.crt prof/db.profile.json
}
run profile_needs_a_kernel_from_a_url t_profile_needs_a_kernel_from_a_url

t_stale_index_is_refused() {
	images
	url=$(release stale 1.0.0)
	"$INGOT" disk disk.img --slot-a out-2.0.0/demo_2.0.0.raw
	sum=$(sha256sum <disk.img)
	expect_fail "stale index: its newest version '1.0.0' is older than '2.0.0' in good slot a" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	expect_fail "older than '2.0.0'" "$INGOT" update disk.img "$url" --cert keys/ingot.crt
	expect_fail "older than '2.0.0' in good slot a, the version floor" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --version 1.0.0 "$url"
	same_bytes disk.img "$sum"
	# the publisher's min_version is a floor too
	"$INGOT" publish out-2.0.0 "$WWW/stale" --key keys/ingot.key --cert keys/ingot.crt --min-version 2.0.0 >/dev/null
	"$INGOT" disk old.img --slot-a out-1.0.0/demo_1.0.0.raw
	expect_fail "below the index's min_version '2.0.0'" \
		"$INGOT" slot install --disk old.img --cert keys/ingot.crt --version 1.0.0 "$url"
}
run stale_index_is_refused t_stale_index_is_refused

t_index_by_another_key_is_refused() {
	images
	"$INGOT" keygen other >/dev/null
	# the images are signed by the trusted key, the index by another
	"$INGOT" publish out-2.0.0 "$WWW/other" --key other/ingot.key --cert other/ingot.crt >/dev/null
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	expect_fail "index.json: signed by a certificate that is not trusted" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "http://127.0.0.1:$NGINX_PORT/other/"
	same_bytes disk.img "$sum"
	# an index changed after signing
	url=$(release tampered 2.0.0)
	sed -i 's/"version": "2.0.0"/"version": "9.0.0"/' "$WWW/tampered/index.json"
	expect_fail "the signature does not match" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	same_bytes disk.img "$sum"
	# no signature at all
	url=$(release unsigned 2.0.0)
	rm "$WWW/unsigned/index.json.p7s"
	expect_fail "the index is not signed" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	same_bytes disk.img "$sum"
}
run index_by_another_key_is_refused t_index_by_another_key_is_refused

# index_expires DIR: the "expires" of DIR/index.json.
index_expires() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["expires"])' "$1/index.json" || return 1
}

# sign_index DIR: DIR/index.json.p7s made again over DIR/index.json by keys/, by hand (openssl cms, detached
# PKCS#7 in DER without attributes, as publish signs): a whole signature by the trusted key.
sign_index() {
	openssl cms -sign -binary -noattr -outform DER -in "$1/index.json" -signer keys/ingot.crt -inkey keys/ingot.key \
		-out "$1/index.json.p7s" || return 1
	openssl cms -verify -binary -inform DER -in "$1/index.json.p7s" -content "$1/index.json" -CAfile keys/ingot.crt \
		-purpose any -out /dev/null 2>/dev/null || { echo "$1/index.json.p7s: openssl cms does not verify it"; return 1; }
}

# now_near LOG: the "(now TIME)" of an expiry message in LOG is after its "expired at TIME" and within a
# minute of this machine's clock.
now_near() {
	python3 - "$1" <<'PY' || return 1
import datetime, re, sys
m = re.search(r"expired at (\S+) \(now (\S+)\)", open(sys.argv[1]).read())
assert m, "no 'expired at ... (now ...)'"
t = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
now = datetime.datetime.now(datetime.timezone.utc).timestamp()
assert t(m.group(1)) <= t(m.group(2)), m.group(0)
assert abs(t(m.group(2)) - now) < 60, (m.group(2), now)
PY
}

# expires_in DIR SECONDS VERSION...: DIR/index.json expires SECONDS from now (within a minute) and lists
# VERSIONs, newest first.
expires_in() {
	python3 - "$@" <<'PY' || return 1
import datetime, json, sys
i = json.load(open(sys.argv[1] + "/index.json"))
e = datetime.datetime.strptime(i["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
left = (e - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert abs(left - int(sys.argv[2])) < 60, (i["expires"], left)
assert [v["version"] for v in i["versions"]] == sys.argv[3:], i["versions"]
PY
}

# An index past its "expires" is refused by install and update, before the disk is opened: the message
# names the index's URL, the expiry and the host's time. Publishing into the directory again, the same
# build or the next, gives the index a new expiry, and hosts take it again.
t_expired_index_is_refused() {
	images
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	url=http://127.0.0.1:$NGINX_PORT/expired/
	"$INGOT" publish out-2.0.0 "$WWW/expired" --key keys/ingot.key --cert keys/ingot.crt --expires 1s >/dev/null
	exp=$(index_expires "$WWW/expired")
	sleep 2
	why="): a stale or replayed index; the publisher must publish again"
	exits_1_with "${url}index.json: expired at $exp (now " \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	grep -qF "$why" last.log
	now_near last.log
	exits_1_with "${url}index.json: expired at $exp (now " "$INGOT" update disk.img "$url" --cert keys/ingot.crt
	grep -qF "$why" last.log
	now_near last.log
	rc=0
	"$INGOT" update disk.img "$url" --cert keys/ingot.crt --json >events.json 2>err.log || rc=$?
	[ "$rc" -eq 1 ]
	python3 - events.json "${url}index.json: expired at $exp (now " <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])]
assert [x["event"] for x in e] == ["error"], e
assert sys.argv[2] in e[0]["message"], e
PY
	same_bytes disk.img "$sum"
	# an absolute time in the past: published with a warning, refused by hosts
	"$INGOT" publish out-2.0.0 "$WWW/expired" --key keys/ingot.key --cert keys/ingot.crt \
		--expires 2020-01-01T00:00:00Z >out.log 2>err.log
	cat out.log err.log
	grep -qF "warning: the index expired at 2020-01-01T00:00:00Z (now " err.log
	[ "$(index_expires "$WWW/expired")" = 2020-01-01T00:00:00Z ]
	exits_1_with "${url}index.json: expired at 2020-01-01T00:00:00Z (now " \
		"$INGOT" update disk.img "$url" --cert keys/ingot.crt
	same_bytes disk.img "$sum"
	# the same build published again, as a publisher keeps a release alive: a new expiry, 7 days by default
	"$INGOT" publish out-2.0.0 "$WWW/expired" --key keys/ingot.key --cert keys/ingot.crt >out.log
	cat out.log
	expires_in "$WWW/expired" 604800 2.0.0
	grep -qxF "index.json expires at $(index_expires "$WWW/expired")" out.log
	"$INGOT" update disk.img "$url" --cert keys/ingot.crt | grep -q "installed 2.0.0 into slot b"
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
	# the next version published into the directory: the expiry set anew
	"$INGOT" publish out-3.0.0 "$WWW/expired" --key keys/ingot.key --cert keys/ingot.crt --expires 1d >/dev/null
	expires_in "$WWW/expired" 86400 3.0.0 2.0.0
}
run expired_index_is_refused t_expired_index_is_refused

# utc SECONDS: seconds since the epoch as RFC 3339 UTC, by Python.
utc() {
	python3 -c 'import datetime, sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1" || return 1
}

# --expires takes a duration from now, which SOURCE_DATE_EPOCH sets for a reproducible release, or a UTC
# time; without it, 7 days. The index says what it is: kind ingot-release-index, format 2.
t_expires_option() {
	images
	sde=1800000000
	# WHEN:SECONDS; no WHEN: the default
	for w in 7d:604800 12h:43200 90m:5400 45s:45 2w:1209600 :604800; do
		when=${w%%:*}
		rm -rf "$WWW/sde"
		SOURCE_DATE_EPOCH=$sde "$INGOT" publish out-1.0.0 "$WWW/sde" --key keys/ingot.key --cert keys/ingot.crt \
			${when:+--expires "$when"} >/dev/null
		[ "$(index_expires "$WWW/sde")" = "$(utc $((sde + ${w#*:})))" ]
	done
	python3 - "$WWW/sde/index.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["kind"] == "ingot-release-index" and i["format"] == 2, i
assert list(i)[:3] == ["kind", "format", "expires"], list(i)
PY
	# the same images at the same SOURCE_DATE_EPOCH: the same index
	SOURCE_DATE_EPOCH=$sde "$INGOT" publish out-1.0.0 "$WWW/sde2" --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	cmp "$WWW/sde/index.json" "$WWW/sde2/index.json"
	"$INGOT" publish out-1.0.0 "$WWW/abs" --key keys/ingot.key --cert keys/ingot.crt \
		--expires 2099-02-28T23:59:59Z >/dev/null
	[ "$(index_expires "$WWW/abs")" = 2099-02-28T23:59:59Z ]
	for bad in 7 7y 0d -1d 1.5d 2099-02-29T00:00:00Z 2099-02-28T23:59:59 2099-02-28 "2099-02-28 23:59:59Z" \
		99999999999w 10000-01-01T00:00:00Z; do
		rc=0
		"$INGOT" publish out-1.0.0 "$WWW/bad" --key keys/ingot.key --cert keys/ingot.crt --expires "$bad" \
			>out.log 2>err.log || rc=$?
		cat err.log
		[ "$rc" -eq 2 ]
		grep -qF -- "--expires takes a duration (7d, 12h, 90m, 45s, 2w) or a UTC time (2026-12-10T00:00:00Z), not '$bad'" err.log
	done
	[ ! -e "$WWW/bad" ] || return 1
	rc=0
	SOURCE_DATE_EPOCH=soon "$INGOT" publish out-1.0.0 "$WWW/bad" --key keys/ingot.key --cert keys/ingot.crt \
		>out.log 2>err.log || rc=$?
	[ "$rc" -eq 2 ]
	grep -qF "SOURCE_DATE_EPOCH='soon' is not seconds since 1970" err.log
	"$INGOT" publish --help | grep -qF -- "--expires WHEN"
	"$INGOT" publish --help | grep -qF "default 7d"
	# hosts take an index that has not expired
	"$INGOT" publish out-2.0.0 "$WWW/week" --key keys/ingot.key --cert keys/ingot.crt --expires 7d >/dev/null
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "http://127.0.0.1:$NGINX_PORT/week/" |
		grep -q "installed 2.0.0"
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
}
run expires_option t_expires_option

# A freeze: a mirror, or whoever sits on the http:// path, serves an index it kept from an earlier
# publish, intact and signed, over a release that has moved on. Once that index has expired, hosts
# refuse it instead of reporting nothing newer.
t_replayed_index_is_refused() {
	images
	# published in November 2023 (SOURCE_DATE_EPOCH is the publisher's now) with the default 7 days
	SOURCE_DATE_EPOCH=1700000000 "$INGOT" publish out-1.0.0 "$WWW/replay" --key keys/ingot.key \
		--cert keys/ingot.crt >/dev/null
	cp "$WWW/replay/index.json" "$WWW/replay/index.json.p7s" .
	release replay 2.0.0 3.0.0 >/dev/null
	url=http://127.0.0.1:$NGINX_PORT/replay/
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	cp index.json index.json.p7s "$WWW/replay/"
	exits_1_with "${url}index.json: expired at 2023-11-21T22:13:20Z (now " \
		"$INGOT" update disk.img "$url" --cert keys/ingot.crt
	! grep -q "nothing newer" last.log || return 1
	exits_1_with "${url}index.json: expired at 2023-11-21T22:13:20Z (now " \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	same_bytes disk.img "$sum"
}
run replayed_index_is_refused t_replayed_index_is_refused

# An index of format 1, what ingot published before indexes had a kind and an expiry, intact and signed
# by the trusted key: refused, saying to publish again. Publishing into that directory reads it and writes
# format 2, which hosts take.
t_format_1_index_is_refused() {
	images
	url=$(release fmt1 2.0.0)
	python3 - "$WWW/fmt1/index.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
i.pop("kind", None)
i.pop("expires", None)
i["format"] = 1
open(sys.argv[1], "w").write(json.dumps(i, indent=2) + "\n")
PY
	sign_index "$WWW/fmt1"
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	why="${url}index.json: a release index of format 1, which has no expiry; this ingot reads format 2: the publisher must publish again"
	exits_1_with "$why" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	exits_1_with "$why" "$INGOT" update disk.img "$url" --cert keys/ingot.crt
	same_bytes disk.img "$sum"
	"$INGOT" publish out-3.0.0 "$WWW/fmt1" --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	python3 - "$WWW/fmt1/index.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["format"] == 2 and i["kind"] == "ingot-release-index" and "expires" in i, i
assert [v["version"] for v in i["versions"]] == ["3.0.0", "2.0.0"], i["versions"]
PY
	"$INGOT" update disk.img "$url" --cert keys/ingot.crt | grep -q "installed 3.0.0 into slot b"
}
run format_1_index_is_refused t_format_1_index_is_refused

# Signed JSON of another kind, by the same trusted key, served as index.json: a host profile (kind
# ingot-profile; made by hand, as compiled profiles will carry it), a JSON without a kind, and a whole
# release index whose kind says profile. Each is refused by install and update naming what it is.
t_index_of_another_kind_is_refused() {
	images
	url=$(release kind 2.0.0)
	cp "$WWW/kind/index.json" real-index.json
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	printf '{"kind":"ingot-profile","format":1,"name":"db","cmdline":"console=ttyS0","sysctl":[],"runtime_hugepages":[]}\n' \
		>"$WWW/kind/index.json"
	sign_index "$WWW/kind"
	exits_1_with "${url}index.json: a signed ingot-profile, not a release index" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	exits_1_with "${url}index.json: a signed ingot-profile, not a release index" \
		"$INGOT" update disk.img "$url" --cert keys/ingot.crt
	printf '{"format":1,"name":"db","cmdline":"console=ttyS0","sysctl":[],"runtime_hugepages":[]}\n' >"$WWW/kind/index.json"
	sign_index "$WWW/kind"
	exits_1_with "${url}index.json: a signed JSON with no \"kind\", not a release index" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	exits_1_with "${url}index.json: a signed JSON with no \"kind\", not a release index" \
		"$INGOT" update disk.img "$url" --cert keys/ingot.crt
	# every field of an index, but of the kind a profile is signed as
	sed 's/"kind": "ingot-release-index"/"kind": "ingot-profile"/' real-index.json >"$WWW/kind/index.json"
	! cmp -s real-index.json "$WWW/kind/index.json" || return 1
	sign_index "$WWW/kind"
	exits_1_with "${url}index.json: a signed ingot-profile, not a release index" \
		"$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	same_bytes disk.img "$sum"
}
run index_of_another_kind_is_refused t_index_of_another_kind_is_refused

t_missing_server_gives_up() {
	images
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	port=$(free_port) # nothing listens there
	t0=$(date +%s)
	set +e
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --retries 3 --json "http://127.0.0.1:$port/" >events.json 2>err.log
	rc=$?
	set -e
	t1=$(date +%s)
	cat events.json err.log
	[ "$rc" = 1 ]
	grep -q "http://127.0.0.1:$port/index.json: .*onnect.* (gave up after 3 attempts)" err.log
	[ "$(grep -c '"event":"retry"' events.json)" = 2 ]
	tail -1 events.json | grep -q '"event":"error"'
	[ $((t1 - t0)) -lt 10 ] # 0.5 s then 1 s of backoff
	# HTTP 404 is not worth retrying
	expect_fail "HTTP 404" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt "http://127.0.0.1:$NGINX_PORT/nothing-here/"
}
run missing_server_gives_up t_missing_server_gives_up

t_update_checks_installs_and_reboots() {
	images
	url=$(release upd 1.0.0)
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	mkdir bin
	printf '#!/bin/sh\necho "$@" >>%s/reboots\n' "$PWD" >bin/systemctl
	chmod +x bin/systemctl
	# nothing newer: say so, succeed, never reboot
	PATH=$PWD/bin:$PATH "$INGOT" update disk.img "$url" --cert keys/ingot.crt --reboot | tee log
	grep -q "nothing newer" log
	[ ! -e reboots ] || return 1
	release upd 2.0.0 >/dev/null
	PATH=$PWD/bin:$PATH "$INGOT" update disk.img "$url" --cert keys/ingot.crt --reboot --json | tee events.json
	python3 - events.json <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
assert r["event"] == "result" and r["installed"] and r["slot"] == "b" and r["version"] == "2.0.0", r
assert r["next"] == "b" and r["reboot"], r
PY
	[ "$(cat reboots)" = reboot ]
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
	# b holds 2.0.0 on trial: nothing newer again
	rm reboots
	PATH=$PWD/bin:$PATH "$INGOT" update disk.img "$url" --cert keys/ingot.crt --reboot | grep -q "nothing newer"
	[ ! -e reboots ] || return 1
	# a failed install never reboots
	release upd 3.0.0 >/dev/null
	f=$WWW/upd/demo_3.0.0.raw
	printf 'x' | dd of="$f" bs=1 seek=70000 conv=notrunc status=none
	PATH=$PWD/bin:$PATH expect_fail "does not match the hash tree" "$INGOT" update disk.img "$url" --cert keys/ingot.crt --reboot --full
	[ ! -e reboots ] || return 1
}
run update_checks_installs_and_reboots t_update_checks_installs_and_reboots

t_https_and_ca_settings() {
	images
	release tls 1.0.0 2.0.0 >/dev/null
	url=https://127.0.0.1:$NGINX_TLS_PORT/tls/
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	sum=$(sha256sum <disk.img)
	# a server certificate no trusted CA signed: refused at once, not retried
	set +e
	env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR "$INGOT" slot install --disk disk.img --cert keys/ingot.crt \
		--json "$url" >events.json 2>err.log
	rc=$?
	set -e
	cat err.log
	[ "$rc" = 1 ]
	grep -qi "certificate" err.log
	! grep -q '"event":"retry"' events.json || return 1
	same_bytes disk.img "$sum"
	# --cacert, then curl's variables
	"$INGOT" slot install --disk disk.img --cert keys/ingot.crt --cacert "$T/ca.crt" --slot b --version 1.0.0 "$url" | grep -q "installed 1.0.0"
	CURL_CA_BUNDLE=$T/ca.crt "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --slot b "$url" | grep -q "installed 2.0.0"
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
	# SSL_CERT_FILE counts when CURL_CA_BUNDLE is not set (curl's order)
	env -u CURL_CA_BUNDLE SSL_CERT_FILE="$T/ca.crt" "$INGOT" update disk.img "$url" --cert keys/ingot.crt | grep -q "nothing newer"
	! env SSL_CERT_FILE="$T/ca.crt" CURL_CA_BUNDLE=/nonexistent "$INGOT" update disk.img "$url" --cert keys/ingot.crt 2>/dev/null || return 1
	# only http and https
	expect_fail "not an http:// or https:// URL" "$INGOT" update disk.img "ftp://127.0.0.1/" --cert keys/ingot.crt
}
run https_and_ca_settings t_https_and_ca_settings

t_valgrind_publish_and_install() {
	images
	command -v valgrind >/dev/null || skip_test "valgrind missing"
	! ldd "$INGOT" | grep -q libasan || skip_test "an ASan build (make check-asan): valgrind and ASan do not mix"
	vg() { valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q "$@"; }
	vg "$INGOT" publish out-1.0.0 "$WWW/vg" --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	vg "$INGOT" publish out-2.0.0 "$WWW/vg" --key keys/ingot.key --cert keys/ingot.crt >/dev/null
	url=http://127.0.0.1:$NGINX_PORT/vg/
	"$INGOT" disk disk.img --slot-a out-1.0.0/demo_1.0.0.raw
	vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --json "$url" >/dev/null
	slot_verifies disk.img b keys/ingot.crt out-2.0.0/demo_2.0.0.roothash
	vg "$INGOT" update disk.img "$url" --cert keys/ingot.crt | grep -q "nothing newer"
	rc=0
	vg "$INGOT" slot install --disk disk.img --cert keys/ingot.crt --retries 2 "http://127.0.0.1:$(free_port)/" 2>err || rc=$?
	[ "$rc" -eq 1 ]
	grep -q "gave up after 2 attempts" err
}
run valgrind_publish_and_install t_valgrind_publish_and_install
