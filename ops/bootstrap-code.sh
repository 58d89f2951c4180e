#!/usr/bin/env bash
# Print a one-time network bootstrap code (valid 24 h, single use; a new one supersedes the
# previous). The first network administrator passes it to `globe network init`.
#
#   GLOBE_DB       Npgsql connection string; when set it is used as is.
#                  When unset, the embedded cluster of ops/run.sh (.globe/pg) is used: started
#                  if it is not running (and stopped again afterwards), reused if it is.
#   GLOBE_PG_PORT  port of that embedded cluster (default 15432, 127.0.0.1 only)
#
# Only the code goes to stdout (so `code=$(ops/bootstrap-code.sh)` works); everything else goes
# to stderr. Exits non-zero, with a message, if the network is already bootstrapped.
set -euo pipefail

# shellcheck source=ops/lib/server-command.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/server-command.sh"
globe_server_command bootstrap-code
