#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster (Debian's `postgresql` package) for the PostgreSQL event store
# tests: its own data directory in a run directory, trust authentication, fsync off (test data
# only), listening ONLY on a unix socket in that private directory (listen_addresses=''), so
# there is no TCP port to race for.
#
#   scripts/it/postgres.sh start [--run-dir D]
#   scripts/it/postgres.sh stop --run-dir D
#   scripts/it/postgres.sh pause --run-dir D      # outage tests
#   scripts/it/postgres.sh resume --run-dir D
#
# start: initdb (user postgres, --auth=trust) into D/data, starts the server in its own session
#        (setsid; the server inherits FLINKTRAIL_RUN_ID, so scripts/it/sweep.sh finds it), waits
#        until it accepts connections and creates the database `flinktrail`. PostgreSQL refuses to
#        run as root: as root it runs as the system user postgres (runuser), otherwise as the
#        calling user. D defaults to a fresh .it/run/postgres.* (as root, when the user postgres
#        cannot reach it, e.g. a checkout in a mktemp -d directory: /tmp/flinktrail-pg.*). Prints ONE JSON line:
#        {"url":"postgres://postgres@/flinktrail?host=D","socketDir":D,"runDir":D,"pid":N,"log":"D/server.log"}
#        (pid: the postmaster's process group).
# pause: `pg_ctl stop -m fast`, keeping D and its data (clients see the server gone: their
#        connections are ended, new ones refused). resume: starts it again on the same data and
#        socket and prints the JSON line of start.
# stop:  `pg_ctl stop -m fast` (then SIGKILL to the process group if it does not end within 10 s)
#        and removes D.
set -euo pipefail

NAME=postgres.sh
# shellcheck source=scripts/it/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PG_BIN=${FLINKTRAIL_PG_BIN:-/usr/lib/postgresql/15/bin}

# as_pg CMD…: runs CMD as the user that owns the cluster (postgres when we are root).
as_pg() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# launch D: starts the server of D/data in its own session and records its process group.
launch() {
  local run=$1
  [[ -f $run/server.log ]] || : >"$run/server.log"
  [[ $(id -u) == 0 ]] && chown postgres: "$run/server.log"
  # pg_ctl forks the postmaster and returns once it accepts connections (-w); setsid gives the
  # postmaster a session and process group of its own.
  setsid bash -c "$(declare -f as_pg); as_pg '$PG_BIN/pg_ctl' -D '$run/data' -l '$run/server.log' -w -t 60 start" >"$run/pg_ctl.out" 2>&1 </dev/null ||
    die "the server did not start: $(tail -n 5 "$run/pg_ctl.out") $(tail -n 10 "$run/server.log")"
  local pid pgid
  pid=$(head -n 1 "$run/data/postmaster.pid")
  pgid=$(awk '{ sub(/^.*\) /, ""); print $3 }' "/proc/$pid/stat")
  started "$pgid"
  echo "$pgid" >"$run/pgid"
}

print_info() {
  local run=$1
  printf '{"url":"postgres://postgres@/flinktrail?host=%s","socketDir":"%s","runDir":"%s","pid":%s,"log":"%s/server.log"}\n' "$run" "$run" "$run" "$(cat "$run/pgid")" "$run"
}

cmd_pause() {
  local run
  run=$(opt_run_dir "$@")
  [[ -n $run && -f $run/data/postmaster.pid ]] || die "pause needs --run-dir of a running PostgreSQL"
  as_pg "$PG_BIN/pg_ctl" -D "$run/data" -m fast -w -t 30 stop >"$run/pg_ctl-pause.out" 2>&1 || die "pg_ctl stop failed: $(tail -n 3 "$run/pg_ctl-pause.out")"
  log "PostgreSQL paused (data kept in $run)"
}

cmd_resume() {
  local run
  run=$(opt_run_dir "$@")
  [[ -n $run && -d $run/data && ! -f $run/data/postmaster.pid ]] || die "resume needs --run-dir of a paused PostgreSQL"
  launch "$run"
  print_info "$run"
}

cmd_start() {
  local run
  run=$(opt_run_dir "$@")
  [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] || die "PostgreSQL is not installed in $PG_BIN (Debian package postgresql); run scripts/install-test-deps.sh, or: apt-get install -y postgresql"
  if [[ $(id -u) == 0 ]]; then id postgres >/dev/null 2>&1 || die "running as root needs the system user postgres (Debian package postgresql)"; fi
  local given=$run
  run=$(run_dir postgres "$run")
  # As root the cluster belongs to postgres, which must be able to reach the run directory: a
  # checkout under a private directory (mktemp -d, a home 0700) is not. Then the cluster goes to
  # a directory of its own under /tmp (removed by stop like any run directory).
  if [[ $(id -u) == 0 ]] && ! runuser -u postgres -- test -x "$run"; then
    [[ -z $given ]] || die "the system user postgres cannot reach the run directory $given (a parent directory is private); choose another --run-dir"
    rmdir "$run"
    run=$(mktemp -d /tmp/flinktrail-pg.XXXXXX)
  fi
  # A unix socket path is limited to 107 bytes: D/.s.PGSQL.5432 must fit.
  ((${#run} + 15 <= 107)) || die "the run directory $run is too long for a unix socket path (at most 92 characters)"
  [[ $(id -u) == 0 ]] && chown postgres: "$run"
  chmod 700 "$run"
  as_pg "$PG_BIN/initdb" -D "$run/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$run/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -n 5 "$run/initdb.log")"
  cat >>"$run/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$run'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
CONF
  launch "$run"
  as_pg "$PG_BIN/psql" -h "$run" -U postgres -d postgres -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE flinktrail' >"$run/createdb.log" 2>&1 ||
    die "could not create the database flinktrail: $(cat "$run/createdb.log")"
  print_info "$run"
}

cmd_stop() {
  local run
  run=$(opt_run_dir "$@")
  [[ -n $run && -d $run/data ]] || die "stop needs --run-dir of a started PostgreSQL"
  if [[ -f $run/data/postmaster.pid ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$run/data" -m fast -w -t 10 stop >"$run/pg_ctl-stop.out" 2>&1 || {
      log "pg_ctl stop failed: $(tail -n 3 "$run/pg_ctl-stop.out"); killing the process group"
      [[ -f $run/pgid ]] && stop_group "$(cat "$run/pgid")" 20 || true
    }
  fi
  rm -rf "$run"
  log "PostgreSQL stopped, $run removed"
}

cmd=${1:-}
(($#)) && shift
case $cmd in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  pause) cmd_pause "$@" ;;
  resume) cmd_resume "$@" ;;
  *) print_usage; exit 2 ;;
esac
