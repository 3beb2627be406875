# Targets for developers and CI (.ci/run calls `make test`).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

GO ?= go

.PHONY: synth check test e2e bench fuzz generate lint envtest fixtures talhelper build

## synth: render the Funoffshore homelab into ./cluster
synth:
	$(GO) run . synth

## check: fail with a diff when ./cluster is stale
check:
	$(GO) run . synth --check

## build: build the homelab command into bin/ (homelab runs synth and
## version; homelab-full beside it every other command)
build:
	$(GO) build -o bin/homelab .
	$(GO) build -o bin/homelab-full ./cmd/homelab

## envtest: build (once, cached) the kube-apiserver and etcd the tests use
envtest:
	@bash hack/envtest.sh

## talhelper: build (once, cached) the talhelper the tests compare with
talhelper:
	@bash hack/talhelper.sh

## fixtures: fetch (once, cached) the upstream files the tests check against
fixtures:
	@bash hack/fixtures.sh

## test: the whole test suite (needs Go, Node.js >= 20; builds envtest assets once),
## including the example modules that import the library
test:
	@fixtures="$$(bash hack/fixtures.sh)" && assets="$$(bash hack/envtest.sh)" && talhelper="$$(bash hack/talhelper.sh)" && \
	  HOMELAB_FIXTURES="$$fixtures" KUBEBUILDER_ASSETS="$$assets" TALHELPER="$$talhelper" $(GO) test -count=1 ./...
	cd examples/single-node && $(GO) build -o /dev/null . && $(GO) test -count=1 ./...
	cd examples/ha-nfs && $(GO) build -o /dev/null . && $(GO) test -count=1 ./...

## e2e: the end-to-end test: the synthesized tree reconciled by real Flux controllers
## on a simulated cluster (kube-apiserver, controller-manager, scheduler, kwok);
## builds the cluster's programs once (hack/e2e.sh, cached; cold: about 25 minutes)
e2e:
	@fixtures="$$(bash hack/fixtures.sh)" && assets="$$(bash hack/envtest.sh)" && bin="$$(bash hack/e2e.sh)" && \
	  HOMELAB_FIXTURES="$$fixtures" KUBEBUILDER_ASSETS="$$assets" HOMELAB_E2E_BIN="$$bin" $(GO) test -tags e2e -count=1 -timeout 40m -v -run 'TestReconcile|TestExternalSecretFromVault' ./e2e/

## bench: synth benchmarks (Funoffshore, 10/100/1000 apps), then the edit->synth
## loop, the binary's size and the commands' wall times (hack/bench.sh)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./synth/
	@bash hack/bench.sh

## fuzz: the address grammar every prop goes through (no node: thousands of
## inputs a second), then whole homelabs through jsii (seconds an input)
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzAddressForms -fuzztime 60s ./constructs/core/
	$(GO) test -run '^$$' -fuzz FuzzHomelab -fuzztime 120s ./homelab/

## generate: regenerate the Flux CRDs with controller-gen from the pinned API modules
generate:
	bash hack/generate-crds.sh

## lint: gofmt and go vet
lint:
	@test -z "$$(gofmt -l . | grep -v '^tools/' )" || (gofmt -l . ; exit 1)
	cd examples/single-node && $(GO) vet ./...
	cd examples/ha-nfs && $(GO) vet ./... && $(GO) vet -tags homelab_full ./...
	$(GO) vet ./...
	$(GO) vet -tags homelab_full ./pkg/cli/launch/
	$(GO) vet -tags e2e ./e2e/
