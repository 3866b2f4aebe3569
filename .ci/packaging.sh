#!/usr/bin/env bash
# CI: install and packaging (issue 16). As root on a Debian 12 machine:
#  1. `make install DESTDIR=... PREFIX=/usr` as an unprivileged user into a
#     directory it owns (no useradd, no chown), the tree it leaves, then
#     `make uninstall` leaves no file;
#  2. the sysusers.d file creates every role user on an empty root;
#  3. `make deb`, lintian without errors, the packages installed with apt-get, their binaries run,
#     the users and directories exist, dpkg -L lists the unit; then purged.
# Any failed check fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt or dpkg run rather than fail.
lock=(-o DPkg::Lock::Timeout=600)

fail() { echo "packaging: FAIL: $*" >&2; exit 1; }
ok() { echo "packaging: ok: $*"; }

work=$(mktemp -d /tmp/ndhc-packaging.XXXXXX)
created_rc=
cleanup() {
	rm -rf "$work"
	if [ -n "$created_rc" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

# Build tools. The packages' services are not started (none is enabled by
# ours, but apt may pull others in).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_rc=1
fi
apt-get "${lock[@]}" install -y -qq --no-install-recommends debhelper dpkg-dev fakeroot gcc libc6-dev libpam0g-dev lintian >/dev/null

make build >/dev/null

# 1. An unprivileged install into a staging directory, and its uninstall.
# The user cannot read root's checkout, so it gets a copy of what install
# reads: the Makefile, the built binaries, contrib/ and man/.
src=$work/src dest=$work/dest
mkdir -p "$src" "$dest"
cp -a Makefile bin contrib "$src"/
if [ -d man ]; then cp -a man "$src"/; fi
chown -R nobody:nogroup "$work"
chmod 755 "$work"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env "$@"; }
passwd_before=$(sha256sum /etc/passwd /etc/group)
as_nobody make -s -C "$src" install DESTDIR="$dest" PREFIX=/usr >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; fail "make install as nobody into DESTDIR"; }
[ "$passwd_before" = "$(sha256sum /etc/passwd /etc/group)" ] || fail "make install changed /etc/passwd or /etc/group"
echo "== find DESTDIR (make install DESTDIR=\$D PREFIX=/usr, as nobody)"
(cd "$dest" && find . -mindepth 1 -printf '%M %u %p\n' | sort -k3)
for f in usr/sbin/ndhc usr/sbin/ifchd usr/sbin/netlogind usr/bin/netlogin \
	usr/lib/sysusers.d/ndhc.conf usr/lib/sysusers.d/netlogind.conf \
	usr/lib/tmpfiles.d/ndhc.conf usr/lib/tmpfiles.d/netlogind.conf; do
	[ -f "$dest/$f" ] || fail "make install did not install /$f"
