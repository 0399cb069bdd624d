# evalpin's build. `make test` is what CI runs (.ci/run).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS := -X main.Version=$(VERSION)

.PHONY: all build test vet bench golden clean

all: build

## build: the evalpin binary at bin/evalpin
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/evalpin ./cmd/evalpin

## test: vet, then every test with the race detector
test: vet
	$(GO) test -race -count=1 ./...

## vet: go vet and gofmt
vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: the speed and memory benchmarks, reported as ratios
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## golden: rewrite the golden files under testdata/ from the current output
golden:
	@for d in $$(grep -rl --include='*_test.go' 'flag.Bool("update"' . | xargs -r -n1 dirname | sort -u); do \
		echo "$(GO) test $$d -update"; $(GO) test $$d -update || exit 1; done

clean:
	rm -rf bin
