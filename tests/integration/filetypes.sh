#!/bin/bash
# Every file type, mode, owner and xattr survives: ingot's image lists the same as mksquashfs's from the
# same tree (unsquashfs -lln), extracts to the same bytes (diff -r) and the same xattrs (getfattr),
# and the same tree as a tar.zst gives a byte-identical image.
. "$(dirname "$0")/../lib.sh"

recipe() { # recipe FILE BASEKEY SOURCE
	cat >"$1" <<EOR
[Image]
Name=full
Version=1
OsRelease=no
[Base]
$2=$3
EOR
}

t_tree_matches_mksquashfs() {
	require_root
	make_full_tree tree
	recipe r.ini Tree tree
	"$INGOT" build --unsigned r.ini -o out --quiet
	mksquashfs tree ref.sqfs -comp zstd -quiet -no-progress >/dev/null
	listing out/full_1.raw >ours.txt
	listing ref.sqfs >ref.txt
	diff -u ref.txt ours.txt
	[ "$(wc -l <ours.txt)" -gt 10020 ]
	grep -q '^srw' ours.txt
	grep -q '^prw' ours.txt
	grep -q '^-rwsr-xr-x 0/0 .*bin/tool$' ours.txt
	grep -q '^-rwx--s--x 1000/1000 .*bin/sgid$' ours.txt
	grep -q '^-rw-r----- 0/42 .*etc/shadow$' ours.txt
}

t_extraction_matches_tree() {
	require_root
	make_full_tree tree
	recipe r.ini Tree tree
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -q -d x out/full_1.raw >/dev/null
	# devices, fifos and sockets (all in dev/): same type and numbers; diff -r compares the rest
	for f in dev/null dev/loop7 dev/big-minor dev/fifo dev/socket; do
		[ "$(stat -c '%F %t %T %a %u %g' "tree/$f")" = "$(stat -c '%F %t %T %a %u %g' "x/$f")" ]
	done
	[ "$(stat -c '%t %T' x/dev/big-minor)" = "4 12c" ]
	diff -r --no-dereference -x dev tree x
	(cd tree && getfattr -h -R -d -m - --absolute-names . | sort) >tree.xattr
	(cd x && getfattr -h -R -d -m - --absolute-names . | sort) >x.xattr
	diff -u tree.xattr x.xattr
	grep -q 'security.capability=0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=' x.xattr
	grep -q 'user.dir="on a directory"' x.xattr
	# hard links stay one inode
	[ "$(stat -c %i x/bin/tool)" = "$(stat -c %i x/etc/tool-elsewhere)" ]
	[ "$(stat -c %h x/bin/tool)" = 3 ]
	# the sparse file stays sparse: 2 GiB long, a few blocks on disk
	[ "$(stat -c %s x/big/sparse-2g)" = 2147483648 ]
	[ "$(stat -c %b x/big/sparse-2g)" -lt 1024 ]
	[ "$(stat -c %s out/full_1.raw)" -lt 10000000 ]
	veritysetup verify out/full_1.raw out/full_1.verity "$(cat out/full_1.roothash)"
}

t_tar_zstd_gives_identical_image() {
	require_root
	NO_SOCKET=1 make_full_tree tree
	tar --sort=name --format=pax --sparse --xattrs --xattrs-include='*' -C tree -cf - . | zstd -q -o tree.tar.zst
	recipe dir.ini Tree tree
	recipe tar.ini Archive tree.tar.zst
	sed -i 's/^Version=1/Version=1/' tar.ini
	"$INGOT" build --unsigned dir.ini -o out-dir --quiet
	"$INGOT" build --unsigned tar.ini -o out-tar --quiet
	cmp out-dir/full_1.raw out-tar/full_1.raw
}

t_cpio_and_gzip_archives() {
	require_root
	mkdir -p tree/a
	echo one >tree/a/one
	ln tree/a/one tree/a/two
	ln -s one tree/a/link
	(cd tree && find . | sort | cpio -o -H newc --quiet | gzip >../tree.cpio.gz)
	recipe r.ini Archive tree.cpio.gz
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -q -d x out/full_1.raw >/dev/null
	diff -r tree x
	[ "$(stat -c %i x/a/one)" = "$(stat -c %i x/a/two)" ]
}

run tree_matches_mksquashfs t_tree_matches_mksquashfs
run extraction_matches_tree t_extraction_matches_tree
run tar_zstd_gives_identical_image t_tar_zstd_gives_identical_image
run cpio_and_gzip_archives t_cpio_and_gzip_archives
