# tests/lib.sh: sourced by integration scripts: a scratch directory per script, and `run NAME FUNCTION`
# which runs FUNCTION under `set -e` in a subshell and prints PASS, FAIL (with the log) or SKIP.
set -u
: "${INGOT:?INGOT must point at the ingot binary}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$(mktemp -d /tmp/ingot-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

# A test calls this to be reported as skipped, never as passed.
skip_test() {
	# also to a file of its own: a caller may have sent this test's stdout and stderr elsewhere
	[ -z "${SKIP_FILE:-}" ] || echo "$*" >"$SKIP_FILE"
	echo "SKIP-REASON: $*"
	exit 77
}

run() {
	local name=$1 fn=$2 log rc
	# ONLY=REGEX runs just the tests whose names match (while working on them; make check runs all)
	[ -z "${ONLY:-}" ] || [[ $name =~ $ONLY ]] || return 0
	log=$T/$name.log
	mkdir -p "$T/$name"
	(
		set -e
		cd "$T/$name"
		SKIP_FILE=$T/$name.skip
		$fn
	) >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $name"
	elif [ "$rc" -eq 77 ]; then
		echo "SKIP: $name: $(cat "$T/$name.skip" 2>/dev/null || sed -n 's/^SKIP-REASON: //p' "$log" | tail -1)"
	else
		echo "FAIL: $name (exit $rc)"
		tail -n 25 "$log" | sed 's/^/    /'
	fi
	return 0
}

# expect_fail "TEXT" CMD...: CMD must fail and print TEXT (a fixed string) on stderr or stdout.
expect_fail() {
	local text=$1 out rc
	shift
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	echo "$out"
	if [ "$rc" -eq 0 ]; then
		echo "expected failure, got success: $*"
		return 1
	fi
	if ! grep -qF -- "$text" <<<"$out"; then
		echo "expected message containing: $text"
		return 1
	fi
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_test "needs root"
}

# Tests that run mmdebstrap skip without it; need_debian_mirror also skips when its default mirror,
# deb.debian.org, does not answer (no network): such a build could only fail.
need_mmdebstrap() {
	command -v mmdebstrap >/dev/null || skip_test "mmdebstrap missing"
}
need_debian_mirror() {
	need_mmdebstrap
	command -v curl >/dev/null || skip_test "curl missing (it asks the mirror whether it answers)"
	curl -fsS --max-time 20 -o /dev/null http://deb.debian.org/debian/dists/bookworm/InRelease ||
		skip_test "the Debian mirror http://deb.debian.org/debian is unreachable (no network?)"
}

# make_full_tree DIR: a tree with every file type squashfs stores: setuid and setgid modes, hard links,
# a 2 GiB sparse file, a 10,000-entry directory, UTF-8 names, user.*, trusted.* and security.* xattrs,
# devices, a fifo and (unless NO_SOCKET=1, since tar drops sockets) a socket. Needs root for devices.
make_full_tree() {
	local d=$1 i
	mkdir -p "$d"/{bin,etc,dev,big,"ütf-8 ñame 日本語"}
	printf 'root:x:0:0::/root:/bin/sh\n' >"$d/etc/passwd"
	printf 'secret\n' >"$d/etc/shadow"
	chmod 0640 "$d/etc/shadow"
	chown 0:42 "$d/etc/shadow"
	head -c 300000 /dev/urandom >"$d/bin/tool"
	chmod 4755 "$d/bin/tool"
	cp "$d/bin/tool" "$d/bin/sgid"
	chown 1000:1000 "$d/bin/sgid" # before chmod: chown clears set-id bits
	chmod 2711 "$d/bin/sgid"
	ln "$d/bin/tool" "$d/bin/tool-hardlink"
	ln "$d/bin/tool" "$d/etc/tool-elsewhere"
	ln -s ../bin/tool "$d/etc/tool-symlink"
	ln -s /nonexistent/target "$d/etc/dangling"
	echo "héllo wörld" >"$d/ütf-8 ñame 日本語/fïle ✓"
	truncate -s 2G "$d/big/sparse-2g"
	printf 'data in the middle' | dd of="$d/big/sparse-2g" bs=1 seek=1073741824 conv=notrunc status=none
	printf 'x' >"$d/big/empty-but-one"
	: >"$d/etc/empty"
	mkdir -p "$d/many"
	(cd "$d/many" && seq -f 'entry-%05g' 1 10000 | xargs touch)
	setfattr -n user.comment -v "hello" "$d/etc/passwd"
	setfattr -n user.binary -v 0x00ff00ff "$d/etc/passwd"
	setfattr -n trusted.overlay -v "t" "$d/etc/shadow"
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$d/bin/sgid"
	setfattr -n user.dir -v "on a directory" "$d/etc"
	mknod "$d/dev/null" c 1 3
	mknod "$d/dev/loop7" b 7 7
	mknod "$d/dev/big-minor" c 4 300
	mkfifo "$d/dev/fifo"
	if [ "${NO_SOCKET:-0}" != 1 ]; then
		python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$d/dev/socket"
	fi
	touch -h -d '2020-02-02 02:02:02' "$d/etc/tool-symlink"
	touch -d '2001-01-01 01:01:01' "$d/etc" "$d/many"
}

