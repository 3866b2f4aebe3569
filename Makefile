# ndhc-go. Every target works on a fresh Debian 12 machine; the ones that
# touch namespaces, users or the sandbox need root.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
FUZZTIME  ?= 10s
BIN       := bin
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)

# Static binaries: syscall.AllThreadsSyscall, which the sandbox uses to
# change every thread's capabilities and prctl state, refuses to run in a
# cgo build.
export CGO_ENABLED = 0

PREFIX    ?= /usr/local
DESTDIR   ?=

.PHONY: all build test fuzz fuzz-totals bench bench-login demo demo-login lint clean install install-users audit policy kernels kernels-arm64 containment hostile soak man-lint

all: build

# netlogind-session links libpam (cgo, libpam0g-dev): the one binary that
# is not static, and the one process that is not sandboxed (it stays root
# to start commands as the user; DESIGN.md, netlogind).
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ndhc ./cmd/ifchd ./cmd/netlogind ./cmd/netlogin
	@if [ -f /usr/include/security/pam_appl.h ] && command -v gcc >/dev/null; then \
		echo "CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/netlogind-session"; \
		CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/netlogind-session; \
	else echo "build: netlogind-session skipped: it needs gcc and libpam0g-dev (make demo-login installs them)"; fi
	$(GO) build -trimpath -o $(BIN)/ndhc-demo ./tools/demo
	$(GO) build -trimpath -o $(BIN)/labbench ./tools/labbench
	$(GO) build -trimpath -o $(BIN)/logindemo ./tools/logindemo

# Unit tests, every fuzz target's seed corpus, and (as root) the sandbox,
# audit and network-namespace integration tests.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# The hostile-server suite (needs root): the real daemon against the rogue
# server of internal/hostile in the namespace lab; prints the table of
# scenarios and the totals, and fails on any crash, hang or invalid state
# applied, or a lease missed where other clients take it. `make test` runs
# it too. One scenario: make hostile HOSTILE_RUN='o121/.*'
HOSTILE_RUN ?=
hostile:
	@t=$$(mktemp); NDHC_HOSTILE_TABLE=$$t NDHC_HOSTILE_RUN='$(HOSTILE_RUN)' \
		$(GO) test -count=1 -timeout 10m -run '^TestHostile$$' ./cmd/ndhc/; rc=$$?; \
	if [ -s $$t ]; then cat $$t; else echo "hostile: no table (the suite needs root; see go test -v -run TestHostile ./cmd/ndhc/)"; fi; \
	rm -f $$t; exit $$rc

# The soak (DESIGN.md, Testing): the real daemon renews SOAK_RENEWALS
# times from ISC dhcpd in the lab, through server restarts, carrier flaps
# and renewals that reach REBINDING; every role must keep its pid,
# descriptors, threads and memory. `make test` runs its short form (200
# renewals, under a minute). Needs root. 10,000 renewals took 2 min 45 s
# on a quiet 2-core machine and 11 minutes at a load average of 10 to 18;
# the go test timeout bounds it at 60.
SOAK_RENEWALS ?= 10000
soak:
	SOAK_RENEWALS=$(SOAK_RENEWALS) $(GO) test -count=1 -v -timeout 60m -run '^TestLabSoak$$' ./cmd/ndhc/

