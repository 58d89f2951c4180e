#!/usr/bin/env bash
# Run the GlobeSecure server.
#
#   GLOBE_DB       Npgsql connection string; when set it is used as is.
#                  When unset, a private PostgreSQL cluster under .globe/ is
#                  started (created on first run) and the server uses it.
#   GLOBE_PG_PORT  port of that embedded cluster (default 15432, 127.0.0.1 only)
#   GLOBE_LISTEN   URL the server listens on (default http://127.0.0.1:5080). An https URL
#                  without Globe__Tls__CertificatePath gets a development CA and server
#                  certificate in .globe/tls/ (clients: --ca-file .globe/tls/dev-ca.crt).
#   GLOBE_CLIENT_CERTS  allow|require: with that development TLS, mutual TLS too — a development
#                  client certificate .globe/tls/dev-client.pfx signed by the development CA
#                  (password in dev-client.pass; clients: --client-cert, GLOBE_CLIENT_CERT_PASSWORD).
#
# Extra arguments are passed to `dotnet run`. Ctrl-C stops the server and then
# the embedded cluster (if this script started it); the data stays in .globe/.
# shellcheck disable=SC2317  # cleanup and its helpers are only called from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

LISTEN=${GLOBE_LISTEN:-http://127.0.0.1:5080}
GLOBE_HOME="$ROOT/.globe"
PGDATA_DIR="$GLOBE_HOME/pg"
RUN_DIR="$GLOBE_HOME/run"
PG_LOG="$GLOBE_HOME/pg.log"

PG_BIN=""
PG_STARTED=0
SERVER_PID=""

die() { echo "error: $*" >&2; exit 1; }

# Is any live (non-zombie) process left in process group $1? Linux /proc.
group_alive() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v g="$1" '{ sub(/.*\) /, ""); if ($3 == g && $1 != "Z") f = 1 } END { exit !f }'
}

# The server runs in its own process group (setsid): SIGTERM the whole group,
# so `dotnet run` (or its build) and the app it started all shut down.
stop_server() {
  local pgid=$1
  group_alive "$pgid" || return 0
  echo "Stopping the server…" >&2
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do
    group_alive "$pgid" || return 0
    sleep 0.1
  done
  echo "The server did not stop within 30 s; killing it." >&2
  kill -KILL -- "-$pgid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$SERVER_PID" ]; then
    stop_server "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ "$PG_STARTED" -eq 1 ]; then
    echo "Stopping the embedded database (data is kept in .globe/)…" >&2
    globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null ||
      echo "warning: pg_ctl stop failed; see $PG_LOG" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Connection string for display: anything that looks like a password is masked.
redact_db() {
  printf '%s' "$1" | sed -E 's/(^|;)[[:space:]]*(password|pwd)[[:space:]]*=[^;]*/\1Password=***/Ig'
}

# Root runs PostgreSQL as the postgres user, which must be able to reach
# .globe/: the repository root and every parent need search (x) permission.
check_pg_can_reach() {
  [ "$(id -u)" -eq 0 ] || return 0
  if globe_as_pg test -x "$GLOBE_HOME" 2>/dev/null; then
    return 0
  fi
  # Our own directories may be made traversable; parents outside the repo are not touched.
  chmod a+x "$ROOT" "$GLOBE_HOME"
  if globe_as_pg test -x "$GLOBE_HOME" 2>/dev/null; then
    return 0
  fi
  local d="$GLOBE_HOME" blocker=""
  while [ "$d" != "/" ]; do
    d=$(dirname "$d")
    if ! globe_as_pg test -x "$d" 2>/dev/null; then blocker=$d; fi
  done
  die "the postgres user cannot reach $GLOBE_HOME (no search permission on ${blocker:-a parent directory}).
       Run 'chmod o+x ${blocker:-<dir>}', move the repository, or set GLOBE_DB to an existing database."
}

