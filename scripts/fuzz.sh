#!/usr/bin/env bash
# Runs every native Go fuzz target of the module for $FUZZTIME each (default
# 10s) and fails if any of them finds a failing input. New failing inputs are
# written by go test under the package's testdata/fuzz/<Target>/: commit them
# as regression cases.
#
#   scripts/fuzz.sh                 all packages (go test -list '^Fuzz' ./...)
#   scripts/fuzz.sh ./dhcp/ ./fuzz/ only these packages
#   FUZZTIME=30s scripts/fuzz.sh    longer runs ("1000x" counts executions)
#   FUZZPARALLEL=1 scripts/fuzz.sh  fewer fuzzing workers (go test -parallel)
#   FUZZMINIMIZETIME=60s            time to minimize each new input (default 3s:
#                                   go's 60s default would eat short runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
fuzztime=${FUZZTIME:-10s}
minimizetime=${FUZZMINIMIZETIME:-3s}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then
	parallel=(-parallel "$FUZZPARALLEL")
fi
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./...)
fi

if ! list=$(go test -list '^Fuzz' "${pkgs[@]}" 2>&1); then
	printf '%s\n' "$list" >&2
	echo "fuzz.sh: listing the fuzz targets failed" >&2
	exit 1
fi

# go test -list prints a package's matching names, then "ok  <pkg> <time>".
targets=()
names=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*) names+=("$line") ;;
	"ok "*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in ${names[@]+"${names[@]}"}; do
			targets+=("$pkg $n")
		done
		names=()
		;;
	*) names=() ;;
	esac
done <<<"$list"

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets found in ${pkgs[*]}" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "== $name ($pkg, $fuzztime)"
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" ${parallel[@]+"${parallel[@]}"} "$pkg" 2>&1 | tee "$log"; then
		status=ok
	else
		status=FAIL
		failed+=("$name ($pkg)")
	fi
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | awk '{print $2}' || true)
	summary+=("$(printf '%-4s %-28s %12s execs  %s' "$status" "$name" "${execs:-?}" "$pkg")")
done

echo
echo "== fuzz summary ($fuzztime per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: failing inputs found by: ${failed[*]}" >&2
	exit 1
fi
