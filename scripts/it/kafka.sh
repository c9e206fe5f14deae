#!/usr/bin/env bash
# A real Apache Kafka 4.x broker for integration tests: jars from Maven Central (no tarball),
# single node in KRaft combined mode (broker + controller), PLAINTEXT on 127.0.0.1, and with
# --tls-cert/--tls-key also a SASL_SSL listener (TLS + SASL SCRAM-SHA-512, SCRAM-SHA-256, PLAIN).
#
#   scripts/it/kafka.sh install [--version V]
#   scripts/it/kafka.sh start [--version V] [--port P] [--run-dir D]
#                             [--tls-cert F --tls-key F [--sasl-port P]]
#                             [--scram-user NAME:PASSWORD]... [--plain-user NAME:PASSWORD]...
#   scripts/it/kafka.sh pause  --run-dir D   # stop the broker (SIGTERM, then SIGKILL): an outage
#   scripts/it/kafka.sh resume --run-dir D   # start it again: same ports, same data
#   scripts/it/kafka.sh stop --run-dir D
#
# install: resolves org.apache.kafka:kafka_2.13:V and its runtime dependencies with a throw-away
#          pom and maven-dependency-plugin:copy-dependencies into $IT/kafka-V/lib (cached in
#          ~/.m2; marker file makes it idempotent). Installs Java/Maven from Debian if missing.
# start:   writes D/server.properties (static single voter, one partition per topic, replication
#          factor 1, topics auto-created), formats D/data with kafka.tools.StorageTool, runs
#          kafka.Kafka in its own session (setsid) and waits until it listens on every port itself
#          (when another process took one first: again on fresh ports). With --tls-cert/--tls-key
#          (PEM; the key unencrypted PKCS#8, as pki.sh makes it) the SASL_SSL listener serves that
#          certificate; --scram-user NAME:PASSWORD adds a SCRAM-SHA-512 and SCRAM-SHA-256
#          credential at format time (StorageTool format --add-scram), --plain-user one for PLAIN
#          (in the listener's JAAS config). D defaults to a fresh .it/run/kafka.*.
#          Prints ONE JSON line: {"bootstrap":"127.0.0.1:P","saslSsl":"127.0.0.1:Q"|null,"pid":N,
#          "runDir":D,"version":V}
# pause:   stops the broker as `stop` does; the run dir (ports, data) stays.
# resume:  starts the broker of D again on the ports it had (test-only: when another process took
#          one of them meanwhile, it fails and says so). Prints ONE JSON line: {"pid":N}
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

SCRAM_USERS=()
PLAIN_USERS=()

cmd_start() {
  local port="" run="" cert="" key="" sport=""
  while (($#)); do
    case $1 in
      --version) VERSION=${2:?}; shift 2 ;;
      --port) port=${2:?}; shift 2 ;;
      --run-dir) run=${2:?}; shift 2 ;;
      --tls-cert) cert=${2:?}; shift 2 ;;
      --tls-key) key=${2:?}; shift 2 ;;
      --sasl-port) sport=${2:?}; shift 2 ;;
      --scram-user) SCRAM_USERS+=("${2:?}"); shift 2 ;;
      --plain-user) PLAIN_USERS+=("${2:?}"); shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  local home=$IT_DIR/kafka-$VERSION
  [[ -f $home/.fetched ]] || die "Kafka $VERSION is not fetched; run: $0 install --version $VERSION"
  [[ -z $cert$key ]] || [[ -f $cert && -f $key ]] || die "--tls-cert and --tls-key go together and must be files"
  [[ -z $sport || -n $cert ]] || die "--sasl-port needs --tls-cert and --tls-key"
  run=$(run_dir kafka "$run")
  if [[ -n $cert ]]; then
    # A PEM keystore: the unencrypted PKCS#8 key followed by the certificate (KIP-651).
    cat "$key" "$cert" >"$run/keystore.pem"
  fi
  local sasl=""
  [[ -z $cert ]] || sasl=${sport:-pick}
  # A port the caller chose is the caller's to change: no retry on fresh ports then.
  retry_ports Kafka "$port$sport" start_once "$home" "$run" "$port" "$sasl"
}

