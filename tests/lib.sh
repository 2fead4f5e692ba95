# tests/lib.sh: sourced by integration scripts: a scratch directory per script, and `run NAME FUNCTION`
# which runs FUNCTION under `set -e` in a subshell and prints PASS, FAIL (with the log) or SKIP.
set -u
# `x=$(cmd)` fails the test when a step inside cmd fails, not only its last one
shopt -s inherit_errexit
: "${INGOT:?INGOT must point at the ingot binary}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$(mktemp -d /tmp/ingot-test.XXXXXX)
# KEEP=1 keeps the scratch directory (its path is printed) for a look at a failed test's files
trap '[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
# python3 resolved once to the interpreter it runs: a version manager's shim in PATH (pyenv's bash
# script, on the machines here) costs a third of a second a call, and the tests make thousands
py=$(python3 -c 'import sys; print(sys.executable)') && [ -x "$py" ] || { echo "python3 does not run" >&2; exit 1; }
mkdir "$T/.bin" && ln -s "$py" "$T/.bin/python3" || exit 1
PATH=$T/.bin:$PATH
unset py

# A test calls this to be reported as skipped, never as passed.
skip_test() {
	# also to a file of its own: a caller may have sent this test's stdout and stderr elsewhere
	[ -z "${SKIP_FILE:-}" ] || echo "$*" >"$SKIP_FILE"
	echo "SKIP-REASON: $*"
	exit 77
}

