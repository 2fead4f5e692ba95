#!/bin/bash
# Signed builds: `ingot keygen` makes a key openssl accepts; the .roothash.p7s is a detached DER
# PKCS#7 over the hex root hash that `openssl cms -verify` accepts with a certificate made by plain
# `openssl req`; no key is an error unless --unsigned; a mismatched key or an expired certificate fails
# before any work; RSA signatures repeat byte for byte.
. "$(dirname "$0")/../lib.sh"

openssl_cert() { # openssl_cert NAME [days]: a key and self-signed certificate made by openssl alone
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -subj "/CN=$1" -days "${2:-30}" \
		2>/dev/null
}

t_keygen() {
	"$INGOT" keygen keys
	[ "$(stat -c %a keys/ingot.key)" = 600 ]
	openssl x509 -in keys/ingot.crt -noout -subject | grep -q 'ingot development key'
	openssl pkey -in keys/ingot.key -noout
	sum=$(sha256sum keys/ingot.key)
	expect_fail "never overwrites" "$INGOT" keygen keys
	[ "$(sha256sum keys/ingot.key)" = "$sum" ]
	"$INGOT" keygen --ecdsa --name "fleet test" ec
	openssl x509 -in ec/ingot.crt -noout -text | grep -q 'prime256v1\|P-256'
}

t_signature_verifies_with_openssl_cert() {
	openssl_cert ci
	"$INGOT" build "$TOP/recipes/demo.ini" -o out --key ci.key --cert ci.crt --quiet
	cms_verifies out/demo_1.0.0 ci.crt
	veritysetup verify out/demo_1.0.0.raw out/demo_1.0.0.verity "$(cat out/demo_1.0.0.roothash)"
	# no signed attributes: nothing but the signature over the content
	openssl cms -cmsout -print -inform DER -in out/demo_1.0.0.roothash.p7s >p7.txt
	grep -A1 'signedAttrs:' p7.txt | grep -q '<ABSENT>'
	! grep -q 'signingTime' p7.txt || return 1
	# another certificate, or another content, does not verify
	openssl_cert other
	! cms_verifies out/demo_1.0.0 other.crt 2>/dev/null || return 1
	printf %s "$(cat out/demo_1.0.0.roothash)" | tr 0-9a-f 1-9a-f0 >content
	! openssl cms -verify -binary -inform DER -in out/demo_1.0.0.roothash.p7s -content content -CAfile ci.crt \
		-purpose any -out /dev/null 2>/dev/null || return 1
}

t_recipe_signing_section_and_json() {
	"$INGOT" keygen keys
	cp -a "$TOP/recipes" .
	printf '[Signing]\nKey=../../keys/ingot.key\nCertificate=../../keys/ingot.crt\n' >sign.conf
	mkdir -p recipes/demo.ini.d
	cp sign.conf recipes/demo.ini.d/50-sign.conf
	"$INGOT" build recipes/demo.ini -o out --json >r.json
	cms_verifies out/demo_1.0.0 keys/ingot.crt
	fp=$(openssl x509 -in keys/ingot.crt -outform DER | sha256sum | cut -d' ' -f1)
	python3 - "$fp" <<'PY'
import json, sys
r = json.load(open("r.json"))
assert r["signature"] == "out/demo_1.0.0.roothash.p7s", r
assert r["signer_fingerprint"] == sys.argv[1], r
PY
	printf '[Signing]\nKey=../../keys/ingot.key\n' >recipes/demo.ini.d/50-sign.conf
	expect_fail "[Signing] needs both Key= and Certificate=" "$INGOT" plan recipes/demo.ini
}

t_no_key_is_an_error() {
	expect_fail "no signing key: give --key and --cert" "$INGOT" build "$TOP/recipes/demo.ini" -o out
	[ ! -e out ] || [ -z "$(ls -A out)" ]
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out --quiet
	[ ! -e out/demo_1.0.0.roothash.p7s ]
	rc=0; "$INGOT" build --unsigned --key a --cert b "$TOP/recipes/demo.ini" 2>/dev/null || rc=$?; [ "$rc" -eq 2 ]
}

