# A thin front over CMake. Every target installs what is missing first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= 2
FUZZ_SECONDS ?= 60
DEMO_DIR   ?= demo-data

.PHONY: all deps build asan-build test asan fuzz bench demo deb test-package clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan-build: deps
	@cmake -S . -B $(BUILD_ASAN) -DCC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD_ASAN) -j$(JOBS)

# The whole suite, on the normal build and again under ASan + UBSan.
test: build asan-build
	@scripts/run-tests $(BUILD) $(BUILD_ASAN)

asan: asan-build
	@scripts/run-tests $(BUILD_ASAN)

fuzz: deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCC_FUZZ=ON -DCC_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS)
	@scripts/run-fuzz $(BUILD_FUZZ) $(FUZZ_SECONDS)

bench: build
	@scripts/run-bench $(BUILD)

demo: build
	@scripts/demo $(BUILD) $(DEMO_DIR)

# The Debian package (debian/) into $(BUILD)/deb, and its install test on a
# fresh Debian 12 root (docs/SERVICE.md "The package").
deb: deps
	@scripts/build-deb $(BUILD)/deb

test-package: deb
	@scripts/test-package $(BUILD)/deb

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
