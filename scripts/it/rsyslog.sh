#!/usr/bin/env bash
# A real rsyslog (Debian) receiving RFC 5424 over TCP, over TLS (RFC 5425) and over RELP (plain
# and TLS), for trail tests. Three rsyslogd processes (plain TCP, TLS, RELP), each writing every
# received message verbatim (%rawmsg%, one per line) to a file the test reads.
#
#   scripts/it/rsyslog.sh install
#   scripts/it/rsyslog.sh start [--run-dir D] [--tcp-port P] [--tls-port P] [--relp-port P] [--relp-tls-port P]
#   scripts/it/rsyslog.sh kill-relp --run-dir D     # SIGKILL the RELP receiver (a crash)
#   scripts/it/rsyslog.sh resume-relp --run-dir D   # start it again on the same ports
#   scripts/it/rsyslog.sh stop --run-dir D
#
# install:     apt-get installs rsyslog, rsyslog-gnutls and rsyslog-relp if missing (the Debian
#              service is never started), and openssl for the test certificate.
# start:       makes a self-signed certificate for 127.0.0.1 (D/ca.pem = the server certificate,
#              D/key.pem), writes D/tcp.conf and D/tls.conf (own work directories, max message size
#              1 MiB, imtcp on 127.0.0.1) and D/relp.conf (imrelp plain and TLS with the same
#              certificate, asking for a client certificate signed by D/ca.pem — tls.authMode
#              certvalid; the test presents D/ca.pem + D/key.pem itself; a Direct main queue, so
#              that imrelp's `rsp 200` is sent only after omfile wrote the message: an acknowledged
#              message survives SIGKILL), checks them with `rsyslogd -N1`, runs each in its own
#              session (setsid) and waits until each listens on its ports itself (ports another
#              process took first are picked again). D defaults to a fresh .it/run/rsyslog.*.
#              Prints ONE JSON line:
#              {"tcp":"127.0.0.1:P","tls":"127.0.0.1:Q","relp":"127.0.0.1:R","relpTls":"127.0.0.1:S",
#               "ca":"D/ca.pem","tcpLog":"D/tcp.log","tlsLog":"D/tls.log","relpLog":"D/relp.log",
#               "relpTlsLog":"D/relp-tls.log","runDir":D,"pids":[…]}
# kill-relp:   SIGKILL to the RELP receiver's process group.
# resume-relp: starts the RELP receiver again on the ports it had (test-only: when another process
#              took one meanwhile, it fails and says so). Prints ONE JSON line: {"pid":N}
# stop:        SIGTERM to every process group, then SIGKILL.
set -euo pipefail

NAME=rsyslog.sh
# shellcheck source=scripts/it/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RSYSLOGD=/usr/sbin/rsyslogd
INPUTS=(tcp tls relp)

cmd_install() {
  local need=() p
  for p in rsyslog rsyslog-gnutls rsyslog-relp openssl; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
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
  local run="" tcp="" tls="" relp="" relptls=""
  while (($#)); do
    case $1 in
      --run-dir) run=${2:?}; shift 2 ;;
      --tcp-port) tcp=${2:?}; shift 2 ;;
      --tls-port) tls=${2:?}; shift 2 ;;
      --relp-port) relp=${2:?}; shift 2 ;;
      --relp-tls-port) relptls=${2:?}; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [[ -x $RSYSLOGD ]] || die "rsyslog is not installed; run: $0 install"
  need_cmd openssl openssl
  run=$(run_dir rsyslog "$run")
  local k
  for k in "${INPUTS[@]}"; do mkdir -p "$run/work-$k"; done
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$run/key.pem" -out "$run/ca.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
  : >"$run/tcp.log"; : >"$run/tls.log"; : >"$run/relp.log"; : >"$run/relp-tls.log"
  retry_ports "rsyslogd (tcp)" "$tcp" start_input "$run" tcp "$tcp"
  retry_ports "rsyslogd (tls)" "$tls" start_input "$run" tls "$tls"
  retry_ports "rsyslogd (relp)" "$relp$relptls" start_input "$run" relp "$relp" "$relptls"
  local relpports
  read -ra relpports <"$run/relp.port"
  printf '{"tcp":"127.0.0.1:%s","tls":"127.0.0.1:%s","relp":"127.0.0.1:%s","relpTls":"127.0.0.1:%s","ca":"%s/ca.pem","tcpLog":"%s/tcp.log","tlsLog":"%s/tls.log","relpLog":"%s/relp.log","relpTlsLog":"%s/relp-tls.log","runDir":"%s","pids":[%s,%s,%s]}\n' \
    "$(cat "$run/tcp.port")" "$(cat "$run/tls.port")" "${relpports[0]}" "${relpports[1]}" "$run" "$run" "$run" "$run" "$run" "$run" \
    "$(cat "$run/tcp.pid-of-run")" "$(cat "$run/tls.pid-of-run")" "$(cat "$run/relp.pid-of-run")"
}

