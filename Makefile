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

integration: $(BUILD)/tollgate
	TOLLGATE_BIN=$(abspath $(BUILD)/tollgate) $(PYTEST) -ra tests/integration

# libFuzzer targets (clang). FUZZ_SECONDS bounds each run; the corpus in
# fuzz/corpus/NAME and the shared raw cases in tests/cases are replayed first.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_CFLAGS := $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -Isrc
FUZZ_TIMEOUT ?= 10
FUZZ_LIB := $(sort $(wildcard src/base/*.c src/http/*.c) src/auth/authparam.c src/auth/digestcalc.c \
              src/cred/credstore.c src/policy/acl.c src/policy/htgroup.c src/net/cidr.c \
              $(wildcard src/conf/*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)

build-fuzz/%: fuzz/%.c $(FUZZ_LIB)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lcrypto

# fuzz/dict/NAME.dict is fuzz_NAME's dictionary; the three HTTP/1.1 parsers
# share http.dict. FUZZ_TIMEOUT (seconds) fails any single slow input.
fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p fuzz/corpus/$$n build-fuzz/work-$$n; \
	  case $$n in fuzz_reqhead|fuzz_resphead|fuzz_chunked) d=fuzz/dict/http.dict;; \
	    *) d=fuzz/dict/$${n#fuzz_}.dict;; esac; \
	  dict=; if [ -f $$d ]; then dict=-dict=$$d; fi; \
	  echo "== $$n: replay + $(FUZZ_SECONDS)s $$dict"; \
	  $$f -runs=0 -timeout=$(FUZZ_TIMEOUT) fuzz/corpus/$$n tests/cases >/dev/null 2>&1 \
	    || { $$f -runs=0 -timeout=$(FUZZ_TIMEOUT) fuzz/corpus/$$n tests/cases; exit 1; }; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -max_len=16384 $$dict \
	    -print_final_stats=0 build-fuzz/work-$$n fuzz/corpus/$$n tests/cases 2>build-fuzz/$$n.log \
	    || { tail -50 build-fuzz/$$n.log; exit 1; }; \
	  tail -1 build-fuzz/$$n.log; done

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
