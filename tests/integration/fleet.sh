#!/bin/bash
# Fleet delivery: `ingot publish` into a directory nginx serves on 127.0.0.1, and `ingot slot install URL`
# and `ingot update` from it into disks made by `ingot disk`. Oracles: sha256sum -c and openssl cms for
# the release, nginx's access log for Range requests, veritysetup and openssl cms for the slots.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/nginx.sh"

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
images() { ln -s "$IMG"/keys "$IMG"/out-* .; }

# release NAME VERSION...: the images of each VERSION published one after the other into $WWW/NAME;
# prints its URL.
release() {
	local name=$1 v
	shift
	for v in "$@"; do
		"$INGOT" publish "$IMG/out-$v" "$WWW/$name" --key "$IMG/keys/ingot.key" --cert "$IMG/keys/ingot.crt" >/dev/null ||
			return 1
	done
	echo "http://127.0.0.1:$NGINX_PORT/$name/"
}

t_publish_and_install() {
	images
	url=$(release pi 1.0.0 2.0.0)
	rel=$WWW/pi
	# the second publish kept the first version; newest first
	python3 - "$rel/index.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["format"] == 1, i
assert [v["version"] for v in i["versions"]] == ["2.0.0", "1.0.0"], i["versions"]
for v in i["versions"]:
    assert set(v) >= {"name", "version", "image", "size", "root_hash", "signer", "verity", "signature"}, v
PY
	[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["versions"][0]["root_hash"])' "$rel/index.json")" = \
		"$(cat out-2.0.0/demo_2.0.0.roothash)" ]
	# SHA256SUMS as sha256sum reads it, covering every artifact; both lists signed by the key
	(cd "$rel" && sha256sum --strict -c SHA256SUMS) >sums.log
	[ "$(grep -c ': OK$' sums.log)" = 10 ]
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
		"$url" >events.json
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
	expect_fail "does not match the hash tree" "$INGOT" slot install --disk disk.img --cert keys/ingot.crt "$url"
	# b was the target: priority 0 and no signature, so nothing boots it; a is next
	[ "$(status_field disk.img 's["slots"][1]["priority"], s["slots"][1]["state"] in ("empty", "bad"), s["next"]')" = "(0, True, 'a')" ]
	"$INGOT" slot status --disk disk.img | grep -E '^b +(empty|bad) +0 '
	p=$(part disk.img root-b); read -r _ _ attrs <<<"$p"
	[ "$attrs" = - ]
	extract disk.img verity-sig-b sig.part
	[ -z "$(tr -d '\0' <sig.part | head -c1)" ]
}
run flipped_byte_is_refused t_flipped_byte_is_refused

t_profile_needs_a_kernel_from_a_url() {
	images
	url=$(release nokernel 1.0.0 2.0.0)
	"$INGOT" profile compile "$TOP/recipes/profiles/db.conf" -o prof --key keys/ingot.key --cert keys/ingot.crt >/dev/null
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
	PATH=$PWD/bin:$PATH expect_fail "does not match the hash tree" "$INGOT" update disk.img "$url" --cert keys/ingot.crt --reboot
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
