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
# install: apt-get installs rsyslog, rsyslog-gnutls and rsyslog-relp if missing (the Debian
#          service is never started), and openssl for the test certificate.
# start:   makes a self-signed certificate for 127.0.0.1 (D/ca.pem = the server certificate,
#          D/key.pem), writes D/tcp.conf and D/tls.conf (own work directories, max message size
#          1 MiB, imtcp on 127.0.0.1) and D/relp.conf (imrelp plain and TLS with the same
#          certificate, asking for a client certificate signed by D/ca.pem — tls.authMode certvalid;
#          the test presents D/ca.pem + D/key.pem itself; a Direct main queue, so that imrelp's `rsp 200`
#          is sent only after omfile wrote the message: an acknowledged message survives SIGKILL),
#          checks them with `rsyslogd -N1`, runs each in its own session (setsid) and waits for
#          the ports. Prints ONE JSON line:
#          {"tcp":"127.0.0.1:P","tls":"127.0.0.1:Q","relp":"127.0.0.1:R","relpTls":"127.0.0.1:S",
#           "ca":"D/ca.pem","tcpLog":"D/tcp.log","tlsLog":"D/tls.log","relpLog":"D/relp.log",
#           "relpTlsLog":"D/relp-tls.log","runDir":D,"pids":[…]}
# stop:    SIGTERM to every process group, then SIGKILL.
set -euo pipefail

NAME=rsyslog.sh
# shellcheck source=scripts/it/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'; }
RSYSLOGD=/usr/sbin/rsyslogd

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

wait_port() {
  local port=$1 pid=$2 logf=$3 i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "rsyslogd exited: $(tail -n 5 "$logf")"
    sleep 0.05
  done
  die "rsyslogd did not listen on 127.0.0.1:$port"
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
  [[ -n $run ]] || run=$(mktemp -d "${TMPDIR:-/tmp}/ft-rsyslog.XXXXXX")
  mkdir -p "$run/work-tcp" "$run/work-tls" "$run/work-relp"; run=$(cd "$run" && pwd)
  [[ -n $tcp ]] || tcp=$(free_port)
  [[ -n $tls ]] || tls=$(free_port)
  [[ -n $relp ]] || relp=$(free_port)
  [[ -n $relptls ]] || relptls=$(free_port)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$run/key.pem" -out "$run/ca.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
  : >"$run/tcp.log"; : >"$run/tls.log"; : >"$run/relp.log"; : >"$run/relp-tls.log"
  cat >"$run/tcp.conf" <<EOF
global(workDirectory="$run/work-tcp" maxMessageSize="1m")
module(load="imtcp")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/tcp.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="$tcp" address="127.0.0.1" ruleset="recv")
EOF
  cat >"$run/tls.conf" <<EOF
global(workDirectory="$run/work-tls" maxMessageSize="1m"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="$run/ca.pem"
  DefaultNetstreamDriverCertFile="$run/ca.pem"
  DefaultNetstreamDriverKeyFile="$run/key.pem")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="anon")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/tls.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imtcp" port="$tls" address="127.0.0.1" ruleset="recv")
EOF
  cat >"$run/relp.conf" <<EOF
global(workDirectory="$run/work-relp" maxMessageSize="1m")
main_queue(queue.type="Direct")
module(load="imrelp")
template(name="raw5424" type="string" string="%rawmsg%\n")
ruleset(name="recv") { action(type="omfile" file="$run/relp.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
ruleset(name="recv-tls") { action(type="omfile" file="$run/relp-tls.log" template="raw5424" flushOnTXEnd="on" asyncWriting="off") }
input(type="imrelp" port="$relp" address="127.0.0.1" ruleset="recv" maxDataSize="1m")
input(type="imrelp" port="$relptls" address="127.0.0.1" ruleset="recv-tls" maxDataSize="1m"
  tls="on" tls.authMode="certvalid" tls.cacert="$run/ca.pem" tls.mycert="$run/ca.pem" tls.myprivkey="$run/key.pem")
EOF
  printf '%s %s\n' "$relp" "$relptls" >"$run/relp.ports"
  local k pids=()
  for k in tcp tls relp; do
    "$RSYSLOGD" -N1 -f "$run/$k.conf" >"$run/$k.check" 2>&1 || die "rsyslogd rejected $run/$k.conf: $(tail -n 5 "$run/$k.check")"
    run_one "$run" "$k"
    pids+=("$(cat "$run/$k.pid-of-run")")
  done
  wait_port "$tcp" "${pids[0]}" "$run/tcp.out"
  wait_port "$tls" "${pids[1]}" "$run/tls.out"
  wait_port "$relp" "${pids[2]}" "$run/relp.out"
  wait_port "$relptls" "${pids[2]}" "$run/relp.out"
  printf '{"tcp":"127.0.0.1:%s","tls":"127.0.0.1:%s","relp":"127.0.0.1:%s","relpTls":"127.0.0.1:%s","ca":"%s/ca.pem","tcpLog":"%s/tcp.log","tlsLog":"%s/tls.log","relpLog":"%s/relp.log","relpTlsLog":"%s/relp-tls.log","runDir":"%s","pids":[%s,%s,%s]}\n' \
    "$tcp" "$tls" "$relp" "$relptls" "$run" "$run" "$run" "$run" "$run" "$run" "${pids[0]}" "${pids[1]}" "${pids[2]}"
}

run_one() { # run_one <run-dir> <tcp|tls|relp>: rsyslogd with D/<k>.conf in its own session
  local run=$1 k=$2
  rm -f "$run/$k.pid"
  setsid "$RSYSLOGD" -n -f "$run/$k.conf" -i "$run/$k.pid" >>"$run/$k.out" 2>&1 </dev/null &
  echo $! >"$run/$k.pid-of-run"
}

cmd_kill_relp() {
  [[ ${1:-} == --run-dir && -f ${2:-}/relp.pid-of-run ]] || die "kill-relp needs --run-dir of a started rsyslog"
  local pid; pid=$(cat "$2/relp.pid-of-run")
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  local i; for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  log "RELP receiver $pid killed (SIGKILL)"
}

cmd_resume_relp() {
  [[ ${1:-} == --run-dir && -f ${2:-}/relp.ports ]] || die "resume-relp needs --run-dir of a started rsyslog"
  local run=$2 relp relptls
  read -r relp relptls <"$run/relp.ports"
  run_one "$run" relp
  wait_port "$relp" "$(cat "$run/relp.pid-of-run")" "$run/relp.out"
  wait_port "$relptls" "$(cat "$run/relp.pid-of-run")" "$run/relp.out"
  log "RELP receiver back on $relp and $relptls"
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
  for k in tcp tls relp; do
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
  *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
