#!/bin/bash
# [Content] operations in order on top of the base: what they remove never reaches the image's data,
# overlays follow the image's own symlinks, Binaries= brings the libraries a program loads (proven by
# running it in a chroot of the extracted image), and os-release carries the image's identity.
. "$(dirname "$0")/../lib.sh"

base_tree() {
	mkdir -p tree/etc tree/usr/lib tree/usr/bin tree/usr/share/doc/pkg
	ln -s usr/lib tree/lib
	echo base >tree/etc/motd
	head -c 2000000 /dev/urandom >tree/usr/share/doc/pkg/big-changelog
	head -c 1000000 /dev/urandom >tree/etc/replaced-blob
	echo tool >tree/usr/bin/tool
	ln tree/usr/bin/tool tree/usr/bin/tool-alias
	printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' \
		>tree/usr/lib/os-release
	mkdir -p overlay/etc overlay/lib
	echo overlay >overlay/etc/motd
	echo small >overlay/etc/replaced-blob
	echo plugin >overlay/lib/plugin.so
}

t_ops_in_order() {
	base_tree
	cat >r.ini <<EOR
[Image]
Name=content
Version=3
[Base]
Tree=tree
[Content]
Remove=/usr/share/doc
Copy=overlay/:/
Mkdir=/usr/share/doc:0700
Symlink=../usr/bin/tool:/etc/tool-link
Mode=/usr/bin/tool:4750
Owner=/usr/bin/tool:0:50
Remove=/usr/bin/tool
EOR
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/content_3.raw >list.txt
	cat list.txt
	unsquashfs -q -d x out/content_3.raw >/dev/null
	[ "$(cat x/etc/motd)" = overlay ]
	[ "$(cat x/usr/lib/plugin.so)" = plugin ] # through the image's /lib -> usr/lib
	[ -L x/lib ]
	! grep -q big-changelog list.txt || return 1
	grep -q '^drwx------ 0/0 .*usr/share/doc$' list.txt
	grep -q 'etc/tool-link -> ../usr/bin/tool' list.txt
	# the hard link outlived its first name and kept what Mode= and Owner= set on the inode
	grep -q '^-rwsr-x--- 0/50 .*usr/bin/tool-alias$' list.txt
	! grep -q ' squashfs-root/usr/bin/tool$' list.txt || return 1
	# removed and replaced data never reached the image: 3 MB of random bytes would not compress away
	[ "$(stat -c %s out/content_3.raw)" -lt 100000 ]
}

t_os_release() {
	base_tree
	printf '[Image]\nName=content\nVersion=3\n[Base]\nTree=tree\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -cat out/content_3.raw usr/lib/os-release >os
	cat os
	grep -qx 'ID=debian' os
	grep -qx 'VERSION_ID="12"' os
	grep -qx 'IMAGE_ID=content' os
	grep -qx 'IMAGE_VERSION=3' os
	grep -qx 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' os
	unsquashfs -lln out/content_3.raw | grep -q 'etc/os-release -> ../usr/lib/os-release'
	printf 'Id=ingot\nVersionId=3.1\n' >>r.ini
	sed -i 's/^Version=3$/Version=3\nId=ingot\nVersionId=3.1/' r.ini
	head -n 5 r.ini >r2.ini
	printf '[Base]\nTree=tree\n' >>r2.ini
	"$INGOT" build --unsigned r2.ini -o out2 --quiet
	unsquashfs -cat out2/content_3.raw usr/lib/os-release >os2
	grep -qx 'ID=ingot' os2
	grep -qx 'VERSION_ID=3.1' os2
	! grep -q 'ID=debian' os2 || return 1
}

t_binaries_run_in_chroot() {
	require_root
	printf '[Image]\nName=bin\nVersion=1\n[Content]\nBinaries=/bin/true\nBinaries=/usr/bin/env\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -q -d x out/bin_1.raw >/dev/null
	unsquashfs -lln out/bin_1.raw
	chroot x /bin/true
	[ "$(chroot x /usr/bin/env -i FOO=bar /usr/bin/env)" = FOO=bar ]
}

t_missing_paths_name_the_line() {
	mkdir tree
	printf '[Image]\nName=x\nVersion=1\n[Base]\nTree=tree\n[Content]\nMode=/etc/nothing:0644\n' >r.ini
	expect_fail "r.ini:7: Mode=/etc/nothing: no such path in the image" "$INGOT" build --unsigned r.ini -o out
	printf '[Image]\nName=x\nVersion=1\n[Base]\nTree=tree\n[Content]\nRemove=/nothing\n' >r.ini
	expect_fail "r.ini:7: Remove=/nothing: no such path in the image" "$INGOT" build --unsigned r.ini -o out
	printf '[Image]\nName=x\nVersion=1\n[Content]\nCopy=missing/:/\n' >r.ini
	expect_fail "r.ini:5: './missing/': No such file or directory" "$INGOT" build --unsigned r.ini -o out
	[ ! -e out ] || [ -z "$(ls -A out)" ]
}

