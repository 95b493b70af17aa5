#!/usr/bin/env bash
# Compares the `go test -bench` families of two commits with benchstat.
#
#   scripts/benchcmp.sh [-n COUNT] [-b REGEX] [-t BENCHTIME] [-p PKG] OLD NEW
#
#   OLD, NEW   commits, branches or tags (anything git rev-parse takes)
#   -n COUNT   runs per side (default 6: benchstat needs about 6 samples a
#              side before it can call a difference significant at p<0.05)
#   -b REGEX   benchmarks to run (default ".": every family in PKG)
#   -t TIME    -benchtime (default 1s; e.g. 2000x for a fixed count)
#   -p PKG     package holding the benchmarks (default ./bench)
#
# Each commit is checked out in its own git worktree in a temporary
# directory (the working tree is left alone and may be dirty) and its test
# binary is built once. The two binaries then run alternately, one run of
# each per round, so drift on a shared machine (other load, page cache,
# thermal throttling) lands on both sides instead of biasing one.
# benchstat (golang.org/x/perf, pinned below; BENCHSTAT=…@latest to
# override) prints medians, confidence intervals and "~" for differences
# that are not significant. The raw outputs are kept next to the summary
# when KEEP=DIR is set.
set -euo pipefail

COUNT=6
BENCH=.
BENCHTIME=1s
PKG=./bench
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while getopts "n:b:t:p:h" opt; do
	case $opt in
	n) COUNT=$OPTARG ;;
	b) BENCH=$OPTARG ;;
	t) BENCHTIME=$OPTARG ;;
	p) PKG=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
OLD=$1
NEW=$2

ROOT=$(git rev-parse --show-toplevel)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/spool-benchcmp.XXXXXX")
cleanup() {
	for side in old new; do
		if [ -d "$TMP/$side" ]; then
			git -C "$ROOT" worktree remove --force "$TMP/$side" || true
		fi
	done
	git -C "$ROOT" worktree prune || true
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP" && cp "$TMP"/*.txt "$KEEP"/ 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

for side in old new; do
	rev=$OLD
	[ "$side" = new ] && rev=$NEW
	sha=$(git -C "$ROOT" rev-parse --verify "$rev^{commit}")
	echo "$side: $rev ($sha)" >&2
	git -C "$ROOT" worktree add --quiet --detach "$TMP/$side" "$sha"
	(cd "$TMP/$side" && go test -c -o "$TMP/$side.test" "$PKG")
	: >"$TMP/$side.txt"
done

for i in $(seq 1 "$COUNT"); do
	for side in old new; do
		echo "run $i/$COUNT: $side" >&2
		# Run in the package directory, as go test would.
		(cd "$TMP/$side/$PKG" && "$TMP/$side.test" -test.run '^$' -test.bench "$BENCH" \
			-test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem) >>"$TMP/$side.txt"
	done
done

# label=file names the columns after the revisions, not temporary paths.
go run "$BENCHSTAT" "$OLD=$TMP/old.txt" "$NEW=$TMP/new.txt"
