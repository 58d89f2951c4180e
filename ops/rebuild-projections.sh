#!/usr/bin/env bash
# Rebuild every read model from the event log: empty each inline projection's tables and replay
# every event through the projections, in one transaction under the event store's writer lock
# (docs/event-store.md, "Rebuilding projections"). Safe while servers run: their appends wait
# until it commits, reads of the read models wait while it replays; if it fails, nothing changed.
# Gives up, changing nothing, if the writer lock is not free within 30 s. Events, audit,
# checkpoints, server keys and document chunks are never touched.
#
#   GLOBE_DB       Npgsql connection string; when set it is used as is.
#                  When unset, the embedded cluster of ops/run.sh (.globe/pg) is used: started
#                  if it is not running (and stopped again afterwards), reused if it is.
#   GLOBE_PG_PORT  port of that embedded cluster (default 15432, 127.0.0.1 only)
#
# stdout: one line per rebuilt table, "<table><TAB><rows>"; a summary (events replayed, head
# position, time, tables kept) goes to stderr.
set -euo pipefail

# shellcheck source=ops/lib/server-command.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/server-command.sh"
globe_server_command rebuild-projections
