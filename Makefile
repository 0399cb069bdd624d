# evalpin's build. `make test` is what CI runs (.ci/run).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS := -X main.Version=$(VERSION)

.PHONY: all build test vet bench golden clean testbed model

all: build

## build: the evalpin binary at bin/evalpin
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/evalpin ./cmd/evalpin

## test: vet, then every test with the race detector, including the
## end-to-end tests against the real Ollama from `make testbed`
test: vet testbed
	EVALPIN_OLLAMA=$(CURDIR)/.testbed/bin/ollama EVALPIN_REQUIRE_TESTBED=1 $(GO) test -race -count=1 ./...

## testbed: build Ollama into .testbed/bin (cached; cold about 5 minutes), see docs/testbed.md
testbed:
	scripts/testbed.sh build >/dev/null

## model: retrain the test bed's drill model (internal/testbed/train/train.py) into
## internal/testbed/testdata/drill and suites/drill; minutes on 2 cores, see docs/testbed.md.
## make test and make demo never train: they use the committed weights.
model:
	scripts/testbed.sh train

## vet: go vet and gofmt
vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: the speed and memory benchmarks, once each; writes bench/RESULTS.md,
## every ratio and budget they report with the machine and its load
## (scripts/bench-results.sh; BENCHTIME=5x for more iterations)
bench:
	GO=$(GO) scripts/bench-results.sh

## fuzz: every fuzz target (func FuzzX in a _test.go file) for FUZZTIME each
## (default 20s), scripts/fuzz.sh; not part of `make test`, whose run replays
## only their seeds and testdata/fuzz
.PHONY: fuzz
fuzz:
	GO=$(GO) scripts/fuzz.sh

## golden: rewrite the golden files under testdata/ from the current output
golden:
	@for d in $$(grep -rl --include='*_test.go' 'flag.Bool("update"' . | xargs -r -n1 dirname | sort -u); do \
		echo "$(GO) test $$d -update"; $(GO) test $$d -update || exit 1; done

## demo: evalpin's three uses end to end on the test bed's trained drill model:
## the CI gate on an upgrade, incident playback, forks side by side (scripts/demo.sh)
.PHONY: demo
demo:
	scripts/demo.sh

clean:
	rm -rf bin

## sim: the full simulations of docs/statistics.md ("What the simulations
## check"), not under the race detector: the unit ones in eval/compare and the
## end-to-end ones through the CLI against a planted server (cmd/evalpin,
## TestSimE2E*); about 50 minutes on a shared 2-core machine. The log, with every figure, is
## written to bin/sim.log; `make test` runs a fixed-seed subset of each.
.PHONY: sim
sim:
	@mkdir -p bin
	@EVALPIN_FULL_SIM=1 $(GO) test -count=1 -v -timeout 120m -run '^TestSim' ./eval/compare ./cmd/evalpin > bin/sim.log 2>&1; \
		status=$$?; grep -E '^(--- |ok|FAIL)|sim(_e2e)?_test.go' bin/sim.log; exit $$status
