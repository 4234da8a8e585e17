# keycoord — build, run and test. Every target installs what it is missing first.
SWIFT        ?= swift
CONFIG       ?= debug
SWIFT_FLAGS  ?=
BIN           = $(shell $(SWIFT) build -c $(CONFIG) $(SWIFT_FLAGS) --show-bin-path)/keycoord
RUN_ARGS     ?=

.PHONY: all deps test-deps build release run test test-fakes test-scripts check-static protos fuzz bench-http bench-fleet bench-plugin-fleet bench-plugin clean

all: build

deps:
	@./scripts/bootstrap.sh

test-deps:
	@./scripts/bootstrap.sh --with-test-tools

build: deps
	$(SWIFT) build -c $(CONFIG) $(SWIFT_FLAGS)

# The release build the Dockerfile runs.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib $(SWIFT_FLAGS) --product keycoord

# The service on its embedded default: file store and disk backend under ./keycoord-data.
run: build
	$(BIN) serve $(RUN_ARGS)

# Every test: the cloud fakes' proofs and the scripts' own tests, Swift tests (with a
# throwaway PostgreSQL and moto), the release build the Dockerfile runs, and the static
# checks of the deployment files against that binary.
test: test-deps
	$(MAKE) --no-print-directory test-fakes
	$(MAKE) --no-print-directory test-scripts
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	./scripts/with-test-services.sh $(SWIFT) test --skip-build --no-parallel $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory release
	$(MAKE) --no-print-directory check-static

# The GCP and Azure fakes the backend tests run against, proved with the vendors' own SDKs
# (Tests/python/fakes/README.md). A missing package fails the run; nothing is skipped.
test-fakes: test-deps
	python3 -m pytest -q -p no:cacheprovider Tests/python/fakes

# The shell helpers the bench and test scripts share (scripts/lib).
test-scripts: test-deps
	python3 -m pytest -q -p no:cacheprovider Tests/python/scripts

# Checks of files no Swift test reads: the OpenAPI document is also validated in ServiceTests.
check-static: test-deps
	./scripts/check-static.sh

# Regenerates Sources/PluginProtos from proto/ (protoc, and swift-protobuf's plugin, built
# once outside the work tree when missing). The generated code is committed.
protos:
	@./scripts/bootstrap.sh --with-proto-tools
	./scripts/protos.sh

# A libFuzzer target for a bounded time: make fuzz FUZZ_TARGET=http-parser FUZZ_SECONDS=600
FUZZ_TARGET  ?= http-parser
FUZZ_SECONDS ?= 60
fuzz: deps
	./scripts/fuzz.sh $(FUZZ_TARGET) $(FUZZ_SECONDS)

# Benchmarks (results and machine notes go in bench/RESULTS.md).
bench-http: deps
	./bench/http/run.sh

bench-fleet: deps
	./bench/fleet/run.sh

bench-plugin-fleet: deps
	./bench/fleet/plugin_run.sh

bench-plugin: deps release
	./bench/plugin/run.sh

clean:
	rm -rf .build .build-*
