# Thin wrapper over CMake. `make run` and `make test` set everything up on a fresh Debian 12.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG     ?= conf/newsflow.cfg
NEWSFLOW    = $(BUILD)/bin/newsflow

.PHONY: all deps test-deps build run test test-asan test-normal bench fuzz eval clean install

all: build

deps:
	@sh deploy/debian-deps.sh build

test-deps:
	@sh deploy/debian-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Runs the default pipeline over the bundled sample into SQLite and shows what was stored.
run: build
	rm -rf var/run
	$(NEWSFLOW) run $(CONFIG) --once
	@$(NEWSFLOW) show $(CONFIG)

# Everything: the suites in a normal and in an ASan+UBSan build, then each fuzzer's short smoke run.
test: test-deps
	$(MAKE) test-normal test-asan test-fuzz

test-normal: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNF_SANITIZE=ON

test-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

bench: build
	bash bench/run.sh $(BUILD)
	bash bench/bench_lang.sh $(BUILD)
	bash bench/bench_store.sh $(BUILD)
	bash bench/bench_recovery.sh $(BUILD)
	NF_LATENCY_ROUNDS=$${NF_LATENCY_ROUNDS:-3} bash bench/bench_latency.sh $(BUILD)
	@if [ -x /usr/lib/postgresql/15/bin/initdb ]; then bash bench/bench_pg.sh $(BUILD); \
	else echo "== store_pg: skipped (no PostgreSQL server: make test installs it)"; fi

# Main-text and date quality of clean_html on ../shared's evaluation pages (skips without them).
eval: build
	bash bench/eval.sh $(BUILD)

# libFuzzer targets (clang). `make fuzz` runs each for FUZZ_TIME seconds over its corpus;
# `make test-fuzz` is the short smoke run ctest registers as fuzz.<name> (NF_FUZZ_TIME seconds
# each, 10 by default), run side by side. Only the fuzzers are built in the fuzz tree.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME  ?= 60
.PHONY: test-fuzz

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNF_FUZZ=ON

fuzz: test-deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target nf_fuzzers
	for f in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
	  if [ -f "$$f" ] && [ -x "$$f" ]; then sh tests/fuzz/run.sh "$$f" $(FUZZ_TIME) || exit 1; fi; \
	done

test-fuzz: test-deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target nf_fuzzers
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -R '^fuzz\.'

# make install [PREFIX=/usr/local] [DESTDIR=...]: the command, the plugins under
# PREFIX/lib/newsflow/plugins, the plugin headers and newsflow-plugin.pc, the configs under
# SYSCONFDIR/newsflow (/etc/newsflow with PREFIX=/usr, which the systemd units expect) and the
# units. Built in its own tree, configured for that prefix.
PREFIX ?= /usr/local
INSTALL_BUILD ?= build-install
install: deps
	cmake -S . -B $(INSTALL_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(INSTALL_BUILD) -j $(JOBS) --target newsflow nf_plugins
	cmake --install $(INSTALL_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz build-install var
