#!/bin/sh
# Installs every package ingot needs to build, test and demo, and nothing when all are there.
# Idempotent: asks dpkg first and runs apt-get only for what is missing.
set -eu

PACKAGES="
build-essential pkg-config
libsquashfs-dev libarchive-dev libjson-c-dev libssl-dev libcryptsetup-dev
libblkid-dev libfdisk-dev libcurl4-openssl-dev libcmocka-dev
squashfs-tools squashfs-tools-ng mmdebstrap uidmap zstd xz-utils
attr tar cpio python3 util-linux bsdutils cryptsetup-bin fdisk systemd-container systemd
busybox-static time bc dosfstools mtools mount nginx curl
qemu-system-x86 linux-image-amd64 kmod e2fsprogs
ovmf systemd-boot-efi
clang libclang-rt-14-dev valgrind
casync
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "install-deps: all dependencies are installed"
	exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: missing packages and not root; run as root: apt-get install$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# nginx is for the tests, which run their own on 127.0.0.1: keep Debian from starting the system one
# on port 80 (a policy-rc.d that exits 101 denies service starts during the install)
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing
