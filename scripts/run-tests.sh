#!/usr/bin/env bash
# Runs one suite with Node's test runner. The files are found here: Node 20 does not expand the
# quoted globs that `node --test 'src/**/*.test.ts'` would need (Node 21 does).
#
#   scripts/run-tests.sh unit|integration [FILE…]     # with FILEs, only those
#
# Env: FLINKTRAIL_TEST_CONCURRENCY  integration files run at once (default 1: they share one Flink)
#      FLINKTRAIL_TEST_REPORT       a file for a JUnit XML report of the run, besides the spec
#                                   output on stdout (scripts/ci-repeat.sh reads it)
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-}
(($#)) && shift
case $suite in
  unit) dir=src; opts=() ;;
  integration) dir=test/integration; opts=(--test-concurrency="${FLINKTRAIL_TEST_CONCURRENCY:-1}") ;;
  *) echo "usage: $0 unit|integration [FILE…]" >&2; exit 2 ;;
esac
if (($#)); then
  files=("$@")
else
  mapfile -t files < <(find "$dir" -name '*.test.ts' | sort)
fi
opts+=(--test-reporter=spec --test-reporter-destination=stdout)
if [[ -n ${FLINKTRAIL_TEST_REPORT:-} ]]; then
  mkdir -p "$(dirname "$FLINKTRAIL_TEST_REPORT")"
  opts+=(--test-reporter=junit --test-reporter-destination="$FLINKTRAIL_TEST_REPORT")
fi
exec node --import tsx --test "${opts[@]}" "${files[@]}"
