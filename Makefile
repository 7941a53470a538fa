# ferry — see README.md. `make demo` and `make test` do all the set-up on a
# fresh machine.

GO        ?= go
BIN       := bin/ferry
OUT       := out
FUZZTIME  ?= 10s
CORPUS    ?= 1GiB

.PHONY: all build demo demo-k8s test test-go test-big deps k8s-bins fuzz fuzz-long crash bench mutate lint clean

export REPEAT ROUTER_DURATION DELTA_SCALE

all: build

# Two ferries: bin/ferry, without Kubernetes support, and bin/ferry-kube,
# which links Helm's SDK and client-go (about 100 MB more, and a slower
# start) to install the bundle's charts (go build -tags kube).
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/ferry
	$(GO) build -trimpath -tags kube -o $(BIN)-kube ./cmd/ferry

deps:
	./scripts/deps.sh

# The demo: generate a project from fixtures, make keys, build, verify and
# inspect a signed bundle, all offline.
demo: build
	./scripts/demo.sh $(OUT)/demo

# make test runs as CI runs it (CI=true, exported to every step): a test
# that lacks a tool, a privilege or a mount fails instead of skipping
# (internal/testenv; scripts/deps.sh installs what they need).
test: export CI := true
test: deps k8s-bins
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-go
	$(MAKE) --no-print-directory demo
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s
	$(MAKE) --no-print-directory bench CORPUS=32MiB REPEAT=1 ROUTER_DURATION=1s DELTA_SCALE=ci

# The Kubernetes part of the demo, against the test control plane: ferry-kube
# installs a bundle with a migration, a file and two charts, upgrades it,
# rolls it back, finds an edit made behind its back, and refuses or rolls
# back what fails (kube/apply's end-to-end test, verbose).
demo-k8s: k8s-bins
	$(GO) test -count=1 -v -run '^TestFerryKubeEndToEnd$$' ./kube/apply 2>&1 | grep -v '^[IWE][0-9]'

# The Kubernetes control plane of the tests (etcd, kube-apiserver,
# kube-controller-manager, pinned by the nested module test/k8s), built once
# into .cache/k8s/ per version of that module: minutes when cold, a no-op
# when warm. Tests find it through FERRY_K8S_BIN, or in .cache/k8s/bin;
# make test builds it first, and under CI=true a test that needs it fails
# without it.
k8s-bins:
	@GO=$(GO) ./scripts/k8s-control-plane.sh >/dev/null

# vet, then every package's tests with -race; the output is go test's, and
# ends with every test that failed and every test that skipped, with its
# reason (scripts/testsum; the whole -json stream is kept in out/test.json).
# The tests build with TESTTAGS: ferrycrash builds in the installer's
# crash-injection hook, which the crash tests need and a release build
# (make build) leaves out. -timeout bounds a hung test, not the suite's
# time: cmd/ferry's end-to-end tests alone take about ten minutes on two
# cores under -race.
TESTPKGS ?= ./...
TESTTAGS := ferrycrash
test-go:
	$(GO) vet -tags $(TESTTAGS) $(TESTPKGS)
	@mkdir -p $(OUT) bin
	$(GO) build -o bin/testsum ./scripts/testsum
	@{ $(GO) test -tags $(TESTTAGS) -race -count=1 -timeout 30m -json \
		$(TESTPKGS) 2>&1; echo $$? >$(OUT)/test.rc; } | \
		bin/testsum -json $(OUT)/test.json; \
		sum=$$?; rc=$$(cat $(OUT)/test.rc); \
		[ "$$sum" -eq 0 ] && [ "$$rc" -eq 0 ] || { echo "go test exited $$rc"; exit 1; }

# Short fuzz runs of every fuzz target in the tree (every parser of
# untrusted input has one); `make fuzz-long` runs them for longer. The list
# is read from the tree (scripts/fuzz-targets.sh: PKG:NAME for every
# `func Fuzz` in a test file), not kept by hand; FUZZ_TARGETS='./pkg:FuzzX'
# on the command line runs only those.
FUZZ_TARGETS = $(shell ./scripts/fuzz-targets.sh)

