#!/usr/bin/env bash
# CI for contrib/: the service files. Needs no running systemd (none runs
# in CI's container): systemd-analyze reads unit files offline.
#   - systemd-analyze verify on every unit, on copies whose ExecStart= points
#     at a stub in a temporary directory (verify checks that the binary
#     exists; nothing is put under /usr);
#   - systemd-analyze security --offline=true on ndhc@.service (with and
#     without the --set-hostname drop-in) and netlogind.service, failing
#     when ndhc@.service's exposure rises above NDHC_UNIT_THRESHOLD (tenths);
#   - sh -n and shellcheck on the OpenRC, runit and s6 scripts.
set -euo pipefail
# Static builds, as the Makefile makes them (.ci/run says why).
export CGO_ENABLED=0
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# The exposure ndhc@.service may not exceed, in tenths (27 = 2.7). It is
# 2.6 today; systemd-networkd.service scores 2.8 (systemd 252), and ndhc
# stays below it. contrib/README.md says what the score still counts.
NDHC_UNIT_THRESHOLD=${NDHC_UNIT_THRESHOLD:-27}

need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v shellcheck >/dev/null || need+=(shellcheck)
if [ ${#need[@]} -gt 0 ]; then
	made=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made=1
	fi
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
	[ -n "$made" ] && rm -f /usr/sbin/policy-rc.d
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
for b in ndhc netlogind; do
	printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/$b"
	chmod 755 "$tmp/bin/$b"
done
stub() { sed "s#/usr/sbin/#$tmp/bin/#g" "$1" >"$2"; }

fail=0
echo "== systemd-analyze verify"
stub contrib/systemd/ndhc@.service "$tmp/ndhc@.service"
stub contrib/systemd/netlogind.service "$tmp/netlogind.service"
# The unit with the hostname drop-in applied, as one file: the drop-in's
# ExecStart= replaces the unit's, its lists add to the unit's.
{
	grep -v '^ExecStart=' contrib/systemd/ndhc@.service | sed '/^\[Install\]/,$d'
	grep -v -e '^ExecStart=$' -e '^\[Service\]' contrib/systemd/ndhc-hostname.conf
} >"$tmp/ndhc-hostname@.service.in"
stub "$tmp/ndhc-hostname@.service.in" "$tmp/ndhc-hostname@.service"
for u in "$tmp/ndhc@.service" "$tmp/ndhc-hostname@.service" "$tmp/netlogind.service"; do
	if out=$(systemd-analyze verify --man=no "$u" 2>&1) && [ -z "$out" ]; then
		echo "ok   $(basename "$u")"
	else
		echo "FAIL $(basename "$u"):"
		echo "$out"
		fail=1
	fi
done

echo "== systemd-analyze security --offline=true"
score() { systemd-analyze security --offline=true "$@" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'; }
echo "ndhc@.service            $(score "$tmp/ndhc@.service")"
echo "ndhc@.service+hostname   $(score "$tmp/ndhc-hostname@.service")"
echo "netlogind.service        $(score "$tmp/netlogind.service")"
if [ -f /lib/systemd/system/systemd-networkd.service ]; then
	echo "systemd-networkd.service $(score /lib/systemd/system/systemd-networkd.service) (for comparison)"
fi
if ! systemd-analyze security --offline=true --threshold="$NDHC_UNIT_THRESHOLD" "$tmp/ndhc@.service" >/dev/null 2>&1; then
	echo "FAIL ndhc@.service: exposure above $NDHC_UNIT_THRESHOLD/10"
	fail=1
fi

echo "== every system call in ndhc's role policies passes the unit's SystemCallFilter="
# The unit's filter is a second fence: a call a role's own list allows but
# the unit's denies would fail with EPERM at run time. The calls the
# supervisor makes before its sandbox (chroot, seccomp, landlock_*, ...)
# come from an strace of a lab run (contrib/README.md).
expand() {
	local x
	for x in "$@"; do
		case $x in
		@*) systemd-analyze syscall-filter "$x" | grep -v '^[[:space:]]*#' | tr -s ' \n' '\n' | grep -v '^$' | tail -n +2 |
			while read -r y; do expand "$y"; done ;;
		*) echo "$x" ;;
		esac
	done
}
filter_check() { # UNIT: prints the calls of `ndhc policy` the unit does not allow
	local allow deny
	# shellcheck disable=SC2046
	allow=$(expand $(sed -n 's/^SystemCallFilter=\([^~]\)/\1/p' "$1") | sort -u)
	# shellcheck disable=SC2046
	deny=$(expand $(sed -n 's/^SystemCallFilter=~//p' "$1") | sort -u)
	# A role whose seccomp list is a deny list (the hook role: its entries
	# are calls it refuses) is left out: what its programs call is theirs,
	# under the unit's filter like everything else (contrib/README.md).
	local role roles=()
	for role in $("$tmp/ndhc-policy" policy --json | grep -oE '"role": *"[a-z]+"' | cut -d'"' -f4 | sort -u); do
		"$tmp/ndhc-policy" policy "$role" --json | grep -qE '"seccomp_default_allow": *true' || roles+=("$role")
	done
	"$tmp/ndhc-policy" policy "${roles[@]}" --json | grep -oE '"name": *"[a-z0-9_]+"' | cut -d'"' -f4 | sort -u |
		while read -r c; do
			if ! grep -qx "$c" <<<"$allow" || grep -qx "$c" <<<"$deny"; then echo "$c"; fi
		done
}
if command -v go >/dev/null && go build -o "$tmp/ndhc-policy" ./cmd/ndhc; then
	missing=$(filter_check "$tmp/ndhc@.service" | grep -vx sethostname || true)
	missing_h=$(filter_check "$tmp/ndhc-hostname@.service" || true)
	if [ -n "$missing$missing_h" ]; then
		echo "FAIL calls the unit's filter denies: ${missing:-} ${missing_h:-} (the hostname role's sethostname is the drop-in's)"
		fail=1
	else
		echo "ok   every call of every role's list, sethostname with ndhc-hostname.conf"
	fi
else
	echo "FAIL cannot build ndhc"
	fail=1
fi

echo "== shell scripts"
scripts=(contrib/runit/ndhc-eth0/run contrib/runit/ndhc-eth0/finish contrib/runit/ndhc-eth0/log/run contrib/s6/ndhc-eth0/run)
for s in "${scripts[@]}"; do
	sh -n "$s" || { echo "FAIL sh -n $s"; fail=1; }
done
if command -v shellcheck >/dev/null; then
	shellcheck -s sh "${scripts[@]}" || fail=1
	# OpenRC's openrc-run scripts are sh with OpenRC's functions.
	shellcheck -s sh -e SC2034,SC2154 contrib/openrc/ndhc || fail=1
	shellcheck .ci/units.sh || fail=1
else
	echo "shellcheck not installable: skipped"
fi
sh -n contrib/openrc/ndhc || { echo "FAIL sh -n contrib/openrc/ndhc"; fail=1; }

exit "$fail"
