# Lifecycle: customer journeys on Temporal.
GO ?= go

.PHONY: test lint build

## test: every test, the journey simulations included
test:
	$(GO) test -count=1 ./...

## lint: formatting and vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## build: the lifecycle binary in bin/
build:
	$(GO) build -o bin/lifecycle ./cmd/lifecycle