run() {
	local name=$1 fn=$2 log rc start=$SECONDS
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
		echo "PASS: $name ($((SECONDS - start)) s)"
	elif [ "$rc" -eq 77 ]; then
		echo "SKIP: $name: $(cat "$T/$name.skip" 2>/dev/null || sed -n 's/^SKIP-REASON: //p' "$log" | tail -1)"
	else
		echo "FAIL: $name (exit $rc, $((SECONDS - start)) s)"
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

# exits_1_with TEXT CMD...: CMD fails with exit status 1 (a failure, not a crash or a usage error) and
# prints TEXT (a fixed string) on stderr or stdout; its output is left in last.log.
exits_1_with() {
	local text=$1 rc=0
	shift
	"$@" >last.log 2>&1 || rc=$?
	cat last.log
	[ "$rc" -eq 1 ] || { echo "exit status $rc, expected 1: $*"; return 1; }
	grep -qF -- "$text" last.log || { echo "expected message containing: $text"; return 1; }
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_test "needs root"
}

# asan_build: $INGOT is an ASan build (make check's second pass, make check-asan).
asan_build() {
	ldd "$INGOT" | grep -q libasan
}

# plain_pass_only WHY: skips in an ASan build a test whose minutes go to work outside ingot's code or
# repeat the plain pass's, saying WHY.
plain_pass_only() {
	if asan_build; then skip_test "an ASan build: $*; make check runs it in the plain pass"; fi
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
	local out
	out=$(unsquashfs -lln "$1") || { echo "$1: unsquashfs cannot list it" >&2; return 1; }
	awk '{ if ($1 ~ /^d/) $3 = "-"; print }' <<<"$out" || return 1
}

# Oracle helpers. Each returns its failure explicitly (`|| return 1` on every step): callers use them
# in `if`, `!`, `||` and `$(…)`, where bash ignores `set -e`. tests/integration/oracles.sh feeds each a
# damaged input and expects it to fail; tests/lint.py refuses a helper used there that is not written so.

# part DISK LABEL: "START SIZE ATTRS" of the partition so labelled, in bytes, as sfdisk reads it.
part() {
	local json
	json=$(sfdisk --json "$1") || { echo "$1: sfdisk reads no partition table" >&2; return 1; }
	python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
for p in t["partitions"]:
    if p.get("name") == sys.argv[1]:
        print(p["start"] * t["sectorsize"], p["size"] * t["sectorsize"], p.get("attrs", "-").replace(" ", ""))
        break
else:
    sys.exit("no partition " + sys.argv[1])' "$2" <<<"$json" || return 1
}

# extract DISK LABEL OUT: the partition's bytes into OUT.
extract() {
	local info start size
	info=$(part "$1" "$2") || return 1
	read -r start size _ <<<"$info"
	dd if="$1" of="$3" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$size" status=none || return 1
}

# slot_root_hash DISK SLOT: the root hash the slot's signature partition names (read, not verified).
slot_root_hash() {
	local d=$1 s=$2
	extract "$d" "verity-sig-$s" "sig-$s.part" || return 1
	python3 - "sig-$s.part" <<'PY' || { echo "$d: slot $s: no signature payload" >&2; return 1; }
import json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.rstrip(b"\0")
assert b"\0" not in text, "NULs inside the payload"
print(json.loads(text)["rootHash"])
PY
	rm -f "sig-$s.part"
}

# slot_verifies DISK SLOT CERT [ROOTHASH]: the slot's signature partition holds a signature by CERT over
# a root hash (openssl cms), and veritysetup verifies the slot's root partition against its verity
# partition with that root hash. ROOTHASH, when given, is the hash it must be: hex, or a file of
# acceptable hashes one per line (a .roothash file is one).
slot_verifies() {
	local d=$1 s=$2 cert=$3 want=${4:-} root
	extract "$d" "verity-sig-$s" sig.part || return 1
	root=$(python3 - sig.part <<'PY'
import base64, json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.rstrip(b"\0")
assert b"\0" not in text, "NULs inside the payload"
j = json.loads(text)
open("sig.p7s", "wb").write(base64.b64decode(j["signature"]))
open("sig.content", "w").write(j["rootHash"])
print(j["rootHash"])
PY
) || { echo "$d: slot $s: the signature partition holds no signature payload"; return 1; }
	openssl cms -verify -binary -inform DER -in sig.p7s -content sig.content -CAfile "$cert" -purpose any \
		-out /dev/null 2>/dev/null || { echo "$d: slot $s: the signature does not verify against $cert"; return 1; }
	extract "$d" "root-$s" root.part || return 1
	extract "$d" "verity-$s" verity.part || return 1
	veritysetup verify root.part verity.part "$root" >/dev/null ||
		{ echo "$d: slot $s: veritysetup verify fails for root hash $root"; return 1; }
	rm -f root.part verity.part sig.part sig.p7s sig.content
	if [ -f "$want" ]; then
		grep -qxF "$root" "$want" || { echo "$d: slot $s: root hash $root is not one of $want's"; return 1; }
	elif [ -n "$want" ]; then
		[ "$root" = "$want" ] || { echo "$d: slot $s: root hash $root, expected $want"; return 1; }
	fi
}

# slot_profile_verifies DISK SLOT CERT PROFILE.json: the slot's signature partition carries PROFILE's bytes
# as its own profile, with a signature over them by CERT (openssl cms)
slot_profile_verifies() {
	extract "$1" "verity-sig-$2" sig.part || return 1
	python3 - sig.part "$4" <<'PY' || return 1
import base64, json, sys
j = json.loads(open(sys.argv[1], "rb").read().rstrip(b"\0"))
assert j["ingotProfile"].encode() == open(sys.argv[2], "rb").read(), "the slot's profile is not the file's"
open("profile.content", "wb").write(j["ingotProfile"].encode())
open("profile.p7s", "wb").write(base64.b64decode(j["ingotProfileSignature"]))
PY
	openssl cms -verify -binary -inform DER -in profile.p7s -content profile.content -CAfile "$3" -purpose any \
		-out /dev/null 2>/dev/null || { echo "$1: slot $2: the profile's signature does not verify against $3"; return 1; }
	rm -f sig.part profile.content profile.p7s
}

# gpt_has_slots DISK: sfdisk reads a GPT with an ESP and both slots' root, verity and signature
# partitions labelled and typed as ingot writes them.
gpt_has_slots() {
	local json
	json=$(sfdisk --json "$1") || { echo "$1: sfdisk reads no partition table"; return 1; }
	python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
assert t["label"] == "gpt", "label %s, not gpt" % t["label"]
want = {"esp": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}
for s in "ab":
    want["root-" + s] = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
    want["verity-" + s] = "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5"
    want["verity-sig-" + s] = "41092B05-9FC8-4523-994F-2DEF0408B176"
have = {p.get("name"): p["type"].upper() for p in t["partitions"]}
for name, type_ in want.items():
    assert have.get(name) == type_, "partition %s: type %s, expected %s" % (name, have.get(name), type_)' <<<"$json" ||
		{ echo "$1: not the GPT of an ingot disk"; return 1; }
}

# disk_consistent DISK HASHES CERT: what must hold after a power cut at any write: a GPT with both
# slots, a slot status that parses, a next slot (a or b), and every slot the boot could fall back to
# (priority > 0, good or with tries left), the next one among them, holding an image whose signature
# by CERT and data verify and whose root hash is one of the lines of HASHES.
disk_consistent() {
	local json next bootable s
	gpt_has_slots "$1" || return 1
	json=$("$INGOT" slot status --disk "$1" --json) || { echo "$1: no slot status"; return 1; }
	bootable=$(python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(x["name"] for x in s["slots"] if x["priority"] > 0 and (x["successful"] or x["tries"] > 0)))' <<<"$json") ||
		{ echo "$1: slot status --json does not parse"; return 1; }
	next=$("$INGOT" slot next --disk "$1") || { echo "$1: no next slot"; return 1; }
	next=${next%%:*}
	[ "$next" = a ] || [ "$next" = b ] || { echo "$1: next slot '$next'"; return 1; }
	[[ " $bootable " == *" $next "* ]] || { echo "$1: next slot $next is not bootable ($bootable)"; return 1; }
	for s in $bootable; do
		slot_verifies "$1" "$s" "$3" "$2" || return 1
	done
}

# image_verifies DIR/NAME [CERT]: veritysetup verifies NAME.raw against NAME.verity with NAME.roothash,
# and with CERT, openssl cms verifies NAME.roothash.p7s over that root hash.
image_verifies() {
	local root
	root=$(cat "$1.roothash") || return 1
	veritysetup verify "$1.raw" "$1.verity" "$root" >/dev/null ||
		{ echo "$1: veritysetup verify fails"; return 1; }
	[ $# -lt 2 ] || cms_verifies "$1" "$2" || return 1
}

# block_index_matches DIR/NAME: NAME.blocks describes NAME.raw: its extents tile the image from 0 to its
# size, each with the SHA-256 of its bytes (Python's hashlib); the superblock first, padding (zeros) from
# the squashfs's end (unsquashfs -s), the data extents exactly the blocks rdsquashfs -s lists for every
# file, as many fragment blocks as unsquashfs -s counts; bound to NAME.roothash; the superblock's compressor
# and block size, and each compressed data or fragment block's content digest that of its bytes as the
# compressor's own program (zstd, xz; zlib) decompresses them.
block_index_matches() {
	local img=$1.raw f
	unsquashfs -s "$img" >"$1.super" 2>&1 || { echo "$img: unsquashfs -s fails"; return 1; }
	: >"$1.stat"
	while IFS= read -r f; do
		rdsquashfs -s "$f" "$img" >>"$1.stat" 2>&1 || { echo "$img: rdsquashfs -s $f fails"; return 1; }
	done < <(unsquashfs -lls -d '' "$img" | awk '$1 ~ /^-/ && $3 > 0 { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }')
	python3 - "$1" <<'PY' || return 1
import hashlib, json, os, re, subprocess, sys, zlib
base = sys.argv[1]
img = open(base + ".raw", "rb").read()
x = json.load(open(base + ".blocks"))
def fail(why):
    print(f"{base}.blocks: {why}")
    sys.exit(1)
if (x.get("kind"), x.get("format")) != ("ingot-block-index", 2):
    fail(f"kind {x.get('kind')!r} format {x.get('format')!r}")
if x["image"] != os.path.basename(base) + ".raw" or x["size"] != len(img):
    fail(f"names {x['image']} of {x['size']} bytes, the image is {len(img)}")
if x["root_hash"] != open(base + ".roothash").read().strip():
    fail("another root hash than the image's")
super_ = open(base + ".super").read()
used = int(re.search(r"Filesystem size (\d+) bytes", super_).group(1))
fragments = int(re.search(r"Number of fragments (\d+)", super_).group(1))
compression = re.search(r"Compression (\w+)", super_).group(1)
block_size = int(re.search(r"Block size (\d+)", super_).group(1))
# the settings: squashfs's compression ids, as the superblock has them; the level is the compressor's
ids = {"gzip": 1, "lzma": 2, "lzo": 3, "xz": 4, "lz4": 5, "zstd": 6}
if (x.get("compressor"), x.get("block_size")) != (ids.get(compression), block_size) or x.get("level", 0) <= 0:
    fail(f"settings {x.get('compressor')}/{x.get('level')}/{x.get('block_size')}, the superblock says {compression}, blocks of {block_size}")
# a block's content: the decompressor's own program (zlib for gzip's raw zlib streams)
def content(data):
    if compression == "gzip":
        return zlib.decompress(data)
    argv = {"zstd": ["zstd", "-dcq"], "xz": ["xz", "-dcq"], "lzma": ["xz", "--format=lzma", "-dcq"]}.get(compression)
    if argv is None:
        return None  # lz4 and lzo blocks are raw, with no program that reads them: not checked
    return subprocess.run(argv, input=data, stdout=subprocess.PIPE, check=True).stdout
at, kinds = 0, {}
for e in x["extents"]:
    off, size, kind, digest = e[:4]
    if off != at or size <= 0:
        fail(f"extent at {off} ({size} bytes) where {at} was expected")
    data = img[off:off + size]
    if hashlib.sha256(data).hexdigest() != digest:
        fail(f"extent at {off} ({size} bytes, {kind}): its SHA-256 is not that of the image's bytes")
    if len(e) != (5 if kind in ("data", "fragment") else 4):
        fail(f"extent at {off} ({kind}) has {len(e)} fields")
    if len(e) == 5 and e[4] != digest:  # compressed: its content's digest
        try:
            c = content(data)
        except (subprocess.CalledProcessError, zlib.error) as ex:
            fail(f"extent at {off} ({kind}) does not decompress: {ex}")
        if c is not None and (len(c) > block_size or hashlib.sha256(c).hexdigest() != e[4]):
            fail(f"extent at {off} ({kind}): its content's SHA-256 is not that of the {compression} block decompressed")
    if (kind == "padding") != (off >= used) or (kind == "padding" and data.strip(b"\0")):
        fail(f"extent at {off} is {kind}; the squashfs ends at {used}")
    if (kind == "superblock") != (off == 0):
        fail(f"extent at {off} is {kind}")
    kinds.setdefault(kind, set()).add((off, size))
    at += size
if at != len(img):
    fail(f"extents end at {at}, the image at {len(img)}")
blocks, start = set(), None
for line in open(base + ".stat"):
    m = re.match(r"Blocks start: (\d+)", line)
    if m:
        start = int(m.group(1))
    m = re.match(r"\s+Block #\d+ size: (\d+)", line)
    if m and start is not None:
        size = int(m.group(1))
        if size:  # a sparse block is not stored
            blocks.add((start, size))
        start += size
if kinds.get("data", set()) != blocks:
    fail(f"data extents {sorted(kinds.get('data', set()) ^ blocks)[:4]}... differ from rdsquashfs's blocks")
if len(kinds.get("fragment", ())) != fragments:
    fail(f"{len(kinds.get('fragment', ()))} fragment extents, unsquashfs counts {fragments}")
PY
}

# cms_verifies DIR/NAME CERT: NAME.roothash.p7s is a signature by CERT over NAME.roothash (openssl cms).
cms_verifies() {
	local root
	root=$(cat "$1.roothash") || return 1
	openssl cms -verify -binary -inform DER -in "$1.roothash.p7s" -content <(printf %s "$root") -CAfile "$2" \
		-purpose any -out /dev/null 2>/dev/null || { echo "$1: the signature does not verify against $2"; return 1; }
}

# flip FILE OFFSET [MASK]: the bits of MASK (default 0x01) of the byte at OFFSET turned over, in place.
flip() {
	python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); assert b, "past the end"; f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ int(sys.argv[3], 0)]))' \
		"$1" "$2" "${3:-0x01}" || return 1
}

