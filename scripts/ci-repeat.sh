#!/usr/bin/env bash
# Runs the whole CI N times, each in a fresh clone, and writes docs/ci-flakes.md: runs,
# green/red, durations, per-test failure rates, and processes left running afterwards.
#
#   scripts/ci-repeat.sh N [--repo PATH] [--ref BRANCH] [--minutes M] [--out DIR] [--keep]
#
# Each run: `git clone --branch REF REPO` into a temp dir, then `CI=true bash .ci/run` with no
# stdin and a hard limit of M minutes (default 90; SIGTERM, then SIGKILL a minute later), with
# FLINKTRAIL_RUN_ID set so that every process the run starts can be found afterwards, and
# FLINKTRAIL_TEST_REPORT_DIR so that scripts/test-all.sh writes JUnit XML per step. Afterwards
# the processes still carrying the run id are listed (the run's own sweep should have left none)
# and killed. Logs and reports stay in DIR (default /tmp/ci-repeat-<time>); clones are removed
# unless --keep. Defaults: REPO = this repository, REF = main.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
n=${1:?usage: ci-repeat.sh N [--repo PATH] [--ref BRANCH] [--minutes M] [--out DIR] [--keep]}
shift
repo=$HERE ref=main minutes=90 out="" keep=0
while (($#)); do
  case $1 in
    --repo) repo=${2:?}; shift 2 ;;
    --ref) ref=${2:?}; shift 2 ;;
    --minutes) minutes=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
stamp=$(date -u +%Y%m%dT%H%M%S)
out=${out:-/tmp/ci-repeat-$stamp}
mkdir -p "$out"
log() { printf '[ci-repeat] %s\n' "$*" >&2; }

for i in $(seq 1 "$n"); do
  run=$out/run-$i
  clone=$(mktemp -d "${TMPDIR:-/tmp}/ft-ci-$i.XXXXXX")
  mkdir -p "$run"
  git clone --quiet --branch "$ref" --single-branch "$repo" "$clone"
  git -C "$clone" rev-parse HEAD >"$run/commit"
  id=ci-repeat-$stamp-$i
  log "run $i of $n: $ref at $(cut -c1-10 "$run/commit") in $clone (log: $run/log)"
  t0=$(date +%s)
  rc=0
  (cd "$clone" && FLINKTRAIL_RUN_ID=$id FLINKTRAIL_TEST_REPORT_DIR=$run/junit CI=true \
    timeout --kill-after=60 "$((minutes * 60))" bash .ci/run </dev/null >"$run/log" 2>&1) || rc=$?
  echo $(($(date +%s) - t0)) >"$run/seconds"
  echo "$rc" >"$run/rc"
  # What is still running now was left behind by the run (its own sweep should have found it).
  bash "$HERE/scripts/it/sweep.sh" "$id" --kill >"$run/leftovers" || true
  log "run $i: rc=$rc in $(cat "$run/seconds") s; $(wc -l <"$run/leftovers") processes left running"
  ((keep)) || rm -rf "$clone"
done

node --import tsx "$HERE/scripts/ci-report.ts" "$out" "$ref" >"$HERE/docs/ci-flakes.md"
log "wrote docs/ci-flakes.md (runs in $out)"
