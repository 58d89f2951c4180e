#!/usr/bin/env bash
# Play the whole membership story with the `globe` CLI, unattended:
#
#   bootstrap code → `globe network init` → a second network administrator (invited into the
#   secretariat, enrolled, certified with the root key) → two authorities apply → four-eyes
#   approval (one administrator approving twice is refused) → the authorities' administrators
#   enrol and are certified → they invite investigators → the investigators' devices enrol, are
#   certified and authenticate (`whoami`) → the verified directory is printed (with where to send
#   what: Brazil's central authority and the Polícia Federal's requirements) → the Kenyan
#   investigator opens a case channel and writes → invites the Brazilian authority (the earlier
#   message is not readable for the newcomer until he shares that epoch with her) → messages both
#   ways, watched live with signed receipts → the decrypted history on each side → the Brazilian
#   investigator attaches an evidence file, the Kenyan one downloads and verifies it → the Brazilian
#   authority is removed, a newer message is sent, and the removed investigator fails to read →
#   invited back, she reads the channel again except the message sent in her absence → an
#   information request, clarified, answered with an attachment and closed → its export package
#   for a formal MLA request, verified offline, and refused after one byte is changed.
#
#   GLOBE_SERVER          play against this server (it must not be bootstrapped yet); the
#                         bootstrap code then comes from GLOBE_BOOTSTRAP_CODE, or from
#                         ops/bootstrap-code.sh with the server's GLOBE_DB.
#                         Unset: a server is started here with the embedded default (a private
#                         PostgreSQL cluster under .globe/demo, free ports) and stopped at the
#                         end, with its database, even on failure.
#   GLOBE_DEMO_KEEP=1     keep the demo's profiles and keys (.globe/demo/home) after the run.
#
# Passphrases are generated into files in a private temporary directory and given with
# --passphrase-file / --root-passphrase-file; nothing secret is put on a command line except the
# one-time enrolment codes, which the story passes from one participant to the next.
# Exits non-zero as soon as a step fails.
# shellcheck disable=SC2317  # cleanup and its helpers are only called from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=ops/lib/postgres.sh
. "$ROOT/ops/lib/postgres.sh"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

DEMO_DIR="$ROOT/.globe/demo"
PG_DIR="$DEMO_DIR/pg"
SECRETS=$(mktemp -d "${TMPDIR:-/tmp}/globe-demo.XXXXXX")
chmod 700 "$SECRETS"
export GLOBE_HOME="$DEMO_DIR/home"
CLI_DLL="$ROOT/src/GlobeSecure.Cli/bin/Release/net10.0/globe.dll"
SERVER_DLL="$ROOT/src/GlobeSecure.Server/bin/Release/net10.0/GlobeSecure.Server.dll"

PG_BIN=""
PG_STARTED=0
SERVER_PID=""
STEP=0

die() { echo "demo: error: $*" >&2; exit 1; }
step() { STEP=$((STEP + 1)); printf '\n\033[1m== %d. %s\033[0m\n' "$STEP" "$*"; }
say() { printf '   %s\n' "$*"; }

# Is any live (non-zombie) process left in process group $1? Linux /proc.
group_alive() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v g="$1" '{ sub(/.*\) /, ""); if ($3 == g && $1 != "Z") f = 1 } END { exit !f }'
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$SERVER_PID" ] && group_alive "$SERVER_PID"; then
    echo "demo: stopping the server…" >&2
    kill -TERM -- "-$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do group_alive "$SERVER_PID" || break; sleep 0.1; done
    group_alive "$SERVER_PID" && kill -KILL -- "-$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ "$PG_STARTED" -eq 1 ]; then
    echo "demo: stopping the demo database…" >&2
    globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 ||
      echo "demo: warning: pg_ctl stop failed; see $DEMO_DIR/pg.log" >&2
  fi
  rm -rf "$SECRETS"
  if [ "${GLOBE_DEMO_KEEP:-0}" != 1 ]; then
    rm -rf "$GLOBE_HOME"
  fi
  if [ "$rc" -ne 0 ]; then
    echo >&2
    echo "demo: FAILED at step $STEP (exit $rc)." >&2
    [ -f "$DEMO_DIR/server.log" ] && echo "demo: server log: $DEMO_DIR/server.log" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port nobody listens on, from $1 upwards.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  echo "$port"
}

