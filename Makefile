# amber: one flat Makefile (no recursive make).
#
#   make            build build/bin/amber and build/libexec/amber/amber-STAGE
#   make deps       install the Debian packages the build and the tests need
#   make check      deps + build + unit, end-to-end and fuzz tests ("N passed, M failed")
#   make demo       checkpoint and restore a sample process, showing it carry on
#   make fuzz       the libFuzzer targets (tests/fuzz/), FUZZ_SECONDS each (default 300)
#   make bench      benchmarks (figures and ratios, never pass/fail on speed)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Stages are found by globbing stages/*/, unit tests by globbing tests/unit/*.c,
# fuzz targets by globbing tests/fuzz/*.c, workloads by globbing
# tests/workloads/*.c and the e2e tests' helpers by globbing tests/tools/*.c,
# so adding one needs no edit here.

PREFIX   ?= /usr/local
DESTDIR  ?=
B        := build
CC       ?= cc
VERSION  := 0.1.0

# The libraries amber links, as pkg-config names them: flags come from this
# list only, so what is linked is what is listed (doc/design.md).
PKGS     := libprotobuf-c libcap libnl-3.0 libnl-route-3.0 fuse3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE \
            -DAMBER_VERSION='"$(VERSION)"' -I. -I$(B)/gen -MMD -MP $(PKG_CFLAGS)
ifdef SANITIZE
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif
# The fuzz build (tests/fuzz/run.sh: make B=build-fuzz CC=clang FUZZ=1 fuzz-targets):
# everything instrumented for libFuzzer, ASan and UBSan, which aborts on any report.
ifdef FUZZ
CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
            -Wno-unknown-warning-option
LDFLAGS  += -fsanitize=fuzzer,address,undefined
endif
LDLIBS   := $(PKG_LIBS) -lpthread

