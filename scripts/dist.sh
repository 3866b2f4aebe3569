#!/bin/sh
# make dist: the release source tarball ndhc-go-VERSION.tar.gz in DISTDIR
# (default bin/dist), from `git archive` of HEAD plus a VERSION file
# (scripts/version.sh's lines: a tarball has no .git to ask). The same
# commit gives the same bytes on any machine with the same GNU tar and
# gzip, whoever runs it, wherever, with whatever umask, TZ or locale:
# every entry's mtime is the commit time, entries are sorted by name,
# owner and group are 0 (no names), modes are 0644 or 0755 (0755 for
# what git records executable, and directories), the tar format is GNU
# (no pax headers with access times), and gzip -n stores no name or time.
#
# The tarball holds HEAD, not the work tree: a tree with changes to
# tracked files is refused, unless DIST_ALLOW_DIRTY=1 (then the tarball
# holds HEAD alone, and its VERSION is HEAD's, without -dirty, since
# its content is the commit's).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
distdir=${DISTDIR:-bin/dist}
case $distdir in /*) ;; *) distdir=$top/$distdir ;; esac

git rev-parse --verify -q HEAD >/dev/null || { echo "dist: not a git checkout with a commit" >&2; exit 1; }
if ! git diff-index --quiet HEAD --; then
	if [ "${DIST_ALLOW_DIRTY:-}" != 1 ]; then
		echo "dist: the work tree has changes to tracked files; commit them, or DIST_ALLOW_DIRTY=1 for a tarball of HEAD alone" >&2
		exit 1
	fi
	echo "dist: the work tree has changes; the tarball holds HEAD without them (DIST_ALLOW_DIRTY=1)" >&2
fi

# The version of HEAD itself, not of the work tree: no -dirty.
commit=$(git rev-parse HEAD)
epoch=$(git log -1 --no-show-signature --format=%ct HEAD)
time=$(TZ=UTC0 git log -1 --no-show-signature --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD)
if ! version=$(git describe --tags --match 'v[0-9]*' HEAD 2>/dev/null); then
	version=v0.0.0-$(TZ=UTC0 git log -1 --no-show-signature --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)-$(git rev-parse --short=12 HEAD)
fi
name=ndhc-go-$version

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
umask 022
mkdir "$tmp/$name"
git archive --format=tar HEAD | tar -x -C "$tmp/$name" -f -
if [ -e "$tmp/$name/VERSION" ]; then
	echo "dist: the repository has a file named VERSION; the tarball's own would replace it" >&2
	exit 1
fi
printf 'version=%s\ncommit=%s\ncommit_time=%s\ndirty=false\n' "$version" "$commit" "$time" >"$tmp/$name/VERSION"

mkdir -p "$distdir"
out=$distdir/$name.tar.gz
LC_ALL=C TZ=UTC0 tar -C "$tmp" --format=gnu --sort=name --mtime="@$epoch" \
	--owner=0 --group=0 --numeric-owner --mode='u+rw,go-w,a+rX' \
	-cf - "$name" | gzip -9 -n >"$out.tmp"
mv "$out.tmp" "$out"
( cd "$distdir" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256" )
echo "$out"