# The `globe` command (built once below).
globe() { dotnet "$CLI_DLL" "$@"; }

# json_field NAME: the string or number value of "NAME" in the one-line JSON on stdin.
json_field() {
  sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p" | head -n 1
}

# A passphrase file for a participant (random, never shown).
passphrase_file() {
  local file="$SECRETS/$1.pass"
  head -c 24 /dev/urandom | base64 | tr -d '\n/+=' >"$file"
  echo >>"$file"
  echo "$file"
}

# run_as PROFILE ARGS…: globe as that participant, with their passphrase file.
run_as() {
  local profile=$1
  shift
  globe --profile "$profile" --passphrase-file "$SECRETS/$profile.pass" "$@"
}

# expect_refusal WHAT CMD…: the command must fail; its one-line error is shown.
expect_refusal() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    die "$what was accepted, but must be refused"
  fi
  say "refused as it must be: ${out##*error: }"
}

start_database() {
  PG_BIN=$(globe_ensure_pg) || die "PostgreSQL is not available"
  local port
  port=26432
  mkdir -p "$PG_DIR"
  chmod 755 "$ROOT/.globe" "$DEMO_DIR"
  touch "$DEMO_DIR/pg.log"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DIR" "$DEMO_DIR/pg.log"
    if ! globe_as_pg test -x "$DEMO_DIR"; then
      chmod a+x "$ROOT"
      globe_as_pg test -x "$DEMO_DIR" ||
        die "the postgres user cannot reach $DEMO_DIR; run 'chmod o+x' on its parents, or set GLOBE_SERVER"
    fi
  fi
  chmod 700 "$PG_DIR"
  globe_pg_initdb "$PG_BIN" "$PG_DIR" || die "initdb failed"
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = ''"
    echo "fsync = off"
  } >>"$PG_DIR/postgresql.conf"
  # A port below Linux's ephemeral range (32768+), where client sockets lingering in
  # TIME_WAIT cannot block the bind; retried on the next port if taken in between.
  local attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port "$port")
    PG_STARTED=1
    if globe_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$DEMO_DIR/pg.log" -o "-p $port" -w -t 60 start >/dev/null; then
      break
    fi
    PG_STARTED=0
    [ "$attempt" -lt 5 ] || { tail -n 20 "$DEMO_DIR/pg.log" >&2; die "the demo database did not start"; }
    port=$((port + 1))
  done
  globe_as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE globe" || die "could not create the demo database"
  export GLOBE_DB="Host=127.0.0.1;Port=$port;Username=postgres;Database=globe"
  say "PostgreSQL on 127.0.0.1:$port (data in .globe/demo/pg)"
}

start_server() {
  local port
  port=$(free_port 5180)
  GLOBE_SERVER="http://127.0.0.1:$port"
  command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"
  Globe__Listen="$GLOBE_SERVER" setsid dotnet "$SERVER_DLL" >"$DEMO_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      say "server on $GLOBE_SERVER (log: .globe/demo/server.log)"
      return 0
    fi
    group_alive "$SERVER_PID" || { tail -n 30 "$DEMO_DIR/server.log" >&2; die "the server exited"; }
    sleep 0.2
  done
  die "the server did not start listening within 60 s"
}

bootstrap_code() {
  if [ -n "${GLOBE_BOOTSTRAP_CODE:-}" ]; then
    printf '%s\n' "$GLOBE_BOOTSTRAP_CODE"
  elif [ -x "$ROOT/ops/bootstrap-code.sh" ]; then
    "$ROOT/ops/bootstrap-code.sh"
  else
    dotnet run --project src/GlobeSecure.Server -c Release --no-build -- bootstrap-code
  fi
}

# ------------------------------------------------------------------------------------------
step "Build the server and the globe CLI"
dotnet build src/GlobeSecure.Cli -c Release --nologo -v quiet >/dev/null || die "building the CLI failed"
dotnet build src/GlobeSecure.Server -c Release --nologo -v quiet >/dev/null || die "building the server failed"
rm -rf "$GLOBE_HOME"
mkdir -p "$DEMO_DIR" "$GLOBE_HOME"
chmod 700 "$GLOBE_HOME"

if [ -n "${GLOBE_SERVER:-}" ]; then
  say "using the server in GLOBE_SERVER: $GLOBE_SERVER"
