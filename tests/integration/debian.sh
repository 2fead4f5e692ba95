#!/bin/bash
# A Debian= base: mmdebstrap runs in a session of its own, so that its signals (on a failure it sends
# SIGHUP to its whole process group) reach only itself; a failure is reported with apt's reason;
# SIGINT and SIGTERM stop the build while mmdebstrap downloads or streams its tar, with nothing left
# behind (no temporaries in out/, nothing in its TMPDIR, no process), as does a failure of ingot's
# own while mmdebstrap writes; AllowDevices=no leaves /dev's device nodes out. Tests that need
# deb.debian.org skip when it does not answer.
. "$(dirname "$0")/../lib.sh"

# debian_recipe SUITE [EXTRA-LINES] [LEVEL]: r.ini for image bad_1 on Debian SUITE, with an epoch (no
# warning), at zstd LEVEL (default 1)
debian_recipe() {
	recipe Debian "$1" "${2:-}[Output]
SourceDateEpoch=1735689600
Level=${3:-1}
"
}

# A small Debian base from the mirror: three packages unpacked (mmdebstrap's extract variant: a 23 MB tar,
# with /dev's nodes and an empty dpkg status, in seconds where minbase takes a minute). At level 19 ingot
# reads that tar for several seconds, the window in which the streaming tests act.
SMALL=$'Variant=extract\nPackages=busybox-static libc6 perl-base\n'

# stalled_mirror: an HTTP "mirror" on 127.0.0.1 that accepts connections and never answers, so apt
# waits on it until it is stopped (the server ends itself after two minutes). Its port in $port; each
# connection adds a line to ./connections.
stalled_mirror() {
	python3 - >port <<'PY' &
import signal, socket
signal.alarm(120)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open("connections", "a") as f:
        f.write("connected\n")
PY
	mirror=$!
	trap 'kill $mirror 2>/dev/null || true' EXIT
	for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
	port=$(cat port)
	[ -n "$port" ]
}

# The image's temporary file holds more than a megabyte: ingot is reading mmdebstrap's tar.
streaming() {
	local f
	for f in out/.bad_1.raw.*; do
		[ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 1000000 ] && return 0
	done
	return 1
}

# interrupt SIGNAL CONDITION: builds r.ini with mmdebstrap's TMPDIR in ./tmp, in a session of its own
# (as a shell with job control starts a command; mmdebstrap's signals must never reach the test
# either), waits until CONDITION holds, then sends SIGNAL to ingot alone. Afterwards: exit 130,
# "ingot: interrupted" and nothing else, nothing in out/ or tmp/, no process left in ingot's session
# or in mmdebstrap's.
interrupt() {
	local sig=$1 condition=$2 pid child groups rc
	mkdir -m 1777 tmp
	TMPDIR=$PWD/tmp setsid "$INGOT" build --unsigned r.ini -o out >log 2>&1 &
	pid=$!
	for _ in $(seq 1800); do
		eval "$condition" && break
		sleep 0.1
	done
	eval "$condition" || { cat log; echo "never came: $condition"; kill -KILL "$pid"; return 1; }
	child=$(pgrep -P "$pid" -x mmdebstrap) || { echo "no mmdebstrap under ingot"; kill -KILL "$pid"; return 1; }
	groups=$(ps -o pgid= -p "$pid,$child" | sort -u | wc -l)
	ps -o pid,pgid,sid,args -p "$pid,$child"
	kill "-$sig" "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat log
	[ "$rc" -eq 130 ] || return 1
	[ "$(cat log)" = "ingot: interrupted" ] || return 1
	nothing_left out || return 1
	[ -z "$(ls -A tmp)" ] || { ls -la tmp; return 1; }
	! pgrep -s "$pid" || return 1
	! pgrep -s "$child" || return 1
	# mmdebstrap had a process group of its own: its "kill HUP => -getpgrp()" reaches only itself
	[ "$groups" -eq 2 ] || return 1
}

