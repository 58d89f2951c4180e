# shellcheck shell=bash
# A throwaway PostgreSQL cluster for ops/bench.sh and ops/load.sh. Source it after
# ops/lib/postgres.sh; don't run it.
#
#   globe_throwaway_pg_start LABEL  create and start a cluster in a temporary directory
#                     (globe-LABEL-pg.XXXXXX) from the local binaries (installed with apt-get
#                     if missing), with default durability (fsync, synchronous_commit,
#                     full_page_writes untouched), TCP on 127.0.0.1 only, a free port, and a
#                     database "bench"; sets GLOBE_BENCH_DB to its connection string
#   globe_throwaway_pg_stop   stop it and remove its directory (call from the EXIT trap;
#                     does nothing when none was started)
#   globe_throwaway_pg_traps  install the traps that do so: on EXIT stop the cluster and keep
#                     the script's exit code; INT and TERM exit 130 and 143 through it
#
# Progress goes to stderr.

GLOBE_TPG_BIN=""
GLOBE_TPG_DIR=""
GLOBE_TPG_STARTED=0

# A TCP port on 127.0.0.1 that nothing answers on right now (pg_ctl start is
# retried with another one if it is taken in between).
globe_pick_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  return 1
}

globe_throwaway_pg_start() {
  local label=$1 port attempt
  GLOBE_TPG_BIN=$(globe_ensure_pg) || { echo "error: PostgreSQL is not available" >&2; return 1; }
  GLOBE_TPG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/globe-$label-pg.XXXXXX")
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$GLOBE_TPG_DIR"
  fi
  chmod 700 "$GLOBE_TPG_DIR"

  echo "Creating a throwaway PostgreSQL cluster in $GLOBE_TPG_DIR ($GLOBE_TPG_BIN)…" >&2
  globe_pg_initdb "$GLOBE_TPG_BIN" "$GLOBE_TPG_DIR/data" || { echo "error: initdb failed" >&2; return 1; }

  # Default durability on purpose (fsync, synchronous_commit, full_page_writes
  # untouched): the numbers are meant to be a real server's. TCP only, so the
  # socket directory (and its path length) does not matter.
  printf "\n# Written by ops/%s.sh\ninclude 'bench.conf'\n" "$label" |
    globe_as_pg tee -a "$GLOBE_TPG_DIR/data/postgresql.conf" >/dev/null

  for attempt in 1 2 3; do
    port=$(globe_pick_port) || { echo "error: no free TCP port found on 127.0.0.1" >&2; return 1; }
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = ''\nmax_connections = 200\n" "$port" |
      globe_as_pg tee "$GLOBE_TPG_DIR/data/bench.conf" >/dev/null
    GLOBE_TPG_STARTED=1   # set first, so Ctrl-C during the start still stops it
    if globe_as_pg "$GLOBE_TPG_BIN/pg_ctl" -D "$GLOBE_TPG_DIR/data" -l "$GLOBE_TPG_DIR/postgres.log" -w -t 60 start >/dev/null; then
      break
    fi
    GLOBE_TPG_STARTED=0
    if [ "$attempt" -eq 3 ]; then
      echo "--- last lines of $GLOBE_TPG_DIR/postgres.log ---" >&2
      tail -n 20 "$GLOBE_TPG_DIR/postgres.log" >&2 || true
      echo "error: the throwaway PostgreSQL cluster did not start" >&2
      return 1
    fi
    echo "PostgreSQL did not start on port $port; trying another port…" >&2
  done
  echo "PostgreSQL is running on 127.0.0.1:$port." >&2

  globe_as_pg "$GLOBE_TPG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE bench" >&2 || { echo "error: could not create database 'bench'" >&2; return 1; }

  # shellcheck disable=SC2034  # read by the scripts that source this file
  GLOBE_BENCH_DB="Host=127.0.0.1;Port=$port;Username=postgres;Database=bench"
}

globe_throwaway_pg_stop() {
  if [ "$GLOBE_TPG_STARTED" -eq 1 ]; then
    echo "Stopping the throwaway PostgreSQL cluster…" >&2
    if ! globe_as_pg "$GLOBE_TPG_BIN/pg_ctl" -D "$GLOBE_TPG_DIR/data" -m fast -w -t 60 stop >/dev/null; then
      echo "warning: fast stop failed; stopping immediately" >&2
      globe_as_pg "$GLOBE_TPG_BIN/pg_ctl" -D "$GLOBE_TPG_DIR/data" -m immediate -w -t 30 stop >/dev/null
    fi
    GLOBE_TPG_STARTED=0
  fi
  if [ -n "$GLOBE_TPG_DIR" ]; then
    rm -rf -- "$GLOBE_TPG_DIR"
    GLOBE_TPG_DIR=""
  fi
}

# shellcheck disable=SC2317  # only called from the traps below
globe_throwaway_pg_exit() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  globe_throwaway_pg_stop
  exit "$rc"
}

globe_throwaway_pg_traps() {
  trap globe_throwaway_pg_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
