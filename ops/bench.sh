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
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() { echo "error: $*" >&2; exit 1; }

# shellcheck source=ops/lib/throwaway-pg.sh
. "$ROOT/ops/lib/throwaway-pg.sh"

globe_throwaway_pg_traps

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
  globe_throwaway_pg_start bench || die "no throwaway PostgreSQL cluster"
  export GLOBE_BENCH_DB
else
  echo "Using the database of GLOBE_BENCH_DB." >&2
  export GLOBE_BENCH_DB
fi

echo "Building and running tests/GlobeSecure.Benchmarks (Release)…" >&2
# Not exec: the EXIT trap must still stop the cluster afterwards.
dotnet run -c Release --project tests/GlobeSecure.Benchmarks -- "$@"