else
  step "Start a demo server with the embedded default"
  rm -rf "$PG_DIR"
  start_database
  start_server
fi
export GLOBE_SERVER

for who in amina lukas kenya-admin brazil-admin kenya-investigator brazil-investigator zainab-auditor; do
  passphrase_file "$who" >/dev/null
done
ROOT_PASS=$(passphrase_file root)

# ------------------------------------------------------------------------------------------
step "The server operator prints a one-time bootstrap code"
bootstrap_code >"$SECRETS/bootstrap.code" || die "could not get a bootstrap code"
[ -s "$SECRETS/bootstrap.code" ] || die "the bootstrap code is empty"
say "(the code is handed to the first network administrator; not shown here)"

step "Amina (secretariat) creates the network: root key and device keys are generated on her machine"
run_as amina --root-passphrase-file "$ROOT_PASS" network init --code-file "$SECRETS/bootstrap.code" \
  --name "GlobE Network" --admin-name "Amina Diallo" --label "secretariat laptop"
ROOT_FP=$(run_as amina --json fingerprint | json_field rootFingerprint)
SECRETARIAT=$(run_as amina --json whoami | json_field authorityId)
say "root fingerprint, to compare out of band: $ROOT_FP"
expect_refusal "reusing the bootstrap code" \
  globe --profile reuse --passphrase-file "$SECRETS/amina.pass" --root-passphrase-file "$ROOT_PASS" \
  network init --code-file "$SECRETS/bootstrap.code" --admin-name "Mallory"
rm -rf "$GLOBE_HOME/profiles/reuse"

step "Amina invites a second network administrator, Lukas, into the secretariat"
LUKAS_CODE=$(run_as amina --json user invite --name "Lukas Berger" --role network-administrator | json_field code)
[ -n "$LUKAS_CODE" ] || die "no enrolment code for Lukas"
LUKAS_DEVICE=$(run_as lukas --json device enrol --code "$LUKAS_CODE" --label "secretariat desktop" --root-fingerprint "$ROOT_FP")
LUKAS_DEVICE_ID=$(json_field deviceId <<<"$LUKAS_DEVICE")
LUKAS_KEY_FP=$(json_field signingKeyFingerprint <<<"$LUKAS_DEVICE")
say "Lukas enrolled device $LUKAS_DEVICE_ID (signing key $LUKAS_KEY_FP); it waits for certification"
expect_refusal "an uncertified device calling" run_as lukas whoami

step "Amina certifies Lukas's device with the network root key (he read her the fingerprint)"
run_as amina --root-passphrase-file "$ROOT_PASS" device certify "$LUKAS_DEVICE_ID" --authority "$SECRETARIAT" \
  --with-root-key --fingerprint "$LUKAS_KEY_FP"
run_as lukas whoami

step "Two authorities apply (no account needed)"
KENYA=$(globe --json authority apply --name "Ethics and Anti-Corruption Commission" --country KE \
  --kind anti-corruption-agency --legal-basis "Specialised anti-corruption body (UNCAC art. 36), Anti-Corruption and Economic Crimes Act 2003" \
  --focal-name "Wanjiru Kamau" --focal-email "focal@eacc.example" | json_field authorityId)
BRAZIL=$(globe --json authority apply --name "Polícia Federal – Diretoria de Combate ao Crime Organizado e à Corrupção" --country BR \
  --kind police --legal-basis "Federal police unit specialised in corruption offences (UNCAC art. 36)" \
  --focal-name "Rafael Souza" --focal-email "focal@pf.example" | json_field authorityId)
say "applications: Kenya $KENYA, Brazil $BRAZIL"
run_as amina authority list --status pending

step "Four eyes: Amina approves both; approving Kenya twice herself is refused; Lukas gives the second approval"
run_as amina authority approve "$KENYA"
expect_refusal "the same administrator approving twice" run_as amina authority approve "$KENYA"
run_as amina authority approve "$BRAZIL"
KENYA_APPROVAL=$(run_as lukas --json authority approve "$KENYA")
BRAZIL_APPROVAL=$(run_as lukas --json authority approve "$BRAZIL")
KENYA_ADMIN_CODE=$(json_field code <<<"$KENYA_APPROVAL")
BRAZIL_ADMIN_CODE=$(json_field code <<<"$BRAZIL_APPROVAL")
if [ -z "$KENYA_ADMIN_CODE" ] || [ -z "$BRAZIL_ADMIN_CODE" ]; then
  die "the second approvals returned no enrolment codes"
