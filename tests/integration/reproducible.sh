#!/bin/bash
# Same recipe and inputs give byte-identical images: in another directory, at another time, with one
# compressor thread or several, with SOURCE_DATE_EPOCH from the environment or the recipe; the shipped
# Debian recipe too (built twice from the mirror); and a build that nothing gives an epoch warns.
. "$(dirname "$0")/../lib.sh"

make_input() {
	mkdir -p "$1"/etc "$1"/usr/share/data
	seq 1 200000 >"$1/usr/share/data/numbers"
	head -c 3000000 /dev/urandom >"$1/usr/share/data/random"
	for i in $(seq 1 300); do echo "file $i" >"$1/usr/share/data/f$i"; done
	echo hello >"$1/etc/motd"
	cat >"$1/recipe.ini" <<EOR
[Image]
Name=repro
Version=2.0
[Base]
Tree=tree
[Content]
Copy=overlay/:/
Mkdir=/var/empty:0711
EOR
}

t_different_directory_and_time() {
	make_input a
	mv a/recipe.ini .
	mv a tree
	mkdir -p overlay/etc
	echo over >overlay/etc/issue
	SOURCE_DATE_EPOCH=1700000000 "$INGOT" build --unsigned recipe.ini -o out1 --quiet
	# another directory (copied with timestamps), another clock time, another output path
	mkdir -p elsewhere/deeper
	cp -a tree overlay recipe.ini elsewhere/deeper/
	sleep 1.1
	(cd elsewhere/deeper && SOURCE_DATE_EPOCH=1700000000 "$INGOT" build --unsigned recipe.ini -o ../../out2 --quiet)
	[ "$(sha256sum <out1/repro_2.0.raw)" = "$(sha256sum <out2/repro_2.0.raw)" ]
	# and the clamp is real: nothing in the image is newer than SOURCE_DATE_EPOCH
	TZ=UTC unsquashfs -lln out1/repro_2.0.raw | awk '{ print $4 }' | sort -u | tail -1 | grep -q '^2023-11-14$'
}

t_threads_do_not_matter() {
	make_input a
	mv a/recipe.ini .
	mv a tree
	mkdir overlay
	"$INGOT" build --unsigned recipe.ini -o one -j 1 --quiet
	"$INGOT" build --unsigned recipe.ini -o many -j 8 --quiet
	cmp one/repro_2.0.raw many/repro_2.0.raw
}

t_recipe_epoch_and_environment() {
	make_input a
	mv a/recipe.ini .
	mv a tree
	mkdir overlay
	printf '[Output]\nSourceDateEpoch=1600000000\n' >>recipe.ini
	"$INGOT" build --unsigned recipe.ini -o from-recipe --quiet
	SOURCE_DATE_EPOCH=1600000000 "$INGOT" build --unsigned recipe.ini -o from-env --quiet
	cmp from-recipe/repro_2.0.raw from-env/repro_2.0.raw
	SOURCE_DATE_EPOCH=1500000000 "$INGOT" build --unsigned recipe.ini -o env-wins --quiet
	! cmp -s from-recipe/repro_2.0.raw env-wins/repro_2.0.raw || return 1
	TZ=UTC unsquashfs -s env-wins/repro_2.0.raw | grep -q 'Creation or last append time Fri Jul 14 02:40:00 2017'
}

# Nothing sets an epoch: one warning line on stderr and in "warnings" of the JSON result; either the
# recipe's SourceDateEpoch= or SOURCE_DATE_EPOCH silences it.
t_warns_without_epoch() {
	mkdir tree
	echo x >tree/f
	printf '[Image]\nName=w\nVersion=1\n[Base]\nTree=tree\n' >r.ini
	warning="nothing sets a source date epoch (no SourceDateEpoch= in r.ini, no SOURCE_DATE_EPOCH): file times are not clamped and a rebuild may differ"
	"$INGOT" build --unsigned r.ini -o out --quiet 2>err
	cat err
	[ "$(cat err)" = "ingot: warning: $warning" ]
	"$INGOT" build --unsigned r.ini -o out --json >result.json 2>err
	[ "$(cat err)" = "ingot: warning: $warning" ]
	python3 -c 'import json, sys; r = json.load(open("result.json")); assert r["warnings"] == [sys.argv[1]], r' "$warning"
	SOURCE_DATE_EPOCH=1 "$INGOT" build --unsigned r.ini -o out --json >result.json 2>err
	[ ! -s err ]
	python3 -c 'import json; r = json.load(open("result.json")); assert r["warnings"] == [] and r["source_date_epoch"] == 1, r'
	printf '[Output]\nSourceDateEpoch=1\n' >>r.ini
	"$INGOT" build --unsigned r.ini -o out 2>err >/dev/null
	[ ! -s err ]
}

# The shipped Debian recipe as it stands: two builds (in one run, since the mirror's content changes
# over time) in different directories at different times give the same bytes in every file; the second
# takes its unchanged blocks from the first (--reuse), which must change none of them.
t_debian_minbase_twice() {
	need_debian_mirror
	plain_pass_only "two minbase builds, their time mostly mmdebstrap's, prove a property of the recipe (recipes.sh builds it under ASan)"
	"$INGOT" build --unsigned "$TOP/recipes/debian-minbase.ini" -o first --quiet 2>err
	[ ! -s err ] || { cat err; return 1; } # the recipe sets its epoch: no warning
	sleep 2
	mkdir elsewhere
	(cd elsewhere && "$INGOT" build --unsigned "$TOP/recipes/debian-minbase.ini" -o second --reuse ../first --json) \
		>second.json
	python3 -c 'import json, sys; b = json.load(open(sys.argv[1]))["block_reuse"]; assert b["reused"] > 500, b' second.json
	ls -l first elsewhere/second
	[ "$(ls first)" = "$(ls elsewhere/second)" ] || return 1
	for f in first/*; do
		cmp "$f" "elsewhere/second/${f#first/}" || return 1
	done
}

run warns_without_epoch t_warns_without_epoch
run debian_minbase_twice t_debian_minbase_twice
run different_directory_and_time t_different_directory_and_time
run threads_do_not_matter t_threads_do_not_matter
run recipe_epoch_and_environment t_recipe_epoch_and_environment
