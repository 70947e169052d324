# Gocker build and test entry points. See README.md.
GO      ?= go
BIN     := bin/gocker
VERSION ?= 0.1.0-dev
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PREFIX  ?= /usr/local
# Both binaries are static, so that no start pays for the dynamic loader
# and the init works inside any rootfs (issue 2, performance).
GOFLAGS_BUILD := -trimpath -tags 'netgo osusergo urfave_cli_no_docs'
# gocker-network is the same CLI with the bridge network hook built in
# (cmd/gocker/network.go); gocker execs it for `hook network` and `network`.
GOFLAGS_NETWORK := -trimpath -tags 'netgo osusergo urfave_cli_no_docs gocker_network'
BUILDID := $(VERSION)-$(COMMIT)-$(shell git status --porcelain 2>/dev/null | (sha256sum 2>/dev/null || echo x) | cut -c1-8)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X github.com/gocker/gocker/runtime/proto.Build=$(BUILDID)
BUNDLE  := bundles/busybox
# encoding/json on the v2 implementation (an experiment in Go 1.25 and
# 1.26, the v1 API unchanged): decoding config.json cold, as every create
# does twice (the parent and the init), takes half the time (issue 2).
# The unit tests run on it too; spec/jsonpos.go reads the error offsets of
# both implementations.
JSONV2  := GOEXPERIMENT=jsonv2

.PHONY: build setup run test unit integration test-race test-cgroupv2 bench conformance install clean

# gocker-init is the container's init (cmd/gocker-init), pure Go with an
# entry point that makes it non-dumpable first (-E _gocker_rt0);
# gocker-nsenter is the same init built with cgo for the nsenter C
# constructor (exec, namespaces joined by path). gocker and gocker-network
# are pure Go: no pthreads, no libc (README, "Binaries").
build:
	$(JSONV2) CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gocker
	$(JSONV2) CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS) -E _gocker_rt0" -o $(BIN)-init ./cmd/gocker-init
	$(JSONV2) CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS) -extldflags '-static'" -o $(BIN)-nsenter ./cmd/gocker-init
	$(JSONV2) CGO_ENABLED=0 $(GO) build $(GOFLAGS_NETWORK) -ldflags "$(LDFLAGS)" -o $(BIN)-network ./cmd/gocker

setup: $(BUNDLE)/rootfs/bin/busybox

$(BUNDLE)/rootfs/bin/busybox:
	bundles/mkrootfs.sh $(BUNDLE)/rootfs

run: build setup
	$(BIN) run --bundle $(abspath $(BUNDLE)) gocker-demo-$$$$

unit:
	$(JSONV2) $(GO) test -count=1 ./spec/... ./runtime/... ./hooks/... ./cmd/...

integration: build setup
	GOCKER_TEST_BINARY=$(abspath $(BIN)) $(GO) test -count=1 -p 1 -timeout 15m ./integration/...

test: unit integration

# The race detector: the unit tests with -race, then the integration suite
# against a -race build of gocker and gocker-network (the init is built as
# usual: it runs a single goroutine until exec). Reports go to
# $(RACE_LOG).*; any report fails the target. About 10 minutes; not in CI.
# RACE_RUN narrows the integration tests (a go test -run pattern).
RACE_BIN := bin/race/gocker
RACE_LOG ?= /tmp/gocker-race
RACE_RUN ?= .
test-race: setup
	$(JSONV2) CGO_ENABLED=1 $(GO) test -race -count=1 ./spec/... ./runtime/... ./hooks/... ./cmd/...
	$(JSONV2) CGO_ENABLED=1 $(GO) build -race $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS)" -o $(RACE_BIN) ./cmd/gocker
	$(JSONV2) CGO_ENABLED=1 $(GO) build -race $(GOFLAGS_NETWORK) -ldflags "$(LDFLAGS)" -o $(RACE_BIN)-network ./cmd/gocker
	$(JSONV2) CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS) -E _gocker_rt0" -o $(RACE_BIN)-init ./cmd/gocker-init
	$(JSONV2) CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS) -extldflags '-static'" -o $(RACE_BIN)-nsenter ./cmd/gocker-init
	rm -f $(RACE_LOG).*
	GORACE="log_path=$(RACE_LOG) halt_on_error=0" GOCKER_TEST_BINARY=$(abspath $(RACE_BIN)) \
		$(GO) test -count=1 -p 1 -timeout 30m -run '$(RACE_RUN)' ./integration/
	@if ls $(RACE_LOG).* >/dev/null 2>&1; then echo "test-race: data races reported in $(RACE_LOG).*"; exit 1; fi

# The resource tests again, inside a small QEMU VM with a pure cgroup v2
# hierarchy (this host is v1 hybrid). See integration/cgroupv2/README.md.
test-cgroupv2: build setup
	integration/cgroupv2/run.sh $(abspath $(BIN))

bench: build setup
	integration/bench/run.sh $(abspath $(BIN))

conformance: build
	integration/conformance/run.sh

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/gocker
	install -D -m 0755 $(BIN)-init $(DESTDIR)$(PREFIX)/bin/gocker-init
	install -D -m 0755 $(BIN)-nsenter $(DESTDIR)$(PREFIX)/bin/gocker-nsenter
	install -D -m 0755 $(BIN)-network $(DESTDIR)$(PREFIX)/bin/gocker-network

clean:
	rm -rf bin $(BUNDLE)/rootfs integration/conformance/work
