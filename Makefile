# ccswitch — short targets, no logic hidden here.
GO ?= go

.PHONY: run test race bench lint fuzz cover build

# Simulate the example center and print its KPIs.
run:
	$(GO) run ./cmd/ccswitch sim examples/demo-center.yaml

# Install missing real peers (SIPp, ...) when root, vet, then every test
# (tests needing a peer skip without it unless CCSWITCH_REQUIRE_PEERS=1).
test:
	bash .ci/peers
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# The tests under the race detector (slower; the SIP side is concurrent).
race:
	bash .ci/peers
	$(GO) test -race -count=1 ./...

# Go benchmarks, then the side-by-side scripts under bench/.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	bash bench/sim-vs-bare.sh
	bash bench/im-relay.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzBotInput -fuzztime=30s -fuzzminimizetime=10s ./imgw/
	$(GO) test -run='^$$' -fuzz=FuzzSanitize -fuzztime=30s ./imgw/
	$(GO) test -run='^$$' -fuzz=FuzzInboundStanza -fuzztime=30s ./imgw/xmpp/
	$(GO) test -run='^$$' -fuzz=FuzzRequest -fuzztime=30s ./tserver/cti/
	$(GO) test -run='^$$' -fuzz=FuzzLineRecord -fuzztime=15s ./imgw/
	$(GO) test -run='^$$' -fuzz=FuzzChunkEncoding -fuzztime=15s ./internal/store/
	$(GO) test -run='^$$' -fuzz=FuzzAppendString -fuzztime=15s ./internal/jsonenc/
	$(GO) test -run='^$$' -fuzz=FuzzChatEventJSON -fuzztime=15s ./tserver/cti/
	$(GO) test -run='^$$' -fuzz=FuzzAppendMessage -fuzztime=15s ./imgw/xmpp/

cover:
	$(GO) test -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -1

build:
	$(GO) build -o ccswitch ./cmd/ccswitch
