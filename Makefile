# ndhc-go. Every target works on a fresh Debian 12 machine; the ones that
# touch namespaces, users or the sandbox need root.

GO        ?= go
FUZZTIME  ?= 10s
BIN       := bin
# What the binaries say they are (internal/version, `ndhc version`):
# scripts/version.sh reads a release tarball's VERSION file, or asks git
# (the nearest v* tag, else a pseudo-version of the commit). -buildid=
# and -buildvcs=false (GOFLAGS below): the same source gives the same
# bytes from a git checkout or a tarball, in any directory (make
# reproducible-check).
VERSION_INFO := $(shell ./scripts/version.sh 2>/dev/null)
VERSION   ?= $(or $(patsubst version=%,%,$(filter version=%,$(VERSION_INFO))),devel)
COMMIT    ?= $(patsubst commit=%,%,$(filter commit=%,$(VERSION_INFO)))
COMMIT_TIME ?= $(patsubst commit_time=%,%,$(filter commit_time=%,$(VERSION_INFO)))
DIRTY     ?= $(patsubst dirty=%,%,$(filter dirty=%,$(VERSION_INFO)))
VPKG      := github.com/ndhc-go/ndhc/internal/version
LDFLAGS   := -s -w -buildid= -X $(VPKG).version=$(VERSION) -X $(VPKG).commit=$(COMMIT) -X $(VPKG).commitTime=$(COMMIT_TIME) -X $(VPKG).dirty=$(DIRTY)
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)

# Static binaries: syscall.AllThreadsSyscall, which the sandbox uses to
# change every thread's capabilities and prctl state, refuses to run in a
# cgo build.
export CGO_ENABLED = 0
export GOFLAGS := $(strip $(GOFLAGS) -buildvcs=false)

PREFIX    ?= /usr/local
DESTDIR   ?=

.PHONY: all build test fuzz fuzz-totals bench bench-login demo demo-login lint clean install install-users audit policy kernels kernels-arm64 containment hostile soak man-lint uninstall deb dist reproducible-check

all: build

