#!/bin/sh
# scripts/kernel-modules.sh PACKAGE DIR: prints the /lib/modules/VERSION directory of the kernel that
# the Debian package PACKAGE (linux-image-amd64, linux-image-cloud-amd64 ...) installs, for
# `ingot initrd --kernel-modules` to make the slot's initrd before the image is built (docs/hosts.md).
# The host's own /lib/modules/VERSION when it has that kernel; else the package is fetched with
# apt-get download and unpacked (dpkg-deb -x) under DIR. Nothing is installed.
set -eu
pkg=$1 dir=$2
# a metapackage names the versioned package it depends on
real=$(apt-cache depends "$pkg" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
real=${real:-$pkg}
version=${real#linux-image-}
case $version in
[0-9]*) ;;
*) echo "kernel-modules: cannot tell the kernel version of $pkg ($real)" >&2; exit 1 ;;
esac
if [ -f "/lib/modules/$version/modules.dep" ]; then
	echo "/lib/modules/$version"
	exit 0
fi
mkdir -p "$dir"
(cd "$dir" && apt-get download -q=2 -o APT::Sandbox::User=root "$real" >&2)
dpkg-deb -x "$dir/${real}"_*.deb "$dir/root"
rm -f "$dir/${real}"_*.deb
# the package ships no modules.dep; depmod writes it as the kernel's postinst would
depmod -b "$dir/root" "$version"
echo "$dir/root/lib/modules/$version"
