#!/usr/bin/env bash
# Load and soak (issue 9): N concurrent enrolled clients (default 50) send messages, hold and
# reopen subscriptions and upload small documents for a fixed time against the real server,
# on loopback only (tests/GlobeSecure.Benchmarks, LoadDriver; docs/adr/0020-load-and-soak.md).
#
# usage: ops/load.sh [--clients N] [--duration 10m] [--warmup 1m] [--rate R] [--sample 10s]
#                    [--report FILE.md] [--help]
#
#   --clients N     concurrent clients: investigators, each with its own certified device,
#                   GlobeClient (session, HTTP/2 connection) and Subscribe stream, in channels
#                   of 5 members (3 of the channel's own authority, 2 of a shared partner
#                   authority) (default 50)
#   --duration D    the whole load, warm-up included: 90s, 2m, 10m, 1h (default 10m)
#   --warmup D      not counted in throughput, latency or memory growth (default 1m, or a
#                   quarter of a --duration under 4m)
#   --rate R        operations per second per client, paced with jitter (default 4; 0: as
#                   fast as each client can)
#   --sample D      how often the server's memory is sampled (default 10s)
#   --report FILE   the Markdown report (default TestResults/load/load-<UTC time>.md); the JSON
#                   report and the server's log go beside it (.json, .server.log)
#
# The server runs as a child process of the driver (the real server, Production environment,
# default settings, listening on 127.0.0.1), so the memory sampled is its own: RSS, the managed
# heap after its last collection and the live heap after a forced full collection.
#
#   GLOBE_BENCH_DB  Npgsql connection string of a PostgreSQL server on this machine
#                   (127.0.0.1/localhost) on which the run creates, and then drops, the server's
#                   database. When unset, a throwaway cluster is started from the local binaries
#                   (installed with apt-get if missing) with default durability, and removed on
#                   exit.
#
# The report goes to stdout and to the file, progress to stderr. Exit code 0 when every goal is
# met (zero lost or duplicated messages, zero unexpected errors, documents identical, server
# memory growth after the warm-up at most 10 %), 1 when one is not, 2 for a usage error. The
# run is bounded: the driver stops the load at --duration, waits at most 60 s for deliveries,
# and this script kills it 15 minutes after --duration at the latest.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"
# shellcheck source=ops/lib/throwaway-pg.sh
. "$ROOT/ops/lib/throwaway-pg.sh"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() { echo "error: $*" >&2; exit 1; }

globe_throwaway_pg_traps

# Seconds in a duration as the driver reads it (90, 90s, 2m, 1h, 1m30s); empty when it is not one.
seconds_of() {
  local value=$1 total=0 number=""
  if [[ "$value" =~ ^[0-9]+$ ]]; then printf '%s\n' "$value"; return; fi
  while [ -n "$value" ]; do
    case "${value:0:1}" in
      [0-9]) number+=${value:0:1} ;;
      h) total=$(( total + ${number:-0} * 3600 )); number="" ;;
      m) total=$(( total + ${number:-0} * 60 )); number="" ;;
      s) total=$(( total + ${number:-0} )); number="" ;;
      *) return ;;
    esac
    value=${value:1}
  done
  [ -z "$number" ] && printf '%s\n' "$total"
}

duration=600
help=0
prev=""
for arg in "$@"; do
  case "$arg" in -h|--help) help=1 ;; esac
  if [ "$prev" = "--duration" ]; then
    duration=$(seconds_of "$arg")
    [ -n "$duration" ] || duration=600   # the driver rejects it with its usage
  fi
  prev=$arg
done

if [ "$help" -eq 0 ]; then
  if [ -z "${GLOBE_BENCH_DB:-}" ]; then
    globe_throwaway_pg_start load || die "no throwaway PostgreSQL cluster"
  else
    echo "Using the PostgreSQL server of GLOBE_BENCH_DB." >&2
  fi
  export GLOBE_BENCH_DB
fi

echo "Building tests/GlobeSecure.Benchmarks (Release)…" >&2
dotnet build tests/GlobeSecure.Benchmarks -c Release -nologo -v quiet >&2 || die "the build failed"
# Not exec: the EXIT trap must still stop the cluster afterwards. The driver bounds itself; the
# timeout is the backstop (setup, drain and shutdown take a few minutes at most).
set +e
timeout -k 30 $(( duration + 900 )) \
  dotnet tests/GlobeSecure.Benchmarks/bin/Release/net10.0/GlobeSecure.Benchmarks.dll --load "$@"
rc=$?
set -e
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "error: the load run did not finish within $(( duration + 900 )) s and was stopped" >&2
fi
exit "$rc"