# netlogind-session links libpam (cgo, libpam0g-dev): the one binary that
# is not static, and the one process that is not sandboxed (it stays root
# to start commands as the user; DESIGN.md, netlogind).
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/ndhc ./cmd/ifchd ./cmd/netlogind ./cmd/netlogin
	@if [ -f /usr/include/security/pam_appl.h ] && command -v gcc >/dev/null; then \
		echo "CGO_ENABLED=1 $(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/netlogind-session"; \
		CGO_ENABLED=1 $(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/netlogind-session; \
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

# Codec benchmarks against insomniacslk/dhcp (parse, build, and the
# receive path from the raw socket's bytes to the validated lease), then
# (as root) the lab benchmark, tools/labbench: ndhc-go with and without its
# ARP check beside busybox udhcpc, dhcpcd and ISC dhclient (installed when
# missing), exec to first DISCOVER and to bound, processes, PSS and root
# processes once bound, and the time to a good address past a squatter
# against dhcpcd; event-driven timing, medians, ratios, and every run in
# $(BIN)/bench.json. Fewer runs: make bench LABBENCH_FLAGS='-runs 3'
LABBENCH_FLAGS ?=
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./dhcp/ ./dhcp/client/ ./fuzz/
	@if [ "$$(id -u)" != 0 ]; then echo "labbench skipped: needs root for its network namespaces"; exit 0; fi; \
	if ! command -v dhclient >/dev/null || ! command -v dhcpcd >/dev/null || ! command -v busybox >/dev/null || ! command -v dnsmasq >/dev/null; then \
		echo "== installing the peers: isc-dhcp-client dhcpcd-base busybox dnsmasq-base (no service is started)"; \
		created=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; created=1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends isc-dhcp-client dhcpcd-base busybox dnsmasq-base >/dev/null || echo "== install failed: labbench reports the missing peers"; \
		if [ -n "$$created" ]; then rm -f /usr/sbin/policy-rc.d; fi; fi; \
	$(BIN)/labbench --ndhc $(BIN)/ndhc --json $(BIN)/bench.json $(LABBENCH_FLAGS)

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
	$(GO) vet -tags memaccount ./internal/roles/
	$(GO) vet -tags containment ./internal/login/logincontainment/ ./internal/login/netrole/ ./internal/login/listener/
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags containment ./internal/containment/ ./internal/roles/
	$(STATICCHECK) -tags memaccount ./internal/roles/
	$(STATICCHECK) -tags containment ./internal/login/logincontainment/ ./internal/login/netrole/ ./internal/login/listener/
	CGO_ENABLED=1 $(GO) vet ./internal/login/... ./cmd/netlogind-session/
	CGO_ENABLED=1 $(STATICCHECK) ./internal/login/... ./cmd/netlogind-session/

# Install, uninstall and the Debian package. `make install` only copies
# files: it creates no user and changes no owner, so it runs as any user
# into DESTDIR (make install DESTDIR=/tmp/stage PREFIX=/usr). On the
# target, the sysusers.d and tmpfiles.d files create the role users and
# the directories (systemd-sysusers, systemd-tmpfiles --create, as the
# package does), or `make install-users` on a machine without them.
# install builds only what is missing: run `make build` first after a
# change. UNITDIR is /lib/systemd/system for PREFIX=/usr (Debian 12), and
# the units' ExecStart paths (/usr/sbin or /usr/local/sbin) become SBINDIR.
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
ifeq ($(PREFIX),/usr)
UNITDIR     ?= /lib/systemd/system
else
UNITDIR     ?= $(PREFIX)/lib/systemd/system
endif
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
# The polkit rule of the dns role (--dns resolved): polkitd reads
# /usr/share/polkit-1/rules.d and /etc/polkit-1/rules.d.
POLKITRULESDIR ?= $(PREFIX)/share/polkit-1/rules.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Examples an administrator copies: the lease hooks (contrib/hooks) and
# the systemd drop-in for --set-hostname.
EXAMPLESDIR ?= $(PREFIX)/share/doc/ndhc/examples
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions

INST_SBIN   := ndhc ifchd netlogind netlogind-session
INST_BIN    := netlogin
INST_UNITS  := $(wildcard contrib/systemd/*.service contrib/systemd/*.socket)
INST_UNITS  += $(filter-out $(addprefix contrib/,$(notdir $(INST_UNITS))),$(wildcard contrib/ndhc@.service))
INST_MANS   := $(wildcard man/*.[1-8])
INST_CONF   := ndhc.conf netlogind.conf

$(BIN)/ndhc:
	$(MAKE) build

install: $(BIN)/ndhc
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	@for p in $(INST_SBIN); do \
		if [ -f $(BIN)/$$p ]; then echo "install -m 0755 $(BIN)/$$p $(DESTDIR)$(SBINDIR)/"; install -m 0755 $(BIN)/$$p $(DESTDIR)$(SBINDIR)/ || exit 1; \
		else echo "install: $(BIN)/$$p not built, not installed"; fi; done
	install -m 0755 $(addprefix $(BIN)/,$(INST_BIN)) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(addprefix contrib/sysusers.d/,$(INST_CONF)) $(DESTDIR)$(SYSUSERSDIR)/
	install -m 0644 $(addprefix contrib/tmpfiles.d/,$(INST_CONF)) $(DESTDIR)$(TMPFILESDIR)/
	@set -e; for u in $(INST_UNITS); do \
		install -d $(DESTDIR)$(UNITDIR); \
		echo "install $$u -> $(DESTDIR)$(UNITDIR)/$$(basename $$u)"; \
		sed -E -e '/^Exec/s,/usr/(local/)?sbin/,$(SBINDIR)/,g' -e '/^Exec/s,/usr/(local/)?bin/,$(BINDIR)/,g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); done
	@set -e; for m in $(INST_MANS); do s=$${m##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$s; \
		echo "install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	@# bash-completion loads a command's file by the command's name: one
	@# file serves ndhc and ifchd, one netlogin and netlogind (links).
	@set -e; for pair in ndhc:ifchd netlogin:netlogind; do main=$${pair%%:*}; alias=$${pair#*:}; \
		if [ -f contrib/completion/$$main.bash ]; then install -d $(DESTDIR)$(BASHCOMPDIR); \
			install -m 0644 contrib/completion/$$main.bash $(DESTDIR)$(BASHCOMPDIR)/$$main; \
			ln -sf $$main $(DESTDIR)$(BASHCOMPDIR)/$$alias; echo "install contrib/completion/$$main.bash -> $(DESTDIR)$(BASHCOMPDIR)/$$main (and $$alias)"; fi; \
		if [ -f contrib/completion/_$$main ]; then install -d $(DESTDIR)$(ZSHCOMPDIR); \
			install -m 0644 contrib/completion/_$$main $(DESTDIR)$(ZSHCOMPDIR)/_$$main; echo "install contrib/completion/_$$main -> $(DESTDIR)$(ZSHCOMPDIR)/_$$main"; fi; \
	done
	install -d $(DESTDIR)$(POLKITRULESDIR)
	install -m 0644 contrib/polkit/ndhc.rules $(DESTDIR)$(POLKITRULESDIR)/
	install -d $(DESTDIR)$(EXAMPLESDIR)
	install -m 0755 contrib/hooks/log-event contrib/hooks/chrony $(DESTDIR)$(EXAMPLESDIR)/
	install -m 0644 contrib/hooks/chrony.tmpfiles $(DESTDIR)$(EXAMPLESDIR)/
	install -m 0644 contrib/hooks/README $(DESTDIR)$(EXAMPLESDIR)/README.hooks
	sed -E -e '/^Exec/s,/usr/(local/)?sbin/,$(SBINDIR)/,g' contrib/systemd/ndhc-hostname.conf >$(DESTDIR)$(EXAMPLESDIR)/ndhc-hostname.conf
	chmod 0644 $(DESTDIR)$(EXAMPLESDIR)/ndhc-hostname.conf

# Removes the files install installs, with the same variables; the
# directories stay (they are shared: /usr/local/sbin, the man sections).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(INST_SBIN)) $(addprefix $(DESTDIR)$(BINDIR)/,$(INST_BIN))
	rm -f $(addprefix $(DESTDIR)$(SYSUSERSDIR)/,$(INST_CONF)) $(addprefix $(DESTDIR)$(TMPFILESDIR)/,$(INST_CONF))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(INST_UNITS)))
	rm -f $(foreach m,$(INST_MANS),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(DESTDIR)$(BASHCOMPDIR)/ndhc $(DESTDIR)$(BASHCOMPDIR)/ifchd $(DESTDIR)$(ZSHCOMPDIR)/_ndhc
	rm -f $(DESTDIR)$(BASHCOMPDIR)/netlogin $(DESTDIR)$(BASHCOMPDIR)/netlogind $(DESTDIR)$(ZSHCOMPDIR)/_netlogin
	rm -f $(DESTDIR)$(POLKITRULESDIR)/ndhc.rules
	rm -f $(addprefix $(DESTDIR)$(EXAMPLESDIR)/,log-event chrony chrony.tmpfiles README.hooks ndhc-hostname.conf)
	-rmdir $(DESTDIR)$(EXAMPLESDIR) $(DESTDIR)$(dir $(EXAMPLESDIR:/=)) 2>/dev/null

# The role users on this machine (needs root), from the same sysusers.d
# file the package installs: systemd-sysusers where present, useradd
# otherwise.
install-users:
	@if command -v systemd-sysusers >/dev/null; then \
		echo "systemd-sysusers $(CURDIR)/contrib/sysusers.d/ndhc.conf"; systemd-sysusers $(CURDIR)/contrib/sysusers.d/ndhc.conf; \
	else for u in $$(awk '$$1 == "u" { print $$2 }' contrib/sysusers.d/ndhc.conf); do \
		id -u $$u >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $$u; \
	done; fi

# The Debian packages ndhc and netlogind (debian/; needs debhelper and
# libpam0g-dev, and the Go on PATH: debian/README.source), written to
# DEBDIR with their .buildinfo and .changes.
DEBDIR ?= $(BIN)/deb
deb:
	dpkg-buildpackage -b -us -uc
	@set -e; v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg-architecture -qDEB_HOST_ARCH); mkdir -p $(DEBDIR); \
	for f in ../ndhc_$${v}_$$a.deb ../netlogind_$${v}_$$a.deb ../ndhc-dbgsym_$${v}_$$a.deb ../netlogind-dbgsym_$${v}_$$a.deb ../ndhc_$${v}_$$a.buildinfo ../ndhc_$${v}_$$a.changes; do \
		if [ -f $$f ]; then mv $$f $(DEBDIR)/; fi; done; ls -l $(DEBDIR)

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

# Releases (RELEASING.md). dist: the source tarball
# DISTDIR/ndhc-go-VERSION.tar.gz and its .sha256, from git archive of
# HEAD with a VERSION file added, the same bytes on every run
# (scripts/dist.sh; a tree with changes is refused unless
# DIST_ALLOW_DIRTY=1). reproducible-check: that tarball twice, then every
# binary built twice from it in two directories with different umasks,
# time zones, locales and build caches; a table of binary, sha256 and
# whether they agree, failing on any difference
# (scripts/reproducible-check.sh).
DISTDIR ?= $(BIN)/dist
dist:
	DISTDIR=$(DISTDIR) ./scripts/dist.sh

reproducible-check:
	GO=$(GO) ./scripts/reproducible-check.sh
