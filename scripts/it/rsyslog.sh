#!/usr/bin/env bash
# A real rsyslog (Debian) receiving RFC 5424 over TCP and over TLS (RFC 5425), for trail tests.
# Two rsyslogd processes (plain and TLS), each writing every received message verbatim
# (%rawmsg%, one per line) to a file the test reads.
#
#   scripts/it/rsyslog.sh install
#   scripts/it/rsyslog.sh start [--run-dir D] [--tcp-port P] [--tls-port P]
#   scripts/it/rsyslog.sh stop --run-dir D
#
# install: apt-get installs rsyslog and rsyslog-gnutls if missing (the Debian service is never
#          started), and openssl for the test certificate.
# start:   makes a self-signed certificate for 127.0.0.1 (D/ca.pem = the server certificate,
#          D/key.pem), writes D/tcp.conf and D/tls.conf (own work directories, max message size
#          1 MiB, imtcp on 127.0.0.1), checks them with `rsyslogd -N1`, runs both in their own
#          sessions (setsid) and waits until each listens on its port itself (a port another
#          process took first is picked again). Prints ONE JSON line:
#          {"tcp":"127.0.0.1:P","tls":"127.0.0.1:Q","ca":"D/ca.pem","tcpLog":"D/tcp.log",
#           "tlsLog":"D/tls.log","runDir":D,"pids":[…]}
# stop:    SIGTERM to both process groups, then SIGKILL.
set -euo pipefail

NAME=rsyslog.sh
# shellcheck source=scripts/it/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RSYSLOGD=/usr/sbin/rsyslogd

cmd_install() {
  local need=() p
  for p in rsyslog rsyslog-gnutls openssl; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if ((${#need[@]} == 0)); then log "rsyslog already installed"; return 0; fi
  log "apt-get install ${need[*]}"
  apt-get update -qq
  local policy=/usr/sbin/policy-rc.d created=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  ((created)) && rm -f "$policy"
  return 0
}

cmd_start() {
  local run="" tcp="" tls=""
  while (($#)); do
    case $1 in
      --run-dir) run=${2:?}; shift 2 ;;
      --tcp-port) tcp=${2:?}; shift 2 ;;
      --tls-port) tls=${2:?}; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [[ -x $RSYSLOGD ]] || die "rsyslog is not installed; run: $0 install"
  need_cmd openssl openssl
  run=$(run_dir rsyslog "$run")
  mkdir -p "$run/work-tcp" "$run/work-tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$run/key.pem" -out "$run/ca.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
  : >"$run/tcp.log"; : >"$run/tls.log"
  retry_ports "rsyslogd (tcp)" "$tcp" start_input "$run" tcp "$tcp"
  retry_ports "rsyslogd (tls)" "$tls" start_input "$run" tls "$tls"
  printf '{"tcp":"127.0.0.1:%s","tls":"127.0.0.1:%s","ca":"%s/ca.pem","tcpLog":"%s/tcp.log","tlsLog":"%s/tls.log","runDir":"%s","pids":[%s,%s]}\n' \
    "$(cat "$run/tcp.port")" "$(cat "$run/tls.port")" "$run" "$run" "$run" "$run" "$(cat "$run/tcp.pid-of-run")" "$(cat "$run/tls.pid-of-run")"
}

# start_input RUN tcp|tls [PORT]: one rsyslogd seen listening on its port: 0, 2 on a port
# conflict, 1 when it failed otherwise.
start_input() {
  local run=$1 k=$2 port=${3:-$(pick_port)} pid rc=0
  write_conf "$run" "$k" "$port"
  "$RSYSLOGD" -N1 -f "$run/$k.conf" >"$run/$k.check" 2>&1 || die "rsyslogd rejected $run/$k.conf: $(tail -n 5 "$run/$k.check")"
  setsid "$RSYSLOGD" -n -f "$run/$k.conf" -i "$run/$k.pid" >"$run/$k.out" 2>&1 </dev/null &
  pid=$!
  started "$pid"
  echo "$pid" >"$run/$k.pid-of-run"
  echo "$port" >"$run/$k.port"
  wait_own_listen "$pid" "$port" "$run/$k.out" 30 || rc=$?
  if ((rc)); then
    stop_group "$pid" || true
    ((rc == 2)) || log "rsyslogd ($k) exited: $(tail -n 5 "$run/$k.out")"
  fi
  return "$rc"
}

# write_conf RUN tcp|tls PORT: the rsyslogd configuration of one input.
write_conf() {
  local run=$1 k=$2 port=$3
  if [[ $k == tcp ]]; then
    cat >"$run/tcp.conf" <<EOF
global(workDirectory="$run/work-tcp" maxMessageSize="1m")
module(load="imtcp")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/tcp.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="$port" address="127.0.0.1" ruleset="recv")
EOF
  else
    cat >"$run/tls.conf" <<EOF
global(workDirectory="$run/work-tls" maxMessageSize="1m"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="$run/ca.pem"
  DefaultNetstreamDriverCertFile="$run/ca.pem"
  DefaultNetstreamDriverKeyFile="$run/key.pem")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="anon")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/tls.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="$port" address="127.0.0.1" ruleset="recv")
EOF
  fi
}

cmd_stop() {
  local run=""
  while (($#)); do
    case $1 in
      --run-dir) run=${2:?}; shift 2 ;;
      *) die "stop: unknown option $1" ;;
    esac
  done
  [[ -n $run && -f $run/tcp.pid-of-run ]] || die "stop needs --run-dir of a started rsyslog"
  local k pid i
  for k in tcp tls; do
    [[ -f $run/$k.pid-of-run ]] || continue
    pid=$(cat "$run/$k.pid-of-run")
    stop_group "$pid" || true
  done
  log "rsyslog stopped"
}

cmd=${1:-}
(($#)) && shift
case $cmd in
  install) cmd_install "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) print_usage; exit 2 ;;
esac
