#!/usr/bin/env bash
# Run the parser fuzz suite (ADR 0016) longer than ops/test.sh does.
#
#   ops/fuzz.sh [--cases N] [--seed S] [--parser NAME] [--minutes M]
#   ops/fuzz.sh --model N [--seed S]
#
#   --cases N    cases per parser (default: the bounded run's, 200-500 each)
#   --seed S     the run's seed (default: the fixed one of ops/test.sh); a failure names its
#                seed and case, and the same --parser/--seed replays it
#   --parser P   one parser only: document-header document-stream channel-info
#                message-envelope message-content certificate-chain revocation receipt
#                epoch-key-distribution directory-log keystore template draft audit-export
#                request-package, and the re-signed variants message-envelope-signed
#                certificate-chain-signed revocation-signed receipt-signed
#                epoch-key-distribution-signed
#   --minutes M  each parser for M minutes instead of a case count (parsers of one test
#                project run one after another, the two projects side by side)
#   --model N    instead of the parsers: the model-based channel test (ADR 0017) with N
#                generated sequences against a real server (2,000 took 38 min on the shared
#                2-core VM), through ops/test.sh; GLOBE_MODEL_REPLAY=<seed> replays one
#
# Prints one line per parser (cases, accepted, rejected as documented, problems) and every
# problem with its case; exits non-zero when any parser misbehaved.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() { echo "error: $*" >&2; exit 2; }

PARSERS="document-header document-stream channel-info message-envelope message-content certificate-chain revocation receipt epoch-key-distribution directory-log keystore template draft audit-export request-package message-envelope-signed certificate-chain-signed revocation-signed receipt-signed epoch-key-distribution-signed"
PARSER=""
MODEL=""
unset GLOBE_FUZZ_CASES GLOBE_FUZZ_SEED GLOBE_FUZZ_MINUTES
while [ $# -gt 0 ]; do
  case "$1" in
    --cases) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--cases takes a positive number"; export GLOBE_FUZZ_CASES=$2; shift 2 ;;
    --seed) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--seed takes a number"; export GLOBE_FUZZ_SEED=$2; shift 2 ;;
    --minutes) [[ "${2:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--minutes takes a number"; export GLOBE_FUZZ_MINUTES=$2; shift 2 ;;
    --parser) PARSER=${2:-}; shift 2 ;;
    --model) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--model takes a positive number of sequences"; MODEL=$2; shift 2 ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

if [ -n "$MODEL" ]; then
  [ -z "$PARSER" ] && [ -z "${GLOBE_FUZZ_CASES:-}" ] && [ -z "${GLOBE_FUZZ_MINUTES:-}" ] || die "--model runs alone (with --seed at most)"
  GLOBE_MODEL_SEQUENCES=$MODEL GLOBE_TEST_FILTER='FullyQualifiedName~ChannelModelTests' exec "$ROOT/ops/test.sh"
fi

# A parser's test is <PascalName>_RandomAndMutated_… in a Fuzz namespace of the crypto or client tests.
if [ -n "$PARSER" ]; then
  [[ " $PARSERS " == *" $PARSER "* ]] || die "unknown parser '$PARSER'; one of: $PARSERS"
  PASCAL=$(sed -E 's/(^|-)([a-z])/\U\2/g' <<<"$PARSER")
  FILTER="FullyQualifiedName~.Fuzz.&FullyQualifiedName~.${PASCAL}_RandomAndMutated"
else
  FILTER="FullyQualifiedName~.Fuzz.&FullyQualifiedName~_RandomAndMutated"
fi

REPORT=$(mktemp)
LOGS=$(mktemp -d)
trap 'rm -rf "$REPORT" "$LOGS"' EXIT
export GLOBE_FUZZ_REPORT="$REPORT"

status=0
for project in GlobeSecure.Crypto.Tests GlobeSecure.Client.Tests; do
  dotnet build "tests/$project" -c Release >"$LOGS/$project.build" 2>&1 || { cat "$LOGS/$project.build"; die "building $project failed"; }
done
pids=()
for project in GlobeSecure.Crypto.Tests GlobeSecure.Client.Tests; do
  dotnet test "tests/$project" -c Release --no-build --filter "$FILTER" >"$LOGS/$project.test" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

if [ ! -s "$REPORT" ]; then
  cat "$LOGS"/*.test
  die "no parser ran (filter: $FILTER)"
fi
cat "$REPORT"
if [ "$status" -ne 0 ]; then
  # A failure outside the cases (a valid seed refused, a build of the corpus) shows in the test log.
  grep -hE "^\s+Failed |Error Message|valid seed" -A2 "$LOGS"/*.test | head -60 || true
  echo "fuzz: FAILED (seed ${GLOBE_FUZZ_SEED:-default}); replay one parser with: ops/fuzz.sh --parser NAME${GLOBE_FUZZ_SEED:+ --seed $GLOBE_FUZZ_SEED}"
  exit 1
fi
echo "fuzz: all parsers answered only as documented"
