#!/usr/bin/env bash
# Runs every test: build, typecheck, lint, unit tests, then integration tests against real
# servers started here (a real Flink session cluster from Maven Central jars and a throwaway
# PostgreSQL cluster on a unix socket, each shared by all suites), then the trails, core gateway,
# identity, Kubernetes, SQL gateway, ingest and lookup suites once more with everything on that
# PostgreSQL, then the core gateway suite against a Flink 1.20 cluster of its own.
#
# First, what the tests need: Debian packages (scripts/install-test-deps.sh: a JDK, Maven, curl,
# rsyslog, Swift, Chromium, …; needs root or sudo, says so otherwise), npm packages if missing,
# the Flink jars (Maven, cached in ~/.m2 and .it/).
#
# Every process the run starts carries FLINKTRAIL_RUN_ID in its environment. However the run
# ends, Flink and PostgreSQL are stopped, the logs of the shared Flink are printed if a step failed, and
# whatever still runs with this run's id is listed and killed (scripts/it/sweep.sh): a failed
# suite can leave nothing behind for the next run.
#
# Env: FLINKTRAIL_TEST_REPORT_DIR  JUnit XML of the unit and integration steps goes there
#      FLINKTRAIL_TEST_CONCURRENCY integration files at once (scripts/run-tests.sh; default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export FLINKTRAIL_IT_DIR="${FLINKTRAIL_IT_DIR:-$ROOT/.it}"
export FLINKTRAIL_RUN_ID="${FLINKTRAIL_RUN_ID:-$(date -u +%Y%m%dT%H%M%S)-$$}"
FLINK_VERSION="${FLINKTRAIL_TEST_FLINK_VERSION:-2.2.0}"
REPORT_DIR=${FLINKTRAIL_TEST_REPORT_DIR:-}
T0=$SECONDS
TIMES=()

step() {
  TIMES+=("$(printf '%-44s %5ds' "${CURRENT:-start}" $((SECONDS - ${STEP_T0:-$T0})))")
  CURRENT=$1 STEP_T0=$SECONDS
  printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"
}
report() { [[ -n $REPORT_DIR ]] && echo "$REPORT_DIR/$1.xml" || echo ""; }

