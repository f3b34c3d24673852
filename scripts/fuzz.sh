#!/usr/bin/env bash
# fuzz.sh: a short run of every fuzz target in the repository, one at a time.
#
# Targets are found automatically: every `func FuzzXxx(` in a *_test.go file.
# Each runs for FUZZTIME (default 20s) with
#   go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime $FUZZTIME ./pkg
# and the script stops at the first failure, exiting non-zero. A failing
# input is saved by Go under pkg/testdata/fuzz/FuzzXxx/; it then runs as a
# seed in `make test` until fixed (or removed).
#
# Environment: FUZZTIME (e.g. 20s, 1m, 5000x), GO (default go),
# FUZZMINIMIZETIME (default 5s: Go's 60s default would spend a short run
# minimizing new corpus entries instead of fuzzing),
# FUZZ_PARALLEL (go test -parallel, default: GOMAXPROCS),
# FUZZ_MATCH (only targets whose name matches this extended regexp).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
FUZZ_MATCH=${FUZZ_MATCH:-.}

parallel=()
if [[ -n "${FUZZ_PARALLEL:-}" ]]; then
	parallel=(-parallel "$FUZZ_PARALLEL")
fi

# "dir name" pairs, sorted, from tracked and untracked test files alike.
mapfile -t targets < <(
	grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . \
		| grep -v '/vendor/' \
		| sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' \
		| sort -u
)

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

ran=0
for t in "${targets[@]}"; do
	dir=${t% *}
	name=${t#* }
	if ! [[ $name =~ $FUZZ_MATCH ]]; then
		continue
	fi
	log=$(mktemp)
	start=$(date +%s)
	if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "${parallel[@]}" "$dir" >"$log" 2>&1; then
		# The last progress line has the total executions.
		execs=$(grep -Eo 'execs: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
		printf 'ok    %-40s %-28s %4ss  %s execs\n' "$name" "$dir" "$(($(date +%s) - start))" "${execs:-?}"
		rm -f "$log"
		ran=$((ran + 1))
	else
		printf 'FAIL  %-40s %-28s %4ss\n' "$name" "$dir" "$(($(date +%s) - start))"
		cat "$log"
		rm -f "$log"
		exit 1
	fi
done
echo "fuzz: $ran target(s) passed, ${FUZZTIME} each"
