#!/usr/bin/env bash
# A server command (`dotnet GlobeSecure.Server.dll <command>`, GlobeServerHost.RunCommandAsync)
# against GLOBE_DB, or against the embedded cluster of ops/run.sh when GLOBE_DB is unset
# (started if it is not running and stopped again afterwards, reused if it is). Sourced by
# ops/bootstrap-code.sh and ops/rebuild-projections.sh, which call `globe_server_command <command>`.
#
#   GLOBE_DB       Npgsql connection string; when set it is used as is.
#   GLOBE_PG_PORT  port of that embedded cluster (default 15432, 127.0.0.1 only)
#
# The command's output goes to stdout; everything else (the build, PostgreSQL) to stderr.
# shellcheck disable=SC2317  # cleanup is only called from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

GLOBE_HOME="$ROOT/.globe"
PGDATA_DIR="$GLOBE_HOME/pg"
RUN_DIR="$GLOBE_HOME/run"
PG_LOG="$GLOBE_HOME/pg.log"
PG_BIN=""
PG_STARTED=0

die() { echo "error: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$PG_STARTED" -eq 1 ]; then
    globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null ||
      echo "warning: pg_ctl stop failed; see $PG_LOG" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The embedded cluster of ops/run.sh, created the same way if this runs first.
use_embedded_pg() {
  local port=${GLOBE_PG_PORT:-$GLOBE_PG_DEFAULT_PORT} running_port sockdir
  case "$port" in ''|*[!0-9]*) die "GLOBE_PG_PORT must be a number, not '$port'";; esac
  PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"
  mkdir -p "$GLOBE_HOME" "$PGDATA_DIR" "$RUN_DIR"
  touch "$PG_LOG"
  if [ "$(id -u)" -eq 0 ]; then
    chmod a+x "$ROOT" "$GLOBE_HOME"
    chown postgres:postgres "$PGDATA_DIR" "$RUN_DIR" "$PG_LOG"
  fi
  chmod 700 "$PGDATA_DIR"
  if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
    echo "Creating the embedded PostgreSQL cluster in .globe/pg ($PG_BIN)…" >&2
    globe_pg_initdb "$PG_BIN" "$PGDATA_DIR" || die "initdb failed"
  fi
  if ! grep -q "^include_if_exists = 'globe.conf'" "$PGDATA_DIR/postgresql.conf"; then
    printf "\n# Written by ops/run.sh\ninclude_if_exists = 'globe.conf'\n" >>"$PGDATA_DIR/postgresql.conf"
  fi

  if [ -f "$PGDATA_DIR/postmaster.pid" ] &&
     globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    running_port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid" | tr -d '[:space:]')
    if [ -n "$running_port" ]; then port=$running_port; fi
    echo "Using the embedded PostgreSQL already running on 127.0.0.1:$port (left running)." >&2
  else
    sockdir=${RUN_DIR//\'/\'\'}
    if [ $(( ${#RUN_DIR} + 20 )) -gt 107 ]; then sockdir=""; fi
    {
      echo "# Written by ops/run.sh or a server command (ops/lib/server-command.sh) on every start; edits are lost."
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$sockdir'"
    } >"$PGDATA_DIR/globe.conf"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDATA_DIR/globe.conf"; fi
    echo "Starting the embedded PostgreSQL on 127.0.0.1:$port (stopped again afterwards)…" >&2
    PG_STARTED=1
    if ! globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start >/dev/null; then
      PG_STARTED=0
      die "the embedded PostgreSQL did not start (is port $port in use? set GLOBE_PG_PORT); see $PG_LOG"
    fi
  fi
  local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
  if [ "$(globe_as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'globe'")" != "1" ]; then
    globe_as_pg "${psql[@]}" -c "CREATE DATABASE globe" >&2 || die "could not create database 'globe'"
  fi
  GLOBE_DB="Host=127.0.0.1;Port=$port;Username=postgres;Database=globe"
}

globe_server_command() {
  if [ -z "${GLOBE_DB:-}" ]; then
    use_embedded_pg
  fi
  export GLOBE_DB

  # Build first with its output on stderr, so stdout carries only the command's output.
  dotnet build src/GlobeSecure.Server -c Release -nologo -v quiet >&2 || die "the server did not build"
  dotnet run --no-build --project src/GlobeSecure.Server -c Release -- "$@"
}