finish() {
  local rc=$? left
  set +e
  TIMES+=("$(printf '%-44s %5ds' "${CURRENT:-start}" $((SECONDS - ${STEP_T0:-$T0})))")
  # Stopped by a signal (a CI time limit: SIGKILL follows soon): kill first, explain after.
  if ((rc == 130)); then
    left=$(bash scripts/it/sweep.sh "$FLINKTRAIL_RUN_ID" --kill)
    printf '\n== stopped by a signal during "%s"; killed what this run had running:\n%s\n' "${CURRENT:-?}" "${left:-(nothing)}"
  fi
  if ((rc)) && [[ -n ${FLINK_RUN_DIR:-} ]]; then
    printf '\n== the shared Flink cluster said (step "%s" failed)\n' "${CURRENT:-?}"
    for f in "$FLINK_RUN_DIR"/log/*/*.log "$FLINK_RUN_DIR"/log/*/*.out; do
      [[ -s $f ]] || continue
      printf -- '---- %s: errors, then the last lines\n' "$f"
      grep -E 'ERROR|Exception' "$f" | tail -n 20
      tail -n 20 "$f"
    done
  fi
  ((rc != 130)) && [[ -n ${FLINK_RUN_DIR:-} ]] && bash scripts/flink/flink.sh stop --run-dir "$FLINK_RUN_DIR" >/dev/null 2>&1
  if [[ -n ${PG_RUN_DIR:-} ]]; then
    ((rc)) && { printf '\n== the shared PostgreSQL said (last lines)\n'; tail -n 20 "$PG_RUN_DIR/server.log" 2>/dev/null; }
    ((rc != 130)) && bash scripts/it/postgres.sh stop --run-dir "$PG_RUN_DIR" >/dev/null 2>&1
  fi
  left=$(bash scripts/it/sweep.sh "$FLINKTRAIL_RUN_ID" --kill)
  if [[ -n $left ]]; then
    printf '\n== killed processes this run left running (pid, process group, command):\n%s\n' "$left"
  else
    printf '\n== no process of this run was left running\n'
  fi
  printf '\n== step times\n'
  printf '%s\n' "${TIMES[@]:1}"
  printf '%-44s %5ds\n' total $((SECONDS - T0))
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

step "install test dependencies"
bash scripts/install-test-deps.sh
[ -d node_modules ] || { step "npm ci"; npm ci --no-audit --no-fund; }

step "build, typecheck, lint"
npm run -s build
npm run -s typecheck
npm run -s lint

step "unit tests"
FLINKTRAIL_TEST_REPORT=$(report unit) bash scripts/run-tests.sh unit

step "fetch Flink $FLINK_VERSION"
bash scripts/flink/flink.sh fetch --version "$FLINK_VERSION"

if [ -z "${FLINKTRAIL_TEST_FLINK_URL:-}" ]; then
  step "start a Flink $FLINK_VERSION session cluster"
  # Flink binds its own ports (0) and flink.sh reads them back: nothing to race for.
  out=$(bash scripts/flink/flink.sh start --version "$FLINK_VERSION" --with-sql-gateway | tail -n 1)
  echo "$out"
  field() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; console.log(v ?? "")' "$out" "$1"; }
  FLINK_RUN_DIR=$(field runDir)
  export FLINKTRAIL_TEST_FLINK_URL=$(field restUrl)
  export FLINKTRAIL_TEST_FLINK_JOB_JAR=$(field jobJar)
  export FLINKTRAIL_TEST_FLINK_SQL_GATEWAY_URL=$(field sqlGatewayUrl)
fi

if [ -z "${FLINKTRAIL_TEST_POSTGRES_URL:-}" ]; then
  step "start a PostgreSQL cluster"
  # A unix socket in its own run directory (listen_addresses=''): no port to race for. Tests
  # each create a database of their own in it.
  out=$(bash scripts/it/postgres.sh start | tail -n 1)
  echo "$out"
  PG_RUN_DIR=$(node -e 'console.log(JSON.parse(process.argv[1]).runDir)' "$out")
  export FLINKTRAIL_TEST_POSTGRES_URL=$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$out")
fi

step "integration tests (Flink $FLINK_VERSION, shared cluster)"
FLINKTRAIL_TEST_REPORT=$(report integration) bash scripts/run-tests.sh integration

# Suites again with events, identities, Kubernetes state and trails on the shared PostgreSQL, a
# database of each data directory's own (FLINKTRAIL_TEST_STORE=postgres: test/helpers/flinktrail.ts,
# test/integration/trails/common.ts): every repository has two implementations and these suites are
# what say they behave alike. Trails: positions, plans, files, digest chains, history jobs, dead
# letters, an outage and every sink kind (delivery: about 50 s more, measured); kafka-sasl and relp
# test the sinks' transports more than the store and would add over a minute; they pass on
# PostgreSQL too. Then the core slice through the gateway, access keys, roles and sessions, the
# Kubernetes webhook, the SQL gateway, ingest, the lookup API and regions (the region filter and
# the global events storage region in meta), and accounts (the account column and its filter,
# users and keys of member accounts, cross-account refusals through the gateway and ingest):
# about 85 s more, measured (each within a few seconds of its SQLite run).
step "suites on PostgreSQL"
FLINKTRAIL_TEST_STORE=postgres FLINKTRAIL_TEST_REPORT=$(report suites-postgres) \
  bash scripts/run-tests.sh integration test/integration/trails/management.test.ts test/integration/trails/dead-letters.test.ts \
  test/integration/trails/validate-logs.test.ts test/integration/trails/outage.test.ts test/integration/trails/delivery.test.ts \
  test/integration/gateway/flink-operations.test.ts test/integration/identity/access.test.ts \
  test/integration/k8s-audit/webhook.test.ts test/integration/sql-gateway/sql-gateway.test.ts \
  test/integration/ingest/ingest.test.ts test/integration/api/lookup-api.test.ts test/integration/query/regions.test.ts \
  test/integration/identity/accounts.test.ts test/integration/gateway/accounts.test.ts test/integration/ingest/accounts.test.ts \
  test/integration/trails/accounts.test.ts

# The LTS line too: the core gateway suite against a Flink 1.20 cluster of its own.
step "gateway suite against Flink 1.20.3"
FLINKTRAIL_TEST_FLINK_URL= FLINKTRAIL_FLINK_VERSION=1.20.3 FLINKTRAIL_TEST_REPORT=$(report flink-1.20) \
  bash scripts/run-tests.sh integration test/integration/gateway/flink-operations.test.ts