done
if [ -f bin/netlogind-session ] && [ ! -f "$dest/usr/sbin/netlogind-session" ]; then fail "netlogind-session built but not installed"; fi
units=$(find "$dest/lib/systemd/system" -name '*.service' 2>/dev/null | wc -l)
[ "$units" -ge 1 ] || fail "make install installed no systemd unit under /lib/systemd/system"
# Directives only: a unit's comments may show a drop-in for /usr/local.
if grep -rh -v '^[[:space:]]*#' "$dest/lib/systemd/system" 2>/dev/null | grep -q /usr/local; then fail "a unit installed with PREFIX=/usr names /usr/local"; fi
notmine=$(find "$dest" ! -user nobody | wc -l)
[ "$notmine" = 0 ] || fail "$notmine installed paths not owned by the installing user"
installed=$(find "$dest" -type f | wc -l)
as_nobody make -s -C "$src" uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null 2>&1 || fail "make uninstall"
left=$(find "$dest" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "install as nobody: $installed files, $units unit(s); uninstall left no file"

# 2. The sysusers.d file creates every role user on a root that has none
# (the CI machine may have them already from make test).
root=$work/sysroot
mkdir -p "$root/etc" "$root/usr/lib/sysusers.d"
cp contrib/sysusers.d/ndhc.conf "$root/usr/lib/sysusers.d/"
# As the package's postinst runs it (with DPKG_ROOT).
systemd-sysusers --root="$root" ndhc.conf >/dev/null 2>&1 || fail "systemd-sysusers --root"
for u in $(bin/ndhc policy --users); do
	grep -q "^$u:x:[0-9]*:[0-9]*:.*:/nonexistent:/usr/sbin/nologin$" "$root/etc/passwd" || fail "sysusers.d/ndhc.conf does not create $u"
	grep -q "^$u:x:" "$root/etc/group" || fail "sysusers.d/ndhc.conf does not create group $u"
done
ok "sysusers.d/ndhc.conf creates $(bin/ndhc policy --users | wc -l) users on an empty root"

# 3. The Debian packages.
make deb DEBDIR="$work/deb" >"$work/deb.log" 2>&1 || { tail -40 "$work/deb.log"; fail "make deb"; }
ls -l "$work/deb"
# Debian's checks: errors fail (debian/*.lintian-overrides say why the Go
# binaries are static); warnings are shown.
lintian --fail-on error --tag-display-limit 0 "$work"/deb/*.changes 2>&1 | grep -v 'root privileges' || true
lintian --fail-on error -q "$work"/deb/*.changes >/dev/null 2>&1 || fail "lintian reports errors"
existed=
for d in /run/ndhc /run/netlogind /var/lib/ndhc; do [ -e "$d" ] && existed="$existed $d"; done
apt-get "${lock[@]}" install -y -qq --no-install-recommends "$work"/deb/ndhc_*.deb "$work"/deb/netlogind_*.deb >/dev/null
dpkg-query -W ndhc netlogind
/usr/sbin/ndhc version || fail "ndhc version"
/usr/sbin/netlogind version || fail "netlogind version"
/usr/sbin/ifchd -h >/dev/null 2>&1 || [ $? -le 2 ] || fail "ifchd does not run"
[ -x /usr/bin/netlogin ] || fail "netlogin not installed"
[ -x /usr/sbin/netlogind-session ] || fail "netlogind-session not installed"
dpkg -s netlogind | grep -q '^Depends:.*libpam0g' || fail "netlogind does not depend on libpam0g"
for u in $(/usr/sbin/ndhc policy --users); do id "$u" >/dev/null || fail "user $u missing after install"; done
for d in /var/lib/ndhc /run/ndhc/empty /run/netlogind/empty; do
	[ "$(stat -c '%U:%G %a' "$d")" = "root:root 755" ] || fail "$d: $(stat -c '%U:%G %a' "$d"), want root:root 755"
done
dpkg -L ndhc | grep -q '^/lib/systemd/system/ndhc@\.service$' || fail "dpkg -L ndhc lists no ndhc@.service"
echo "== dpkg -L ndhc netlogind"
dpkg -L ndhc netlogind | grep -v -e '^/\.$' -e '^$' | sort -u
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	if systemctl is-enabled 'ndhc@eth0.service' >/dev/null 2>&1; then fail "the package enabled ndhc@"; fi
fi
apt-get "${lock[@]}" purge -y -qq ndhc netlogind >/dev/null
for f in /usr/sbin/ndhc /usr/sbin/ifchd /usr/sbin/netlogind /usr/bin/netlogin /lib/systemd/system/ndhc@.service /usr/lib/sysusers.d/ndhc.conf /var/lib/ndhc; do
	[ ! -e "$f" ] || fail "$f left after purge"
done
if dpkg-query -W ndhc >/dev/null 2>&1 && [ "$(dpkg-query -W -f '${db:Status-Status}' ndhc)" != not-installed ]; then fail "ndhc still known to dpkg"; fi
# The runtime directories the packages' tmpfiles.d made, if there were none.
for d in /run/netlogind /run/ndhc; do
	case " $existed " in *" $d "*) ;; *) rmdir "$d/empty" "$d" 2>/dev/null || true ;; esac
done
ok "deb: built, installed, ran, users and directories present, unit listed, purged"