PROTOS   := $(wildcard images/*.proto)
PB_C     := $(patsubst images/%.proto,$(B)/gen/images/%.pb-c.c,$(PROTOS))
PB_H     := $(PB_C:.c=.h)
LIB_SRC  := $(wildcard lib/*.c ipc/*.c images/*.c)
LIB_OBJ  := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRC)) $(patsubst $(B)/gen/%.c,$(B)/obj/gen/%.o,$(PB_C))
LIBAMBER := $(B)/libamber.a

STAGES   := $(notdir $(patsubst %/,%,$(wildcard stages/*/)))
STAGE_BIN:= $(patsubst %,$(B)/libexec/amber/amber-%,$(STAGES))
DRV_SRC  := $(wildcard driver/*.c)
DRV_OBJ  := $(patsubst %.c,$(B)/obj/%.o,$(DRV_SRC))
# The driver without main(), for the unit tests of its parts (test_drv_*).
DRV_LIB  := $(B)/libdriver.a
AMBER    := $(B)/bin/amber

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
WL_SRC   := $(wildcard tests/workloads/*.c)
WL_BIN   := $(patsubst tests/workloads/%.c,$(B)/tests/workloads/%,$(WL_SRC))
BENCH_SRC:= $(wildcard tests/bench/*.c)
BENCH_BIN:= $(patsubst tests/bench/%.c,$(B)/tests/bench/%,$(BENCH_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 300
# Helpers the e2e tests run (crafted images): programs over libamber.
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRC))

.SECONDARY:
.PHONY: all deps check check-asan check-unit check-e2e check-fuzz demo bench fuzz fuzz-targets install clean tests
all: $(AMBER) $(STAGE_BIN)
tests: all $(UNIT_BIN) $(WL_BIN) $(BENCH_BIN) $(TOOL_BIN)

# Generated protobuf-c code must exist before anything includes it.
$(B)/gen/images/%.pb-c.c $(B)/gen/images/%.pb-c.h: images/%.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen $<

$(B)/obj/gen/%.o: $(B)/gen/%.c $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-error -c -o $@ $<

$(B)/obj/%.o: %.c $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBAMBER): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(AMBER): $(DRV_OBJ) $(LIBAMBER)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(DRV_OBJ) $(LIBAMBER) $(LDLIBS)

# Each stage links its own folder's objects and libamber, nothing of another stage.
define stage_rule
$(B)/libexec/amber/amber-$(1): $(patsubst %.c,$(B)/obj/%.o,$(wildcard stages/$(1)/*.c)) $(LIBAMBER)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBAMBER) $$(LDLIBS)
endef
$(foreach s,$(STAGES),$(eval $(call stage_rule,$(s))))

$(DRV_LIB): $(filter-out $(B)/obj/driver/main.o,$(DRV_OBJ))
	@rm -f $@
	ar rcs $@ $^

$(B)/tests/unit/test_drv_%: $(B)/obj/tests/unit/test_drv_%.o $(DRV_LIB) $(LIBAMBER)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(DRV_LIB) $(LIBAMBER) $(LDLIBS)

$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(LIBAMBER)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBAMBER) $(LDLIBS)

$(B)/tests/tools/%: $(B)/obj/tests/tools/%.o $(LIBAMBER)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBAMBER) $(LDLIBS)

# Workloads are plain programs: no libamber, so they are what a user would run.
$(B)/tests/workloads/%: tests/workloads/%.c tests/workloads/workload.h
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -mavx2 -o $@ $< -lpthread -lrt

$(B)/tests/bench/%: $(B)/obj/tests/bench/%.o $(LIBAMBER) $(B)/obj/driver/run.o $(B)/obj/driver/report.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/obj/driver/run.o $(B)/obj/driver/report.o $(LIBAMBER) $(LDLIBS)

# A fuzz target links its own object, the JSON printer (amber show's), and,
# for fuzz_stage_NAME[_MORE], the objects of stages/NAME/ but main.o ('_' in
# the target's name for '-'); fuzz_show* link the driver's objects but main.o.
fuzz_stage = $(firstword $(foreach s,$(STAGES),$(if $(filter fuzz_stage_$(subst -,_,$(s)) fuzz_stage_$(subst -,_,$(s))_%,$(1)),$(s))))
fuzz_objs  = $(sort $(B)/obj/driver/json.o \
	       $(patsubst %.c,$(B)/obj/%.o,$(filter-out %/main.c,$(wildcard stages/$(call fuzz_stage,$(1))/*.c))) \
	       $(if $(filter fuzz_show%,$(1)),$(filter-out %/main.o,$(DRV_OBJ))))
define fuzz_rule
$(B)/fuzz/$(1): $(B)/obj/tests/fuzz/$(1).o $(call fuzz_objs,$(1)) $(LIBAMBER)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBAMBER) $$(LDLIBS)
endef
$(foreach t,$(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC)),$(eval $(call fuzz_rule,$(t))))

fuzz-targets: $(FUZZ_BIN)

deps:
	@sh tests/deps.sh

# The whole suite once more on an ASan/UBSan build first (its log kept in
# $(B)/check-asan.log), then the normal build, whose summary is the last line.
check: deps
	$(MAKE) tests
	@AMBER_ASAN_BUILD=$(B)-asan sh tests/asan.sh >$(B)/check-asan.log 2>&1 \
	  && echo "asan: $$(tail -n 1 $(B)/check-asan.log)" \
	  || { tail -n 60 $(B)/check-asan.log; echo "asan: FAILED (see $(B)/check-asan.log)"; exit 1; }
	@AMBER_BUILD=$(B) sh tests/run-all.sh

check-asan: deps
	@AMBER_ASAN_BUILD=$(B)-asan sh tests/asan.sh

check-unit: tests
	@AMBER_BUILD=$(B) sh tests/run-all.sh unit

check-e2e: tests
	@AMBER_BUILD=$(B) sh tests/run-all.sh e2e

# The fuzz targets for 60 s in all, after their regression inputs (as in make check).
check-fuzz: tests
	@AMBER_BUILD=$(B) AMBER_FUZZ_BUILD=$(B)-fuzz sh tests/run-all.sh fuzz

# Each fuzz target for FUZZ_SECONDS, its corpus kept in $(B)-fuzz/corpus/,
# what crashes it in $(B)-fuzz/crashes/TARGET/.
fuzz: deps
	$(MAKE) tests
	@AMBER_BUILD=$(B) AMBER_FUZZ_BUILD=$(B)-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh fuzz

demo: deps
	$(MAKE) tests
	@AMBER_BUILD=$(B) bash tests/demo.sh

bench: deps
	$(MAKE) tests
	@AMBER_BUILD=$(B) bash tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/amber $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(AMBER) $(DESTDIR)$(PREFIX)/bin/amber
	install -m 755 $(STAGE_BIN) $(DESTDIR)$(PREFIX)/libexec/amber/
	install -m 644 doc/amber.1 $(DESTDIR)$(PREFIX)/share/man/man1/amber.1

clean:
	rm -rf $(B) $(B)-asan $(B)-fuzz

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
