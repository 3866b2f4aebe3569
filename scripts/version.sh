#!/bin/sh
# Prints what a build stamps into internal/version, one key=value a line:
#   version=v0.1.0          the release (semver with a v)
#   commit=<40 hex digits>  the commit built
#   commit_time=<RFC 3339>  its committer time, UTC
#   dirty=true|false        whether tracked files differ from the commit
# From the VERSION file when there is one (a release tarball, `make dist`,
# carries it: it has no .git), else from git: the version is
# `git describe --tags --match 'v*'` (v0.1.0 on the tag, v0.1.0-3-gabc1234
# three commits later, -dirty appended for a changed tree); with no v* tag
# yet, a Go-style pseudo-version v0.0.0-YYYYMMDDHHMMSS-<12 hex digits>.
# Outside both, version=devel and the rest empty.
set -eu
cd "$(dirname "$0")/.."
if [ -f VERSION ]; then
	grep -E '^(version|commit|commit_time|dirty)=' VERSION
	exit 0
fi
if ! commit=$(git rev-parse --verify -q HEAD 2>/dev/null); then
	printf 'version=devel\ncommit=\ncommit_time=\ndirty=false\n'
	exit 0
fi
dirty=false
if ! git diff-index --quiet HEAD -- 2>/dev/null; then
	dirty=true
fi
time=$(TZ=UTC0 git log -1 --no-show-signature --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD)
if ! version=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	version=v0.0.0-$(TZ=UTC0 git log -1 --no-show-signature --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)-$(git rev-parse --short=12 HEAD)
	if [ "$dirty" = true ]; then
		version=$version-dirty
	fi
fi
printf 'version=%s\ncommit=%s\ncommit_time=%s\ndirty=%s\n' "$version" "$commit" "$time" "$dirty"
