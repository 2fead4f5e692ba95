# Makefile: builds lib/, the recipe compiler and the ingot CLI, and runs the tests, the demo and the benchmarks.
# `make demo` and `make check` install what is missing first (scripts/install-deps.sh).

BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
PKGS     := libsquashfs1 libarchive json-c libcrypto libcryptsetup fdisk blkid libcurl
# Lazy (=): pkg-config runs after install-deps had its chance.
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS))
DEP_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread
TEST_CFLAGS = $(shell pkg-config --cflags cmocka)
TEST_LIBS   = $(shell pkg-config --libs cmocka)

ALL_CFLAGS = -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 $(WERROR) \
             -Iinclude $(addprefix -I,$(MODULE_DIRS)) $(DEP_CFLAGS) -MMD -MP $(CFLAGS)

# Folders are the dependency graph (docs/architecture.md): each is an archive of its own, linked
# top-down, so that an arrow against the order fails at link time; tests/arch.py checks the includes.
# lib/'s folders, bottom-up:
LIB_DIRS    := lib/base lib/verity lib/sign lib/image lib/profile lib/slot lib/delivery
MODULE_DIRS := $(LIB_DIRS) sysext builder
# archive DIR: where folder DIR's objects are collected
archive = $(BUILD)/$(1)/lib$(notdir $(1)).a
# reverse LIST: LIST back to front
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
LIB_ARCHIVES := $(foreach d,$(call reverse,$(LIB_DIRS)),$(call archive,$(d)))
# The layer code, then the recipe compiler it drives.
COMPILER_ARCHIVES := $(call archive,sysext) $(call archive,builder)
ALL_ARCHIVES := $(foreach d,$(MODULE_DIRS),$(call archive,$(d)))
BOOT_SRCS := $(sort $(wildcard boot/*.c))
BOOT_OBJS := $(BOOT_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS  := $(sort $(wildcard cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# fuzz/: one libFuzzer target per parser; each also links with fuzz/replay.c as a plain program that
# `make test` runs over fuzz/corpus/TARGET and fuzz/crashes/TARGET (docs/security.md).
FUZZ_TARGETS := $(filter-out replay,$(basename $(notdir $(wildcard fuzz/*.c))))
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
SANITIZE     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
NPROC        := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps check check-asan test test-build demo bench clean fuzz fuzz-build
all: $(BUILD)/ingot $(BUILD)/ingot-init

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(foreach d,$(MODULE_DIRS),$(eval $(call archive,$(d)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(d)/*.c))))
$(ALL_ARCHIVES):
	@rm -f $@
	$(AR) rcs $@ $^

# The command line: the compiler, then lib/ top-down.
$(BUILD)/ingot: $(CLI_OBJS) $(ALL_ARCHIVES)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(COMPILER_ARCHIVES) $(LIB_ARCHIVES) $(DEP_LIBS)

# The initrd's /init: lib/ only, the same slot, verity and signature code as the CLI.
$(BUILD)/ingot-init: $(BOOT_OBJS) $(ALL_ARCHIVES)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(BOOT_OBJS) $(LIB_ARCHIVES) $(DEP_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(COMPILER_ARCHIVES) $(LIB_ARCHIVES) $(DEP_LIBS) $(TEST_LIBS)

# The initrd's writable.c is tested from its object, in a mount namespace of the test's own.
$(BUILD)/tests/test-writable: tests/unit/test-writable.c $(BUILD)/boot/writable.o $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iboot $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/boot/writable.o $(LIB_ARCHIVES) \
		$(DEP_LIBS) $(TEST_LIBS)

$(BUILD)/fuzz/%: fuzz/%.c fuzz/replay.c fuzz/fuzz.h $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) $(LDFLAGS) -o $@ $< fuzz/replay.c $(COMPILER_ARCHIVES) $(LIB_ARCHIVES) \
		$(DEP_LIBS)

$(BUILD)/fuzzer/%: fuzz/%.c fuzz/fuzz.h $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(COMPILER_ARCHIVES) \
		$(LIB_ARCHIVES) $(DEP_LIBS)

# The power-cut harness's LD_PRELOAD library (tests/tools/faultinject.c); never sanitized, as it is
# preloaded into sanitized binaries.
$(BUILD)/tests/faultinject.so: tests/tools/faultinject.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -Wall -Wextra $(WERROR) -shared -fPIC -o $@ $< -ldl

# What the tests run against $(BUILD).
test-build: $(BUILD)/ingot $(BUILD)/ingot-init $(UNIT_BINS) $(BUILD)/tests/faultinject.so $(FUZZ_REPLAYS)

# Runs every unit and integration test against $(BUILD); ends with "N passed, N failed, N skipped".
test: test-build
	@BUILD=$(BUILD) tests/run.sh

# The whole suite twice, plain (with the valgrind tests) and under ASan+UBSan (build-asan, where the
# QEMU and valgrind tests skip, and those that say so leave their work to the plain pass), side by side
# in lanes (tests/run.sh), counted together in one final line.
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) test-build
	@$(MAKE) --no-print-directory -j$(NPROC) test-build $(ASAN_VARS)
	@tests/run.sh $(BUILD) build-asan

ASAN_VARS := BUILD=build-asan CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="-fsanitize=address,undefined"
check-asan: deps
	@$(MAKE) --no-print-directory test $(ASAN_VARS)

# libFuzzer builds (clang) of every target in build-fuzz/fuzzer/; `make fuzz` runs each for
# FUZZ_SECONDS over its corpus and keeps what crashes in fuzz/crashes/TARGET/.
fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build-fuzz/fuzzer/%) BUILD=build-fuzz CC=clang \
		CFLAGS="-O1 -g $(SANITIZE) -fsanitize=fuzzer-no-link" LDFLAGS="-fsanitize=address,undefined"

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/verity.sh
	@BUILD=$(BUILD) bench/build.sh
	@BUILD=$(BUILD) bench/rebuild.sh
	@BUILD=$(BUILD) bench/install.sh
	@BUILD=$(BUILD) bench/install-http.sh
	@BUILD=$(BUILD) bench/delta.sh
	@BUILD=$(BUILD) bench/boot.sh
	@BUILD=$(BUILD) bench/sysext.sh

clean:
	rm -rf build build-asan build-fuzz out

-include $(patsubst %.c,$(BUILD)/%.d,$(wildcard $(addsuffix /*.c,$(MODULE_DIRS)))) $(CLI_OBJS:.o=.d) $(BOOT_OBJS:.o=.d)
