#!/usr/bin/env bash
# sandbox.sh - the local stand-in for AWS that drctl's tests run against.
#
# Everything listens on 127.0.0.1 only:
#   - moto_server (all AWS services on one endpoint), signature checking ON:
#     it is started with INITIAL_NO_AUTH_ACTION_COUNT=3, and those first three
#     unauthenticated calls create the IAM user "drctl-sandbox" with an
#     allow-"*"-on-"*" inline policy and an access key. From then on every
#     request must be signed with that key (a wrong secret is refused with
#     SignatureDoesNotMatch, an unknown key id with InvalidClientTokenId /
#     InvalidAccessKeyId). start checks both before it reports success.
#   - one PostgreSQL 15 cluster per sandbox region (us-east-1 = primary,
#     us-west-2 = standby), each on its own free loopback port, trust auth for
#     TCP from 127.0.0.1 only (no unix-socket logins), fsync off.
#     The primary's database "litellm" holds LiteLLM's baseline schema
#     ($DRCTL_SHARED_DIR/litellm/schema-baseline.sql, read in place), Prisma's
#     _prisma_migrations table with the baseline row, and generated data
#     (scripts/gen_litellm_data.py). The standby's "litellm" database is EMPTY
#     (a restore creates the schema).
#
# Usage: scripts/sandbox.sh start|stop|status|env [--export]|reset|reset-db|clean
#   start     start everything (fresh databases and a fresh moto every time);
#             prints "already running" and does nothing when all parts run;
#             a half-running sandbox is stopped and started again.
#   stop      stop moto and both clusters (pg_ctl stop -m fast), wait until the
#             processes are gone, remove pid files. Harmless when stopped.
#   status    print what runs; exit 0 all running, 3 nothing, 1 partly.
#   env       print STATE/sandbox.env (plain KEY=VALUE lines, no quotes; use
#             `set -a; . STATE/sandbox.env; set +a`, or
#             `eval "$(scripts/sandbox.sh env --export)"`).
#   reset     wipe moto's state (POST /moto-api/reset) and create the IAM user
#             and a NEW access key again (auth is switched off with
#             /moto-api/reset-auth "inf" meanwhile and back on with "0"), then
#             rewrite sandbox.env: re-read it after a reset, the old key is gone.
#   reset-db  re-create both litellm databases as start makes them.
#   clean     stop, then delete the state directory.
#
# Environment:
#   DRCTL_SANDBOX_DIR      state directory (default <repo>/.sandbox)
#   DRCTL_SHARED_DIR       the shared/ folder (default <repo>/../shared)
#   DRCTL_SANDBOX_DATA_MB  approximate size of the primary's generated data in
#                          MB (default 5); 0 = schema and migrations row only
#   DRCTL_SANDBOX_SEED     seed of the generated data (default 1)
#   DRCTL_SANDBOX_NOAUTH=1 start moto without signature/IAM checks (the IAM user
#                          and keys are still created and written)
#   DRCTL_PG_BIN           PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#
# STATE/sandbox.env (mode 0600) keys:
#   AWS_ENDPOINT_URL=http://127.0.0.1:<moto port>
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the drctl-sandbox user's key
#   AWS_REGION=us-east-1, AWS_DEFAULT_REGION=us-east-1, AWS_EC2_METADATA_DISABLED=true
#   DRCTL_SANDBOX_MOTO_PORT, DRCTL_SANDBOX_PG_PORT_US_EAST_1, DRCTL_SANDBOX_PG_PORT_US_WEST_2
#   DRCTL_DB_MAP=us-east-1=postgresql://postgres@127.0.0.1:P1/litellm,us-west-2=postgresql://postgres@127.0.0.1:P2/litellm
#   DRCTL_SANDBOX_DIR, DRCTL_SANDBOX_AUTH (1 = signatures checked, 0 = not)
# ~/.aws is never read or written by this script.
#
# When run as root, the PostgreSQL server runs as the "postgres" user (it
# refuses root); if that user cannot reach the state directory (e.g. under
# /root), the clusters live in /tmp/drctl-sandbox-pg-<hash> instead (the path
# is recorded in STATE/pgroot and removed by clean).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
STATE=${DRCTL_SANDBOX_DIR:-$REPO_DIR/.sandbox}
SHARED=${DRCTL_SHARED_DIR:-$REPO_DIR/../shared}
PGBIN=${DRCTL_PG_BIN:-/usr/lib/postgresql/15/bin}
DATA_MB=${DRCTL_SANDBOX_DATA_MB:-5}
SEED=${DRCTL_SANDBOX_SEED:-1}
NOAUTH=${DRCTL_SANDBOX_NOAUTH:-0}
REGIONS=(us-east-1 us-west-2)
PRIMARY=us-east-1
IAM_USER=drctl-sandbox
NO_AUTH_COUNT=3 # create-user, put-user-policy, create-access-key
READY_TIMEOUT=60

