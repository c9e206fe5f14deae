#!/usr/bin/env bash
# A real S3 server for integration tests: OpenStack Swift (Debian) with its s3api middleware and
# tempauth, single node, one replica, everything on 127.0.0.1 and under the run dir.
#
#   scripts/it/s3.sh install
#   scripts/it/s3.sh start [--run-dir D] [--port P]
#   scripts/it/s3.sh pause  --run-dir D      # stop the proxy (the S3 endpoint) only: an outage;
#                                            # its port resets connections until resume
#   scripts/it/s3.sh resume --run-dir D      # start the proxy again on the same port, same data
#   scripts/it/s3.sh stop   --run-dir D
#
# install: apt-get installs swift, swift-proxy, swift-object, swift-container, swift-account if
#          missing (idempotent; no Debian service is enabled or started).
# start:   writes D/etc (own swift.conf, rings with part power 8, object/container/account/proxy
#          server configs; /etc/swift is never touched), starts the four servers each in its own
#          session (setsid), checks that each listens on its port itself (fresh ports again when
#          another process took one first) and waits for their healthchecks. Prints ONE JSON line:
#          {"endpoint":"http://127.0.0.1:P","region":"us-east-1","accessKeyId":"test:tester",
#           "secretAccessKey":"testing","runDir":D,"pids":[…]}
#          Clients must use path-style addressing and WHEN_REQUIRED checksums (Swift answers 501
#          to aws-chunked bodies).
# stop:    SIGTERM to every process group in D/pids, waits, then SIGKILL.
set -euo pipefail

