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
#   FUZZNICE=19                     run go test under nice -n 19 (default: none)
#   FUZZRUN=Routes                  only targets whose name matches this regexp
#   FUZZRECORD=fuzz/campaign.tsv    the campaign record (default; "" = none)
#   scripts/fuzz.sh --totals        print the record's totals per target
#
# Every run appends one line per target to the campaign record, a
# tab-separated file in the repository, so the fuzzing time of each target
# accumulates across sessions and machines:
#   date  target(pkg.Name)  seconds  execs  new-interesting  result  go-version
# seconds and execs are go's own figures for the fuzzing phase (the last
# "fuzz: elapsed" line); result is ok, FAIL (a failing input: found and
# written under testdata/fuzz/, or already in the corpus), ERROR (the run
# failed otherwise, for example the build) or deadline: go reported its
# own -fuzztime deadline as the target's failure ("context deadline
# exceeded") and wrote no failing input, a race in the fuzzing coordinator
# that Go 1.27 fixed (go.dev/issue/75804). A deadline run fuzzed for its
# whole time: its seconds and executions count, and it is not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
record=${FUZZRECORD-fuzz/campaign.tsv}

# totals prints, per target, the runs, seconds (and hours), executions and
# failures the campaign record holds.
totals() {
	awk -F '\t' '
		/^#/ || NF < 6 { next }
		{ runs[$2]++; secs[$2] += $3; execs[$2] += $4; if ($6 != "ok" && $6 != "deadline") bad[$2]++ }
		END {
			for (t in runs)
				printf "%-40s %5d runs %9d s %7.2f h %14.0f execs %3d not ok\n", t, runs[t], secs[t], secs[t] / 3600, execs[t], bad[t]
		}' "$1" | sort
}

if [ "${1:-}" = --totals ]; then
	if [ -z "$record" ] || [ ! -f "$record" ]; then
		echo "fuzz.sh: no campaign record ${record:-(FUZZRECORD is empty)}" >&2
		exit 1
	fi
	totals "$record"
	exit 0
fi

fuzztime=${FUZZTIME:-10s}
nice=()
if [ -n "${FUZZNICE:-}" ]; then
	nice=(nice -n "$FUZZNICE")
fi
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
			if [ -z "${FUZZRUN:-}" ] || [[ $n =~ $FUZZRUN ]]; then
				targets+=("$pkg $n")
			fi
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

if [ -n "$record" ] && [ ! -f "$record" ]; then
	printf '# date\ttarget\tseconds\texecs\tnew_interesting\tresult\tgo\n' >"$record"
fi
gover=$(go env GOVERSION)

# seconds converts go's fuzz duration ("1h2m3s", "45s") to whole seconds.
seconds() {
	awk '{
		s = 0; v = $0
		if (match(v, /[0-9]+h/)) s += 3600 * substr(v, RSTART, RLENGTH - 1)
		if (match(v, /[0-9]+m/)) s += 60 * substr(v, RSTART, RLENGTH - 1)
		if (match(v, /[0-9]+s/)) s += substr(v, RSTART, RLENGTH - 1)
		print s
	}' <<<"$1"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "== $name ($pkg, $fuzztime)"
	corpus=$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name
	before=$(ls -A "$corpus" 2>/dev/null || true)
	if ${nice[@]+"${nice[@]}"} go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" ${parallel[@]+"${parallel[@]}"} "$pkg" 2>&1 | tee "$log"; then
		status=ok
	else
		status=FAIL
		# The coordinator's deadline race (see the top): the line after
		# the target's FAIL line is go's own error, and no input was added.
		why=$(grep -A1 "^--- FAIL: $name (" "$log" | sed -n 2p | tr -d '[:space:]')
		if [ "$why" = contextdeadlineexceeded ] && [ "$before" = "$(ls -A "$corpus" 2>/dev/null || true)" ]; then
			status=deadline
			echo "fuzz.sh: $name: go's -fuzztime deadline reported as a failure, no failing input written (go.dev/issue/75804)" >&2
		else
			failed+=("$name ($pkg)")
		fi
	fi
	last=$(grep -E '^fuzz: elapsed: [0-9hms]+, execs: [0-9]+' "$log" | tail -n 1 || true)
	if [ -z "$last" ] && [ "$status" = FAIL ] && ! grep -q -e '^--- FAIL' -e '^failure while testing seed corpus' "$log"; then
		status=ERROR
	fi
	elapsed=$(sed -nE 's/^fuzz: elapsed: ([0-9hms]+),.*/\1/p' <<<"$last")
	secs=$(seconds "${elapsed:-0s}")
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	newint=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	summary+=("$(printf '%-5s %-24s %6ss %12s execs %6s new  %s' "$status" "$name" "$secs" "${execs:-?}" "${newint:-?}" "$pkg")")
	if [ -n "$record" ]; then
		printf '%s\t%s.%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
			"${pkg#github.com/ndhc-go/ndhc/}" "$name" "$secs" "${execs:-0}" "${newint:-0}" "$status" "$gover" >>"$record"
	fi
done

echo
echo "== fuzz summary ($fuzztime per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: failing inputs found by: ${failed[*]}" >&2
	exit 1
fi