log() { printf 'sandbox: %s\n' "$*" >&2; }
die() {
  printf 'sandbox: error: %s\n' "$*" >&2
  exit 1
}
now() { date +%s.%N; }
T0=$(now)
# DRCTL_SANDBOX_DEBUG=1: timestamps of the start-up steps on stderr
step() { if [ "${DRCTL_SANDBOX_DEBUG:-0}" = 1 ]; then log "+$(elapsed "$T0")s $*"; fi; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A process that exists and is not a zombie (an init that does not reap
# leaves our stopped daemons as zombies; kill -0 would still succeed).
alive() {
  local st
  st=$(cut -d')' -f2- "/proc/$1/stat" 2>/dev/null | awk '{print $1}') || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

is_root() { [ "$(id -u)" -eq 0 ]; }
RUNUSER=$(command -v runuser || echo /usr/sbin/runuser)
# Run a PostgreSQL server program as the postgres user when we are root.
as_pg() {
  if is_root; then "$RUNUSER" -u postgres -- "$@"; else "$@"; fi
}

# ---------------------------------------------------------------- state ----
var_name() { printf '%s' "$1" | tr 'a-z-' 'A-Z_'; } # us-east-1 -> US_EAST_1
pgroot() {
  if [ -f "$STATE/pgroot" ]; then cat "$STATE/pgroot"; else printf '%s/pg' "$STATE"; fi
}
pgdata() { printf '%s/%s' "$(pgroot)" "$1"; }
read_port() { cat "$STATE/$1.port" 2>/dev/null || true; }

moto_pid() {
  local pid
  pid=$(cat "$STATE/moto.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  # guard against a recycled pid
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server || return 1
  printf '%s' "$pid"
}
pg_pid() { # pid of the region's postmaster, if it runs
  local d pid
  d=$(pgdata "$1")
  pid=$(head -n1 "$d/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q postgres || return 1
  printf '%s' "$pid"
}
count_running() {
  local n=0 r
  moto_pid >/dev/null && n=$((n + 1))
  for r in "${REGIONS[@]}"; do pg_pid "$r" >/dev/null && n=$((n + 1)); done
  printf '%s' "$n"
}
TOTAL_PARTS=$((1 + ${#REGIONS[@]}))

# Pick N distinct free TCP ports on 127.0.0.1, outside the kernel's ephemeral
# range (so outgoing connections do not take them before we bind).
pick_ports() {
  python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1]); rng = random.SystemRandom(); got = []
while len(got) < n:
    p = rng.randrange(20000, 32000)
    if p in got:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); got.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, got)))
EOF
}

with_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 120 9 || die "another sandbox.sh holds $STATE/.lock (waited 120 s)"
}

# ------------------------------------------------------------------ moto ---
moto_url() { printf 'http://127.0.0.1:%s' "$(read_port moto)"; }

resolve_moto() {
  local m
  m=$(command -v moto_server) || die "moto_server not found on PATH (run scripts/setup.sh)"
  # pyenv shims are a shell script around the real entry point: skip them
  if [[ $m == */shims/* ]] && command -v pyenv >/dev/null; then
    m=$(pyenv which moto_server 2>/dev/null) || m=$(command -v moto_server)
  fi
  printf '%s' "$m"
}

start_moto() { # port
  local port=$1 bin pid
  bin=$(resolve_moto)
  : >"$STATE/moto.log"
  if [ "$NOAUTH" = 1 ]; then
    setsid env -u INITIAL_NO_AUTH_ACTION_COUNT "$bin" -H 127.0.0.1 -p "$port" \
      </dev/null >>"$STATE/moto.log" 2>&1 9>&- &
  else
    setsid env INITIAL_NO_AUTH_ACTION_COUNT=$NO_AUTH_COUNT "$bin" -H 127.0.0.1 -p "$port" \
      </dev/null >>"$STATE/moto.log" 2>&1 9>&- &
  fi
  pid=$!
  printf '%s\n' "$pid" >"$STATE/moto.pid"
  printf '%s\n' "$port" >"$STATE/moto.port"
}

wait_moto() { # waits until moto answers HTTP; 1 when it died or timed out
  local port pid deadline
  port=$(read_port moto)
  pid=$(cat "$STATE/moto.pid")
  deadline=$(($(date +%s) + READY_TIMEOUT))
  while :; do
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/moto-api/"; then return 0; fi
    alive "$pid" || return 1
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

moto_api() { # path body
  # text/plain: with a form content type moto (Flask) would not see the body
  curl -sS --fail --max-time 30 -X POST -H 'Content-Type: text/plain' --data-binary "$2" "$(moto_url)$1" >/dev/null
}

# Create the IAM user, its admin policy and one access key (3 calls). With
# verify=1 also prove that auth is enforced. Prints "KEYID SECRET".
iam_bootstrap() { # endpoint verify
  # hermetic: no profile, config or credential file of the user's is read
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    python3 - "$1" "$IAM_USER" "$2" <<'EOF'
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
ep, user, verify = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
cfg = Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=60)
def client(svc, key, secret):
    return boto3.session.Session().client(svc, endpoint_url=ep, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)
iam = client("iam", "bootstrap", "bootstrap")
iam.create_user(UserName=user)
iam.put_user_policy(UserName=user, PolicyName="AdministratorAccess",
    PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName=user)["AccessKey"]
kid, secret = k["AccessKeyId"], k["SecretAccessKey"]
ident = client("sts", kid, secret).get_caller_identity()
if not ident["Arn"].endswith(":user/" + user):
    sys.exit("unexpected identity %s" % ident["Arn"])
if verify:
    try:
        client("sts", kid, secret[:-1] + ("A" if secret[-1] != "A" else "B")).get_caller_identity()
        sys.exit("moto accepted a wrong secret: signature checking is OFF")
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code not in ("SignatureDoesNotMatch", "InvalidClientTokenId"):
            sys.exit("wrong secret refused with unexpected code %s" % code)
print(kid, secret)
EOF
}

stop_moto() {
  local pid i
  if pid=$(moto_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    if [ "${1:-}" = --no-wait ]; then return 0; fi
    for i in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "moto (pid $pid) did not stop on TERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$STATE/moto.pid"
}

# ------------------------------------------------------------ postgresql ---
choose_pgroot() {
  local alt
  rm -f "$STATE/pgroot"
  if is_root; then
    getent passwd postgres >/dev/null || die "user 'postgres' missing (install postgresql-15: scripts/setup.sh)"
    if ! "$RUNUSER" -u postgres -- test -x "$STATE"; then
      alt="/tmp/drctl-sandbox-pg-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)"
      log "user postgres cannot reach $STATE; clusters go to $alt"
      printf '%s\n' "$alt" >"$STATE/pgroot"
    fi
  fi
}

# One initdb'd cluster is kept as a template in the state directory (per
# server version); each start copies it, which is much faster than initdb.
ensure_template() {
  local root t ver
  root=$(pgroot)
  t="$root/template"
  ver=$("$PGBIN/postgres" --version)
  mkdir -p "$root"
  if is_root; then chown postgres: "$root"; fi
  chmod 700 "$root"
  if [ -f "$t/PG_VERSION" ] && [ "$(cat "$root/template.version" 2>/dev/null)" = "$ver" ]; then
    return 0
  fi
  rm -rf "$t"
  as_pg "$PGBIN/initdb" -D "$t" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$root/initdb.log" 2>&1 || {
    tail -n 20 "$root/initdb.log" >&2
    die "initdb failed (log: $root/initdb.log)"
  }
  printf '%s\n' "$ver" >"$root/template.version"
}

init_cluster() { # region port
  local r=$1 port=$2 d root sock
  root=$(pgroot)
  d="$root/$r"
  sock="$root/sock-$r"
  rm -rf "$d" "$sock"
  mkdir -p "$sock"
  if is_root; then chown postgres: "$sock"; fi
  as_pg cp -a "$root/template" "$d" || die "copying the cluster template to $d failed"
  # unix socket path limit is 107 bytes: fall back to TCP only
  if [ $((${#sock} + 16)) -gt 107 ]; then sock=""; fi
  as_pg sh -c "cat >>'$d/postgresql.auto.conf'" <<EOF
# drctl sandbox ($r)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 50
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 2GB
checkpoint_timeout = 30min
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
  as_pg sh -c "printf '%s\n' '# drctl sandbox: TCP from 127.0.0.1 only' 'host all all 127.0.0.1/32 trust' >'$d/pg_hba.conf'"
}

start_cluster() { # region
  local r=$1 d
  d=$(pgdata "$r")
  # 9>&-: the server must not inherit (and so hold) the lock
  as_pg "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t "$READY_TIMEOUT" start >/dev/null 2>&1 9>&- || {
    tail -n 20 "$d/server.log" >&2 || true
    die "PostgreSQL for $r did not start (log: $d/server.log)"
  }
}

psql_to() { # port db args...
  local port=$1 db=$2
  shift 2
  PGOPTIONS="-c client_min_messages=warning" PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

create_db() { # port
  psql_to "$1" postgres -c 'DROP DATABASE IF EXISTS litellm WITH (FORCE)' \
    -c "CREATE DATABASE litellm TEMPLATE template0 ENCODING 'UTF8'"
}

load_primary() { # port
  local port=$1 schema="$SHARED/litellm/schema-baseline.sql"
  python3 "$SCRIPT_DIR/gen_litellm_data.py" --schema "$schema" --mb "$DATA_MB" --seed "$SEED" 2>"$STATE/gen.log" |
    psql_to "$port" litellm >/dev/null || die "loading the primary's data failed"
  psql_to "$port" litellm -c 'VACUUM ANALYZE' >/dev/null
}

setup_cluster() { # region port: init, start, create and (primary) load
  local r=$1 port=$2
  init_cluster "$r" "$port"
  step "$r: cluster copied from the template"
  start_cluster "$r"
  step "$r: server up"
  create_db "$port"
  if [ "$r" = "$PRIMARY" ]; then
    load_primary "$port"
    step "$r: data loaded"
  fi
}

stop_cluster() { # region
  local r=$1 d pid i
  d=$(pgdata "$r")
  pid=$(pg_pid "$r") || return 0
  as_pg "$PGBIN/pg_ctl" -D "$d" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  for i in $(seq 1 100); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "postgres $r (pid $pid) still there; sending SIGQUIT"
    kill -QUIT "$pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# ------------------------------------------------------------------- env ---
write_env() { # keyid secret
  local tmp r v map="" port
  tmp="$STATE/.sandbox.env.$$"
  (
    umask 077
    {
      printf '# drctl sandbox - written by scripts/sandbox.sh on %s\n' "$(date -u +%FT%TZ)"
      printf 'AWS_ENDPOINT_URL=%s\n' "$(moto_url)"
      printf 'AWS_ACCESS_KEY_ID=%s\n' "$1"
      printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$2"
      printf 'AWS_REGION=us-east-1\n'
      printf 'AWS_DEFAULT_REGION=us-east-1\n'
      printf 'AWS_EC2_METADATA_DISABLED=true\n'
      printf 'DRCTL_SANDBOX_DIR=%s\n' "$STATE"
      printf 'DRCTL_SANDBOX_AUTH=%s\n' "$([ "$NOAUTH" = 1 ] && echo 0 || echo 1)"
      printf 'DRCTL_SANDBOX_MOTO_PORT=%s\n' "$(read_port moto)"
      for r in "${REGIONS[@]}"; do
        v=$(var_name "$r")
        port=$(read_port "pg-$r")
        printf 'DRCTL_SANDBOX_PG_PORT_%s=%s\n' "$v" "$port"
        map+="${map:+,}$r=postgresql://postgres@127.0.0.1:$port/litellm"
      done
      printf 'DRCTL_DB_MAP=%s\n' "$map"
    } >"$tmp"
  )
  chmod 600 "$tmp"
  mv -f "$tmp" "$STATE/sandbox.env"
}

# -------------------------------------------------------------- commands ---
preflight() {
  local c
  for c in python3 psql curl flock setsid; do
    command -v "$c" >/dev/null || die "$c not found (run scripts/setup.sh)"
  done
  resolve_moto >/dev/null
  if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
    die "PostgreSQL 15 server binaries not in $PGBIN (run scripts/setup.sh)"
  fi
  [ -r "$SHARED/litellm/schema-baseline.sql" ] ||
    die "schema not found: $SHARED/litellm/schema-baseline.sql (set DRCTL_SHARED_DIR)"
  python3 -c 'import boto3' 2>/dev/null || die "python3 cannot import boto3"
  [[ $DATA_MB =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DRCTL_SANDBOX_DATA_MB must be a number, got '$DATA_MB'"
}

do_stop() {
  local r pids=() p i
  if p=$(moto_pid); then pids+=("$p"); fi
  for r in "${REGIONS[@]}"; do
    if p=$(pg_pid "$r"); then pids+=("$p"); fi
  done
  stop_moto --no-wait # TERM now, wait below: the three stop in parallel
  local jobs=()
  for r in "${REGIONS[@]}"; do
    stop_cluster "$r" &
    jobs+=($!)
  done
  for p in "${jobs[@]}"; do wait "$p" || true; done
  stop_moto
  # until they have left the process table (an init that reaps slowly
  # shows them as zombies for a moment)
  local left
  for i in $(seq 1 50); do
    left=0
    for p in "${pids[@]}"; do if [ -e "/proc/$p" ]; then left=1; fi; done
    [ $left = 0 ] && break
    sleep 0.1
  done
}

cmd_start() {
  local t0 n ports port_moto i r pids=() keys kid secret attempt
  t0=$(now)
  with_lock
  n=$(count_running)
  if [ "$n" -eq "$TOTAL_PARTS" ] && [ -s "$STATE/sandbox.env" ]; then
    log "already running ($STATE)"
    return 0
  fi
  preflight
  step "preflight done"
  if [ "$n" -eq "$TOTAL_PARTS" ]; then
    log "running, but $STATE/sandbox.env is missing; restarting"
  elif [ "$n" -gt 0 ]; then
    log "partly running ($n of $TOTAL_PARTS parts); restarting"
  fi
  do_stop
  rm -f "$STATE/sandbox.env"
  choose_pgroot
  ensure_template
  step "cluster template ready"

  for attempt in 1 2 3; do
    read -r port_moto ports <<<"$(pick_ports $((1 + ${#REGIONS[@]})))"
    start_moto "$port_moto"
    # databases are built while moto starts
    i=0
    pids=()
    for r in "${REGIONS[@]}"; do
      read -r -a _p <<<"$ports"
      printf '%s\n' "${_p[$i]}" >"$STATE/pg-$r.port"
      setup_cluster "$r" "${_p[$i]}" &
      pids+=($!)
      i=$((i + 1))
    done
    local failed=0
    for i in "${pids[@]}"; do wait "$i" || failed=1; done
    if [ $failed -ne 0 ]; then
      do_stop
      if [ "$attempt" -lt 3 ] && cat "$(pgroot)"/*/server.log 2>/dev/null | grep -q 'could not bind'; then
        log "a PostgreSQL port was taken; retrying with other ports"
        continue
      fi
      die "PostgreSQL setup failed"
    fi
    step "databases ready"
    if wait_moto; then break; fi
    if grep -q 'Address already in use' "$STATE/moto.log" && [ "$attempt" -lt 3 ]; then
      log "moto port $port_moto was taken; retrying"
      do_stop
      continue
    fi
    tail -n 30 "$STATE/moto.log" >&2 || true
    do_stop
    die "moto_server did not answer within ${READY_TIMEOUT}s (log: $STATE/moto.log)"
  done

  keys=$(iam_bootstrap "$(moto_url)" "$([ "$NOAUTH" = 1 ] && echo 0 || echo 1)" 2>"$STATE/iam.log") || {
    cat "$STATE/iam.log" >&2
    do_stop
    die "creating the IAM user in moto failed"
  }
  step "IAM user created, auth checked"
  read -r kid secret <<<"$keys"
  write_env "$kid" "$secret"
  log "started in $(elapsed "$t0")s: moto 127.0.0.1:$(read_port moto) (auth $([ "$NOAUTH" = 1 ] && echo off || echo on))," \
    "postgres us-east-1 :$(read_port pg-us-east-1) (${DATA_MB} MB data), us-west-2 :$(read_port pg-us-west-2) (empty);" \
    "env: $STATE/sandbox.env"
}

cmd_stop() {
  local t0
  t0=$(now)
  if [ ! -d "$STATE" ]; then
    log "not running (no $STATE)"
    return 0
  fi
  with_lock
  if [ "$(count_running)" -eq 0 ]; then
    rm -f "$STATE/moto.pid"
    log "not running"
    return 0
  fi
  do_stop
  log "stopped in $(elapsed "$t0")s"
}

cmd_status() {
  local n=0 pid r
  if pid=$(moto_pid); then
    printf 'moto: running, pid %s, %s, auth %s\n' "$pid" "$(moto_url)" \
      "$(grep -q '^DRCTL_SANDBOX_AUTH=0' "$STATE/sandbox.env" 2>/dev/null && echo off || echo on)"
    n=$((n + 1))
  else
    printf 'moto: stopped\n'
  fi
  for r in "${REGIONS[@]}"; do
    if pid=$(pg_pid "$r"); then
      printf 'postgres %s: running, pid %s, 127.0.0.1:%s, data %s\n' "$r" "$pid" "$(read_port "pg-$r")" "$(pgdata "$r")"
      n=$((n + 1))
    else
      printf 'postgres %s: stopped\n' "$r"
    fi
  done
  printf 'state: %s\n' "$STATE"
  if [ "$n" -eq "$TOTAL_PARTS" ]; then return 0; elif [ "$n" -eq 0 ]; then return 3; else return 1; fi
}

cmd_env() {
  [ -s "$STATE/sandbox.env" ] || die "no $STATE/sandbox.env: the sandbox is not started"
  if [ "${1:-}" = "--export" ]; then
    grep -v '^#' "$STATE/sandbox.env" | sed 's/^/export /'
  else
    cat "$STATE/sandbox.env"
  fi
}

cmd_reset() {
  local t0 keys kid secret
  t0=$(now)
  with_lock
  moto_pid >/dev/null || die "moto is not running (scripts/sandbox.sh start)"
  if grep -q '^DRCTL_SANDBOX_AUTH=0' "$STATE/sandbox.env" 2>/dev/null; then NOAUTH=1; fi
  moto_api /moto-api/reset-auth inf || die "POST /moto-api/reset-auth failed"
  moto_api /moto-api/reset '' || die "POST /moto-api/reset failed"
  keys=$(iam_bootstrap "$(moto_url)" 0 2>"$STATE/iam.log") || {
    cat "$STATE/iam.log" >&2
    die "re-creating the IAM user failed"
  }
  read -r kid secret <<<"$keys"
  if [ "$NOAUTH" != 1 ]; then
    moto_api /moto-api/reset-auth 0 || die "POST /moto-api/reset-auth 0 failed"
  fi
  write_env "$kid" "$secret"
  log "moto reset in $(elapsed "$t0")s; new key written to $STATE/sandbox.env"
}

cmd_reset_db() {
  local t0 r
  t0=$(now)
  with_lock
  for r in "${REGIONS[@]}"; do
    pg_pid "$r" >/dev/null || die "postgres $r is not running"
  done
  for r in "${REGIONS[@]}"; do
    create_db "$(read_port "pg-$r")"
    if [ "$r" = "$PRIMARY" ]; then load_primary "$(read_port "pg-$r")"; fi
  done
  log "databases re-created in $(elapsed "$t0")s"
}

cmd_clean() {
  local root
  [ -d "$STATE" ] || return 0
  cmd_stop
  root=$(pgroot)
  case "$root" in /tmp/drctl-sandbox-pg-*) rm -rf "$root" ;; esac
  rm -rf "$STATE"
  log "removed $STATE"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env "${2:-}" ;;
reset) cmd_reset ;;
reset-db) cmd_reset_db ;;
clean) cmd_clean ;;
*)
  printf 'usage: %s start|stop|status|env [--export]|reset|reset-db|clean\n' "$0" >&2
  exit 2
  ;;
esac
