# Tollgate build. `make` builds build/tollgate; `make test` builds an
# ASan+UBSan tree in build-asan/ and runs unit, fuzz-replay and integration
# tests; `make run` installs what is missing, builds and starts the proxy.

CC      ?= cc
BUILD   ?= build
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT     ?= -O2 -g
SAN     ?=
ifeq ($(SAN),1)
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
ifeq ($(SAN),thread)
  OPT   := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
endif
PKGS    := libcares openssl jansson
CFLAGS  := $(CSTD) $(WARN) $(OPT) -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -pthread -MMD -MP
LDFLAGS := $(OPT) -pthread
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcares -lssl -lcrypto) -lcrypt

LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
PYTEST  := /usr/bin/python3 -m pytest

.PHONY: all run test unit fuzz fuzz-replay integration deps-build deps-test clean bench format

all: $(BUILD)/tollgate

$(BUILD)/tollgate: $(BUILD)/src/main.o $(BUILD)/libtg.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libtg.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libtg.a $(LDLIBS) -lcmocka

deps-build:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test
	@sh tests/integration/browser/setup.sh

run: deps-build
	@$(MAKE) --no-print-directory all
	@ARGS="$(ARGS)" scripts/run.sh

# The test build: sanitizers on, every unit test, the fuzz corpora replayed,
# each fuzzer run briefly, then the integration suite against the ASan+UBSan
# binary and once more against a ThreadSanitizer build (the workers, the
# hashing pool and the shared replay table must not race).
test: deps-test
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all unit-bins
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 unit
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 integration
	@$(MAKE) --no-print-directory BUILD=build-tsan SAN=thread all integration

unit-bins: $(UNIT_BIN)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# PYTEST_JOBS pytest-xdist workers (0: one process). Every test starts its own
# proxy and origins on free ports, so they run side by side.
PYTEST_JOBS ?= 2
integration: $(BUILD)/tollgate
	TOLLGATE_BIN=$(abspath $(BUILD)/tollgate) $(PYTEST) -ra -n $(PYTEST_JOBS) tests/integration

# libFuzzer targets (clang). FUZZ_SECONDS bounds each run; the corpus in
# fuzz/corpus/NAME and the shared raw cases in tests/cases are replayed first.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_CFLAGS := $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -Isrc
FUZZ_TIMEOUT ?= 10
FUZZ_LIB := $(sort $(wildcard src/base/*.c src/http/*.c) src/auth/authparam.c src/auth/digestcalc.c \
              src/auth/jwt.c src/auth/tokens.c src/cred/credstore.c src/policy/acl.c \
              src/policy/htgroup.c src/net/cidr.c $(wildcard src/conf/*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

build-fuzz/%: fuzz/%.c $(FUZZ_LIB)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -ljansson -lcrypto

# scripts/fuzz-one.sh replays one target's corpus and tests/cases, then
# fuzzes it with its dictionary for what is left of FUZZ_SECONDS; two run at
# once (CI has two cores), so 11 targets take about 6 x FUZZ_SECONDS. Logs go
# to build-fuzz/NAME.log; any crash, leak or timeout (FUZZ_TIMEOUT seconds
# for one input) prints the log's tail and fails the make once all finish.
fuzz: $(FUZZ_BIN)
	@printf '%s\n' $(notdir $(FUZZ_BIN)) | FUZZ_TIMEOUT=$(FUZZ_TIMEOUT) \
	  xargs -P 2 -I{} scripts/fuzz-one.sh {} $(FUZZ_SECONDS)

# `make bench` (not part of `make test`): installs the origin, the peers and
# the load tools (scripts/deps.sh bench; a peer that cannot be installed is
# reported missing in the results), builds the proxy and the parser
# micro-benchmark, then bench/run.py measures Tollgate against Squid, tinyproxy
# and HAProxy in one run and writes bench/results/YYYYMMDD-HHMM.md. QUICK=1
# runs each scenario once, briefly; PERF=1 adds perf profiles (bench/README.md).
bench:
	@scripts/deps.sh bench || echo "tollgate: some bench packages are missing; the results say which" >&2
	@$(MAKE) --no-print-directory all $(BUILD)/bench/parsebench
	QUICK=$(QUICK) PERF=$(PERF) BUILD=$(BUILD) /usr/bin/python3 bench/run.py

$(BUILD)/bench/parsebench: bench/parsebench.c $(BUILD)/libtg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtg.a $(LDLIBS)

format:
	clang-format -i src/*.c src/*/*.[ch] tests/unit/*.c fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