fi
say "both active; each authority's first administrator received an enrolment code"

step "The authorities' administrators enrol their devices"
KENYA_ADMIN=$(run_as kenya-admin --json device enrol --code "$KENYA_ADMIN_CODE" --label "EACC focal point" --root-fingerprint "$ROOT_FP")
BRAZIL_ADMIN=$(run_as brazil-admin --json device enrol --code "$BRAZIL_ADMIN_CODE" --label "PF focal point" --root-fingerprint "$ROOT_FP")
say "Kenya's administrator enrolled device $(json_field deviceId <<<"$KENYA_ADMIN"), Brazil's $(json_field deviceId <<<"$BRAZIL_ADMIN")"
expect_refusal "reusing an enrolment code" \
  globe --profile reuse --passphrase-file "$SECRETS/kenya-admin.pass" device enrol --code "$KENYA_ADMIN_CODE"
rm -rf "$GLOBE_HOME/profiles/reuse"

step "Network administrators certify them (Amina for Kenya, Lukas for Brazil)"
run_as amina device certify "$(json_field deviceId <<<"$KENYA_ADMIN")" --authority "$KENYA" \
  --fingerprint "$(json_field signingKeyFingerprint <<<"$KENYA_ADMIN")"
run_as lukas device certify "$(json_field deviceId <<<"$BRAZIL_ADMIN")" --authority "$BRAZIL" \
  --fingerprint "$(json_field signingKeyFingerprint <<<"$BRAZIL_ADMIN")"

step "The authority administrators invite investigators"
KENYA_INVITE=$(run_as kenya-admin --json user invite --name "Otieno Mwangi" --role investigator)
BRAZIL_INVITE=$(run_as brazil-admin --json user invite --name "Ana Ribeiro" --role investigator)
KENYA_INV_CODE=$(json_field code <<<"$KENYA_INVITE")
BRAZIL_INV_CODE=$(json_field code <<<"$BRAZIL_INVITE")
ANA=$(json_field userId <<<"$BRAZIL_INVITE")
run_as kenya-admin user list

step "The investigators enrol; their administrators certify their devices"
KENYA_INV=$(run_as kenya-investigator --json device enrol --code "$KENYA_INV_CODE" --label "laptop" --root-fingerprint "$ROOT_FP")
BRAZIL_INV=$(run_as brazil-investigator --json device enrol --code "$BRAZIL_INV_CODE" --label "laptop" --root-fingerprint "$ROOT_FP")
say "Otieno (Kenya) enrolled device $(json_field deviceId <<<"$KENYA_INV"), Ana (Brazil) $(json_field deviceId <<<"$BRAZIL_INV")"
run_as kenya-admin device list --pending
run_as kenya-admin device certify "$(json_field deviceId <<<"$KENYA_INV")" \
  --fingerprint "$(json_field signingKeyFingerprint <<<"$KENYA_INV")"
run_as brazil-admin device certify "$(json_field deviceId <<<"$BRAZIL_INV")" \
  --fingerprint "$(json_field signingKeyFingerprint <<<"$BRAZIL_INV")"
expect_refusal "an authority administrator certifying a device of another authority" \
  run_as brazil-admin device certify "$(json_field deviceId <<<"$KENYA_INV")" --authority "$KENYA"

step "The investigators authenticate"
run_as kenya-investigator whoami
run_as brazil-investigator whoami

step "The directory, as the Kenyan investigator's client verifies it (log and every chain, to the pinned root)"
run_as kenya-investigator fingerprint
run_as kenya-investigator directory

step "Where to send what: the secretariat lists Brazil's central authority for MLA, the Polícia Federal publishes its requirements, Otieno looks them up"
run_as amina directory contact add --country BR --kind central-authority \
  --name "Department of Asset Recovery and International Legal Cooperation" --organisation "Ministry of Justice and Public Security" \
  --email "mla@example.gov.br" --languages pt,en,es --electronic yes --notes "Formal requests in Portuguese or with a translation."
