# Makefile: builds libingot and the ingot CLI, and runs the tests, the demo and the benchmarks.
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
             -Iinclude -Ilib $(DEP_CFLAGS) -MMD -MP $(CFLAGS)

LIB_SRCS  := $(sort $(wildcard lib/*.c))
BOOT_SRCS := $(sort $(wildcard boot/*.c))
BOOT_OBJS := $(BOOT_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS  := $(sort $(wildcard builder/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check check-asan test demo bench clean
all: $(BUILD)/ingot $(BUILD)/ingot-init

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libingot.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/ingot: $(CLI_OBJS) $(BUILD)/libingot.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libingot.a $(DEP_LIBS)

# The initrd's /init, linking the same slot, verity and signature code as the CLI.
$(BUILD)/ingot-init: $(BOOT_OBJS) $(BUILD)/libingot.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(BOOT_OBJS) $(BUILD)/libingot.a $(DEP_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libingot.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libingot.a $(DEP_LIBS) $(TEST_LIBS)

# The power-cut harness's LD_PRELOAD library (tests/tools/faultinject.c); never sanitized, as it is
# preloaded into sanitized binaries.
$(BUILD)/tests/faultinject.so: tests/tools/faultinject.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -Wall -Wextra $(WERROR) -shared -fPIC -o $@ $< -ldl

# Runs every unit and integration test against $(BUILD); ends with "N passed, N failed, N skipped".
test: $(BUILD)/ingot $(BUILD)/ingot-init $(UNIT_BINS) $(BUILD)/tests/faultinject.so
	@BUILD=$(BUILD) tests/run.sh

check: deps
	@$(MAKE) --no-print-directory test

check-asan: deps
	@$(MAKE) --no-print-directory test BUILD=build-asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined"

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/verity.sh
	@BUILD=$(BUILD) bench/build.sh
	@BUILD=$(BUILD) bench/install.sh
	@BUILD=$(BUILD) bench/install-http.sh
	@BUILD=$(BUILD) bench/boot.sh
	@BUILD=$(BUILD) bench/sysext.sh

clean:
	rm -rf build build-asan out

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(BOOT_OBJS:.o=.d)
