#!/bin/sh
# Fuzz every target in package fuzz for $FUZZTIME each (default 30s), one
# after another, since go test takes one -fuzz target per run. Stops at the
# first failure and exits non-zero; the failing input is written to
# fuzz/testdata/fuzz/<Target>/ (commit it as a regression seed once fixed).
#
#   FUZZTIME=2m fuzz/run.sh
#
# The targets write files for every input: a tmpfs TMPDIR makes them much
# faster, so /dev/shm is used when it exists and TMPDIR is not set.
set -eu
cd "$(dirname "$0")/.."
: "${FUZZTIME:=30s}"
: "${FUZZMINIMIZETIME:=2s}" # the default (60s per new input) eats short runs
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
targets=$(go test ./fuzz -list '^Fuzz' | grep '^Fuzz')
for t in $targets; do
	echo "=== $t ($FUZZTIME)"
	go test ./fuzz -run='^$' -fuzz="^$t\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME"
done
echo "all fuzz targets passed"