run_as brazil-admin directory requirements --languages pt,en --electronic yes --notes "Informal requests through this platform; originals by courier."
expect_refusal "an investigator adding a contact entry" \
  run_as kenya-investigator directory contact add --country KE --kind other --name "My own entry"
run_as kenya-investigator directory --country BR

# ------------------------------------------------------------------------------------------
# The case channel: everything below is encrypted and signed on the investigators' machines;
# the server stores ciphertext and never holds a channel key.

step "Otieno (Kenya) opens a case channel: its key and its encrypted title are made on his machine"
CHANNEL=$(run_as kenya-investigator --json channel create --title "Case 2026/114 – procurement fraud, county water works" \
  --description "Joint investigation EACC / Polícia Federal" --handling H1 | json_field channelId)
[ -n "$CHANNEL" ] || die "no channel id"
run_as kenya-investigator channel show "$CHANNEL"
EARLY=$(run_as kenya-investigator --json send "$CHANNEL" "Tender file for the county water works collected; 14 bidders, 3 share a director.")
EARLY_POSITION=$(json_field position <<<"$EARLY")
say "sent message $(json_field messageId <<<"$EARLY") at position $EARLY_POSITION, before Brazil joins"

step "Otieno invites the Brazilian authority: a new epoch key, sealed to every member's devices, and the title re-sealed under it"
run_as kenya-investigator channel invite "$CHANNEL" --authority "$BRAZIL"

step "Ana (Brazil) reads the title at once, but the message from before she joined is not readable (its key was never sealed to her)"
run_as brazil-investigator channel show "$CHANNEL"
run_as brazil-investigator history "$CHANNEL"

step "Otieno shares the earlier epoch with Ana (explicit and audited); she now reads that message too"
run_as kenya-investigator channel share-history "$CHANNEL" --user "$ANA"
run_as brazil-investigator history "$CHANNEL"

step "Messages both ways: Otieno with a 4x4 grade, Ana replying from standard input and tightening the handling code to H2"
FROM_KENYA=$(run_as kenya-investigator --json send "$CHANNEL" --grade 4x4:B2 \
  "Payments from the winning bidder went to a shell company with an account in São Paulo.")
KENYA_MESSAGE=$(json_field messageId <<<"$FROM_KENYA")
say "Otieno sent message $KENYA_MESSAGE"
printf 'We hold that account'"'"'s records (2019–2024).\nRequest them formally before using them in court.\n' |
  run_as brazil-investigator send "$CHANNEL" --reply-to "$KENYA_MESSAGE" --handling H2 --spontaneous

step "Ana's client watches the channel: each message verified and decrypted as it arrives; it signs delivered and read receipts"
run_as brazil-investigator watch --channel "$CHANNEL" --after "$EARLY_POSITION" --count 2 --timeout 60

step "The decrypted history on each side, newest first, with the sender's authority, handling code and grade"
say "Otieno (Kenya):"
run_as kenya-investigator history "$CHANNEL"
say "Ana (Brazil):"
run_as brazil-investigator history "$CHANNEL"

step "Otieno lists the receipts of his message: each signature verified against Ana's device certificate"
run_as kenya-investigator receipts "$CHANNEL" "$KENYA_MESSAGE"

step "Ana attaches evidence: the file is encrypted on her machine under a fresh key as it streams up; its key and hashes travel in her signed message"
FILES="$SECRETS/files"
mkdir -p "$FILES/received"
EVIDENCE="$FILES/account-statements-2019-2024.pdf"
head -c 3300000 /dev/urandom >"$EVIDENCE"
WITH_FILE=$(run_as brazil-investigator --json send "$CHANNEL" \
  "The account statements, as received from the bank (2019–2024)." --attach "$EVIDENCE")
FILE_MESSAGE=$(json_field messageId <<<"$WITH_FILE")
[ -n "$FILE_MESSAGE" ] || die "no message id for the attachment"
say "Ana sent message $FILE_MESSAGE with $(basename "$EVIDENCE") ($(wc -c <"$EVIDENCE") bytes)"

