#!/usr/bin/env bash
# CI: the example lease hooks of contrib/hooks are POSIX sh: parsed by dash
# and checked by shellcheck as sh. Their behaviour under hostile JSON is
# tested by internal/hook (make test).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v dash >/dev/null || need+=(dash)
if [ ${#need[@]} -gt 0 ]; then
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
hooks=(contrib/hooks/log-event contrib/hooks/chrony)
for h in "${hooks[@]}"; do
	dash -n "$h" || { echo "hooks.sh: $h does not parse as POSIX sh" >&2; exit 1; }
	[ -x "$h" ] || { echo "hooks.sh: $h is not executable" >&2; exit 1; }
done
shellcheck -s sh "${hooks[@]}"
echo "hooks.sh: ${#hooks[@]} example hooks parse and pass shellcheck"
