#!/usr/bin/env bash
# CI: the Go versions README's "Supported platforms" names, the oldest
# (go.mod's go line) and the newest tested, each fetched by the go command
# itself (GOTOOLCHAIN=goX.Y.Z: the toolchain module from the Go module
# proxy, ~10 s). For each:
#   - every static binary (ndhc, ifchd, netlogind, netlogin);
#   - the unit tests of the packages that need no lab (go vet is left to
#     make lint: it checks the source, which no runtime changes);
#   - the seccomp allowlists against that runtime: bin/ndhc audit (every
#     role enters its sandbox, every probe as expected), bin/netlogind
#     audit ([net]'s sandbox), and real leases in the namespace lab
#     (TestLabOneShot: supervisor, sockd, ifch and engine bind from
#     dnsmasq; TestLabSetHostname: the hostname role too), since a Go
#     runtime that makes a system call the lists lack kills its role.
# Needs root (the sandbox, the lab) and the lab's dnsmasq (.ci/run
# installs internal/lab/packages.txt). GOVERSIONS='go1.26.0 go1.27.3'
# overrides the list.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# Static builds, as the Makefile makes them (.ci/run says why).
export CGO_ENABLED=0

oldest=go$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
newest=go1.27.3
read -r -a versions <<<"${GOVERSIONS:-$oldest $newest}"

# The packages whose tests need neither the lab nor long runs: codecs,
# parsers, configuration, policies, the roles' table and the engine.
unit=(./dhcp/... ./ifch/... ./internal/conf ./internal/config ./internal/engine
	./internal/event ./internal/ifchrole ./internal/linkev ./internal/logging
	./internal/login/wire ./internal/login/hostkey ./internal/notify ./internal/roles
	./internal/version ./policies ./sandbox/probe ./cmd/ifchd ./cmd/netlogin)

if [ "$(id -u)" != 0 ]; then
	echo "goversions: needs root (the sandbox audit and the lab)" >&2
	exit 1
fi
make --no-print-directory install-users >/dev/null

work=$(mktemp -d /tmp/ndhc-goversions.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
summary=()
for v in "${versions[@]}"; do
	export GOTOOLCHAIN=$v
	start=$(date +%s)
	echo "== $v"
	got=$(go env GOVERSION)
	if [ "$got" != "$v" ]; then
		echo "goversions: GOTOOLCHAIN=$v gives $got" >&2
		exit 1
	fi
	bin=$work/$v
	# The static binaries as the Makefile builds them (not make build
	# itself: its tools, and netlogind-session, a cgo PIE that recompiles
	# the standard library, run no allowlist).
	go build -trimpath -buildvcs=false -ldflags '-s -w -buildid=' -o "$bin/" ./cmd/ndhc ./cmd/ifchd ./cmd/netlogind ./cmd/netlogin
	"$bin/ndhc" --version
	case $("$bin/ndhc" version --json) in
	*"\"go\":\"$v\""*) ;;
	*) echo "goversions: $bin/ndhc was not built by $v" >&2; exit 1 ;;
	esac
	if ! go test -count=1 "${unit[@]}" >"$work/unit-$v.txt" 2>&1; then
		cat "$work/unit-$v.txt"
		echo "goversions: unit tests failed with $v" >&2
		exit 1
	fi
	echo "unit tests: $(grep -c '^ok ' "$work/unit-$v.txt") packages passed"
	"$bin/ndhc" audit >"$work/audit-$v.txt" 2>&1 || { cat "$work/audit-$v.txt"; echo "goversions: ndhc audit failed with $v" >&2; exit 1; }
	echo "ndhc audit: $(grep -c . "$work/audit-$v.txt") lines, passed"
	"$bin/netlogind" audit >"$work/nlaudit-$v.txt" 2>&1 || { cat "$work/nlaudit-$v.txt"; echo "goversions: netlogind audit failed with $v" >&2; exit 1; }
	echo "netlogind audit: passed"
	go test -count=1 -timeout 5m -run '^TestLab(OneShot|SetHostname)$' -v ./cmd/ndhc/ >"$work/lab-$v.txt" 2>&1 || { cat "$work/lab-$v.txt"; echo "goversions: the lab lease failed with $v" >&2; exit 1; }
	grep -E '^(--- |ok )' "$work/lab-$v.txt"
	if grep -q -- '--- SKIP' "$work/lab-$v.txt"; then
		echo "goversions: a lab test skipped with $v" >&2
		exit 1
	fi
	summary+=("$v: build, unit tests, ndhc audit, netlogind audit, lab lease passed in $(($(date +%s) - start)) s")
done
printf '%s\n' "${summary[@]}"