step "Otieno downloads it: every chunk, the ciphertext hash and the plaintext hash Ana signed are checked before the file takes its name"
run_as kenya-investigator doc list --channel "$CHANNEL"
run_as kenya-investigator doc download "$FILE_MESSAGE" --channel "$CHANNEL" --out "$FILES/received/"
SENT_HASH=$(sha256sum <"$EVIDENCE" | cut -d' ' -f1)
RECEIVED_HASH=$(sha256sum <"$FILES/received/$(basename "$EVIDENCE")" | cut -d' ' -f1)
[ "$SENT_HASH" = "$RECEIVED_HASH" ] || die "the downloaded file differs from the one sent ($SENT_HASH vs $RECEIVED_HASH)"
say "SHA-256 of the file Ana sent:          $SENT_HASH"
say "SHA-256 of the file Otieno downloaded: $RECEIVED_HASH (identical)"

step "Otieno removes the Brazilian authority: the next epoch's key is sealed only to Kenya's devices"
run_as kenya-investigator channel remove "$CHANNEL" --authority "$BRAZIL"
BEFORE_REMOVAL=$(run_as kenya-investigator --json history "$CHANNEL" --limit 1 | json_field position)
run_as kenya-investigator send "$CHANNEL" "After Brazil left: the county engineer is the third director."
run_as kenya-investigator history "$CHANNEL" --limit 1

step "Ana can no longer read the channel: the server refuses her, and her devices never got the new key"
expect_refusal "a removed member reading the channel's history" run_as brazil-investigator history "$CHANNEL"
expect_refusal "a removed member sending to the channel" run_as brazil-investigator send "$CHANNEL" "Still here?"
say "her live view ends with her removal; the newer message never reaches her:"
run_as brazil-investigator watch --channel "$CHANNEL" --after "$BEFORE_REMOVAL" --timeout 3
run_as brazil-investigator channel list

step "Otieno invites Brazil back: Ana reads the channel again, except the message from her absence (its key was never sealed to her)"
run_as kenya-investigator channel invite "$CHANNEL" --authority "$BRAZIL"
run_as brazil-investigator history "$CHANNEL" --limit 2

step "Otieno drafts an information request to Brazil: his client checks the draft against the template and lists every problem; nothing is sent"
INCOMPLETE="$FILES/incomplete-request.json"
printf '{ "parties": { "case_reference": "EACC/INV/2026/0412", "requested_state": "Brazil" } }\n' >"$INCOMPLETE"
expect_refusal "an incomplete draft" run_as kenya-investigator request new --template request-for-information --to "$BRAZIL" "$INCOMPLETE"
run_as kenya-investigator template check request-for-information "$INCOMPLETE" || true

step "Otieno sends the complete request (urgent, as the draft says): a thread of its own, the form encrypted in it; the server sees only parties, urgency, deadlines and status"
REQUEST_OUT=$(run_as kenya-investigator --json request new --template request-for-information --to "$BRAZIL" \
  "$ROOT/docs/examples/request-for-information.draft.json")
REQUEST_ID=$(json_field requestId <<<"$REQUEST_OUT")
REQUEST_CHANNEL=$(json_field channelId <<<"$REQUEST_OUT")
[ -n "$REQUEST_ID" ] && [ -n "$REQUEST_CHANNEL" ] || die "no request id or thread in: $REQUEST_OUT"
run_as kenya-investigator request show "$REQUEST_ID"

step "Ana (Brazil) finds it among her incoming requests, reads the decrypted form and asks a question; work pauses"
run_as brazil-investigator request list --incoming
run_as brazil-investigator request show "$REQUEST_ID" --form >"$FILES/request-as-read.txt"
say "the form, decrypted and verified on Ana's machine (first lines):"
sed -n '1,/"facts"/p' "$FILES/request-as-read.txt" | tail -n 8
expect_refusal "answering while the question is open" run_as brazil-investigator request answer "$REQUEST_ID" --message "Too soon."
run_as brazil-investigator request clarify "$REQUEST_ID" --question "Do you need the statements of both accounts, or only the one at Banco do Brasil?"

step "Otieno answers the question in the thread; the request resumes, and Ana acknowledges it"
run_as kenya-investigator request clarify "$REQUEST_ID" --answer "Both accounts, from January 2019."
run_as brazil-investigator request ack "$REQUEST_ID"

step "Ana answers with the statements attached: encrypted on her machine, its key and hashes in her signed answer"
STATEMENTS="$FILES/statements-both-accounts.pdf"
head -c 250000 /dev/urandom >"$STATEMENTS"
run_as brazil-investigator request answer "$REQUEST_ID" --message "Statements of both accounts, January 2019 to date, attached." --attach "$STATEMENTS"

