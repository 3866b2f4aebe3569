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
export DEBIAN_FRONTEND=noninteractive

created=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created=1
fi
if ! apt-get install -y -qq --no-install-recommends mandoc zsh >/dev/null; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends mandoc zsh >/dev/null
fi
if [ -n "$created" ]; then rm -f /usr/sbin/policy-rc.d; fi

make man-lint
out=$(go test -count=1 -v ./internal/manuals/ 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^(--- |ok|PASS)' || true
if echo "$out" | grep -q -- '--- SKIP'; then
	echo "manuals: a test was skipped in CI:"
	echo "$out" | grep -A2 -- '--- SKIP'
	exit 1
fi
