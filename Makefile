# ccswitch — short targets, no logic hidden here.
GO ?= go

.PHONY: run test race bench lint fuzz cover build

# Simulate the example center, print its KPIs, write its report into
# sim-report/ (result.json, intervals.csv, report.html) and print the
# report's path.
run:
	$(GO) run ./cmd/ccswitch sim examples/demo-center.yaml --out sim-report --log-level warn
	@echo "report: file://$(CURDIR)/sim-report/report.html"

# Install missing real peers (SIPp, ...) when root, vet, then every test
# (tests needing a peer skip without it unless CCSWITCH_REQUIRE_PEERS=1),
# then a 60 s soak of the live center (needs SIPp; fails on any error).
test:
	bash .ci/peers
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	DURATION=60s bash bench/soak.sh

# The tests under the race detector (slower; the SIP side is concurrent).
race:
	bash .ci/peers
	$(GO) test -race -count=1 ./...

# Go benchmarks, then the side-by-side scripts under bench/.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	bash bench/sim-vs-bare.sh
	bash bench/im-relay.sh

# gofmt, go vet and staticcheck (installed from the Go module proxy).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Every fuzz test of the module (found by go test -list), FUZZTIME each.
fuzz:
	bash .ci/fuzz

cover:
	$(GO) test -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -1

build:
	$(GO) build -o ccswitch ./cmd/ccswitch