# Remove=DIR/PATTERN: every entry of DIR the pattern matches (not a leading dot), directories with
# all below them, and their data never reaches the image; a pattern must be the last name and match.
t_remove_pattern() {
	mkdir -p tree/boot/initrd.img-dir tree/etc
	head -c 2000000 /dev/urandom >tree/boot/initrd.img-6.1.0-57-amd64
	head -c 1000000 /dev/urandom >tree/boot/initrd.img-dir/inner
	echo kernel >tree/boot/vmlinuz-6.1.0-57-amd64
	echo hidden >tree/boot/.initrd.img-keep
	tarball base.tar "boot/initrd.img-6.2=$(head -c 3000 /dev/urandom | base64 -w0)" "boot/vmlinuz-6.2=k"
	printf '[Image]\nName=p\nVersion=1\n[Base]\nTree=tree\n[Content]\nRemove=/boot/initrd.img-*\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/p_1.raw >list.txt
	cat list.txt
	! grep -q 'boot/initrd.img' list.txt || return 1
	grep -q 'squashfs-root/boot/vmlinuz-6.1.0-57-amd64$' list.txt
	grep -q 'squashfs-root/boot/.initrd.img-keep$' list.txt
	# 3 MB of random data would not compress away
	[ "$(stat -c %s out/p_1.raw)" -lt 100000 ] || return 1
	# an archive base too, with ? and [...]
	printf '[Image]\nName=p\nVersion=1\n[Base]\nArchive=base.tar\n[Content]\nRemove=/boot/initrd.img-6.?\nRemove=/boot/vm[l]inuz-*\n' >a.ini
	"$INGOT" build --unsigned a.ini -o out2 --quiet
	[ "$(unsquashfs -lln out2/p_1.raw | grep -c 'squashfs-root/boot/')" -eq 0 ] || return 1
	# a pattern that matches nothing is an error naming the line, as a missing path is
	printf 'Remove=/boot/nothing-*\n' >>r.ini
	expect_fail "r.ini:8: Remove=/boot/nothing-*: matches nothing in the image" "$INGOT" build --unsigned r.ini -o out3
	nothing_left out3
	printf '[Image]\nName=p\nVersion=1\n[Content]\nRemove=/b*t/initrd.img\n' >bad.ini
	expect_fail "bad.ini:5: Remove=/b*t/initrd.img: only the last name may be a pattern (*, ?, [...])" "$INGOT" plan bad.ini
}

run ops_in_order t_ops_in_order
run remove_pattern t_remove_pattern
run os_release t_os_release
run binaries_run_in_chroot t_binaries_run_in_chroot
run missing_paths_name_the_line t_missing_paths_name_the_line

t_removed_name_of_copied_hardlink() {
	mkdir -p overlay/opt
	echo shared >overlay/opt/first
	ln overlay/opt/first overlay/opt/second
	printf '[Image]\nName=hl\nVersion=1\n[Content]\nCopy=overlay/:/\nRemove=/opt/first\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	[ "$(unsquashfs -cat out/hl_1.raw opt/second)" = shared ]
}
run removed_name_of_copied_hardlink t_removed_name_of_copied_hardlink

t_archive_hardlink_to_removed_file() {
	mkdir -p tree/d
	echo data >tree/d/a
	ln tree/d/a tree/d/b
	tar --sort=name -C tree -cf t.tar .
	printf '[Image]\nName=hl\nVersion=1\n[Base]\nArchive=t.tar\n[Content]\nRemove=/d/a\n' >r.ini
	expect_fail "t.tar: '/d/b' is a hard link to '/d/a', which a content operation removes; remove both or neither" \
		"$INGOT" build --unsigned r.ini -o out
	[ ! -e out ] || [ -z "$(ls -A out)" ]
}
run archive_hardlink_to_removed_file t_archive_hardlink_to_removed_file

# Empty files the build reads into memory (dpkg's status, os-release; mmdebstrap's extract variant ships an
# empty status) and empty files of a tree: written as empty files (libsquashfs crashed on an empty append).
t_empty_captured_files() {
	tarball base.tar "var/lib/dpkg/status=" "etc/os-release=" "usr/share/empty="
	printf '[Image]\nName=e\nVersion=1\n[Base]\nArchive=base.tar\n' >r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -lln out/e_1.raw >list.txt
	grep -q '^-rw-r--r-- 0/0 *0 .* squashfs-root/var/lib/dpkg/status$' list.txt
	grep -q '^-rw-r--r-- 0/0 *0 .* squashfs-root/usr/share/empty$' list.txt
	unsquashfs -cat out/e_1.raw usr/lib/os-release | grep -qx 'IMAGE_ID=e'
	mkdir -p tree/var/lib/dpkg
	: >tree/var/lib/dpkg/status
	printf '[Image]\nName=t\nVersion=1\n[Base]\nTree=tree\n' >t.ini
	"$INGOT" build --unsigned t.ini -o out --quiet
	unsquashfs -lln out/t_1.raw | grep -q '^-rw-r--r-- 0/0 *0 .* squashfs-root/var/lib/dpkg/status$'
}
run empty_captured_files t_empty_captured_files