t_unreachable_mirror() {
	need_mmdebstrap
	debian_recipe bookworm $'Mirror=http://127.0.0.1:1/debian\n'
	mkdir out
	rc=0
	"$INGOT" build --unsigned r.ini -o out 2>err || rc=$?
	cat err
	[ "$rc" -eq 1 ]
	# ingot's message says why, in apt's words
	grep -qx 'ingot: mmdebstrap bookworm failed with exit status [0-9]*:' err
	grep -qxF '  E: Failed to fetch http://127.0.0.1:1/debian/dists/bookworm/InRelease  Could not connect to 127.0.0.1:1 (127.0.0.1). - connect (111: Connection refused)' err
	# and only ingot speaks: mmdebstrap's own output is not on the terminal
	! grep -q '^I: ' err || return 1
	nothing_left out
	[ -d out ] # it was there before: it stays
}

t_unknown_suite() {
	need_debian_mirror
	debian_recipe nosuchsuite
	rc=0
	"$INGOT" build --unsigned r.ini -o out/new 2>err || rc=$?
	cat err
	[ "$rc" -eq 1 ]
	grep -qx 'ingot: mmdebstrap nosuchsuite failed with exit status [0-9]*:' err
	grep -qxF "  E: The repository 'http://deb.debian.org/debian nosuchsuite Release' does not have a Release file." err
	[ ! -e out ] # made by the build, so gone with it
}

t_sigint_while_downloading() {
	need_mmdebstrap
	stalled_mirror
	debian_recipe bookworm "Mirror=http://127.0.0.1:$port/debian"$'\n'
	interrupt INT '[ -s connections ]'
}

t_sigterm_while_downloading() {
	need_mmdebstrap
	stalled_mirror
	debian_recipe bookworm "Mirror=http://127.0.0.1:$port/debian"$'\n'
	interrupt TERM '[ -s connections ]'
}

t_sigint_while_streaming() {
	need_debian_mirror
	debian_recipe bookworm "$SMALL" 19
	interrupt INT streaming
}

# Our own failure while mmdebstrap writes: ingot's error, not mmdebstrap's, and nothing left.
t_full_disk_while_streaming() {
	require_root
	need_debian_mirror
	debian_recipe bookworm "$SMALL"
	mkdir out
	mkdir -m 1777 tmp
	mount -t tmpfs -o size=2m tmpfs out || skip_test "cannot mount a tmpfs here"
	rc=0
	# ASan: libsquashfs 1.2 does not free the blocks its workers hold when a write fails (a Tree= of
	# many files on a full disk leaks the same way); that leak is not what this test is about
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 TMPDIR=$PWD/tmp \
		"$INGOT" build --unsigned r.ini -o out 2>err || rc=$?
	cat err
	umount out
	[ "$rc" -eq 1 ] || return 1
	grep -q '^ingot: writing the image (data of .*): No space left on device$' err || return 1
	[ "$(wc -l <err)" -eq 1 ] || return 1
	nothing_left out || return 1
	[ -z "$(ls -A tmp)" ] || { ls -la tmp; return 1; }
}

t_allow_devices_no() {
	need_debian_mirror
	debian_recipe bookworm "${SMALL}AllowDevices=no"$'\n'
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/bad_1.raw >list.txt
	# mmdebstrap's device nodes are left out, the rest of /dev stays
	! grep -E '^[cb]' list.txt || return 1
	grep -q '^drwxr-xr-x 0/0 .* squashfs-root/dev$' list.txt
	grep -q '^drwxr-xr-x 0/0 .* squashfs-root/dev/pts$' list.txt
	grep -q 'squashfs-root/dev/fd -> /proc/self/fd$' list.txt
	grep -q 'squashfs-root/bin/busybox$' list.txt
}

run unreachable_mirror t_unreachable_mirror
run unknown_suite t_unknown_suite
run sigint_while_downloading t_sigint_while_downloading
run sigterm_while_downloading t_sigterm_while_downloading
run sigint_while_streaming t_sigint_while_streaming
run full_disk_while_streaming t_full_disk_while_streaming
run allow_devices_no t_allow_devices_no
