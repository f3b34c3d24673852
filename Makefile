# Lifecycle: customer journeys on Temporal.
GO ?= go
# make run ARGS="--day-length 5s" passes flags to `lifecycle dev`.
ARGS ?=

.PHONY: run test lint build build-production cluster-test bench fuzz assets

## run: everything locally (embedded Temporal, UI, worker, API); Ctrl-C stops it
run: build
	./bin/lifecycle dev $(ARGS)

## test: every test, the journey simulations included
# One package at a time: several packages run embedded Temporal servers, and
# side by side on two cores they starved each other. The drill of 1,000
# duplicate events then saw its journey's updates stall for 30 s and more
# (and fail once after 150 s of 503s), a Temporal server's behaviour under
# CPU starvation rather than the API's. Costs about 45 s (2 min instead of
# 1 min 17 s here).
# -p 1 also serializes compilation, so the first line compiles every test
# binary in parallel (running none of their tests); the second then only
# links and runs. A fresh clone's first run went from 12 min 51 s to the
# figure in README's Tests section.
test:
	@$(GO) test -count=1 -run '^$$' ./... > /dev/null || $(GO) test -count=1 -run '^$$' ./...
	$(GO) test -count=1 -p 1 ./...

## cluster-test: the production drill on a real Temporal server and PostgreSQL (see README)
cluster-test:
	bash scripts/cluster/run.sh

WORKFLOWCHECK ?= go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0

## lint: formatting, vet, and Temporal's determinism check of workflow code
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(WORKFLOWCHECK) ./workflows/...

## build: the lifecycle binary in bin/ (with `dev`: the embedded Temporal server and its UI)
build:
	$(GO) build -o bin/lifecycle ./cmd/lifecycle

## build-production: the binary without `dev` (as in the image): bin/lifecycle-server
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
build-production:
	CGO_ENABLED=0 $(GO) build -trimpath -tags nodev,timetzdata -ldflags='-s -w -X main.version=$(VERSION)' -o bin/lifecycle-server ./cmd/lifecycle

## bench: benchmarks against the raw engine, the insights job and the work lists; writes BENCHMARKS.md (about 27 minutes with the cluster section)
bench:
	$(GO) run ./bench -out BENCHMARKS.md

## fuzz: a short run of every fuzz target (their seed corpora run in make test)
fuzz:
	./scripts/fuzz.sh

## assets: refresh the dashboard's vendored front-end libraries from npm
assets:
	./dashboard/assets.sh