# start_once HOME RUN [PORT] [SASL]: SASL empty (no SASL_SSL listener), "pick" or a port.
# 0 started (JSON line printed), 2 port conflict, 1 failed.
start_once() {
  local home=$1 run=$2 port=${3:-} sport=${4:-} cport
  [[ -n $port ]] || port=$(pick_port)
  [[ $sport != pick ]] || sport=$(pick_port)
  cport=$(pick_port)
  rm -rf "$run/data"
  local listeners="PLAINTEXT://127.0.0.1:$port" sasl_json=null
  if [[ -n $sport ]]; then
    listeners+=",SASL_SSL://127.0.0.1:$sport"
    sasl_json="\"127.0.0.1:$sport\""
  fi
  cat >"$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
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
PROPS
  local fmt=() u
  if [[ -n $sport ]]; then
    local jaas="org.apache.kafka.common.security.plain.PlainLoginModule required"
    for u in "${PLAIN_USERS[@]}"; do jaas+=" user_${u%%:*}=\"${u#*:}\""; done
    cat >>"$run/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$run/keystore.pem
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=$jaas;
PROPS
    for u in "${SCRAM_USERS[@]}"; do
      fmt+=(--add-scram "SCRAM-SHA-512=[name=${u%%:*},password=${u#*:}]" --add-scram "SCRAM-SHA-256=[name=${u%%:*},password=${u#*:}]")
    done
  fi
  local id
  # A base64url id may start with '-', which StorageTool reads as an option (1 run in 64 failed
  # "argument --cluster-id/-t: expected one argument"): a leading '-' becomes 'A' (still 16 bytes).
  id=$(node -e 'console.log(require("crypto").randomBytes(16).toString("base64url").replace(/^-/, "A"))')
  java -cp "$home/lib/*" kafka.tools.StorageTool format -t "$id" -c "$run/server.properties" --ignore-formatted "${fmt[@]}" >"$run/format.log" 2>&1 ||
    die "formatting the KRaft log dir failed: $(tail -n 5 "$run/format.log")"
  # What resume needs: the same ports (the advertised listeners are written into the data).
  printf '%s %s %s %s\n' "$port" "${sport:-0}" "$cport" "$VERSION" >"$run/ports"
  : >"$run/kafka.log"
  local rc=0
  launch "$run" || rc=$?
  ((rc == 0)) || return "$rc"
  printf '{"bootstrap":"127.0.0.1:%s","saslSsl":%s,"pid":%s,"runDir":"%s","version":"%s"}\n' "$port" "$sasl_json" "$(cat "$run/kafka.pid")" "$run" "$VERSION"
}

# launch RUN: runs the broker of a formatted run dir in its own session and waits until it
# listens on each of its ports itself; returns like wait_own_listen (the broker stopped on failure).
launch() {
  local run=$1 port sport cport version
  read -r port sport cport version <"$run/ports"
  setsid java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true -cp "$IT_DIR/kafka-$version/lib/*" kafka.Kafka "$run/server.properties" >>"$run/kafka.log" 2>&1 </dev/null &
  local pid=$! rc=0 p
  started "$pid"
  echo "$pid" >"$run/kafka.pid"
  for p in "$cport" "$port" "$sport"; do
    [[ $p != 0 ]] || continue
    wait_own_listen "$pid" "$p" "$run/kafka.log" 120 || { rc=$?; break; }
  done
  if ((rc)); then
    stop_group "$pid" 100 || true
    ((rc == 2)) || log "Kafka exited: $(tail -n 20 "$run/kafka.log")"
  fi
  return "$rc"
}

# run_dir_of --run-dir D: D, when it holds a started Kafka.
run_dir_of() {
  [[ ${1:-} == --run-dir && -n ${2:-} && -f $2/kafka.pid && -f $2/ports ]] || die "needs --run-dir of a started Kafka"
  echo "$2"
}

cmd_pause() {
  local run
  run=$(run_dir_of "$@")
  stop_group "$(cat "$run/kafka.pid")" 150 || true
  log "Kafka stopped (outage)"
}

cmd_resume() {
  local run rc=0
  run=$(run_dir_of "$@")
  launch "$run" || rc=$?
  ((rc != 2)) || die "Kafka cannot resume: one of its ports ($(cut -d' ' -f1-3 "$run/ports")) was taken meanwhile; start a new broker"
  ((rc == 0)) || die "Kafka did not start again"
  log "Kafka back on the same ports"
  printf '{"pid":%s}\n' "$(cat "$run/kafka.pid")"
}

cmd_stop() {
  local run
  run=$(opt_run_dir "$@")
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
  pause) cmd_pause "$@" ;;
  resume) cmd_resume "$@" ;;
  stop) cmd_stop "$@" ;;
  *) print_usage; exit 2 ;;
esac