# start_input RUN tcp|tls|relp [PORT [PORT2]]: one rsyslogd (relp: a plain and a TLS port, empty
# ones picked) seen listening on its ports: 0, 2 on a port conflict, 1 when it failed otherwise.
start_input() {
  local run=$1 k=$2 ports=("${@:3}") n=1 i
  [[ $k == relp ]] && n=2
  for ((i = 0; i < n; i++)); do [[ -n ${ports[i]:-} ]] || ports[i]=$(pick_port); done
  write_conf "$run" "$k" "${ports[@]}"
  "$RSYSLOGD" -N1 -f "$run/$k.conf" >"$run/$k.check" 2>&1 || die "rsyslogd rejected $run/$k.conf: $(tail -n 5 "$run/$k.check")"
  echo "${ports[*]}" >"$run/$k.port"
  : >"$run/$k.out"
  run_input "$run" "$k"
}

# run_input RUN tcp|tls|relp: runs the rsyslogd of RUN/k.conf in its own session and waits until
# it listens on the ports in RUN/k.port itself; returns like wait_own_listen (stopped on failure).
run_input() {
  local run=$1 k=$2 pid rc=0 p ports
  read -ra ports <"$run/$k.port"
  rm -f "$run/$k.pid"
  setsid "$RSYSLOGD" -n -f "$run/$k.conf" -i "$run/$k.pid" >>"$run/$k.out" 2>&1 </dev/null &
  pid=$!
  started "$pid"
  echo "$pid" >"$run/$k.pid-of-run"
  for p in "${ports[@]}"; do
    wait_own_listen "$pid" "$p" "$run/$k.out" 30 || { rc=$?; break; }
  done
  if ((rc)); then
    stop_group "$pid" || true
    ((rc == 2)) || log "rsyslogd ($k) exited: $(tail -n 5 "$run/$k.out")"
  fi
  return "$rc"
}

# write_conf RUN tcp|tls|relp PORT [TLS_PORT]: the rsyslogd configuration of one input.
write_conf() {
  local run=$1 k=$2 port=$3 port2=${4:-}
  case $k in
    tcp)
      cat >"$run/tcp.conf" <<CONF
global(workDirectory="$run/work-tcp" maxMessageSize="1m")
module(load="imtcp")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/tcp.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="$port" address="127.0.0.1" ruleset="recv")
CONF
      ;;
    tls)
      cat >"$run/tls.conf" <<CONF
global(workDirectory="$run/work-tls" maxMessageSize="1m"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="$run/ca.pem"
  DefaultNetstreamDriverCertFile="$run/ca.pem"
  DefaultNetstreamDriverKeyFile="$run/key.pem")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="anon")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/tls.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="$port" address="127.0.0.1" ruleset="recv")
CONF
      ;;
    relp)
      cat >"$run/relp.conf" <<CONF
global(workDirectory="$run/work-relp" maxMessageSize="1m")
main_queue(queue.type="Direct")
module(load="imrelp")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/relp.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
ruleset(name="recv-tls") { action(type="omfile" file="$run/relp-tls.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imrelp" port="$port" address="127.0.0.1" ruleset="recv" maxDataSize="1m")
input(type="imrelp" port="$port2" address="127.0.0.1" ruleset="recv-tls" maxDataSize="1m"
  tls="on" tls.authMode="certvalid" tls.cacert="$run/ca.pem" tls.mycert="$run/ca.pem" tls.myprivkey="$run/key.pem")
CONF
      ;;
  esac
}

# relp_run_dir --run-dir D: D, when it holds a started RELP receiver.
relp_run_dir() {
  [[ ${1:-} == --run-dir && -n ${2:-} && -f $2/relp.pid-of-run && -f $2/relp.port ]] || die "needs --run-dir of a started rsyslog"
  echo "$2"
}

cmd_kill_relp() {
  local run pid
  run=$(relp_run_dir "$@")
  pid=$(cat "$run/relp.pid-of-run")
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  log "RELP receiver $pid killed (SIGKILL)"
}

cmd_resume_relp() {
  local run rc=0
  run=$(relp_run_dir "$@")
  # The log of the killed receiver is kept; a bind error there must not read as one of this start.
  cat "$run/relp.out" >>"$run/relp.out.before" && : >"$run/relp.out"
  run_input "$run" relp || rc=$?
  ((rc != 2)) || die "the RELP receiver cannot resume: one of its ports ($(cat "$run/relp.port")) was taken meanwhile"
  ((rc == 0)) || die "the RELP receiver did not start again"
  log "RELP receiver back on $(cat "$run/relp.port")"
  printf '{"pid":%s}\n' "$(cat "$run/relp.pid-of-run")"
}

cmd_stop() {
  local run
  run=$(opt_run_dir "$@")
  [[ -n $run && -f $run/tcp.pid-of-run ]] || die "stop needs --run-dir of a started rsyslog"
  local k pid
  for k in "${INPUTS[@]}"; do
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
  kill-relp) cmd_kill_relp "$@" ;;
  resume-relp) cmd_resume_relp "$@" ;;
  stop) cmd_stop "$@" ;;
  *) print_usage; exit 2 ;;
esac
