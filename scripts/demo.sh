#!/usr/bin/env bash
# make demo: a network-namespace lab with dnsmasq, the sandboxed client
# getting a lease in it, and what every ndhc process looks like from the
# kernel's side. Needs root; installs dnsmasq-base and iproute2 if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root: it creates network namespaces and the client enters its sandboxes" >&2
	exit 2
fi
if ! command -v dnsmasq >/dev/null || ! command -v ip >/dev/null; then
	echo "== installing dnsmasq-base and iproute2 (no service is started)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dnsmasq-base iproute2 >/dev/null
fi
exec bin/ndhc-demo --ndhc bin/ndhc