step "Otieno downloads the answer's attachment, checks it is the file Ana sent, and closes the request"
ANSWER_MESSAGE=$(run_as kenya-investigator --json history "$REQUEST_CHANNEL" --limit 1 | json_field messageId)
[ -n "$ANSWER_MESSAGE" ] || die "no answer message in the request's thread"
mkdir -p "$FILES/answer"
run_as kenya-investigator doc download "$ANSWER_MESSAGE" --channel "$REQUEST_CHANNEL" --out "$FILES/answer/"
[ "$(sha256sum <"$STATEMENTS" | cut -d' ' -f1)" = "$(sha256sum <"$FILES/answer/$(basename "$STATEMENTS")" | cut -d' ' -f1)" ] ||
  die "the answer's attachment differs from the file Ana sent"
say "SHA-256 of the statements: identical on both sides"
run_as kenya-investigator request close "$REQUEST_ID"

step "Otieno exports the request for a formal MLA request; Ana's client verifies the package offline, and a changed byte is caught"
PACKAGE="$FILES/mla-package"
run_as kenya-investigator request export "$REQUEST_ID" --out "$PACKAGE"
run_as brazil-investigator verify-package "$PACKAGE" | tail -n 3
TAMPERED="$FILES/mla-package-tampered"
cp -r "$PACKAGE" "$TAMPERED"
printf '[' | dd of="$TAMPERED/messages/$REQUEST_ID/body.json" bs=1 seek=0 conv=notrunc status=none
expect_refusal "a package with one byte changed" run_as brazil-investigator verify-package "$TAMPERED"

step "Statistics from metadata only: Kenya's figures as requesting and as requested party"
run_as kenya-investigator stats

step "Amina invites Zainab as a network auditor (an auditor of the secretariat); she enrols and Amina certifies her device"
ZAINAB_CODE=$(run_as amina --json user invite --name "Zainab Haddad" --role auditor | json_field code)
[ -n "$ZAINAB_CODE" ] || die "no enrolment code for Zainab"
ZAINAB=$(run_as zainab-auditor --json device enrol --code "$ZAINAB_CODE" --label "audit workstation" --root-fingerprint "$ROOT_FP")
run_as amina device certify "$(json_field deviceId <<<"$ZAINAB")" --authority "$SECRETARIAT" \
  --fingerprint "$(json_field signingKeyFingerprint <<<"$ZAINAB")"
expect_refusal "an investigator reading the audit trail" run_as kenya-investigator audit query

step "Zainab reviews the trail of this story without seeing any content: who was refused, when, from which device"
run_as zainab-auditor audit query --outcome denied --limit 12
say "the removed member's refused reads of the case channel, with her device:"
run_as zainab-auditor audit query --outcome denied --action /globesecure.v1.ChannelService/ --actor-user "$ANA" --limit 3

step "Zainab exports the whole trail with its signed checkpoints and verifies it offline under the server's pinned key; a changed entry is named"
AUDIT_FILE="$FILES/audit-trail.jsonl"
run_as zainab-auditor audit export --out "$AUDIT_FILE"
SERVER_KEY=$(run_as zainab-auditor --json audit keys | json_field publicKey)
[ -n "$SERVER_KEY" ] || die "no server checkpoint key"
globe audit verify "$AUDIT_FILE" --key "$SERVER_KEY"
TAMPERED_TRAIL="$FILES/audit-trail-tampered.jsonl"
sed '30s/"outcome":"denied"/"outcome":"allowed"/; 30s/"outcome":"failed"/"outcome":"allowed"/; 30s/"peer":"[^"]*"/"peer":"ipv4:10.6.6.6:1"/' \
  "$AUDIT_FILE" >"$TAMPERED_TRAIL"
cmp -s "$AUDIT_FILE" "$TAMPERED_TRAIL" && die "the tampering step changed nothing"
expect_refusal "an export with one entry changed" globe audit verify "$TAMPERED_TRAIL" --key "$SERVER_KEY"
run_as zainab-auditor audit verify --server

printf '\n\033[1mDemo complete: every step succeeded, and every refusal was refused.\033[0m\n'
