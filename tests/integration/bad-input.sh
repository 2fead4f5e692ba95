#!/bin/bash
# Bad input ends non-zero with a message naming the path, and leaves nothing under the final name
# (nor a temporary file): escaping archive members, symlink loops, files changing or vanishing while
# read, unreadable files, duplicate paths, a full disk, SIGINT.
. "$(dirname "$0")/../lib.sh"

t_dotdot_member() {
	tarball evil.tar "etc/ok=fine" "../../escape=owned"
	recipe Archive evil.tar
	expect_fail "evil.tar: member '../../escape' contains '..' and would escape the image root" \
		"$INGOT" build --unsigned r.ini -o out
	nothing_left out
	[ ! -e ../escape ]
	[ ! -e ../../escape ]
}

t_dotdot_hardlink() {
	tarball evil.tar "etc/ok=fine" "etc/link==>../../etc/passwd"
	recipe Archive evil.tar
	expect_fail "member '../../etc/passwd' contains '..'" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_absolute_member_stays_inside() {
	tarball abs.tar "/etc/hostname=inside"
	recipe Archive abs.tar
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -cat out/bad_1.raw etc/hostname | grep -qx inside
}

t_member_through_symlink() {
	tarball evil.tar "etc=->/tmp" "etc/passwd=owned"
	recipe Archive evil.tar
	expect_fail "evil.tar: cannot add '/etc/passwd': a parent is not a directory: /etc" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_duplicate_member() {
	tarball dup.tar "etc/a=one" "etc/a=two"
	recipe Archive dup.tar
	expect_fail "dup.tar: duplicate path '/etc/a'" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_not_an_archive() {
	head -c 1000 /dev/urandom >junk.tar.zst
	recipe Archive junk.tar.zst
	expect_fail "junk.tar.zst" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_truncated_archive() {
	mkdir -p tree/d
	head -c 500000 /dev/urandom >tree/d/f
	tar -C tree -cf - . | zstd -q -o full.tar.zst
	head -c 200000 full.tar.zst >cut.tar.zst
	recipe Archive cut.tar.zst
	expect_fail "cut.tar.zst" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_symlink_loop() {
	ln -s loop loop
	recipe Tree loop
	expect_fail "r.ini:5: './loop': Too many levels of symbolic links" "$INGOT" build --unsigned r.ini -o out
	mkdir tree
	printf '[Image]\nName=bad\nVersion=1\n[Base]\nTree=tree\n[Content]\nCopy=loop:/x\n' >r.ini
	expect_fail "r.ini:7: './loop': Too many levels of symbolic links" "$INGOT" build --unsigned r.ini -o out
	nothing_left out
}

t_symlinks_are_stored_not_followed() {
	mkdir -p tree/a
	ln -s ../a tree/a/up   # a cycle if it were followed
	ln -s up tree/a/self
	recipe Tree tree
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/bad_1.raw | grep -q 'a/up -> ../a'
}

# A large, slowly compressed file gives time to change it while ingot reads it.
big_slow_tree() {
	mkdir -p tree
	echo small >tree/aaa
	head -c 48000000 /dev/urandom | base64 -w0 >tree/zzz-big
	printf '[Image]\nName=bad\nVersion=1\n[Base]\nTree=tree\n[Output]\nCompression=xz\nLevel=9\n' >r.ini
}

# during_slow_read COMMAND: builds big_slow_tree in the background, runs COMMAND while ingot is
# reading tree/zzz-big, and leaves ingot's exit status in $rc and its messages in ./log.
during_slow_read() {
	big_slow_tree
	"$INGOT" build --unsigned r.ini -o out --quiet -j 1 >log 2>&1 &
	pid=$!
	sleep 1.5
	eval "$1"
	rc=0
	wait $pid || rc=$?
	cat log
}

change_while_read() {
	during_slow_read "$1"
	[ "$rc" -ne 0 ]
	grep -qF "$PWD/tree/zzz-big: changed while being read" log
	nothing_left out
}

t_file_changes_while_read() {
	change_while_read 'echo appended >>tree/zzz-big'
}

t_file_vanishes_while_read() {
	change_while_read 'rm tree/zzz-big'
}

t_unreadable_file_rootless() {
	command -v setpriv >/dev/null || skip_test "setpriv (util-linux) missing"
	chmod 755 .
	mkdir -p tree/etc
	echo ok >tree/etc/readable
	echo secret >tree/etc/unreadable
	chmod 000 tree/etc/unreadable
	recipe Tree tree
	mkdir out
	chmod 777 out
	chmod -R a+rX "$T" 2>/dev/null || true
	chmod 000 tree/etc/unreadable
	expect_fail "$PWD/tree/etc/unreadable: cannot read: Permission denied" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$INGOT" build --unsigned --unsigned r.ini -o out
	nothing_left out
	# and without the unreadable file the same unprivileged user builds fine
	rm tree/etc/unreadable
	setpriv --reuid=65534 --regid=65534 --clear-groups "$INGOT" build --unsigned --unsigned r.ini -o out --quiet
	[ -s out/bad_1.raw ]
}

t_full_disk() {
	require_root
	mkdir -p out tree
	mount -t tmpfs -o size=1m tmpfs out || skip_test "cannot mount a tmpfs here"
	head -c 4000000 /dev/urandom >tree/incompressible
	recipe Tree tree
	rc=0
	expect_fail "No space left on device" "$INGOT" build --unsigned r.ini -o out || rc=$?
	nothing_left out || rc=1
	umount out
	return $rc
}

t_old_image_survives_failure() {
	mkdir -p tree
	echo v1 >tree/f
	recipe Tree tree
	"$INGOT" build --unsigned r.ini -o out --quiet
	sum=$(sha256sum <out/bad_1.raw)
	tarball dup.tar "a=1" "a=2"
	recipe Archive dup.tar
	expect_fail "duplicate path" "$INGOT" build --unsigned r.ini -o out
	[ "$(sha256sum <out/bad_1.raw)" = "$sum" ]
	[ "$(ls -A out | tr '\n' ' ')" = "bad_1.blocks bad_1.manifest.json bad_1.raw bad_1.roothash bad_1.verity " ]
}

# A failed command takes back the directories it made for its output, and only those.
t_failed_build_removes_the_directory_it_made() {
	tarball dup.tar "a=1" "a=2"
	recipe Archive dup.tar $'[Output]\nSourceDateEpoch=0\n'
	expect_fail "duplicate path" "$INGOT" build --unsigned r.ini -o new/deeper/out
	[ ! -e new ] || { ls -laR new; return 1; }
	# an existing directory stays, even when empty, and so does what is in it
	mkdir -p there/empty
	expect_fail "duplicate path" "$INGOT" build --unsigned r.ini -o there/empty/out
	[ ! -e there/empty/out ] || return 1
	[ -d there/empty ] || return 1
	expect_fail "duplicate path" "$INGOT" build --unsigned r.ini -o there/empty
	[ -d there/empty ] || return 1
	nothing_left there/empty
	echo keep >there/file
	expect_fail "duplicate path" "$INGOT" build --unsigned r.ini -o there
	[ "$(ls -A there | tr '\n' ' ')" = "empty file " ] || return 1
}

t_failed_publish_removes_the_directory_it_made() {
	"$INGOT" keygen keys >/dev/null
	mkdir nothing
	expect_fail "nothing: no signed image (NAME_VERSION.raw with .roothash.p7s) to publish" \
		"$INGOT" publish nothing www/demo --key keys/ingot.key --cert keys/ingot.crt
	[ ! -e www ] || { ls -laR www; return 1; }
	mkdir -p srv/release
	expect_fail "no signed image" "$INGOT" publish nothing srv/release --key keys/ingot.key --cert keys/ingot.crt
	[ -d srv/release ] || return 1
	nothing_left srv/release
}

t_sigint() {
	during_slow_read 'kill -INT $pid'
	[ "$rc" -eq 130 ]
	grep -q 'interrupted' log
	nothing_left out
}

run dotdot_member t_dotdot_member
run dotdot_hardlink t_dotdot_hardlink
run absolute_member_stays_inside t_absolute_member_stays_inside
run member_through_symlink t_member_through_symlink
run duplicate_member t_duplicate_member
run not_an_archive t_not_an_archive
run truncated_archive t_truncated_archive
run symlink_loop t_symlink_loop
run symlinks_are_stored_not_followed t_symlinks_are_stored_not_followed
run file_changes_while_read t_file_changes_while_read
run file_vanishes_while_read t_file_vanishes_while_read
run unreadable_file_rootless t_unreadable_file_rootless
run full_disk t_full_disk
run old_image_survives_failure t_old_image_survives_failure
run failed_build_removes_the_directory_it_made t_failed_build_removes_the_directory_it_made
run failed_publish_removes_the_directory_it_made t_failed_publish_removes_the_directory_it_made
run sigint t_sigint
