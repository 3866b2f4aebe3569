#!/usr/bin/env bash
# CI: DNS backends (issue 16). As root on a Debian 12 machine:
#  1. the polkit rule of the dns role parses, and grants exactly the four
#     resolve1 actions to ndhc-dns and nothing to anyone else (node, the
#     way polkitd evaluates it);
#  2. the dns role's tests: its wire format and mode decision, and in the
#     lab a private dbus-daemon with a fake systemd-resolved that must get
#     the lease's servers and domains for the lab interface, from the dns
#     role's uid, and RevertLink on release and stop; file mode refuses a
#     symlinked resolv.conf.
# Any failed check fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# Static builds, as the Makefile makes them (.ci/run says why).
export CGO_ENABLED=0

apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends dbus-daemon nodejs >/dev/null

node --check - <contrib/polkit/ndhc.rules
node contrib/polkit/check-rules.js contrib/polkit/ndhc.rules

CI=true go test -count=1 -run 'TestLabDNS|TestDecideDNS' ./cmd/ndhc/ ./cmd/ifchd/
go test -count=1 ./internal/dnsrole/ ./ifch/apply/
