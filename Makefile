# The front door. `make lab` runs the main job, `make test` builds and runs the test suite; both install
# missing Debian packages first (scripts/install-deps.sh). Sanitizer runs: `make test-tsan`, `make test-asan`.
# `make lab`, `make bench` and `make install` build only the spindle tool (and the libraries it links), not
# the tests and examples: a newcomer's first command should not compile the test suite.

PRESET ?= release
JOBS ?= $(shell nproc)
CTEST_ARGS ?=
SPINDLE := build/$(PRESET)/apps/spindle/spindle
# `make lab` also writes the HTML report (an SVG chart per demo) next to the build.
LAB_ARGS ?= --report build/lab-report.html

.PHONY: all deps test-deps configure build tool lab test test-tsan test-asan test-clang bench examples install clean

all: build

deps:
	@./scripts/install-deps.sh

build/%/build.ninja: CMakeLists.txt CMakePresets.json | deps
	cmake --preset $* >/dev/null

configure: deps
	cmake --preset $(PRESET)

build: deps
	@[ -f build/$(PRESET)/build.ninja ] || cmake --preset $(PRESET)
	cmake --build --preset $(PRESET) -j $(JOBS)

# The tool is the target spindle_cli (apps/spindle), whose output is named spindle.
tool: deps
	@[ -f build/$(PRESET)/build.ninja ] || cmake --preset $(PRESET)
	cmake --build --preset $(PRESET) -j $(JOBS) --target spindle_cli

lab: tool
	$(SPINDLE) lab $(LAB_ARGS)
	@echo "report: build/lab-report.html"

test-deps:
	@./scripts/install-deps.sh --tests

# test-deps first: the native bench peers are configured only where their packages are already installed.
test: test-deps build
	ctest --preset $(PRESET) -j $(JOBS) $(CTEST_ARGS)

test-tsan:
	$(MAKE) test PRESET=tsan

test-asan:
	$(MAKE) test PRESET=asan

test-clang:
	$(MAKE) test PRESET=clang

bench: tool
	$(SPINDLE) bench $(BENCH_ARGS)

install: tool
	cmake --install build/$(PRESET) --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf build
