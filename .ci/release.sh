#!/usr/bin/env bash
# CI: what a release needs (RELEASING.md). make reproducible-check (the
# source tarball twice, every binary built twice from it, compared), then
# .ci/goversions.sh (the oldest and newest supported Go: build, vet, unit
# tests, ndhc and netlogind audits and a lab lease). Needs root, the lab's
# packages (.ci/run installs them before) and, for netlogind-session in
# the comparison, gcc and libpam0g-dev, installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# Static builds, as the Makefile makes them (.ci/run says why).
export CGO_ENABLED=0
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /usr/include/security/pam_appl.h ] || ! command -v gcc >/dev/null; then
	apt-get install -y -qq --no-install-recommends gcc libc6-dev libpam0g-dev >/dev/null
fi
# The tarball holds HEAD; a file a test left changed does not stop it.
DIST_ALLOW_DIRTY=1 make --no-print-directory reproducible-check
bash .ci/goversions.sh
