# shadowsync -- build, test, demo, bench, install.
#
# Sources are picked up by wildcard: a new replicator/base/*.c,
# dialects/*.c, replicator/*.c or tools/*.c is built into ./shadowsync
# without touching this file; a new tests/unit/test_*.c becomes a unit-test
# binary.
#
# Layers, bottom up; each folder sees only the headers of the layers below
# it (LAYER_INC), so an include that points back up does not compile:
#   replicator/base/  foundations: errors, buffers, config, changes, journal
#   dialects/         one module per database, on the foundations
#   replicator/       the engine: capture, poller, appliers, daemon
#   tools/            the subcommands, on everything

CC       ?= cc
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/shadowsync
SYSCONFDIR ?= /etc
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

VERSION  := 0.1.0
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-truncation
PKGS     := libpq libmariadb odbc libevent libevent_pthreads inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
INC_BASE    := -Ireplicator/base
INC_DIALECT := $(INC_BASE) -Idialects
INC_ENGINE  := $(INC_DIALECT) -Ireplicator
INC_ALL     := $(INC_ENGINE) -Itools
LAYER_INC   ?= $(INC_ALL)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) $(LAYER_INC) \
             $(PKG_CFLAGS) -DSS_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS   = $(PKG_LIBS) -lpthread -lm

BUILD    ?= build
LIB_SRC  := $(wildcard replicator/base/*.c) $(wildcard replicator/*.c) $(wildcard dialects/*.c) \
            $(filter-out tools/main.c,$(wildcard tools/*.c))
DDL_SQL  := $(sort $(wildcard ddl/*/*.sql))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/ddl_gen.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Debian packages the project needs: build libraries, and for the tests the
# real servers, the ODBC drivers and the command-line clients.
DEB_BUILD := build-essential pkg-config libpq-dev libmariadb-dev unixodbc-dev \
             libevent-dev libinih-dev
DEB_TEST  := postgresql postgresql-contrib mariadb-server mariadb-client \
             libsqliteodbc odbc-postgresql odbc-mariadb unixodbc sqlite3 \
             clang-format procps curl clang libclang-rt-14-dev prometheus
DEB_ALL   := $(DEB_BUILD) $(DEB_TEST)

.PHONY: all deps test unit e2e asan ubsan demo bench torture install uninstall clean format format-check

all: shadowsync

shadowsync: $(BUILD)/tools/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/replicator/%.o: LAYER_INC := $(INC_ENGINE)
$(BUILD)/dialects/%.o: LAYER_INC := $(INC_DIALECT)
$(BUILD)/replicator/base/%.o: LAYER_INC := $(INC_BASE)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# SQL templates compiled into the binary (ddl/<dialect>/<name>.sql).
$(BUILD)/ddl_gen.c: $(DDL_SQL) tools/ddl_embed.sh
	@mkdir -p $(BUILD)
	sh tools/ddl_embed.sh $(DDL_SQL) > $@

$(BUILD)/ddl_gen.o: $(BUILD)/ddl_gen.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $(filter %.c %.o,$^) $(LDLIBS)

unit: $(UNIT_BIN)

# Installs only what is missing: a second run is a quick no-op.
deps:
	@missing=""; for p in $(DEB_ALL); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all installed"; fi

test: shadowsync unit
	@sh tests/run.sh

# Sanitizer build in its own directory; runs the unit tests and the
# server-less end-to-end tests.
asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	    CFLAGS="-O1 -g" shadowsync-asan unit
	SS_BIN=$(CURDIR)/shadowsync-asan SS_UNIT_DIR=build-asan/tests SS_ONLY_SERVERLESS=1 sh tests/run.sh

ubsan:
	$(MAKE) BUILD=build-ubsan SAN="-fsanitize=undefined -fno-sanitize-recover=undefined" \
	    CFLAGS="-O1 -g" shadowsync-ubsan unit
	SS_BIN=$(CURDIR)/shadowsync-ubsan SS_UNIT_DIR=build-ubsan/tests SS_ONLY_SERVERLESS=1 sh tests/run.sh

shadowsync-asan shadowsync-ubsan: $(BUILD)/tools/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

demo: shadowsync
	./shadowsync demo

