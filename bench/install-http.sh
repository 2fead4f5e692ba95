#!/bin/bash
# bench/install-http.sh: `ingot slot install URL` of a >= 1 GiB signed image served by nginx on
# 127.0.0.1 against `curl -o` of the same file (then fsync, as the install's data is durable too) and
# `veritysetup verify` of what curl fetched, in the same run. Each run starts from an unallocated slot
# and fetched file, a dropped page cache and a warm served image (as a CDN's would be).
# Goal (issue 11): install <= 1.1x curl alone: it fetches, writes and checks in one pass.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
INGOT=${INGOT:-$PWD/$BUILD/ingot}
. tests/tools/nginx.sh
. bench/lib.sh
W=$(mktemp -d /tmp/ingot-bench-http.XXXXXX)
trap 'nginx_stop; losetup -D 2>/dev/null || true; rm -rf "$W"' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

mkdir -p "$W/out"
img=$W/out/bench_1.0.0.raw
big_image "$img"
bytes=$(stat -c %s "$img")
"$INGOT" verity "$img" >/dev/null
"$INGOT" keygen "$W/keys" >/dev/null
printf %s "$(cat "$W/out/bench_1.0.0.roothash")" >"$W/content"
openssl cms -sign -binary -noattr -outform DER -in "$W/content" -signer "$W/keys/ingot.crt" \
	-inkey "$W/keys/ingot.key" -out "$W/out/bench_1.0.0.roothash.p7s"
printf '{"name": "bench", "version": "1.0.0"}\n' >"$W/out/bench_1.0.0.manifest.json" # what publish reads
"$INGOT" publish "$W/out" "$W/www" --key "$W/keys/ingot.key" --cert "$W/keys/ingot.crt" >/dev/null
img=$W/www/bench_1.0.0.raw
nginx_start "$W/nginx" "$W/www"
url=http://127.0.0.1:$NGINX_PORT/
"$INGOT" disk "$W/disk.img" --slot-a "$img" --esp-size 33M --var-size 1M

fresh() { # an unallocated slot b, no fetched file, a cold cache, and the served image read once
	rm -f "$W/fetched.raw"
	empty_slot_b "$W/disk.img"
	cat "$img" "$W/www/bench_1.0.0.verity" >/dev/null
}
curl_fetch() {
	curl -sS --fail -o "$W/fetched.raw" "${url}bench_1.0.0.raw"
	sync "$W/fetched.raw"
}
verify_fetched() {
	veritysetup verify "$W/fetched.raw" "$W/www/bench_1.0.0.verity" "$(cat "$W/www/bench_1.0.0.roothash")"
}

tcurl=() tver=() tin=() tfile=()
for round in 1 2 3; do
	fresh
	tcurl+=("$(seconds curl_fetch)")
	tver+=("$(seconds verify_fetched)")
	fresh
	tin+=("$(seconds "$INGOT" slot install --disk "$W/disk.img" --slot b --cert "$W/keys/ingot.crt" "$url")")
	fresh # for context: the same install from the file nginx serves
	tfile+=("$(seconds "$INGOT" slot install --disk "$W/disk.img" --slot b --cert "$W/keys/ingot.crt" "$img")")
done
curl_s=$(median "${tcurl[@]}") ver_s=$(median "${tver[@]}") in_s=$(median "${tin[@]}") file_s=$(median "${tfile[@]}")
printf 'image: %.2f GiB squashfs over loopback HTTP (nginx) into a disk image file; %s cores; median of 3\n' \
	"$(echo "$bytes / 1073741824" | bc -l)" "$(nproc)"
printf '%-32s %7.2f s   (%s)\n' "curl -o, fsync" "$curl_s" "${tcurl[*]}"
printf '%-32s %7.2f s   (%s)\n' "veritysetup verify" "$ver_s" "${tver[*]}"
printf '%-32s %7.2f s   (%s)\n' "ingot slot install URL" "$in_s" "${tin[*]}"
printf '%-32s %7.2f s   (%s)\n' "ingot slot install FILE" "$file_s" "${tfile[*]}"
printf 'install / curl alone:           %.2fx (goal <= 1.1)\n' "$(echo "$in_s / $curl_s" | bc -l)"
printf 'install / (curl + verify):      %.2fx\n' "$(echo "$in_s / ($curl_s + $ver_s)" | bc -l)"
