#!/bin/bash
# make reproducible-check: the release tarball (make dist) twice, then
# every binary built twice from it, unpacked in two different directories,
# with different umasks, time zones, locales and Go build caches (the
# second cache starts empty, so no object of the first build is reused).
# Prints a table of binary, sha256 and whether the two builds agree, and
# fails on any difference, on a tarball that differs between two runs of
# make dist, or on a binary that does not report the tarball's version and
# commit. netlogind-session is built and compared where gcc and libpam0g-dev
# are present (the Makefile skips it otherwise).
#
# REPRO_KEEP=1 keeps the work directory; DIST_ALLOW_DIRTY=1 as for make
# dist (the tarball holds HEAD).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
go=${GO:-go}
work=$(mktemp -d /tmp/ndhc-repro.XXXXXX)
if [ "${REPRO_KEEP:-}" = 1 ]; then
	echo "reproducible-check: work directory $work (kept)"
else
	trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT INT TERM
fi
fail=0

# 1. The tarball, twice, under different settings.
tarball() { # dir umask tz lang
	(umask "$2"; TZ=$3 LANG=$4 LC_ALL=$4 DISTDIR=$1 ./scripts/dist.sh)
}
t1=$(tarball "$work/dist1" 022 UTC C)
t2=$(tarball "$work/dist2" 077 Pacific/Chatham C.UTF-8)
s1=$(sha256sum <"$t1" | cut -d' ' -f1)
s2=$(sha256sum <"$t2" | cut -d' ' -f1)
name=$(basename "$t1" .tar.gz)
printf '%-28s %s %s\n' "$(basename "$t1")" "$s1" "$([ "$s1" = "$s2" ] && echo identical || echo DIFFERENT)"
if [ "$s1" != "$s2" ]; then
	echo "reproducible-check: make dist gave $s1 and $s2" >&2
	fail=1
fi

# 2. Unpack into two directories of different depth and name lengths.
a=$work/a
b=$work/second-build/with/a/longer/path
mkdir -p "$a" "$b"
tar -xzf "$t1" -C "$a"
tar -xzf "$t1" -C "$b"

# 3. Build in each. Build A uses the ordinary Go build cache; build B an
# empty one of its own. Both use the module cache as it is (read-only:
# GOFLAGS=-modcacherw is not set) and never the network.
modcache=$($go env GOMODCACHE)
build() { # dir umask tz lang gocache
	(cd "$1/$name" && umask "$2" && TZ=$3 LANG=$4 LC_ALL=$4 GOCACHE=$5 GOMODCACHE=$modcache GOPROXY=off GOFLAGS='' \
		make --no-print-directory build GO="$go" >"$1/build.log" 2>&1) || {
		echo "reproducible-check: the build in $1 failed:" >&2
		cat "$1/build.log" >&2
		exit 1
	}
}
build "$a" 022 UTC C "$($go env GOCACHE)"
build "$b" 027 Asia/Kolkata C.UTF-8 "$work/gocache-b"

# 4. Compare.
printf '%-20s %-64s %s\n' binary sha256 identical?
n=0
for f in "$a/$name/bin"/*; do
	bin=$(basename "$f")
	n=$((n + 1))
	ha=$(sha256sum <"$f" | cut -d' ' -f1)
	if [ ! -f "$b/$name/bin/$bin" ]; then
		printf '%-20s %-64s %s\n' "$bin" "$ha" "MISSING in the second build"
		fail=1
		continue
	fi
	hb=$(sha256sum <"$b/$name/bin/$bin" | cut -d' ' -f1)
	if [ "$ha" = "$hb" ]; then
		printf '%-20s %-64s %s\n' "$bin" "$ha" yes
	else
		printf '%-20s %-64s %s\n' "$bin" "$ha" "NO (second build: $hb)"
		fail=1
	fi
done
for f in "$b/$name/bin"/*; do
	if [ ! -f "$a/$name/bin/$(basename "$f")" ]; then
		printf '%-20s %-64s %s\n' "$(basename "$f")" - "MISSING in the first build"
		fail=1
	fi
done
if [ "$n" -lt 4 ]; then
	echo "reproducible-check: only $n binaries built" >&2
	fail=1
fi

# 5. What the binaries say they are: the tarball's VERSION file.
want_version=$(sed -n 's/^version=//p' "$a/$name/VERSION")
want_commit=$(sed -n 's/^commit=//p' "$a/$name/VERSION")
json=$("$a/$name/bin/ndhc" version --json)
for kv in "\"version\":\"$want_version\"" "\"commit\":\"$want_commit\"" '"dirty":false'; do
	case $json in
	*"$kv"*) ;;
	*) echo "reproducible-check: ndhc version --json gave $json, without $kv" >&2; fail=1 ;;
	esac
done
for bin in ifchd netlogind netlogin netlogind-session; do
	[ -x "$a/$name/bin/$bin" ] || continue
	line=$("$a/$name/bin/$bin" --version)
	case $line in
	"$bin $want_version commit ${want_commit:0:12} "*) ;;
	*) echo "reproducible-check: $bin --version gave \"$line\"" >&2; fail=1 ;;
	esac
done
"$a/$name/bin/ndhc" --version
if [ "$fail" != 0 ]; then
	echo "reproducible-check: FAILED" >&2
	exit 1
fi
echo "reproducible-check: $n binaries, each the same bytes from both builds; the tarball the same bytes twice"
