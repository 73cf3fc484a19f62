# The README's commands are targets here. Every module listed in go.work is
# checked by `make test`; a new module only has to be added to go.work.

GO          ?= go
MODULES     := $(shell $(GO) list -m -f '{{.Dir}}')
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME   ?= 1s
BENCHCOUNT  ?= 6

.PHONY: test lint size-check vet staticcheck fmt-check unit fuzz release-check services demo bench soak

## test: everything CI runs: formatting, vet, staticcheck, the tests under -race, brief fuzzing, and the release check.
test: services lint unit fuzz release-check

lint: size-check fmt-check vet staticcheck

## size-check: no tracked file over 1 MB (binaries and build outputs stay out of git).
size-check:
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576'); \
		if [ -n "$$big" ]; then echo "files over 1 MB are tracked:"; echo "$$big"; exit 1; fi

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@for d in $(MODULES); do echo "go vet $$d"; (cd $$d && $(GO) vet ./...) || exit 1; done

staticcheck:
	@for d in $(MODULES); do echo "staticcheck $$d"; (cd $$d && $(GO) run $(STATICCHECK) ./...) || exit 1; done

unit:
	@for d in $(MODULES); do echo "go test -race $$d"; (cd $$d && CI=$${CI:-true} $(GO) test -race -count=1 -timeout 15m ./...) || exit 1; done

## release-check: serve HEAD's modules from a file-system proxy at the version their go.mod files
## require of each other (or RELEASE_VERSION, which must agree); go get, build and run each one
## from a module outside the repository, as a user would (docs/releasing.md).
RELEASE_VERSION ?=
release-check:
	@cd .ci/release && test -z "$$(gofmt -l .)" && GOWORK=off $(GO) vet . && GOWORK=off $(GO) run $(STATICCHECK) . && \
		GOWORK=off $(GO) mod tidy -diff && CI=$${CI:-true} GOWORK=off $(GO) run . -repo ../.. $(if $(RELEASE_VERSION),-version $(RELEASE_VERSION))

## services: start PostgreSQL and MariaDB if they are not running (installing them if absent).
services:
	@bash .ci/services

## demo: run the demo web app.
demo:
	$(GO) run ./cmd/sessiondemo

## bench: run every module's benchmarks (compare runs with benchstat).
bench:
	@for d in $(MODULES); do (cd $$d && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./...) || exit 1; done

## soak: the demo under concurrent clients for SOAK_DURATION (default 10m).
soak:
	cd cmd/sessiondemo && SOAK_DURATION=$${SOAK_DURATION:-10m} $(GO) test -count=1 -run TestSoak -v -timeout 0 .

## fuzz: run every fuzz target for FUZZTIME (10s in make test; longer by hand).
FUZZTIME ?= 10s
FUZZ_TARGETS := .:FuzzValidToken .:FuzzGobOwner gorillastore:FuzzCookieVerify hardening:FuzzToken hardening:FuzzPayload hardening:FuzzGorillaCookie hardening:FuzzNoRoundTrip
fuzz:
	@for t in $(FUZZ_TARGETS); do dir=$${t%%:*}; name=$${t##*:}; echo "fuzz $$dir $$name"; \
		CI=$${CI:-true} bash .ci/fuzz $$dir $$name $(FUZZTIME) || exit 1; done