# A failing run prints its output and fails make. A target that found a
# crasher wrote it under PKG/testdata/fuzz/NAME, and its name is printed:
# `go test PKG -run NAME/FILE` replays it. A failure that left no crasher
# (the fuzzing engine itself, or a target that fails only sometimes) is
# run once more to say whether it came again or was flaky, and fails make
# either way, with one exception: Go 1.26's fuzzing coordinator can stop
# at the end of -fuzztime with a bare "context deadline exceeded" and no
# input (go.dev/issue/75804, fixed in Go 1.27), most often on a loaded
# machine. That failure, alone and with no crasher, is named, and passes
# only when the second run passes; anything else a target says fails make.
fuzz:
	@set -e; stamp=$$(mktemp); for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		start=$$(date +%s); \
		log=$$(mktemp); touch $$stamp; \
		if ! $(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s >$$log 2>&1; then \
			cat $$log; \
			race=no; if [ "$$(grep -c -- '^--- FAIL' $$log)" = 1 ] && grep -qx '    context deadline exceeded' $$log && \
				[ "$$(grep -c '^    ' $$log)" = 1 ]; then race=yes; fi; rm -f $$log; \
			crashers=$$(find $$pkg/testdata/fuzz/$$name -type f -newer $$stamp 2>/dev/null || true); \
			if [ -n "$$crashers" ]; then \
				for c in $$crashers; do echo "fuzz $$pkg $$name: crasher $$c (replay: go test $$pkg -run '$$name/'$$(basename $$c))"; done; \
			elif $(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s; then \
				if [ "$$race" = yes ]; then \
					echo "fuzz $$pkg $$name: the fuzzing engine's deadline race (go.dev/issue/75804), no input failed; passed on a second run"; \
					continue; \
				fi; \
				echo "fuzz $$pkg $$name: FLAKY: failed without leaving a crasher, then passed once more"; \
			else \
				echo "fuzz $$pkg $$name: failed twice without leaving a crasher"; \
			fi; \
			rm -f $$stamp; exit 1; \
		fi; \
		rm -f $$log; \
		echo "  took $$(( $$(date +%s) - start )) s"; \
	done; rm -f $$stamp

# The split and join of an installer beyond 4 GiB into FAT32-sized parts:
# writes 4.5 GiB under TMPDIR, so it is not part of make test (where the
# test skips, and the list of skips says so).
test-big:
	FERRY_BIG=1 $(GO) test -count=1 -timeout 30m -run 'Beyond4GiB$$' -v ./bundle

fuzz-long:
	$(MAKE) fuzz FUZZTIME=10m

# The installer's crash loop: SIGKILL at every journalled step and at
# CRASH_LOOPS random moments of an update (make test runs a short form).
CRASH_LOOPS ?= 1000
crash:
	FERRY_CRASH_LOOPS=$(CRASH_LOOPS) $(GO) test -tags $(TESTTAGS) -count=1 -timeout 120m -run '^TestCrashLoop$$' -v ./installer

# Benchmarks against the plain tools (tar, zstd, sha256sum, gpg, skopeo)
# and, for the registry, net/http's FileServer, in the same run: create (on
# the corpus and on one mostly of one large file), verify, install, images
# fetched at build time and image pull; CORPUS=4GiB for the large run;
# DELTA_SCALE=large adds the 4 GiB release to the delta bench's one-file
# update.
bench: deps build
	./scripts/bench.sh $(OUT)/bench $(CORPUS)

# Mutation testing (scripts/mutate.sh; README says how to read it) of
# verify, the bundle reader, installer admission and recovery, rollout
# analysis and licence checks; not part of make test. MUTATE_TARGETS picks
# entries (DIR:FILES[:TESTS]), MUTATE_TIMEOUT bounds each (default 30m).
GREMLINS := .cache/bin/gremlins
MUTATE_TARGETS := \
	rollout:analysis.go \
	verify:keys.go,trust.go,sigstore.go,openpgp.go,rotation.go,signature.go,envelope.go \
	bundle:reader.go,verify.go,head.go,stream.go \
	license:check.go,verify.go,envelope.go \
	installer:recover.go,install.go,rollback.go:'^(TestCrashLoop|TestCrashLoopRotation|TestRollback.*|TestHighWaterMarkAlone|TestFailedCheckRollsBack|TestInstall.*)$$'
mutate: $(GREMLINS)
	FERRY_CRASH_LOOPS=1 ./scripts/mutate.sh $(GREMLINS) $(MUTATE_TARGETS)

$(GREMLINS):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0

# golangci-lint, pinned, with the linters of .golangci.yml (make test runs
# it first: a finding fails the build before the long tests start). Built
# once into .cache/bin. --allow-parallel-runners: by default a second run
# on the machine (another checkout's) fails at once instead of waiting.
GOLANGCI_LINT := .cache/bin/golangci-lint
GOLANGCI_LINT_VERSION := v2.15.0
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

$(GOLANGCI_LINT):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

clean:
	rm -rf bin $(OUT)
