#!/usr/bin/env bash
# Back up GlobeSecure's database and its audit checkpoint key (docs/backup.md).
#
#   ops/backup.sh [--db CONNSTR] [--out FILE.dump] [--key-file PATH | --no-key]
#
#   --db CONNSTR    Npgsql connection string (or postgres:// URI) of the database to back up;
#                   default GLOBE_DB, else the embedded cluster of ops/run.sh (.globe/pg,
#                   database 'globe'): used if running, else started and stopped again.
#   --out FILE      the dump (pg_dump custom format); default
#                   .globe/backups/globe-YYYYMMDDTHHMMSSZ.dump (UTC)
#   --key-file PATH the audit checkpoint key to copy beside the dump, as
#                   FILE without .dump + .audit-checkpoint.key (mode 0600); default
#                   Globe__Audit__CheckpointKeyFile, else .globe/audit-checkpoint.key
#   --no-key        back up the database only (the key is kept elsewhere)
#   GLOBE_PG_PORT   port of the embedded cluster (default 15432)
#
# pg_dump reads one consistent snapshot, so the server may keep running. Prints the files it
# wrote; exits non-zero, leaving no partial file, on any failure.
# shellcheck disable=SC2317  # cleanup is only called from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

GLOBE_HOME="$ROOT/.globe"
PGDATA_DIR="$GLOBE_HOME/pg"
RUN_DIR="$GLOBE_HOME/run"
PG_LOG="$GLOBE_HOME/pg.log"
PG_BIN=""
PG_STARTED=0
PARTIAL=()

die() { echo "error: $*" >&2; exit 1; }

usage() { sed -n '2,/^# shellcheck/p' "${BASH_SOURCE[0]}" | sed '$d' | sed -E 's/^# ?//'; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ] && [ "${#PARTIAL[@]}" -gt 0 ]; then rm -f -- "${PARTIAL[@]}"; fi
  if [ "$PG_STARTED" -eq 1 ]; then
    globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null ||
      echo "warning: pg_ctl stop failed; see $PG_LOG" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DB=${GLOBE_DB:-}
OUT=""
KEY_FILE=${Globe__Audit__CheckpointKeyFile:-$GLOBE_HOME/audit-checkpoint.key}
WITH_KEY=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0;;
    --db) [ $# -ge 2 ] || die "--db needs a connection string"; DB=$2; shift 2;;
    --out) [ $# -ge 2 ] || die "--out needs a file name"; OUT=$2; shift 2;;
    --key-file) [ $# -ge 2 ] || die "--key-file needs a path"; KEY_FILE=$2; shift 2;;
    --no-key) WITH_KEY=0; shift;;
    *) die "unknown argument '$1' (see --help)";;
  esac
done

# The embedded cluster of ops/run.sh: used where it runs, else started for the dump only.
use_embedded_pg() {
  local port=${GLOBE_PG_PORT:-$GLOBE_PG_DEFAULT_PORT} running_port
  case "$port" in ''|*[!0-9]*) die "GLOBE_PG_PORT must be a number, not '$port'";; esac
  [ -s "$PGDATA_DIR/PG_VERSION" ] ||
    die "there is no embedded database in .globe/pg to back up; set GLOBE_DB or --db for another one"
  PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"
  if [ -f "$PGDATA_DIR/postmaster.pid" ] &&
     globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    running_port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid" | tr -d '[:space:]')
    if [ -n "$running_port" ]; then port=$running_port; fi
    echo "Backing up the embedded PostgreSQL running on 127.0.0.1:$port." >&2
  else
    echo "Starting the embedded PostgreSQL on 127.0.0.1:$port for the backup (stopped again afterwards)…" >&2
    mkdir -p "$RUN_DIR"
    touch "$PG_LOG"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$RUN_DIR" "$PG_LOG"; fi
    PG_STARTED=1
    if ! globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=''" start >/dev/null; then
      PG_STARTED=0
      die "the embedded PostgreSQL did not start (is port $port in use? set GLOBE_PG_PORT); see $PG_LOG"
    fi
  fi
  DB="Host=127.0.0.1;Port=$port;Username=postgres;Database=globe"
}

if [ -z "$DB" ]; then
  use_embedded_pg
else
  PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"
fi
globe_pg_connect "$DB" || die "cannot use the connection string"

if [ "$WITH_KEY" -eq 1 ] && [ ! -f "$KEY_FILE" ]; then
  die "the audit checkpoint key $KEY_FILE does not exist; name it with --key-file, or pass --no-key to back up the database alone"
fi

if [ -z "$OUT" ]; then
  OUT="$GLOBE_HOME/backups/globe-$(date -u +%Y%m%dT%H%M%SZ).dump"
fi
case "$OUT" in *.dump) ;; *) die "--out must end in .dump (the key is written beside it)";; esac
KEY_OUT="${OUT%.dump}.audit-checkpoint.key"
[ -e "$OUT" ] && die "$OUT exists; choose another --out"
[ "$WITH_KEY" -eq 1 ] && [ -e "$KEY_OUT" ] && die "$KEY_OUT exists; choose another --out"

umask 077
mkdir -p "$(dirname "$OUT")"
PARTIAL=("$OUT.partial")
db_args=()
if [ -n "${PGGLOBEURI:-}" ]; then db_args=(-d "$PGGLOBEURI"); fi
"$PG_BIN/pg_dump" --format=custom --no-password --file="$OUT.partial" "${db_args[@]}" ||
  die "pg_dump failed"
# A dump that pg_restore cannot list is no backup.
"$PG_BIN/pg_restore" --list "$OUT.partial" >/dev/null || die "the dump just written cannot be read back"
mv -- "$OUT.partial" "$OUT"
PARTIAL=("$OUT")
if [ "$WITH_KEY" -eq 1 ]; then
  PARTIAL+=("$KEY_OUT")
  cp -- "$KEY_FILE" "$KEY_OUT"
  chmod 600 "$KEY_OUT"
fi
PARTIAL=()

echo "database:       $OUT ($(wc -c <"$OUT" | tr -d ' ') bytes, pg_dump custom format, $("$PG_BIN/pg_dump" --version))"
if [ "$WITH_KEY" -eq 1 ]; then
  echo "checkpoint key: $KEY_OUT (mode 0600; secret: keep it as safe as the server's own copy)"
else
  echo "checkpoint key: not backed up (--no-key)"
fi
echo "restore with:   ops/restore.sh $OUT"
