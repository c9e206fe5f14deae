#!/usr/bin/env bash
# Runs every test: typecheck, lint, unit tests, then integration tests against real servers
# started here (a real Flink session cluster from Maven Central jars, shared by all suites).
# Installs what the tests need first: npm packages (if missing), Java/Maven (Debian, if missing),
# the Flink jars (Maven, cached in ~/.m2 and .it/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export FLINKTRAIL_IT_DIR="${FLINKTRAIL_IT_DIR:-$ROOT/.it}"
FLINK_VERSION="${FLINKTRAIL_TEST_FLINK_VERSION:-2.2.0}"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

need_apt=()
command -v java >/dev/null || need_apt+=(default-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v mount >/dev/null || need_apt+=(mount)
if ((${#need_apt[@]})); then
  step "apt-get install ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
[ -d node_modules ] || { step "npm ci"; npm ci; }

step "build, typecheck, lint"
npm run -s build
npm run -s typecheck
npm run -s lint

step "unit tests"
mapfile -t unit < <(find src -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec "${unit[@]}"

step "fetch Flink $FLINK_VERSION"
bash scripts/flink/flink.sh fetch --version "$FLINK_VERSION"

cleanup() { [ -n "${FLINK_RUN_DIR:-}" ] && bash scripts/flink/flink.sh stop --run-dir "$FLINK_RUN_DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [ -z "${FLINKTRAIL_TEST_FLINK_URL:-}" ]; then
  step "start a Flink $FLINK_VERSION session cluster"
  free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
  out=$(bash scripts/flink/flink.sh start --version "$FLINK_VERSION" --rest-port "$(free_port)" --with-sql-gateway --sql-gateway-port "$(free_port)" | tail -n 1)
  echo "$out"
  field() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; console.log(v ?? "")' "$out" "$1"; }
  FLINK_RUN_DIR=$(field runDir)
  export FLINKTRAIL_TEST_FLINK_URL=$(field restUrl)
  export FLINKTRAIL_TEST_FLINK_JOB_JAR=$(field jobJar)
  export FLINKTRAIL_TEST_FLINK_SQL_GATEWAY_URL=$(field sqlGatewayUrl)
fi

step "integration tests (Flink $FLINK_VERSION, shared cluster)"
mapfile -t integration < <(find test/integration -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${integration[@]}"

# The LTS line too: the core gateway suite against a Flink 1.20 cluster of its own.
step "gateway suite against Flink 1.20.3"
FLINKTRAIL_TEST_FLINK_URL= FLINKTRAIL_FLINK_VERSION=1.20.3 \
  node --import tsx --test --test-reporter=spec test/integration/gateway/flink-operations.test.ts
