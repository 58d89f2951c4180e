#!/usr/bin/env bash
# Benchmarks with goals, each next to a raw baseline measured in the same run
# (tests/GlobeSecure.Benchmarks):
#   crypto  GlobeSecure.Crypto vs raw libsodium: document cipher throughput
#           (256 MiB) against raw XChaCha20-Poly1305 and BLAKE2b-256, message
#           envelopes/s against raw Ed25519 and AEAD, Argon2id's time, and the
#           known-answer self-test. Needs no database.
#   store   event store appends vs raw Npgsql single-row INSERTs.
#   channels  1 KiB channel messages (sealed and signed per message) from 64
#           concurrent callers on the real server in-process: throughput and
#           send → delivered-to-subscriber latency p50/p99, vs a unary 1 KiB
#           gRPC echo at the same concurrency on the same server; lost and
#           duplicated messages counted.
#   documents  a document (1 GiB by default) uploaded and downloaded through
#           the client library (encrypted, hashed, stored in PostgreSQL;
#           hash-checked, decrypted, checked) vs raw gRPC client-streaming
#           of the same bytes in the same 64 KiB messages to a handler that
#           discards them, and server-streaming from memory; the client runs
#           in a worker process so each side's peak memory is its own.
#   audit   1 million audit entries (--audit-entries N) stored with their
#           links and signed checkpoints: export (store pages → JSON Lines)
#           vs raw COPY of the table, and verification on the server
#           (VerifyAuditAsync) and offline (AuditExportVerifier) vs raw
#           BLAKE2b-256 of every entry's linked bytes.
#
# usage: ops/bench.sh [--only all|store|crypto|channels|documents|audit] [--seconds N]
#                     [--warmup N] [--repeats N] [--document-mib N]
#                     [--transfer-gib N] [--audit-entries N] [--help]
#
#   --only W          crypto, store, channels, documents, audit, or all (default); --only crypto
#                     starts no PostgreSQL
#   --seconds N       each measurement window, seconds (default 5); crypto uses
#                     it for envelope and signature rates
#   --warmup N        seconds before each window, not counted (default 1)
#   --repeats N       interleaved measurements per workload; the median is
#                     reported (default 3)
#   --document-mib N  the crypto benchmark's document size (default 256)
#   --transfer-gib N  the document benchmark's size in GiB (default 1; memory is
#                     also checked at 4: --transfer-gib 4 --repeats 1)
#
#   GLOBE_BENCH_DB  Npgsql connection string of a database the store benchmark
#                   may write to (it drops and recreates schema "bench" and
#                   table "bench_raw"); the channel benchmark creates and drops
#                   a database of its own on the same server, as the same user.
#                   When unset and the store or channel benchmark runs, a
#                   throwaway PostgreSQL cluster is started from the
#                   local binaries (installed with apt-get if missing) in a
#                   temporary directory, with the server's default durability
#                   (fsync on, synchronous_commit on), and removed on exit.
#
# Arguments go to the driver unchanged. The report (markdown) goes to stdout,
# progress to stderr. It is a report, not a test: it exits 0 whether or not
# goals are met.
# shellcheck disable=SC2317  # cleanup is only called from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() { echo "error: $*" >&2; exit 1; }

PG_BIN=""
PG_DIR=""
PG_STARTED=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$PG_STARTED" -eq 1 ]; then
    echo "Stopping the throwaway PostgreSQL cluster…" >&2
    if ! globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null; then
      echo "warning: fast stop failed; stopping immediately" >&2
      globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 30 stop >/dev/null
    fi
  fi
  if [ -n "$PG_DIR" ]; then
    rm -rf -- "$PG_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port on 127.0.0.1 that nothing answers on right now (pg_ctl start is
# retried with another one if it is taken in between).
pick_port() {
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

start_throwaway_pg() {
  local port attempt
  PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/globe-bench-pg.XXXXXX")
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DIR"
  fi
  chmod 700 "$PG_DIR"

  echo "Creating a throwaway PostgreSQL cluster in $PG_DIR ($PG_BIN)…" >&2
  globe_pg_initdb "$PG_BIN" "$PG_DIR/data" || die "initdb failed"

  # Default durability on purpose (fsync, synchronous_commit, full_page_writes
  # untouched): the numbers are meant to be a real server's. TCP only, so the
  # socket directory (and its path length) does not matter.
  printf "\n# Written by ops/bench.sh\ninclude 'bench.conf'\n" |
    globe_as_pg tee -a "$PG_DIR/data/postgresql.conf" >/dev/null

  for attempt in 1 2 3; do
    port=$(pick_port) || die "no free TCP port found on 127.0.0.1"
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = ''\nmax_connections = 200\n" "$port" |
      globe_as_pg tee "$PG_DIR/data/bench.conf" >/dev/null
    PG_STARTED=1   # set first, so Ctrl-C during the start still stops it
    if globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 start >/dev/null; then
      break
    fi
    PG_STARTED=0
    if [ "$attempt" -eq 3 ]; then
      echo "--- last lines of $PG_DIR/postgres.log ---" >&2
      tail -n 20 "$PG_DIR/postgres.log" >&2 || true
      die "the throwaway PostgreSQL cluster did not start"
    fi
    echo "PostgreSQL did not start on port $port; trying another port…" >&2
  done
  echo "PostgreSQL is running on 127.0.0.1:$port." >&2

  globe_as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE bench" >&2 || die "could not create database 'bench'"

  GLOBE_BENCH_DB="Host=127.0.0.1;Port=$port;Username=postgres;Database=bench"
}

# Does this run need the database? Not for --only crypto, nor for --help (the
# driver itself rejects bad arguments, with its usage); store, channels and all
# do.
needs_db=1
prev=""
for arg in "$@"; do
  case "$prev/$arg" in
    --only/crypto) needs_db=0 ;;
    --only/*) needs_db=1 ;;
  esac
  case "$arg" in
    -h|--help) needs_db=0; break ;;
  esac
  prev=$arg
done

if [ "$needs_db" -eq 0 ]; then
  echo "No database needed (crypto only, or --help)." >&2
elif [ -z "${GLOBE_BENCH_DB:-}" ]; then
  start_throwaway_pg
  export GLOBE_BENCH_DB
else
  echo "Using the database of GLOBE_BENCH_DB." >&2
  export GLOBE_BENCH_DB
fi

echo "Building and running tests/GlobeSecure.Benchmarks (Release)…" >&2
# Not exec: the EXIT trap must still stop the cluster afterwards.
dotnet run -c Release --project tests/GlobeSecure.Benchmarks -- "$@"
