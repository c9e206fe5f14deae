# shellcheck shell=bash
# Shared by the scripts/it/*.sh and scripts/flink/flink.sh server scripts: source it after setting NAME.
#   log MSG…                 a line on stderr, prefixed with the script's name
#   die MSG…                 log and exit 1
#   print_usage              the script's header comment (its usage) on stderr
#   need_cmd CMD PKG         die with an install hint when CMD is missing (a missing curl must not
#                            look like a server that never came up)
#   run_dir KIND [D]         D made absolute, or a fresh $IT_DIR/run/KIND.XXXXXX: every server's
#                            files (and so its pid files and logs) live under the run's .it dir,
#                            where scripts/test-all.sh finds them to print logs and sweep leftovers
#   pick_port                a port the OS just handed out and took back: only a CANDIDATE —
#                            another process may bind it before the server does, so every start
#                            checks with wait_own_listen and retries with fresh ports on conflict
#   port_owner PGID PORT     "ours" when a process of group PGID listens on 127.0.0.1:PORT,
#                            "other" when someone else does, "none" when nobody does
#   wait_own_listen PGID PORT LOG [SECONDS]
#                            waits until group PGID listens on PORT. Returns 0 when it does, 2 on a
#                            port conflict (someone else listens there, or the server exited with a
#                            bind error in LOG), 1 when the server exited otherwise or timed out.
#   retry_ports WHAT FIXED FN [ARG…]
#                            runs FN ARG… (which picks its ports, starts, and returns like
#                            wait_own_listen) until it returns 0; after a conflict (2) again, up to
#                            FLINKTRAIL_IT_PORT_TRIES times — unless FIXED, a port the caller
#                            chose, is set: that one is the caller's to change. Dies otherwise.
#   started PID              remember a started process group: when the script then fails (exits
#                            non-zero), every remembered group is stopped — a half-started server
#                            never outlives the script that could not report it
#   opt_run_dir [--run-dir D]
#                            D (empty without the option); dies on any other option. Use as
#                            run=$(opt_run_dir "$@") in a script under set -e.
#   stop_group PID [TENTHS]  SIGTERM the process group of PID (servers are started with setsid),
#                            wait up to TENTHS tenths of a second (default 50), then SIGKILL; returns 0
#                            when it ended by itself, 1 when it had to be killed.
IT_DIR=${FLINKTRAIL_IT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.it}
MAX_PORT_TRIES=${FLINKTRAIL_IT_PORT_TRIES:-5}
BIND_ERROR='Address already in use|BindException|[Cc]ould not bind|bind\(\) failed|failed to bind|[Cc]ould not create tcp listener'

log() { printf '[%s] %s\n' "${NAME:-it}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

print_usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; }

opt_run_dir() {
  local run=""
  while (($#)); do
    case $1 in
      --run-dir) run=${2:?}; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  echo "$run"
}

need_cmd() { command -v "$1" >/dev/null || die "$1 is not installed (Debian package $2); .ci/run installs it, or: apt-get install -y $2"; }

run_dir() {
  local kind=$1 d=${2:-}
  if [[ -z $d ]]; then
    mkdir -p "$IT_DIR/run"
    d=$(mktemp -d "$IT_DIR/run/$kind.XXXXXX")
  fi
  mkdir -p "$d" && (cd "$d" && pwd)
}

pick_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

# Inodes of the sockets listening on PORT (IPv4 and IPv6, any address).
listen_inodes() {
  awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

group_pids() {
  local pg=$1 f s
  for f in /proc/[0-9]*/stat; do
    # builtins only: this runs for every process on the machine, several times a second
    { read -r s <"$f"; } 2>/dev/null || continue
    s=${s##*) }
    # fields after the command: state ppid pgrp ...
    read -r _ _ s _ <<<"$s"
    [[ $s == "$pg" ]] || continue
    f=${f#/proc/}
    echo "${f%/stat}"
  done
}

port_owner() {
  local pg=$1 port=$2 inodes pid l i
  mapfile -t inodes < <(listen_inodes "$port")
  ((${#inodes[@]})) || { echo none; return; }
  for pid in $(group_pids "$pg"); do
    # one listing of the process's descriptors: "… -> socket:[inode]"
    l=$(ls -l "/proc/$pid/fd" 2>/dev/null) || continue
    for i in "${inodes[@]}"; do [[ $l == *"socket:[$i]"* ]] && { echo ours; return; }; done
  done
  echo other
}

wait_own_listen() {
  local pg=$1 port=$2 logf=$3 seconds=${4:-60} deadline o
  deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    o=$(port_owner "$pg" "$port")
    [[ $o == ours ]] && return 0
    if [[ $o == other ]]; then log "port $port was taken by another process"; return 2; fi
    if ! kill -0 "$pg" 2>/dev/null; then
      grep -qE "$BIND_ERROR" "$logf" 2>/dev/null && { log "port $port: bind conflict"; return 2; }
      return 1
    fi
    # Some servers (rsyslog) log a failed bind and keep running.
    grep -qE "$BIND_ERROR" "$logf" 2>/dev/null && { log "port $port: bind conflict"; return 2; }
    sleep 0.2
  done
  log "nothing listened on 127.0.0.1:$port within ${seconds}s"
  return 1
}

retry_ports() {
  local what=$1 fixed=$2 try rc
  shift 2
  for try in $(seq 1 "$MAX_PORT_TRIES"); do
    rc=0
    "$@" || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && [[ -z $fixed ]] || die "$what did not start"
    log "port conflict (try $try of $MAX_PORT_TRIES); starting $what again on fresh ports"
  done
  die "$what did not start after $MAX_PORT_TRIES port conflicts"
}

stop_group() {
  local pid=$1 tenths=${2:-50} i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 "$tenths"); do
    # The leader is gone: whatever of its group is left goes too.
    kill -0 "$pid" 2>/dev/null || { kill -KILL -- "-$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  return 1
}

STARTED_GROUPS=()
started() { STARTED_GROUPS+=("$1"); }
stop_started_on_failure() {
  local rc=$? p
  if ((rc)); then
    for p in "${STARTED_GROUPS[@]}"; do stop_group "$p" 20 || true; done
  fi
  return "$rc"
}
trap stop_started_on_failure EXIT
