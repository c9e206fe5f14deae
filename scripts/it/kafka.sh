#!/usr/bin/env bash
# A real Apache Kafka 4.x broker for integration tests: jars from Maven Central (no tarball),
# single node in KRaft combined mode (broker + controller), PLAINTEXT on 127.0.0.1.
#
#   scripts/it/kafka.sh install [--version V]
#   scripts/it/kafka.sh start [--version V] [--port P] [--run-dir D]
#   scripts/it/kafka.sh stop --run-dir D
#
# install: resolves org.apache.kafka:kafka_2.13:V and its runtime dependencies with a throw-away
#          pom and maven-dependency-plugin:copy-dependencies into $IT/kafka-V/lib (cached in
#          ~/.m2; marker file makes it idempotent). Installs Java/Maven from Debian if missing.
# start:   writes D/server.properties (static single voter, one partition per topic, replication
#          factor 1, topics auto-created), formats D/data with kafka.tools.StorageTool, runs
#          kafka.Kafka in its own session (setsid) and waits until it listens on both ports itself
#          (when another process took one first: again on fresh ports). D defaults to a fresh
#          .it/run/kafka.*. Prints ONE JSON line: {"bootstrap":"127.0.0.1:P","pid":N,"runDir":D,"version":V}
# stop:    SIGTERM to the process group, waits (controlled shutdown), then SIGKILL.
#
# Env: FLINKTRAIL_IT_DIR (default <repo>/.it), FLINKTRAIL_KAFKA_VERSION (default 4.1.1), MVN.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
VERSION=${FLINKTRAIL_KAFKA_VERSION:-4.1.1}
MVN=${MVN:-mvn}
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1

NAME=kafka.sh
# shellcheck source=scripts/it/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd_install() {
  while (($#)); do
    case $1 in
      --version) VERSION=${2:?}; shift 2 ;;
      *) die "install: unknown option $1" ;;
    esac
  done
  local home=$IT_DIR/kafka-$VERSION
  if [[ -f $home/.fetched ]]; then log "Kafka $VERSION already fetched"; return 0; fi
  local need=()
  command -v java >/dev/null || need+=(default-jre-headless)
  command -v "$MVN" >/dev/null || need+=(maven)
  if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
  mkdir -p "$home/lib"
  cat >"$home/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>flinktrail.it</groupId><artifactId>kafka</artifactId><version>1</version><packaging>pom</packaging>
<dependencies>
<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
</dependencies></project>
EOF
  log "fetching Kafka $VERSION jars from Maven Central"
  "$MVN" -B -q -f "$home/pom.xml" "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$home/lib" >&2
  ls "$home/lib"/kafka_2.13-"$VERSION".jar >/dev/null || die "kafka_2.13-$VERSION.jar missing after fetch"
  touch "$home/.fetched"
}

cmd_start() {
  local port="" run=""
  while (($#)); do
    case $1 in
      --version) VERSION=${2:?}; shift 2 ;;
      --port) port=${2:?}; shift 2 ;;
      --run-dir) run=${2:?}; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  local home=$IT_DIR/kafka-$VERSION
  [[ -f $home/.fetched ]] || die "Kafka $VERSION is not fetched; run: $0 install --version $VERSION"
  run=$(run_dir kafka "$run")
  retry_ports Kafka "$port" start_once "$home" "$run" "$port"
}

# start_once HOME RUN [PORT]: 0 started (JSON line printed), 2 port conflict, 1 failed.
start_once() {
  local home=$1 run=$2 port=${3:-$(pick_port)} cport
  cport=$(pick_port)
  rm -rf "$run/data"
  cat >"$run/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=1
EOF
  local cp="$home/lib/*"
  local id
  id=$(node -e 'console.log(require("crypto").randomBytes(16).toString("base64url"))')
  java -cp "$cp" kafka.tools.StorageTool format -t "$id" -c "$run/server.properties" --ignore-formatted >"$run/format.log" 2>&1 ||
    die "formatting the KRaft log dir failed: $(tail -n 5 "$run/format.log")"
  setsid java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true -cp "$cp" kafka.Kafka "$run/server.properties" >"$run/kafka.log" 2>&1 </dev/null &
  local pid=$! rc=0
  started "$pid"
  echo "$pid" >"$run/kafka.pid"
  { wait_own_listen "$pid" "$cport" "$run/kafka.log" 120 && wait_own_listen "$pid" "$port" "$run/kafka.log" 120; } || rc=$?
  if ((rc)); then
    stop_group "$pid" 100 || true
    ((rc == 2)) || log "Kafka exited: $(tail -n 20 "$run/kafka.log")"
    return "$rc"
  fi
  printf '{"bootstrap":"127.0.0.1:%s","pid":%s,"runDir":"%s","version":"%s"}\n' "$port" "$pid" "$run" "$VERSION"
}

cmd_stop() {
  local run=""
  while (($#)); do
    case $1 in
      --run-dir) run=${2:?}; shift 2 ;;
      *) die "stop: unknown option $1" ;;
    esac
  done
  [[ -n $run && -f $run/kafka.pid ]] || die "stop needs --run-dir of a started Kafka"
  local pid
  pid=$(cat "$run/kafka.pid")
  if stop_group "$pid" 150; then log "Kafka $pid stopped"; else log "Kafka $pid killed"; fi
}

cmd=${1:-}
(($#)) && shift
case $cmd in
  install) cmd_install "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) print_usage; exit 2 ;;
esac