# Replication (capture overhead, catch-up, latency, memory), then the drift
# check (2,000,000 rows PostgreSQL vs MariaDB).  Not part of `make test`.
bench: shadowsync
	@bash tests/bench/bench.sh
	@bash tests/bench/check_bench.sh

# Randomized differential torture test: SEED=N (default random, printed)
# and DURATION=S (seconds of workload, default 300 here, 45 in `make test`).
torture: shadowsync
	SEED=$(SEED) DURATION=$(or $(DURATION),300) bash tests/torture/torture.sh

# ---- fuzzing (tests/fuzz/, owned by the fuzz package) --------------------------
# One libFuzzer binary per tests/fuzz/fuzz_NAME.c, built with clang against
# the foundation sources only (replicator/base/*.c: no server, no dialect),
# with ASan (leak check included) and UBSan, every report fatal.
#   make fuzz                       each target FUZZ_SECONDS (default 60) s
#   make fuzz FUZZ_RUNS=1000000     each target that many executions
#   make fuzz FUZZ_TARGETS="time"   only these (names without fuzz_)
#   make fuzz-smoke                 FUZZ_SMOKE_SECONDS (5) s each (make test runs it)
# Work corpora and crash files go to build-fuzz/; seeds and every input
# that once failed are kept in tests/fuzz/corpus/NAME/ (see tests/fuzz/README.md).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 $(filter-out -Wno-format-truncation,$(WARN)) -Wno-format-nonliteral $(FUZZ_SAN) $(INC_BASE) \
                $(shell pkg-config --cflags inih libevent 2>/dev/null)
FUZZ_OBJ     := $(patsubst replicator/base/%.c,$(FUZZ_BUILD)/base/%.o,$(wildcard replicator/base/*.c))
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: fuzz fuzz-build fuzz-smoke

$(FUZZ_BUILD)/base/%.o: replicator/base/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_OBJ) \
	    $(shell pkg-config --libs inih libevent 2>/dev/null) -lpthread -lm

fuzz-build: $(FUZZ_OBJ) $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) \
	    sh tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_RUNS= FUZZ_FRESH=1 \
	    sh tests/fuzz/run.sh $(FUZZ_TARGETS)
-include $(shell find $(FUZZ_BUILD) -name "*.d" 2>/dev/null)
# ---- end of fuzzing ------------------------------------------------------------

# The unit is installed with ExecStart and the configuration path made to
# match BINDIR and SYSCONFDIR; the sysusers.d entry lets systemd-sysusers
# create the service user.  The recipe is in etc/shadowsync.service.
install: shadowsync
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/shadowsync $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 shadowsync $(DESTDIR)$(BINDIR)/shadowsync
	install -m 644 doc/shadowsync.1 $(DESTDIR)$(MANDIR)/man1/shadowsync.1
	install -m 644 doc/*.md $(DESTDIR)$(DOCDIR)/
	install -m 644 etc/shadowsync.ini $(DESTDIR)$(SYSCONFDIR)/shadowsync/shadowsync.ini.example
	sed -e 's#/usr/local/bin/shadowsync#$(BINDIR)/shadowsync#' \
	    -e 's#/etc/shadowsync/#$(SYSCONFDIR)/shadowsync/#g' etc/shadowsync.service \
	    > $(DESTDIR)$(UNITDIR)/shadowsync.service
	chmod 644 $(DESTDIR)$(UNITDIR)/shadowsync.service
	install -m 644 etc/shadowsync.sysusers $(DESTDIR)$(SYSUSERSDIR)/shadowsync.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/shadowsync $(DESTDIR)$(MANDIR)/man1/shadowsync.1 \
	    $(DESTDIR)$(UNITDIR)/shadowsync.service $(DESTDIR)$(SYSUSERSDIR)/shadowsync.conf
	rm -rf $(DESTDIR)$(DOCDIR)

FORMAT_SRC = $(wildcard replicator/base/*.[ch] replicator/*.[ch] dialects/*.[ch] tools/*.[ch] tests/unit/*.[ch] \
                    tests/fuzz/*.[ch])
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build build-asan build-ubsan build-fuzz shadowsync shadowsync-asan shadowsync-ubsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
