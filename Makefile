# kplan - one entry point: deps, all, test, asan, fuzz, format, install, clean
#
#   make deps      install the Debian packages kplan builds and tests with
#   make           build ./kplan
#   make test      the layer check, unit tests (cmocka), data-driven error cases,
#                  end-to-end tests
#   make check-layers  no folder of runner/ includes one after it (runner/README.md)
#   make asan      the whole suite again under AddressSanitizer + UBSan
#   make valgrind  the unit tests under valgrind --leak-check=full (zero errors)
#   make test-all  deps, format check, test and asan: what CI runs
#   make fuzz      libFuzzer targets (tests/fuzz/), FUZZ_SECONDS each; not in CI
#   make demo      deps, build, and the upgrade demo

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
PKGS    := yaml-0.1 lua5.4 libcjson libcrypto libssh libcurl libpcre2-8 libcrypt
DEB_PKGS := build-essential pkg-config libyaml-dev libssh-dev libcurl4-openssl-dev \
	    libcjson-dev libssl-dev libcrypt-dev liblua5.4-dev libcmocka-dev libpcre2-dev clang clang-format \
	    libclang-rt-14-dev \
	    sudo python3 python3-jsonschema openssh-server openssh-client \
	    etcd-server etcd-client dpkg-dev apt-utils cmark-gfm valgrind \
	    ansible-core ansible python3-netaddr groff-base

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	   -Wshadow -Wstrict-prototypes -Irunner -I. $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# the library instrumented for libFuzzer; each target links -fsanitize=fuzzer
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif

RUNNER_SRC := $(filter-out runner/cli/main.c,$(sort $(shell find runner -name '*.c')))
MODULE_SRC := $(sort $(shell find modules -name '*.c'))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(RUNNER_SRC) $(MODULE_SRC))
HEADERS    := $(shell find runner modules -name '*.h')
C_FILES    := $(shell find runner modules -name '*.[ch]') \
	      $(wildcard tests/unit/*.[ch] tests/fuzz/*.[ch] tests/jinja/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 20

KPLAN := $(if $(filter build,$(BUILD)),kplan,$(BUILD)/kplan)

.PHONY: all deps test check-layers unit check-data e2e jinja asan fuzz fuzz-build format format-check install clean \
	test-all demo valgrind

all: $(KPLAN)

$(KPLAN): $(BUILD)/runner/cli/main.o $(BUILD)/libkplan.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libkplan.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkplan.a tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libkplan.a $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libkplan.a tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -o $@ $< $(BUILD)/libkplan.a $(LDFLAGS) $(LDLIBS)

# apt-get update only when the package lists are missing (a fresh machine).
# kubernetes-client (kubectl 1.20, for the tests that compare with real
# kubectl) only where no other package owns /usr/bin/kubectl: they conflict.
deps:
	@if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then apt-get update; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS)
	@owner=$$(dpkg -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1); \
	if [ -z "$$owner" ] || [ "$$owner" = kubernetes-client ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kubernetes-client; \
	else echo "deps: /usr/bin/kubectl belongs to '$$owner': kubernetes-client not installed"; fi

test-all: deps
	$(MAKE) format-check
	$(MAKE) test
	$(MAKE) asan

# The lab demo: Scenario 1's three-node cluster at 1.13.0, the offline
# preview, a check, the upgrade to 1.13.3, the cluster afterwards, and a
# second run that changes nothing. The lab is torn down whatever happens.
demo: deps
	$(MAKE) all
	tests/lab/demo.sh

test: check-layers unit check-data e2e jinja

# the folder-level dependency rule of runner/README.md
check-layers:
	@tests/check-layers.sh && echo 'layers: every include keeps the order'

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

check-data: $(KPLAN)
	@tests/run-data.sh ./$(KPLAN)

e2e: $(KPLAN)
	@tests/run-e2e.sh ./$(KPLAN)

# the Jinja corpus (tests/jinja/cases/) rendered by kplan and held against
# ansible-core's answers, which oracle.py re-derives on every run
jinja: $(BUILD)/tests/jinja-eval
	@tests/jinja/run.sh $(BUILD)/tests/jinja-eval

$(BUILD)/tests/jinja-eval: tests/jinja/jinja-eval.c $(BUILD)/libkplan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libkplan.a $(LDFLAGS) $(LDLIBS)

# the sanitizer build runs the whole suite: every unit test, every data
# case and every e2e script, the cluster-lab scenarios included
asan:
	$(MAKE) BUILD=build-asan SAN=1 CC=clang test

# every unit test binary under valgrind's memcheck: no memory error, no
# leak (suppressions, each explained: tests/valgrind.supp); slow, so not in
# `test`
valgrind: $(UNIT_BIN)
	@tests/run-valgrind.sh $(UNIT_BIN)

# Every fuzz target for FUZZ_SECONDS (its corpus grows in build-fuzz/corpus/,
# crashes land in build-fuzz/artifacts/); a bounded run, not a fixed test,
# so neither `test` nor `test-all` runs it.
fuzz:
	$(MAKE) BUILD=build-fuzz FUZZ=1 CC=clang fuzz-build
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BIN)

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run --Werror $(C_FILES)

# the binary, its man page, bash completion and the shipped plans
install: all
	install -D -m 0755 $(KPLAN) $(DESTDIR)$(PREFIX)/bin/kplan
	install -D -m 0644 docs/kplan.1 $(DESTDIR)$(PREFIX)/share/man/man1/kplan.1
	install -D -m 0644 contrib/kplan.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/kplan
	cd playbooks && find . -type f | while read -r f; do \
		install -D -m 0644 "$$f" "$(DESTDIR)$(PREFIX)/share/kplan/playbooks/$$f" || exit 1; \
	done

clean:
	rm -rf build build-asan build-fuzz kplan
