# jitgate — the two commands are `make demo` and `make test`; both install what is missing.
BUILD    ?= build
JOBS     ?= $(shell nproc)
PYTEST   := /usr/bin/python3 -m pytest
CMAKE_FLAGS ?=

.PHONY: all deps build test unit e2e demo bench fuzz format clean

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
	$(PYTEST) -q -p no:cacheprovider tests/e2e

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	scripts/fuzz.sh --ci
	$(PYTEST) -q -p no:cacheprovider tests/e2e

demo: build
	/usr/bin/python3 scripts/demo.py

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target bench_kernels
	bench/run.sh

fuzz: build
	scripts/fuzz.sh

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-fuzz