# has FILE [-E] PATTERN...: each PATTERN (grep's basic regular expression, extended with -E) matches a
# line of FILE; the first that matches none is named.
has() {
	local file=$1 opt=-q p
	shift
	[ "${1:-}" != -E ] || { opt=-Eq; shift; }
	for p; do grep $opt -- "$p" "$file" || { echo "not in $file: $p"; return 1; }; done
}

# kernel_hung_before_init CONSOLE: the guest's kernel hung in its own start-up, before any init ran: a
# soft lockup of PID 1 while it is still the kernel's (swapper), and not one line of ingot's initrd. A
# TCG guest on a loaded machine does this now and then; the disk is as it was, and ingot was not tested.
kernel_hung_before_init() {
	grep -Eq 'soft lockup - CPU#[0-9]+ stuck for [0-9]+s! \[swapper/[0-9]+:1\]' "$1" || return 1
	! grep -q 'ingot-init:' "$1" || return 1
}

# without_kernel FILE [timed]: FILE without the kernel's messages ("[   12.345678] ...", to their newline),
# also where the console put one inside a line of ours, which is whole again. "timed": each line of FILE
# starts with the seconds host.sh's uefi_boot writes ("  45 "); the next line's are taken with the message.
without_kernel() {
	python3 -c 'import re, sys; sys.stdout.write(re.sub(r"\[ *\d+\.\d{6}\] [^\n]*\n" + (r"(?: *\d+ )?" if sys.argv[2:] == ["timed"] else ""), "", open(sys.argv[1], errors="replace").read()))' "$@"
}

