#!/usr/bin/env bash
# Build the solution and run every test project in it.
#
#   GLOBE_TEST_FILTER  optional `dotnet test --filter` expression
#
# The tests start their own throwaway PostgreSQL cluster from the local
# PostgreSQL binaries (installed here if missing; GLOBE_PG_BINDIR tells the
# tests where they are). TRX results go to TestResults/<timestamp>/.
# The last line of output is always: tests: N passed, N failed, N skipped
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

summary() { echo "tests: $1 passed, $2 failed, $3 skipped"; }

# Print the errors of a failed restore/build again, deduplicated, so they are
# not lost in the middle of the log.
repeat_errors() {
  local log=$1
  if grep -qE ': error [A-Z]*[0-9]+' "$log"; then
    echo
    echo "Errors:"
    grep -E ': error [A-Z]*[0-9]+' "$log" | sed -E 's/^[[:space:]]+//' | sort -u
  fi
}

# Sum the <Counters …/> of every TRX file given; prints "passed failed skipped".
#   failed  = failed + error + timeout + aborted
#   skipped = notExecuted + inconclusive, or total - executed when that is
#             larger: VSTest's TRX logger lists skipped tests as NotExecuted
#             results but leaves the notExecuted counter at 0.
count_trx() {
  local f
  for f in "$@"; do
    # One line per file, so a <Counters> element split over lines is still found.
    tr '\r\n' '  ' <"$f" | grep -o '<Counters[[:space:]][^>]*>' || true
  done | awk '
    {
      split("", c)
      for (i = 1; i <= NF; i++) {
        if (match($i, /^[A-Za-z]+="[0-9]+"/)) {
          kv = substr($i, 1, RLENGTH)
          eq = index(kv, "=")
          c[substr(kv, 1, eq - 1)] = substr(kv, eq + 2, length(kv) - eq - 2) + 0
        }
      }
      passed += c["passed"]
      failed += c["failed"] + c["error"] + c["timeout"] + c["aborted"]
      s = c["notExecuted"] + c["inconclusive"]
      if (("total" in c) && ("executed" in c) && c["total"] - c["executed"] > s) s = c["total"] - c["executed"]
      skipped += s
    }
    END { printf "%d %d %d\n", passed, failed, skipped }'
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== PostgreSQL binaries"
if ! GLOBE_PG_BINDIR=$(globe_ensure_pg); then
  echo "error: PostgreSQL binaries are not available; the tests need them."
  summary 0 0 0
  exit 1
fi
export GLOBE_PG_BINDIR
echo "using $GLOBE_PG_BINDIR"

# The network fault test (NetworkFaultTests, ADR 0019) builds a network namespace and drops
# packets in it with nftables: as root, install ip (iproute2) and nft when missing. Without
# root the test reports itself skipped, saying why.
echo "== network fault tools"
if [ "$(id -u)" -eq 0 ]; then
  missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get…"
    { DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } >"$WORK/net-tools.log" 2>&1 ||
      { cat "$WORK/net-tools.log"; echo "warning: could not install ${missing[*]}; the network fault test will fail"; }
  fi
  echo "ip: $(command -v ip || echo missing), nft: $(command -v nft || echo missing)"
else
  echo "not root: the network fault test will be skipped (it needs CAP_NET_ADMIN)"
fi

echo "== dotnet restore (locked mode)"
if ! dotnet restore GlobeSecure.sln --locked-mode -v minimal 2>&1 | tee "$WORK/restore.log"; then
  repeat_errors "$WORK/restore.log"
  echo
  echo "RESTORE FAILED (if a package changed, update the packages.lock.json files)."
  summary 0 0 0
  exit 1
fi

echo "== dotnet build"
if ! dotnet build GlobeSecure.sln -c Release --no-restore --nologo -v minimal 2>&1 | tee "$WORK/build.log"; then
  repeat_errors "$WORK/build.log"
  echo
  echo "BUILD FAILED: no tests were run."
  summary 0 0 0
  exit 1
fi

# The test projects: tests/GlobeSecure.*.Tests (ARCHITECTURE.md layout). Asking MSBuild for
# each project's IsTestProject cost a couple of seconds per project on every run.
test_projects=()
for proj in tests/GlobeSecure.*.Tests/GlobeSecure.*.Tests.csproj; do
  [ -f "$proj" ] && test_projects+=("$proj")
done

# A fresh directory per run, so only this run's TRX files are counted.
stamp=$(date -u +%Y%m%d-%H%M%S)
RESULTS="$ROOT/TestResults/$stamp"
n=1
while [ -e "$RESULTS" ]; do RESULTS="$ROOT/TestResults/$stamp-$n"; n=$((n + 1)); done
mkdir -p "$RESULTS"

# Test projects set IsTestingPlatformApplication=false, so `dotnet test` runs them through
# VSTest (xunit.runner.visualstudio) and the TRX logger. Each project gets its own results
# directory, so TRX file names never collide.
echo "== dotnet test (results: ${RESULTS#"$ROOT"/})"
test_rc=0
for proj in "${test_projects[@]}"; do
  name=$(basename "$proj" .csproj)
  out="$RESULTS/$name"
  echo "-- $name"
  args=("$proj" -c Release --no-build --nologo -v minimal --logger trx --results-directory "$out")
  if [ -n "${GLOBE_TEST_FILTER:-}" ]; then
    args+=(--filter "$GLOBE_TEST_FILTER")
  fi
  set +e
  dotnet test "${args[@]}"
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "dotnet test exited with code $rc for $name"
    test_rc=$rc
  fi
done

trx_files=()
if [ -d "$RESULTS" ]; then
  mapfile -t trx_files < <(find "$RESULTS" -type f -name '*.trx' | sort)
fi
passed=0 failed=0 skipped=0
if [ "${#trx_files[@]}" -gt 0 ]; then
  read -r passed failed skipped < <(count_trx "${trx_files[@]}")
fi

echo
echo "Test projects: ${#test_projects[@]}; TRX files: ${#trx_files[@]} (in ${RESULTS#"$ROOT"/})"
status=0
if [ "${#test_projects[@]}" -eq 0 ]; then
  echo "FAILED: the solution has no test project."
  status=1
fi
if [ "$test_rc" -ne 0 ]; then
  echo "FAILED: dotnet test exited with code $test_rc."
  status=1
fi
if [ "${#trx_files[@]}" -eq 0 ]; then
  echo "FAILED: no TRX result file was produced."
  status=1
fi
if [ "$failed" -gt 0 ]; then
  echo "FAILED: $failed test(s) failed (failed, error, timeout or aborted)."
  status=1
fi
if [ "$passed" -eq 0 ]; then
  echo "FAILED: no test passed."
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "OK"
fi
summary "$passed" "$failed" "$skipped"
exit "$status"