t_wrong_key_or_expired_cert_fail_first() {
	openssl_cert a
	openssl_cert b
	expect_fail "a.key does not match the certificate b.crt" "$INGOT" build "$TOP/recipes/demo.ini" -o out \
		--key a.key --cert b.crt
	[ ! -e out ]
	# a certificate that expired in 2020 (openssl ca is the tool that can set both dates)
	mkdir -p ca/newcerts
	touch ca/index.txt
	echo 01 >ca/serial
	printf '[ca]\ndefault_ca = d\n[d]\ndir = ./ca\ndatabase = ./ca/index.txt\nnew_certs_dir = ./ca/newcerts\n' >ca.cnf
	printf 'serial = ./ca/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' >>ca.cnf
	openssl req -new -newkey rsa:2048 -nodes -keyout old.key -out old.csr -subj /CN=old 2>/dev/null
	openssl ca -batch -config ca.cnf -selfsign -keyfile old.key -in old.csr -out old.crt \
		-startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
	expect_fail "old.crt: the certificate has expired" "$INGOT" build "$TOP/recipes/demo.ini" -o out \
		--key old.key --cert old.crt
	[ ! -e out ]
	head -c 100 /dev/urandom >junk.key
	expect_fail "junk.key: not a PEM private key" "$INGOT" build "$TOP/recipes/demo.ini" -o out \
		--key junk.key --cert a.crt
}

t_signed_builds_repeat() {
	"$INGOT" keygen keys
	"$INGOT" build "$TOP/recipes/demo.ini" -o one --key keys/ingot.key --cert keys/ingot.crt --quiet
	"$INGOT" build "$TOP/recipes/demo.ini" -o two --key keys/ingot.key --cert keys/ingot.crt --quiet
	for s in raw verity roothash roothash.p7s; do cmp "one/demo_1.0.0.$s" "two/demo_1.0.0.$s"; done
}

run keygen t_keygen
run signature_verifies_with_openssl_cert t_signature_verifies_with_openssl_cert
run recipe_signing_section_and_json t_recipe_signing_section_and_json
run no_key_is_an_error t_no_key_is_an_error
run wrong_key_or_expired_cert_fail_first t_wrong_key_or_expired_cert_fail_first
run signed_builds_repeat t_signed_builds_repeat

t_image_carries_trusted_certificates() {
	"$INGOT" keygen keys >/dev/null
	"$INGOT" keygen next >/dev/null
	fp() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
	"$INGOT" build "$TOP/recipes/demo.ini" -o out --key keys/ingot.key --cert keys/ingot.crt --quiet
	unsquashfs -cat out/demo_1.0.0.raw "usr/lib/ingot/trusted.d/$(fp keys/ingot.crt).crt" | cmp - keys/ingot.crt
	[ "$(unsquashfs -lc out/demo_1.0.0.raw | grep -c trusted.d/)" = 1 ]
	# the recipe's list replaces the signer
	cp "$TOP/recipes/demo.ini" r.ini
	sed -i "s#^Copy=demo/#Copy=$TOP/recipes/demo/#" r.ini
	printf '[Signing]\nTrustedCertificate=keys/ingot.crt\nTrustedCertificate=next/ingot.crt\n' >>r.ini
	"$INGOT" build r.ini -o out2 --key keys/ingot.key --cert keys/ingot.crt --quiet
	unsquashfs -lc out2/demo_1.0.0.raw | grep trusted.d/ | sort >listed
	printf 'squashfs-root/usr/lib/ingot/trusted.d/%s.crt\n' "$(fp keys/ingot.crt)" "$(fp next/ingot.crt)" | sort | diff - listed
	"$INGOT" plan r.ini | grep -q "^TrustedCertificate=$PWD/next/ingot.crt$"
	"$INGOT" build --unsigned "$TOP/recipes/demo.ini" -o out3 --quiet
	! unsquashfs -lc out3/demo_1.0.0.raw | grep -q trusted.d || return 1
	printf 'not a certificate\n' >bad.crt
	printf '[Signing]\nTrustedCertificate=bad.crt\n' >>r.ini
	expect_fail "bad.crt: not a PEM certificate" "$INGOT" build r.ini -o out4 --key keys/ingot.key --cert keys/ingot.crt --quiet
}
run image_carries_trusted_certificates t_image_carries_trusted_certificates