# offset_in IMAGE FILE: the byte offset at which FILE's first 4 KiB are stored in IMAGE (a file stored as
# it is: random data does not compress); fails when they are not there.
offset_in() {
	local off
	off=$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().find(open(sys.argv[2], "rb").read(4096)))' "$1" "$2") || return 1
	[ "$off" -ge 0 ] || { echo "$2 is not stored as it is in $1" >&2; return 1; }
	echo "$off"
}

# flip_part DISK LABEL OFFSET: every bit of a byte of a partition turned over, as a failing disk would.
flip_part() {
	local info start size
	info=$(part "$1" "$2") || return 1
	read -r start size _ <<<"$info"
	[ "$3" -lt "$size" ] || { echo "$1: offset $3 is past $2's $size bytes"; return 1; }
	flip "$1" $((start + $3)) 0xff || return 1
}

# slot_holds DISK SLOT IMAGE: the slot's root partition begins with IMAGE's bytes (cmp).
slot_holds() {
	local info start
	info=$(part "$1" "root-$2") || return 1
	read -r start _ _ <<<"$info"
	cmp -n "$(stat -c %s "$3")" "$3" <(tail -c +$((start + 1)) "$1") || return 1
}

# same_bytes FILE SHA256: FILE's content has that digest.
same_bytes() {
	[ "$(sha256sum <"$1")" = "$2" ] || { echo "$1: changed"; return 1; }
}

