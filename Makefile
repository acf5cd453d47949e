# keyaudit — one entry point for building, testing and running.
GO ?= go
BIN := bin
LAMBDA_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0

.PHONY: all build demo test vet staticcheck fmt-check fuzz bench lambda lambda-zip build-KeyAuditFunction build-AuditBatchFunction build-EventFunction test-browser screenshot update-golden clean

all: build

build:
	$(GO) build -o $(BIN)/keyaudit ./cmd/keyaudit

## demo: audit the simulated demo organization (no AWS account needed).
## It exits 3 by design: one demo account lacks the audit role, and the
## report says so rather than leave it out.
demo: build
	@./$(BIN)/keyaudit scan --demo || [ $$? -eq 3 ]

## test: the one test command (formatting, vet, staticcheck, race-enabled tests)
test: fmt-check vet staticcheck
	$(GO) test -race -count=1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags browser ./internal/browsertest/

staticcheck:
	$(GO) tool staticcheck ./...

## fuzz: a short fuzz run over the credential-report parser
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParseCredentialReport -fuzztime=30s ./audit/inventory/

## bench: the organization-scale benchmark and the event function's
## latency benchmark (not part of make test)
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout=60m ./internal/bench/
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./lambda/

## lambda: the Lambda bootstrap binary for provided.al2023 on arm64
lambda:
	$(LAMBDA_ENV) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o build/lambda/bootstrap ./lambda

## lambda-zip: the deployable zip and a template that points at it, for
## aws cloudformation package/deploy without SAM (docs/deploy.md)
lambda-zip: lambda
	rm -f build/lambda/keyaudit-lambda.zip
	cd build/lambda && zip -q -X keyaudit-lambda.zip bootstrap
	sed 's|^      CodeUri: \.$$|      CodeUri: lambda/keyaudit-lambda.zip|' template.yaml > build/template.yaml
	@grep -q 'CodeUri: lambda/keyaudit-lambda.zip' build/template.yaml || { echo "lambda-zip: no CodeUri: . in template.yaml to point at the zip" >&2; exit 1; }

# sam build (BuildMethod: makefile) calls these with ARTIFACTS_DIR set: the
# functions are the one binary.
build-KeyAuditFunction build-AuditBatchFunction build-EventFunction:
	@if [ -z "$(ARTIFACTS_DIR)" ]; then echo "$@: ARTIFACTS_DIR is not set: sam build sets it; by hand, run make ARTIFACTS_DIR=DIR $@ (or make lambda)" >&2; exit 2; fi
	$(LAMBDA_ENV) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./lambda

## test-browser: render the HTML report in headless Chromium
test-browser:
	$(GO) test -tags browser -count=1 ./internal/browsertest/

## screenshot: regenerate testdata/html/screenshot.png (shown in the README)
## from the demo's HTML report, rendered by the browser test in headless
## Chromium (Debian's chromium: apt-get install chromium).
screenshot:
	$(GO) test -tags browser -count=1 -run '^TestReportInBrowser$$' ./internal/browsertest/ -args -update-screenshot

## update-golden: rewrite the golden files under testdata/ with the current output
update-golden:
	UPDATE_GOLDEN=1 $(GO) test -count=1 ./...

clean:
	rm -rf $(BIN) build
