#!/bin/bash
# Every compressor, level and block size the recipe offers produces an image that squashfs-tools
# reads back with the same settings (unsquashfs -s) and the same contents.
. "$(dirname "$0")/../lib.sh"

tree() {
	mkdir -p tree/usr/share
	seq 1 300000 >tree/usr/share/numbers
	head -c 700000 /dev/urandom >tree/usr/share/random
	for i in $(seq 1 50); do echo "small $i" >"tree/usr/share/s$i"; done
}

one() { # one COMPRESSOR LEVEL BLOCKSIZE BYTES
	tree
	printf '[Image]\nName=c\nVersion=1\nOsRelease=no\n[Base]\nTree=tree\n[Output]\nCompression=%s\n%sBlockSize=%s\n' \
		"$1" "${2:+Level=$2\n}" "$3" >r.ini
	sed -i 's/\\n/\n/' r.ini
	"$INGOT" build --unsigned r.ini -o out --quiet
	unsquashfs -s out/c_1.raw >super.txt
	cat super.txt
	grep -q "Compression $1" super.txt
	grep -q "Block size $4" super.txt
	if [ "$1" = lz4 ]; then
		# unsquashfs 4.5.1 (Debian 12) fails on every lz4 image, mksquashfs's own included
		# ("failed to read id table block"); squashfs-tools-ng's rdsquashfs reads them.
		rdsquashfs -q -u / -p x out/c_1.raw
	else
		unsquashfs -q -d x out/c_1.raw >/dev/null
	fi
	diff -r tree x
}

t_zstd() { one zstd 19 64K 65536; }
t_xz() { one xz 6 1M 1048576; }
t_gzip() { one gzip 9 128K 131072; }
t_lz4() { one lz4 "" 4K 4096; }

run zstd_level_19_64k t_zstd
run xz_level_6_1m t_xz
run gzip_level_9_128k t_gzip
run lz4_4k t_lz4
