#!/usr/bin/env bash
# Restore a backup made by ops/backup.sh into a NEW PostgreSQL cluster, or into an existing
# empty database, and put its audit checkpoint key beside it (docs/backup.md).
#
#   ops/restore.sh BACKUP.dump [--target DIR] [--port N] [--db CONNSTR] [--no-key]
#
#   BACKUP.dump     the dump; its key is read from BACKUP.audit-checkpoint.key beside it
#   --target DIR    where the restore goes; must not exist or be empty; default
#                   .globe/restore-YYYYMMDDTHHMMSSZ. It receives audit-checkpoint.key (0600)
#                   and, without --db, the new cluster: DIR/pg (data), DIR/pg.log
#   --port N        port of the new cluster on 127.0.0.1 (default 15433); must be free
#   --db CONNSTR    restore into this existing, empty database (Npgsql connection string or
#                   postgres:// URI) instead of a new cluster; the objects are owned by its user
#   --no-key        the backup has no key file (the server makes a new key; the old checkpoints
#                   still verify, under the old key the database keeps)
#
# The new cluster is left running (as the postgres user when run as root) and the script
# prints how to start the server on it. It refuses to touch a non-empty directory or database;
# a failed restore leaves nothing half-restored in a database (one transaction).
# shellcheck disable=SC2317  # cleanup is only called from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

GLOBE_HOME="$ROOT/.globe"
PG_BIN=""
PG_DATA=""
PG_STARTED=0
DONE=0

die() { echo "error: $*" >&2; exit 1; }

usage() { sed -n '2,/^# shellcheck/p' "${BASH_SOURCE[0]}" | sed '$d' | sed -E 's/^# ?//'; }

# A cluster this script started is stopped again if the restore fails.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$DONE" -eq 0 ] && [ "$PG_STARTED" -eq 1 ]; then
    globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null ||
      echo "warning: pg_ctl stop failed for $PG_DATA" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BACKUP=""
TARGET=""
PORT=$((GLOBE_PG_DEFAULT_PORT + 1))
DB=""
WITH_KEY=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0;;
    --target) [ $# -ge 2 ] || die "--target needs a directory"; TARGET=$2; shift 2;;
    --port) [ $# -ge 2 ] || die "--port needs a number"; PORT=$2; shift 2;;
    --db) [ $# -ge 2 ] || die "--db needs a connection string"; DB=$2; shift 2;;
    --no-key) WITH_KEY=0; shift;;
    -*) die "unknown option '$1' (see --help)";;
    *) [ -z "$BACKUP" ] || die "one backup at a time ('$BACKUP' and '$1')"; BACKUP=$1; shift;;
  esac
done

[ -n "$BACKUP" ] || die "name the backup to restore (a .dump written by ops/backup.sh; see --help)"
[ -f "$BACKUP" ] || die "$BACKUP does not exist"
case "$BACKUP" in *.dump) ;; *) die "$BACKUP is not a .dump written by ops/backup.sh";; esac
case "$PORT" in ''|*[!0-9]*) die "--port must be a number, not '$PORT'";; esac
BACKUP=$(cd "$(dirname "$BACKUP")" && pwd)/$(basename "$BACKUP")
KEY_IN="${BACKUP%.dump}.audit-checkpoint.key"
if [ "$WITH_KEY" -eq 1 ] && [ ! -f "$KEY_IN" ]; then
  die "the backup's checkpoint key $KEY_IN is missing; pass --no-key to restore the database alone"
fi

TARGET=${TARGET:-$GLOBE_HOME/restore-$(date -u +%Y%m%dT%H%M%SZ)}
if [ -e "$TARGET" ] && [ -n "$(ls -A -- "$TARGET" 2>/dev/null || echo x)" ]; then
  die "$TARGET is not empty; restore into a new or empty directory"
fi
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
KEY_OUT="$TARGET/audit-checkpoint.key"

PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"
"$PG_BIN/pg_restore" --list "$BACKUP" >/dev/null || die "$BACKUP is not a readable pg_dump archive"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A new cluster in TARGET/pg, made like the embedded one (ops/lib/postgres.sh), TCP on loopback only.
new_cluster() {
  port_in_use "$PORT" && die "port $PORT is in use; choose another with --port"
  PG_DATA="$TARGET/pg"
  mkdir -p "$PG_DATA"
  touch "$TARGET/pg.log"
  chmod 755 "$TARGET"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DATA" "$TARGET/pg.log"
    globe_as_pg test -x "$TARGET" 2>/dev/null ||
      die "the postgres user cannot reach $TARGET (a parent directory lacks search permission); choose another --target"
  fi
  chmod 700 "$PG_DATA"
  echo "Creating a new PostgreSQL cluster in $PG_DATA ($PG_BIN)…" >&2
  globe_pg_initdb "$PG_BIN" "$PG_DATA" || die "initdb failed"
  printf "\n# Written by ops/restore.sh\ninclude_if_exists = 'globe.conf'\n" >>"$PG_DATA/postgresql.conf"
  {
    echo "# Written by ops/restore.sh; ops/run.sh rewrites it when this cluster becomes .globe/pg."
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PORT"
    echo "unix_socket_directories = ''"
  } >"$PG_DATA/globe.conf"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PG_DATA/globe.conf"; fi
  echo "Starting it on 127.0.0.1:$PORT (log: $TARGET/pg.log)…" >&2
  PG_STARTED=1
  globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$TARGET/pg.log" -w -t 60 start >/dev/null ||
    die "the new cluster did not start; see $TARGET/pg.log"
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE globe" >&2 ||
    die "could not create database 'globe'"
  DB="Host=127.0.0.1;Port=$PORT;Username=postgres;Database=globe"
}

if [ -z "$DB" ]; then
  new_cluster
  MODE=cluster
else
  MODE=database
fi
[ "$WITH_KEY" -eq 1 ] && [ -e "$KEY_OUT" ] && die "$KEY_OUT exists"
globe_pg_connect "$DB" || die "cannot use the connection string"
db_args=()
if [ -n "${PGGLOBEURI:-}" ]; then db_args=(-d "$PGGLOBEURI"); fi

# Empty: no schema besides public and the system's, and nothing in public.
objects=$("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 --no-password -tA "${db_args[@]}" -c "
  select (select count(*) from pg_namespace
          where nspname not in ('public', 'information_schema') and nspname not like 'pg\_%')
       + (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public')") ||
  die "cannot reach the target database"
[ "$objects" = "0" ] || die "the target database is not empty ($objects schemas or relations); restore into an empty one"

echo "Restoring $BACKUP…" >&2
# One transaction: all or nothing. Owners and grants of the source are not carried over: the
# restoring user (the server's) owns everything.
"$PG_BIN/pg_restore" --no-password --exit-on-error --single-transaction --no-owner --no-privileges \
  "${db_args[@]}" ${PGDATABASE:+-d "$PGDATABASE"} "$BACKUP" || die "pg_restore failed"

if [ "$WITH_KEY" -eq 1 ]; then
  (umask 077 && cp -- "$KEY_IN" "$KEY_OUT")
  chmod 600 "$KEY_OUT"
fi
DONE=1

echo "Restored $BACKUP"
if [ "$MODE" = cluster ]; then
  stop="$PG_BIN/pg_ctl -D $PG_DATA stop"
  if [ "$(id -u)" -eq 0 ]; then stop="runuser -u postgres -- $stop"; fi
  echo "  into a new cluster: $PG_DATA, running on 127.0.0.1:$PORT, database 'globe' (log: $TARGET/pg.log)"
else
  echo "  into the database of --db"
fi
if [ "$WITH_KEY" -eq 1 ]; then
  echo "  audit checkpoint key: $KEY_OUT (mode 0600)"
fi
echo
echo "Start the server on it:"
key_env=""
if [ "$WITH_KEY" -eq 1 ]; then key_env="Globe__Audit__CheckpointKeyFile='$KEY_OUT' "; fi
if [ "$MODE" = cluster ]; then
  echo "  GLOBE_DB='$DB' ${key_env}ops/run.sh"
  echo "Stop the cluster when done:"
  echo "  $stop"
  echo "Or make it the embedded default: stop it and ops/run.sh, then move $PG_DATA to .globe/pg"
  echo "  and $KEY_OUT to .globe/audit-checkpoint.key."
else
  echo "  GLOBE_DB='<the --db connection string>' ${key_env}ops/run.sh"
fi