# status_field DISK EXPR: a Python expression over `ingot slot status --json` (bound to s).
status_field() {
	local json
	json=$("$INGOT" slot status --disk "$1" --json) || return 1
	python3 -c 'import json, sys; s = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2" <<<"$json" || return 1
}

# signed_demo OUT VERSION [EXTRA-RECIPE-LINES]: the demo image at VERSION, signed by keys/ (made once).
signed_demo() {
	[ -e keys/ingot.key ] || "$INGOT" keygen keys >/dev/null || return 1
	sed "s/^Version=.*/Version=$2/; s#^Copy=demo/#Copy=$TOP/recipes/demo/#" "$TOP/recipes/demo.ini" >"demo-$2.ini" || return 1
	[ $# -lt 3 ] || printf '%s\n' "$3" >>"demo-$2.ini" || return 1
	"$INGOT" build "demo-$2.ini" -o "$1" --key keys/ingot.key --cert keys/ingot.crt --quiet
}

# with_kernel: recipe lines (signed_demo's third argument) that put a stand-in kernel and initrd where the
# ingot initrd looks for what it restarts a slot into (/usr/lib/modules/V/vmlinuz, /usr/lib/ingot/initrd):
# enough for a slot to take a profile with kernel parameters; nothing boots them.
with_kernel() {
	echo "a stand-in for a kernel and an initrd" >standin || return 1
	printf '[Content]\nCopy=%s/standin:/usr/lib/modules/6.1.0-test/vmlinuz\nCopy=%s/standin:/usr/lib/ingot/initrd\n' \
		"$PWD" "$PWD"
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