start_embedded_pg() {
  local port=${GLOBE_PG_PORT:-$GLOBE_PG_DEFAULT_PORT} running_port
  case "$port" in ''|*[!0-9]*) die "GLOBE_PG_PORT must be a number, not '$port'";; esac

  PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"

  mkdir -p "$GLOBE_HOME" "$PGDATA_DIR" "$RUN_DIR"
  chmod 755 "$GLOBE_HOME"
  touch "$PG_LOG"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PGDATA_DIR" "$RUN_DIR" "$PG_LOG"
  fi
  chmod 700 "$PGDATA_DIR"
  chmod 755 "$RUN_DIR"
  check_pg_can_reach

  if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
    echo "Creating the embedded PostgreSQL cluster in .globe/pg ($PG_BIN)…"
    globe_pg_initdb "$PG_BIN" "$PGDATA_DIR" || die "initdb failed"
  fi

  # Settings that depend on this run (port, socket directory) live in
  # globe.conf, rewritten on every start and included from postgresql.conf.
  if ! grep -q "^include_if_exists = 'globe.conf'" "$PGDATA_DIR/postgresql.conf"; then
    printf "\n# Written by ops/run.sh\ninclude_if_exists = 'globe.conf'\n" >>"$PGDATA_DIR/postgresql.conf"
  fi
  local sockdir=${RUN_DIR//\'/\'\'}
  if [ $(( ${#RUN_DIR} + 20 )) -gt 107 ]; then
    # Unix socket paths are limited to ~107 bytes; fall back to TCP only.
    echo "note: $RUN_DIR is too long for a Unix socket; the embedded database listens on TCP only." >&2
    sockdir=""
  fi
  {
    echo "# Written by ops/run.sh on every start; edits are lost."
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$sockdir'"
  } >"$PGDATA_DIR/globe.conf"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDATA_DIR/globe.conf"; fi

  if [ -f "$PGDATA_DIR/postmaster.pid" ] &&
     globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    # Already running (e.g. another ops/run.sh): reuse it, and leave it running.
    running_port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid" | tr -d '[:space:]')
    if [ -n "$running_port" ] && [ "$running_port" != "$port" ]; then
      echo "note: the embedded database is already running on port $running_port; using that." >&2
      port=$running_port
    fi
    echo "Reusing the embedded PostgreSQL already running on 127.0.0.1:$port."
  else
    echo "Starting the embedded PostgreSQL on 127.0.0.1:$port (log: .globe/pg.log)…"
    PG_STARTED=1   # set first, so Ctrl-C during the start still stops it
    if ! globe_as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start >/dev/null; then
      PG_STARTED=0
      echo "--- last lines of $PG_LOG ---" >&2
      tail -n 20 "$PG_LOG" >&2 || true
      die "the embedded PostgreSQL did not start (is port $port already in use? set GLOBE_PG_PORT)"
    fi
  fi

  local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
  if [ "$(globe_as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'globe'")" != "1" ]; then
    echo "Creating database 'globe'…"
    globe_as_pg "${psql[@]}" -c "CREATE DATABASE globe" || die "could not create database 'globe'"
  fi

  GLOBE_DB="Host=127.0.0.1;Port=$port;Username=postgres;Database=globe"
}

if [ -n "${GLOBE_DB:-}" ]; then
  DB_NOTE="(from GLOBE_DB)"
  STOP_NOTE="Press Ctrl-C to stop."
else
  start_embedded_pg
  DB_NOTE="(embedded cluster in .globe/pg)"
  STOP_NOTE="Press Ctrl-C to stop (the database stops too; data is kept in .globe/)"
  if [ "$PG_STARTED" -eq 0 ]; then
    STOP_NOTE="Press Ctrl-C to stop (the embedded database was already running and is left running; data is kept in .globe/)"
  fi
fi
export GLOBE_DB
export Globe__Listen="$LISTEN"

# https without a configured certificate: a local development CA and a server certificate signed
# by it, in .globe/tls/ (created once, private keys 0600). Clients trust it with
# --ca-file .globe/tls/dev-ca.crt (or GLOBE_CA_FILE). For production, configure a real certificate.
TLS_NOTE=""
if [[ "$LISTEN" == https://* ]] && [ -z "${Globe__Tls__CertificatePath:-}" ]; then
  TLS_DIR="$GLOBE_HOME/tls"
  if [ ! -f "$TLS_DIR/dev-server.pfx" ]; then
    command -v openssl >/dev/null 2>&1 || { apt-get install -y -qq openssl >/dev/null || die "openssl is needed for the development certificate"; }
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    HOST=$(sed -E 's#^https://\[?([^]/]*)\]?:[0-9]+/?$#\1#' <<<"$LISTEN")
    SAN="DNS:localhost,IP:127.0.0.1,IP:::1"
    if [[ "$HOST" =~ ^[0-9.]+$ ]] && [ "$HOST" != "0.0.0.0" ] && [ "$HOST" != "127.0.0.1" ]; then SAN="$SAN,IP:$HOST"; fi
    if [ "$HOST" = "0.0.0.0" ]; then
      for ip in $(hostname -I 2>/dev/null); do [[ "$ip" =~ ^[0-9.]+$ ]] && SAN="$SAN,IP:$ip"; done
    fi
    (
      umask 077
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=GlobeSecure development CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$TLS_DIR/dev-ca.key" -out "$TLS_DIR/dev-ca.crt" 2>/dev/null
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$TLS_DIR/dev-server.key" -out "$TLS_DIR/dev-server.csr" 2>/dev/null
      printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$SAN" >"$TLS_DIR/dev-server.ext"
      openssl x509 -req -in "$TLS_DIR/dev-server.csr" -CA "$TLS_DIR/dev-ca.crt" -CAkey "$TLS_DIR/dev-ca.key" -CAcreateserial -days 825 \
        -extfile "$TLS_DIR/dev-server.ext" -out "$TLS_DIR/dev-server.crt" 2>/dev/null
      head -c 24 /dev/urandom | base64 | tr -d '\n/+=' >"$TLS_DIR/dev-server.pass"
      openssl pkcs12 -export -inkey "$TLS_DIR/dev-server.key" -in "$TLS_DIR/dev-server.crt" -certfile "$TLS_DIR/dev-ca.crt" \
        -passout "file:$TLS_DIR/dev-server.pass" -out "$TLS_DIR/dev-server.pfx"
      rm -f "$TLS_DIR/dev-server.csr" "$TLS_DIR/dev-server.ext" "$TLS_DIR/dev-server.key"
    ) || die "creating the development certificate failed"
    chmod 644 "$TLS_DIR/dev-ca.crt"
  fi
  export Globe__Tls__CertificatePath="$TLS_DIR/dev-server.pfx"
  Globe__Tls__CertificatePassword=$(cat "$TLS_DIR/dev-server.pass")
  export Globe__Tls__CertificatePassword
  TLS_NOTE="  TLS:          development certificate (.globe/tls/); clients: --ca-file $TLS_DIR/dev-ca.crt"
  case "${GLOBE_CLIENT_CERTS:-}" in
    "" | off) ;;
    allow | require)
      if [ ! -f "$TLS_DIR/dev-client.pfx" ]; then
        (
          umask 077
          openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=GlobeSecure development partner tool" \
            -keyout "$TLS_DIR/dev-client.key" -out "$TLS_DIR/dev-client.csr" 2>/dev/null
          printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$TLS_DIR/dev-client.ext"
          openssl x509 -req -in "$TLS_DIR/dev-client.csr" -CA "$TLS_DIR/dev-ca.crt" -CAkey "$TLS_DIR/dev-ca.key" -CAcreateserial -days 825 \
            -extfile "$TLS_DIR/dev-client.ext" -out "$TLS_DIR/dev-client.crt" 2>/dev/null
          head -c 24 /dev/urandom | base64 | tr -d '\n/+=' >"$TLS_DIR/dev-client.pass"
          openssl pkcs12 -export -inkey "$TLS_DIR/dev-client.key" -in "$TLS_DIR/dev-client.crt" \
            -passout "file:$TLS_DIR/dev-client.pass" -out "$TLS_DIR/dev-client.pfx"
          rm -f "$TLS_DIR/dev-client.csr" "$TLS_DIR/dev-client.ext" "$TLS_DIR/dev-client.key"
        ) || die "creating the development client certificate failed"
      fi
      export Globe__Tls__ClientCertificates="$GLOBE_CLIENT_CERTS"
      export Globe__Tls__ClientCertificateAuthorityFile="$TLS_DIR/dev-ca.crt"
      TLS_NOTE="$TLS_NOTE
  mutual TLS:   $GLOBE_CLIENT_CERTS; clients: --client-cert $TLS_DIR/dev-client.pfx, GLOBE_CLIENT_CERT_PASSWORD=\$(cat $TLS_DIR/dev-client.pass)"
      ;;
    *) die "GLOBE_CLIENT_CERTS must be allow, require or off, not '$GLOBE_CLIENT_CERTS'" ;;
  esac
fi
# The audit checkpoint signing key lives beside the embedded database's data (created on the
# first start, mode 0600); set Globe__Audit__CheckpointKeyFile to keep it elsewhere.
mkdir -p "$GLOBE_HOME"
export Globe__Audit__CheckpointKeyFile="${Globe__Audit__CheckpointKeyFile:-$GLOBE_HOME/audit-checkpoint.key}"

echo
echo "GlobeSecure server"
echo "  listening on: $LISTEN"
[ -n "$TLS_NOTE" ] && echo "$TLS_NOTE"
echo "  database:     $(redact_db "$GLOBE_DB") $DB_NOTE"
echo "$STOP_NOTE"
echo

# Run the server as a child in its own process group, then wait: the shell
# only runs its traps between commands, and `wait` is interruptible. (A
# separate group also keeps a terminal's Ctrl-C from reaching the server
# directly, so the trap decides the shutdown order: server first, then database.)
command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"
setsid dotnet run --project src/GlobeSecure.Server -c Release "$@" &
SERVER_PID=$!
set +e
wait "$SERVER_PID"
rc=$?
set -e
# The server exited on its own; the EXIT trap stops anything left in its group
# and then the embedded database.
exit "$rc"
