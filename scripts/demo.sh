#!/usr/bin/env bash
# make demo: what ndhc's sandbox looks like from the inside.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root: it creates users and network namespaces and enters sandboxes" >&2
	exit 2
fi
echo "== ndhc policy: what each role may do =="
bin/ndhc policy | sed -n '1,/^$/p'
echo "(bin/ndhc policy prints every role; --json for machines)"
echo
echo "== ndhc audit: every role proven from inside its sandbox =="
bin/ndhc audit
