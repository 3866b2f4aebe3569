#!/usr/bin/env bash
# CI: the manual pages (man/) and the shell completions
# (contrib/completion/). Installs mandoc and zsh, lints every page with
# mandoc -Tlint -Wwarning (make man-lint), then runs internal/manuals'
# tests with both present, so that none of them is skipped: every flag of
# every binary on its page and in both completions, bash completion run
# in bash, zsh -n on the zsh files.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# Static builds, as the Makefile makes them (.ci/run says why).
export CGO_ENABLED=0
export DEBIAN_FRONTEND=noninteractive

# A policy-rc.d of our own (removed on exit, whatever happens) keeps
# package services from starting; another one is left alone.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt_install() {
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >/dev/null
}
if ! command -v mandoc >/dev/null || ! command -v zsh >/dev/null; then
	apt_install mandoc zsh || { apt-get update -qq -o DPkg::Lock::Timeout=300; apt_install mandoc zsh; }
fi
if [ -n "$(trap -p EXIT)" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi

make man-lint
out=$(go test -count=1 -v ./internal/manuals/ 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^(--- |ok|PASS)' || true
if echo "$out" | grep -q -- '--- SKIP'; then
	echo "manuals: a test was skipped in CI:"
	echo "$out" | grep -A2 -- '--- SKIP'
	exit 1
fi