# listing IMAGE: unsquashfs -lln without directory sizes, which depend on how an encoder orders inodes.
listing() {
	unsquashfs -lln "$1" | awk '{ if ($1 ~ /^d/) $3 = "-"; print }'
}

# part DISK LABEL: "START SIZE ATTRS" of the partition so labelled, in bytes, as sfdisk reads it.
part() {
	sfdisk --json "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
for p in t["partitions"]:
    if p.get("name") == sys.argv[1]:
        print(p["start"] * t["sectorsize"], p["size"] * t["sectorsize"], p.get("attrs", "-").replace(" ", ""))
        break
else:
    sys.exit("no partition " + sys.argv[1])' "$2"
}

# extract DISK LABEL OUT: the partition's bytes into OUT.
extract() {
	local start size
	read -r start size _ < <(part "$1" "$2")
	dd if="$1" of="$3" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$size" status=none
}

# slot_verifies DISK SLOT CERT: the slot's signature partition holds a signature by CERT over a root
# hash (openssl cms), and veritysetup verifies the slot's root partition against its verity partition
# with that root hash. Prints the root hash.
slot_verifies() {
	local d=$1 s=$2 cert=$3 root
	extract "$d" "verity-sig-$s" sig.part
	python3 - sig.part <<'PY' >sig.info
import base64, json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.rstrip(b"\0")
assert b"\0" not in text, "NULs inside the payload"
j = json.loads(text)
open("sig.p7s", "wb").write(base64.b64decode(j["signature"]))
open("sig.content", "w").write(j["rootHash"])
print(j["rootHash"])
PY
	root=$(cat sig.info)
	openssl cms -verify -binary -inform DER -in sig.p7s -content sig.content -CAfile "$cert" -purpose any \
		-out /dev/null 2>/dev/null
	extract "$d" "root-$s" root.part
	extract "$d" "verity-$s" verity.part
	veritysetup verify root.part verity.part "$root" >/dev/null
	rm -f root.part verity.part sig.part sig.p7s sig.content sig.info
	echo "$root"
}

# flip FILE OFFSET: one bit of the byte at OFFSET turned over, in place.
flip() {
	python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x01]))' "$1" "$2"
}

# status_field DISK EXPR: a Python expression over `ingot slot status --json` (bound to s).
status_field() {
	"$INGOT" slot status --disk "$1" --json | python3 -c 'import json, sys; s = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

# signed_demo OUT VERSION [EXTRA-RECIPE-LINES]: the demo image at VERSION, signed by keys/ (made once).
signed_demo() {
	[ -e keys/ingot.key ] || "$INGOT" keygen keys >/dev/null
	sed "s/^Version=.*/Version=$2/; s#^Copy=demo/#Copy=$TOP/recipes/demo/#" "$TOP/recipes/demo.ini" >"demo-$2.ini"
	[ $# -lt 3 ] || printf '%s\n' "$3" >>"demo-$2.ini"
	"$INGOT" build "demo-$2.ini" -o "$1" --key keys/ingot.key --cert keys/ingot.crt --quiet
}

# recipe BASEKEY SOURCE [extra lines]: r.ini for image bad_1 on that base.
recipe() {
	printf '[Image]\nName=bad\nVersion=1\n[Base]\n%s=%s\n%s' "$1" "$2" "${3:-}" >r.ini
}

# Nothing at all in the output directory: no image, no temporary.
nothing_left() {
	[ ! -e "$1" ] || [ -z "$(ls -A "$1")" ] || { ls -la "$1"; return 1; }
}

# tarball OUT SPEC...: members in the given order, made with Python's tarfile (pax) so that hostile
# names are written verbatim: NAME=DATA, NAME=->TARGET (symlink), NAME==>TARGET (hard link),
# NAME=c:MAJ:MIN (character device).
tarball() {
	python3 - "$@" <<'PY'
import io, sys, tarfile
out, *members = sys.argv[1:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
    for m in members:
        name, _, rest = m.partition("=")
        info = tarfile.TarInfo(name)
        if rest.startswith("->"):
            info.type, info.linkname = tarfile.SYMTYPE, rest[2:]
        elif rest.startswith("=>"):
            info.type, info.linkname = tarfile.LNKTYPE, rest[2:]
        elif rest.startswith("c:"):
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = map(int, rest[2:].split(":"))
        else:
            data = rest.encode()
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            continue
        tf.addfile(info)
PY
}
