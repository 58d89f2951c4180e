# shellcheck shell=bash
# Shared PostgreSQL helpers for the ops scripts. Source it; don't run it.
#
#   globe_pg_bindir   print the bin directory of the newest local PostgreSQL
#                     (the one that has initdb); fails if there is none
#   globe_ensure_pg   like globe_pg_bindir, but installs PostgreSQL with
#                     apt-get first if it is missing
#   globe_as_pg CMD…  run CMD as the postgres user when running as root
#                     (PostgreSQL refuses to run as root), else run it directly
#   globe_pg_initdb BIN DIR  create a cluster in DIR with the project's settings
#
# GLOBE_PG_BINDIR, when set to a directory holding initdb, wins over the search.
# Only the bin directory is ever written to stdout; progress goes to stderr.

# The embedded cluster's default port (ops/run.sh, ops/bootstrap-code.sh): below Linux's
# ephemeral port range (32768-60999), so an outgoing connection never holds it first.
# shellcheck disable=SC2034  # used by the scripts that source this file
GLOBE_PG_DEFAULT_PORT=15432

globe_pg_bindir() {
  local d best
  if [ -n "${GLOBE_PG_BINDIR:-}" ] && [ -x "${GLOBE_PG_BINDIR}/initdb" ]; then
    printf '%s\n' "${GLOBE_PG_BINDIR}"
    return 0
  fi
  best=$(
    for d in /usr/lib/postgresql/*/bin; do
      if [ -x "$d/initdb" ]; then printf '%s\n' "$d"; fi
    done | sort -V | tail -n 1
  )
  if [ -z "$best" ]; then
    # Not Debian's layout (e.g. Fedora, Homebrew): initdb on the PATH.
    d=$(command -v initdb 2>/dev/null || true)
    if [ -n "$d" ]; then best=$(dirname "$d"); fi
  fi
  if [ -z "$best" ]; then
    return 1
  fi
  printf '%s\n' "$best"
}

globe_ensure_pg() {
  local bindir sudo=()
  if bindir=$(globe_pg_bindir); then
    printf '%s\n' "$bindir"
    return 0
  fi
  echo "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin; installing them with apt-get…" >&2
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available; install PostgreSQL (initdb, pg_ctl, psql) yourself" >&2
    echo "       or point GLOBE_PG_BINDIR at its bin directory." >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo -n)
    else
      echo "error: not root and sudo is not available, so PostgreSQL cannot be installed." >&2
      return 1
    fi
  fi
  {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  } >&2 || {
    echo "error: apt-get install postgresql failed" >&2
    return 1
  }
  if ! bindir=$(globe_pg_bindir); then
    echo "error: PostgreSQL was installed but no initdb was found under /usr/lib/postgresql/*/bin" >&2
    return 1
  fi
  printf '%s\n' "$bindir"
}

globe_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "error: running as root but there is no 'postgres' user to run PostgreSQL as" >&2
      return 1
    fi
    local runuser
    # runuser lives in /usr/sbin, which a root shell's PATH may lack.
    runuser=$(PATH="$PATH:/usr/sbin:/sbin" command -v runuser 2>/dev/null || true)
    if [ -z "$runuser" ]; then
      echo "error: runuser (util-linux) is needed to run PostgreSQL as the postgres user" >&2
      return 1
    fi
    "$runuser" -u postgres -- "$@"
  else
    "$@"
  fi
}

# globe_pg_initdb BINDIR DATADIR: create a cluster the way every GlobeSecure script does
# (superuser postgres, trust auth on its own private socket/loopback, UTF-8, C locale).
# Prints initdb's output only when it fails.
globe_pg_initdb() {
  local out
  if ! out=$(globe_as_pg "$1/initdb" -D "$2" -U postgres --auth=trust -E UTF8 --locale=C 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# globe_pg_connect CONNSTR: set the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE,
# PGPASSWORD, PGSSLMODE) from an Npgsql connection string such as GLOBE_DB
# ("Host=…;Port=…;Username=…;Password=…;Database=…"), so that pg_dump, pg_restore and psql reach
# the server's database without the password on a command line. Keys Npgsql alone uses (Pooling,
# Maximum Pool Size, …) are ignored. A postgres:// or postgresql:// URI is exported as PGGLOBEURI
# for the caller to pass with -d. Fails on a string without a database.
globe_pg_connect() {
  local conn=$1 part key value
  unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSSLMODE PGGLOBEURI
  case "$conn" in
    postgres://*|postgresql://*) export PGGLOBEURI=$conn; return 0;;
  esac
  local IFS=';'
  for part in $conn; do
    key=${part%%=*}
    [ "$key" = "$part" ] && continue
    value=${part#*=}
    # Trim blanks and one pair of quotes; keys are case-insensitive and may contain spaces.
    key=$(printf '%s' "$key" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')
    value=$(printf '%s' "$value" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//; s/^"(.*)"$/\1/; s/^'\''(.*)'\''$/\1/')
    case "$key" in
      host|server) export PGHOST=$value;;
      port) export PGPORT=$value;;
      username|userid|user|uid) export PGUSER=$value;;
      password|pwd) export PGPASSWORD=$value;;
      database|db) export PGDATABASE=$value;;
      sslmode)
        # Npgsql spells VerifyCA and VerifyFull; libpq verify-ca and verify-full.
        value=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
        case "$value" in verifyca) value=verify-ca;; verifyfull) value=verify-full;; esac
        export PGSSLMODE=$value;;
    esac
  done
  if [ -z "${PGDATABASE:-}" ]; then
    echo "error: the connection string names no Database" >&2
    return 1
  fi
}