NAME=s3.sh
# shellcheck source=scripts/it/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd_install() {
  local need=() p
  for p in swift swift-proxy swift-object swift-container swift-account; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if ((${#need[@]} == 0)); then log "swift already installed"; return 0; fi
  log "apt-get install ${need[*]}"
  apt-get update -qq
  local policy=/usr/sbin/policy-rc.d created=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  ((created)) && rm -f "$policy"
  return 0
}

write_config() {
  local run=$1 proxy=$2 obj=$3 cont=$4 acct=$5
  mkdir -p "$run/etc" "$run/srv/node/d1" "$run/cache" "$run/log"
  cat >"$run/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = flinktrail-it
swift_hash_path_prefix = flinktrail-it
[storage-policy:0]
name = Policy-0
default = yes
EOF
  common() { cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 1
user = $(id -un)
swift_dir = $run/etc
devices = $run/srv/node
mount_check = false
disable_fallocate = true
log_level = WARNING
log_facility = LOG_LOCAL0
log_address = /nonexistent
EOF
  }
  local s n p
  for s in object:$obj container:$cont account:$acct; do
    n=${s%%:*}; p=${s##*:}
    { common "$p"; printf '[pipeline:main]\npipeline = healthcheck %s-server\n[app:%s-server]\nuse = egg:swift#%s\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n' "$n" "$n" "$n"
      [[ $n == object ]] && printf '[object-replicator]\n[object-updater]\n[object-auditor]\n'
      [[ $n == container ]] && printf '[container-replicator]\n[container-updater]\n[container-auditor]\n[container-sync]\n'
      [[ $n == account ]] && printf '[account-replicator]\n[account-auditor]\n[account-reaper]\n'
    } >"$run/etc/$n-server.conf"
  done
  { common "$proxy"; cat <<EOF
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
  } >"$run/etc/proxy-server.conf"
  (
    cd "$run/etc"
    for s in object:$obj container:$cont account:$acct; do
      n=${s%%:*}; p=${s##*:}
      swift-ring-builder "$n.builder" create 8 1 1 >/dev/null
      swift-ring-builder "$n.builder" add "r1z1-127.0.0.1:$p/d1" 1 >/dev/null
      swift-ring-builder "$n.builder" rebalance >/dev/null 2>&1 || true
    done
  )
  printf '%s %s %s %s\n' "$proxy" "$obj" "$cont" "$acct" >"$run/ports"
}

start_server() {
  local run=$1 n=$2 pid
  setsid "swift-$n-server" "$run/etc/$n-server.conf" >>"$run/log/$n.out" 2>&1 </dev/null &
  pid=$!
  started "$pid"
  echo "$pid" >"$run/$n.pid"
}

# wait_listen RUN NAME PORT: the server NAME listens on PORT itself (0), conflict (2), failed (1).
wait_listen() {
  wait_own_listen "$(cat "$1/$2.pid")" "$3" "$1/log/$2.out" 60
}

wait_health() {
  local run=$1; shift
  local i p ok
  for i in $(seq 1 300); do
    ok=1
    for p in "$@"; do curl -sf "http://127.0.0.1:$p/healthcheck" >/dev/null 2>&1 || ok=0; done
    ((ok)) && return 0
    sleep 0.1
  done
  die "swift did not come up: $(tail -n 5 "$run"/log/*.out 2>/dev/null)"
}

cmd_start() {
  local run="" port=""
  while (($#)); do
    case $1 in
      --run-dir) run=${2:?}; shift 2 ;;
      --port) port=${2:?}; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  command -v swift-proxy-server >/dev/null || die "swift is not installed; run: $0 install"
  need_cmd curl curl
  run=$(run_dir s3 "$run")
  retry_ports swift "$port" start_once "$run" "$port"
  local proxy obj cont acct
  read -r proxy obj cont acct <"$run/ports"
  wait_health "$run" "$proxy" "$obj" "$cont" "$acct"
  printf '{"endpoint":"http://127.0.0.1:%s","region":"us-east-1","accessKeyId":"test:tester","secretAccessKey":"testing","runDir":"%s","pids":[%s,%s,%s,%s]}\n' \
    "$proxy" "$run" "$(cat "$run/object.pid")" "$(cat "$run/container.pid")" "$(cat "$run/account.pid")" "$(cat "$run/proxy.pid")"
}

# start_once RUN [PORT]: the four servers on fresh ports (the proxy on PORT when given), each seen
# listening on its own port: 0, 2 on a port conflict, 1 when one failed otherwise.
start_once() {
  local run=$1 n proxy obj cont acct rc=0
  rm -rf "$run/etc" "$run/srv" "$run/log"
  write_config "$run" "${2:-$(pick_port)}" "$(pick_port)" "$(pick_port)" "$(pick_port)"
  read -r proxy obj cont acct <"$run/ports"
  for n in object container account proxy; do start_server "$run" "$n"; done
  { wait_listen "$run" object "$obj" && wait_listen "$run" container "$cont" &&
    wait_listen "$run" account "$acct" && wait_listen "$run" proxy "$proxy"; } || rc=$?
  if ((rc)); then
    for n in proxy object container account; do stop_group "$(cat "$run/$n.pid")" 20 || true; done
    ((rc == 2)) || log "swift exited: $(tail -n 5 "$run"/log/*.out 2>/dev/null)"
  fi
  return "$rc"
}

run_dir_arg() {
  local run
  run=$(opt_run_dir "$@")
  [[ -n $run && -f $run/ports ]] || die "needs --run-dir of a started S3 server"
  echo "$run"
}

# During an outage the endpoint's port is held by a listener that resets every connection, so
# that no other process can take it before resume (clients keep the endpoint URL).
cmd_pause() {
  local run proxy pid; run=$(run_dir_arg "$@")
  [[ -f $run/proxy.pid ]] && { stop_group "$(cat "$run/proxy.pid")" || true; }
  read -r proxy _ <"$run/ports"
  setsid node -e '
    const srv = require("net").createServer((s) => s.resetAndDestroy());
    srv.on("error", (e) => { console.error(e.message); process.exit(1); });
    srv.listen(Number(process.argv[1]), "127.0.0.1");
  ' "$proxy" >"$run/log/outage.out" 2>&1 </dev/null &
  pid=$!
  started "$pid"
  echo "$pid" >"$run/outage.pid"
  wait_own_listen "$pid" "$proxy" "$run/log/outage.out" 30 || die "could not hold port $proxy during the outage"
  log "S3 endpoint (swift proxy) stopped; port $proxy refuses connections"
}

cmd_resume() {
  local run proxy; run=$(run_dir_arg "$@")
  [[ -f $run/outage.pid ]] && { stop_group "$(cat "$run/outage.pid")" || true; rm -f "$run/outage.pid"; }
  start_server "$run" proxy
  read -r proxy _ <"$run/ports"
  # Swift keeps trying to bind for 30 s, which covers a connection that holds the port briefly.
  wait_listen "$run" proxy "$proxy" || die "the swift proxy did not listen on $proxy again: $(tail -n 5 "$run/log/proxy.out")"
  wait_health "$run" "$proxy"
  log "S3 endpoint (swift proxy) back on port $proxy"
}

cmd_stop() {
  local run; run=$(run_dir_arg "$@")
  local n
  for n in outage proxy object container account; do [[ -f $run/$n.pid ]] && { stop_group "$(cat "$run/$n.pid")" || true; }; done
  log "swift stopped"
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
