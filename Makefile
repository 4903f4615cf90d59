# jitgate — the two commands are `make demo` and `make test`; both install what is missing.
BUILD    ?= build
JOBS     ?= $(shell nproc)
PYTEST   := /usr/bin/python3 -m pytest
# End-to-end test files run in two workers (each file keeps its fixtures in one worker).
E2E_WORKERS ?= 2
PYTEST_PAR = $(if $(filter-out 0 1,$(E2E_WORKERS)),-n $(E2E_WORKERS) --dist loadfile,)
CMAKE_FLAGS ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
RELEASE_BUILD ?= build-release

.PHONY: all deps build test unit e2e demo demo-ha bench fuzz format clean install release

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

e2e: build
	$(PYTEST) -q -p no:cacheprovider $(PYTEST_PAR) tests/e2e

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	scripts/fuzz.sh --ci
	$(PYTEST) -q -p no:cacheprovider $(PYTEST_PAR) tests/e2e

# Installs what $(BUILD) holds (no rebuild): make install PREFIX=/usr DESTDIR=/tmp/stage
# BUILD=$(RELEASE_BUILD) installs the release build: the stripped binary and its debug info.
install:
	@test -x $(BUILD)/jitgate || { echo "no $(BUILD)/jitgate: run make build (or make release) first"; exit 2; }
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# An optimized binary without tests or benchmarks, its debug info split off into
# $(RELEASE_BUILD)/release/jitgate.debug.
release: deps
	cmake -S . -B $(RELEASE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DJITGATE_TESTS=OFF -DJITGATE_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(RELEASE_BUILD) -j $(JOBS) --target jitgate-release

demo: build
	/usr/bin/python3 scripts/demo.py

# The demo's story on two replicas on one PostgreSQL store behind HAProxy (docs/deployment.md).
demo-ha: build
	/usr/bin/python3 scripts/demo_ha.py

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target bench_kernels
	bench/run.sh

fuzz: build
	scripts/fuzz.sh

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-fuzz
