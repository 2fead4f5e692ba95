# tests/tools/releases.sh: sourced by the tests that install from nginx (fleet.sh, seeded.sh): images
# built once under $IMG (out-VERSION/, keys/) and releases of them under $WWW, which nginx serves.

# images: links to $IMG's builds and keys in the test's directory.
images() { ln -s "$IMG"/keys "$IMG"/out-* .; }

# release NAME VERSION...: $IMG/out-VERSION published one after the other into $WWW/NAME, signed by
# $IMG/keys; prints the URL nginx serves it at.
release() {
	local name=$1 v
	shift
	for v in "$@"; do
		"$INGOT" publish "$IMG/out-$v" "$WWW/$name" --key "$IMG/keys/ingot.key" --cert "$IMG/keys/ingot.crt" >/dev/null ||
			return 1
	done
	echo "http://127.0.0.1:$NGINX_PORT/$name/"
}