# The manual pages (man/, mdoc): mandoc -Tlint -Wwarning on each, and a
# warning fails. internal/manuals' tests (in make test) check that every
# flag of every binary is on its page and in the shell completions
# (contrib/completion/); .ci/manuals.sh runs both with mandoc and zsh.
man-lint:
	@command -v mandoc >/dev/null || { echo "man-lint: needs mandoc (apt-get install mandoc)"; exit 1; }
	mandoc -Tlint -Wwarning man/*.[1-8]

# Every fuzz target in turn for FUZZTIME each (make fuzz FUZZTIME=5m), each
# run appended to the campaign record fuzz/campaign.tsv (commit it);
# FUZZNICE=19 FUZZPARALLEL=1 on a shared machine, FUZZRUN=REGEXP for some
# targets only. `make fuzz-totals` sums the record per target.
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz-totals:
	./scripts/fuzz.sh --totals

# Codec benchmarks against insomniacslk/dhcp, then (as root) the lab
# benchmark: time to lease against dhclient, dhcpcd and udhcpc, exec to
# first DISCOVER, memory of a bound client.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./dhcp/ ./fuzz/
	@if [ "$$(id -u)" = 0 ]; then $(BIN)/labbench --ndhc $(BIN)/ndhc; else echo "labbench skipped: needs root for its network namespaces"; fi

# netlogind against OpenSSH's sshd (needs root, openssh-server and sshpass):
# login latency next to the fork+exec baseline, and PSS per connection,
# authenticated and not, in a network namespace of the tool's own with a
# throwaway user, all removed at the end. Fewer or more:
# make bench-login LOGINBENCH_FLAGS='-logins 60 -conns 20'
LOGINBENCH_FLAGS ?=
bench-login: build
	@if [ ! -x /usr/sbin/sshd ] || ! command -v sshpass >/dev/null; then \
		echo "== installing openssh-server and sshpass (their service is not started)"; \
		created=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created=1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server sshpass >/dev/null; \
		if command -v systemctl >/dev/null; then systemctl disable --now ssh >/dev/null 2>&1 || true; fi; \
		if [ -n "$$created" ]; then rm -f /usr/sbin/policy-rc.d; fi; fi
	$(GO) build -trimpath -o $(BIN)/loginbench ./tools/loginbench
	$(BIN)/loginbench -bin $(BIN) $(LOGINBENCH_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	$(GO) vet -tags containment ./internal/containment/ ./internal/roles/
	$(GO) vet -tags containment ./internal/login/logincontainment/ ./internal/login/netrole/ ./internal/login/listener/
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags containment ./internal/containment/ ./internal/roles/
	$(STATICCHECK) -tags containment ./internal/login/logincontainment/ ./internal/login/netrole/ ./internal/login/listener/
	CGO_ENABLED=1 $(GO) vet ./internal/login/... ./cmd/netlogind-session/
	CGO_ENABLED=1 $(STATICCHECK) ./internal/login/... ./cmd/netlogind-session/

# The binaries, the role users and the state directory: what `ndhc -i eth0`
# needs on a fresh system.
install: build install-users
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BIN)/ndhc $(BIN)/ifchd $(DESTDIR)$(PREFIX)/sbin/
	install -d -m 0755 $(DESTDIR)/var/lib/ndhc

# System users for the roles, one per role, as the role table names them
# (ndhc policy --users).
install-users: build
	@for u in $$($(BIN)/ndhc policy --users); do \
		id -u $$u >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $$u; \
	done

KERNELS_FLAGS ?=

# Debian's own kernels (6.1, 6.12 and their cloud flavours) under qemu with
# TCG, with the clocksources and vCPU counts of the field and without
# Landlock: ndhc audit, then a lease and its renewal from udhcpd on a veth
# pair in each guest. Needs root, qemu-system-x86 and xz-utils; packages
# are cached in /var/cache/ndhc-kernels.
# make kernels KERNELS_FLAGS='-run 6.1/no-landlock'
kernels: build
	$(GO) run ./tools/kernels -ndhc $(BIN)/ndhc $(KERNELS_FLAGS)

# The same on arm64 guests too (qemu-system-arm).
kernels-arm64: build
	GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ndhc-arm64 ./cmd/ndhc
	$(GO) run ./tools/kernels -arch amd64,arm64 -ndhc $(BIN)/ndhc -ndhc-arm64 $(BIN)/ndhc-arm64 $(KERNELS_FLAGS)

policy: build
	$(BIN)/ndhc policy

audit: build install-users
	$(BIN)/ndhc audit

demo: build install-users
	./scripts/demo.sh

# netlogind in a network namespace of its own: a throwaway user logs in
# over TLS 1.3 and runs a command, then a table of every process of the
# connection (uid, capabilities, no_new_privs, seccomp, Landlock). Needs
# root, gcc and libpam0g-dev (installed here if missing).
demo-login:
	@if [ ! -f /usr/include/security/pam_appl.h ] || ! command -v gcc >/dev/null; then \
		echo "== installing gcc and libpam0g-dev (netlogind-session links libpam)"; \
		apt-get install -y -qq --no-install-recommends gcc libc6-dev libpam0g-dev >/dev/null; fi
	$(MAKE) build
	$(BIN)/logindemo -bin $(BIN)

clean:
	rm -rf $(BIN)

# The containment test build (build tag containment, never released):
# every role of the real daemon attacks its own sandbox in the namespace
# lab; a table of role, attack, expected, outcome, layer. Needs root.
containment:
	$(GO) test -tags containment -count=1 -timeout 20m -run TestContainment ./internal/containment/ -v
	$(GO) test -tags containment -count=1 -timeout 10m -run TestContainment ./internal/login/logincontainment/ -v
