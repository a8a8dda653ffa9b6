# hris — see README.md. `make run` and `make test` are the two commands.
SHELL   := /bin/sh
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/hris

.PHONY: run test build generate lint migrate bench vendor tools clean

## run: the app on http://localhost:8080 — a private PostgreSQL (hris dev),
## or the database of DATABASE_URL when it is set.
run:
	@./scripts/need go
	@$(MAKE) --no-print-directory build
	@if [ -n "$$DATABASE_URL" ] || grep -qs '^DATABASE_URL=.' .env; then \
		exec ./$(BIN) serve --migrate; \
	else \
		./scripts/need initdb postgres && exec ./$(BIN) dev; \
	fi

## test: every test, against real PostgreSQL and real Chromium.
test:
	@./scripts/need go initdb postgres chromium pgbouncer promtool wrk
	$(GO) test -count=1 -timeout 25m ./...

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hris

## generate: templ and sqlc output (committed; `make lint` checks drift).
generate:
	$(GO) tool templ generate
	$(GO) tool sqlc generate

## lint: vet, formatting and generated-code drift.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool templ fmt -fail views
	$(GO) tool templ generate
	$(GO) tool sqlc generate
	$(GO) tool sqlc vet
	@git diff --exit-code -- views db || { echo "generated code is stale: run make generate and commit"; exit 1; }

migrate: build
	./$(BIN) migrate

## bench: wrk against the app, pgbench against the same SQL, side by side
## (about two minutes; BENCH_FLAGS="-only list,pgbench -label x" and the
## like are passed on: go run ./bench -h lists them).
bench: build
	@./scripts/need initdb postgres pgbench wrk
	$(GO) run ./bench $(BENCH_FLAGS)

## vendor: copy the pinned htmx from npm into static/, and axe-core into
## web/testdata/ for the browser suite's accessibility checks (both
## committed; axe is never served).
vendor:
	npm install --no-audit --no-fund --ignore-scripts
	cp node_modules/htmx.org/dist/htmx.min.js static/htmx.min.js
	mkdir -p web/testdata
	cp node_modules/axe-core/axe.min.js web/testdata/axe.min.js

clean:
	rm -rf bin
