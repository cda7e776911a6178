#!/usr/bin/env bash
# bench_backup.sh - how fast `drctl backup` is against what a user would
# otherwise script, on one data set, in one run. A benchmark, not a test: it
# prints figures and ratios beside their targets and exits 0 even when a
# target is missed (non-zero only when something fails to run).
#
# What it does
#   1. Installs what it needs and lacks (restic, GNU time, zstd; apt-get,
#      idempotent), checks the rest with scripts/setup.sh --check, builds
#      build/release (drctl, tests/bench_bundle) and copies both binaries into
#      its work directory (so a rebuild by someone else mid-run changes
#      nothing).
#   2. Starts its own sandbox (DRCTL_SANDBOX_DIR=$BENCH_DIR/sandbox: moto +
#      two PostgreSQL 15 clusters on 127.0.0.1) with a generated LiteLLM
#      database of BENCH_DB_MB MB, deploys us-east-1 and us-west-2 with
#      `drctl deploy REGION --yes --no-edge` (DRCTL_CONFIG_DIR=regions/sandbox,
#      whose bundles are unencrypted: encryption.mode none), and fills the
#      stack's bucket with BENCH_OBJECTS objects totalling BENCH_OBJ_MB MiB
#      (scripts/bench/gen_objects.py: 1 KiB to 64 MiB, a quarter of the bytes
#      random, the rest unique text-like JSON lines; boto3, 8 threads).
#   3. Measures, on that data, BENCH_REPEAT times (medians reported):
#      a. end to end: `drctl backup --full` vs the script a user would write,
#         timed as one: `aws s3 sync` of the bucket to a directory, `pg_dump
#         -Fc`, `tar -cf - DIR DUMP | zstd -T0` to a file, `aws s3 cp` of it
#         to the vault bucket in us-west-2;
#      b. database: drctl's own timing of its database phase (pg_dump -Fc -Z0
#         streamed into the bundle while per-table checksums run on other
#         connections in the same snapshot; the "pg_dump: ... in S s" line of
#         -v) vs `pg_dump -Fc` with its defaults (zlib) to a file. To tell
#         what bounds it, `pg_dump -Fc -Z0` alone and the checksum pass alone
#         (the same SQL as drctl's, src/db/pg_sums.c, table by table on one
#         connection) are timed too;
#      c. the bundle writer alone: tests/bench_bundle (encrypted, and
#         --plain; output to /dev/null, KMS stood in in-process) on a
#         directory of the synced objects + an uncompressed dump, vs
#         `tar -cf - DIR | zstd -T0 -3` and vs `restic backup DIR` into a new
#         local repository;
#      d. incremental: 1 % of the objects overwritten (same sizes and
#         kinds) and a few rows updated, then `drctl backup` (incremental on
#         the full one just made), as a share of the full backup's time;
#      e. peak RSS of each (GNU time %M: the largest single process of the
#         tree; for drctl also scripts/bench/rss_poll.py, which separates
#         drctl from its pg_dump child).
#   4. Measures moto's own speed in the same run (aws s3 cp of one 256 MiB
#      object up and down, of 200 objects of 64 KiB up and down), since moto
#      bounds the end-to-end figures.
#   5. Prints a table with ratios (baseline time / drctl time: above 1 means
#      drctl is faster; the incremental row is incremental / full) beside
#      the targets, and writes the same as JSON to $BENCH_OUT if set. The
#      sandbox is stopped and its state deleted at the end (trap: also on
#      failure or Ctrl-C; BENCH_KEEP=1 keeps it).
#
# How long: at the defaults 6-8 minutes on a 2-CPU machine of this project's
# kind (sandbox start with the 500 MB database 0.5-1.5 min, deploys and
# objects ~1 min, each repetition 2-5 min depending on the load, moto speed
# ~1 min); BENCH_REPEAT=3 ~10-15 min. Peak disk use ~4 GB under BENCH_DIR
# (removed at the end, with the sandbox's state; the logs, results.tsv and
# the JSON stay in BENCH_DIR); moto's RSS grows to ~1 GiB (it keeps objects
# in memory). The machine is shared: the load average at start, per
# repetition and at the end is in the output, and timings are only
# comparable within one run.
#
# Usage: scripts/bench_backup.sh            (from anywhere; no arguments)
# Environment (all optional):
#   BENCH_DB_MB=500        generated LiteLLM database size, MB (DRCTL_SANDBOX_DATA_MB)
#   BENCH_OBJECTS=1000     objects in the stack's bucket (>= 2)
#   BENCH_OBJ_MB=500       their total size, MiB (at least 64 + count KiB)
#   BENCH_REPEAT=1         repetitions of every measurement; medians reported
#   BENCH_SEED=1           seed of the generated database and objects
#   BENCH_CONCURRENCY=     drctl backup --concurrency (default: drctl's)
#   BENCH_DIR=build/bench  work directory (sandbox state, files, store)
#   BENCH_OUT=             also write the results as JSON to this path
#   BENCH_BUILD=1          0: do not build, use build/release as it is
#   BENCH_KEEP=0           1: leave the sandbox running and the files in place
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DB_MB=${BENCH_DB_MB:-500}
BENCH_OBJECTS=${BENCH_OBJECTS:-1000}
BENCH_OBJ_MB=${BENCH_OBJ_MB:-500}
BENCH_REPEAT=${BENCH_REPEAT:-1}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-}
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench}
BENCH_OUT=${BENCH_OUT:-}
BENCH_BUILD=${BENCH_BUILD:-1}
BENCH_KEEP=${BENCH_KEEP:-0}

T_START=$EPOCHREALTIME
log() { printf 'bench: [%6.1fs] %s\n' "$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}
for v in BENCH_DB_MB BENCH_OBJECTS BENCH_OBJ_MB BENCH_REPEAT BENCH_SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[ "$BENCH_REPEAT" -ge 1 ] || die "BENCH_REPEAT must be at least 1"
[ -z "$BENCH_CONCURRENCY" ] || [[ $BENCH_CONCURRENCY =~ ^[0-9]+$ ]] || die "BENCH_CONCURRENCY must be a number"

WORK=$BENCH_DIR/work
RES=$WORK/results.tsv # rep <TAB> key <TAB> value
LOADS=$WORK/loadavg.tsv
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
WORK=$BENCH_DIR/work
RES=$WORK/results.tsv
LOADS=$WORK/loadavg.tsv
export DRCTL_SANDBOX_DIR=$BENCH_DIR/sandbox
export DRCTL_SANDBOX_DATA_MB=$BENCH_DB_MB DRCTL_SANDBOX_SEED=$BENCH_SEED

# ------------------------------------------------------------- cleanup ---
POLL_PID=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$POLL_PID" ]; then kill "$POLL_PID" 2>/dev/null || true; fi
  if [ "$BENCH_KEEP" = 1 ]; then
    log "BENCH_KEEP=1: sandbox left running ($DRCTL_SANDBOX_DIR), files in $WORK"
  else
    # stop, and delete the sandbox's state (the clusters hold the database)
    "$ROOT/scripts/sandbox.sh" clean >/dev/null 2>&1 || true
    # the bulky files; results.tsv, logs and the JSON stay
    rm -rf "$WORK/base" "$WORK/files" "$WORK/store" "$WORK/restic" "$WORK/speed" "$WORK/fc" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
record_load() { printf '%s\t%s\n' "$1" "$(loadavg)" >>"$LOADS"; }
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; } # rep key value

# ------------------------------------------------------------ 1. tools ---
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
install_missing() {
  local need=() p
  installed restic || need+=(restic)
  installed time || [ -x /usr/bin/time ] || need+=(time)
  installed zstd || need+=(zstd)
  [ ${#need[@]} -gt 0 ] || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || die "missing ${need[*]}: run as root or with password-less sudo"
    sudo=(sudo -n)
  fi
  log "installing ${need[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  for p in "${need[@]}"; do installed "$p" || die "$p still missing after apt-get install"; done
}

build() {
  local try logf=$BENCH_DIR/build.log
  for try in 1 2 3 4 5; do
    if (cd "$ROOT" && cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDRCTL_WERROR=ON &&
      cmake --build build/release -j2) >"$logf" 2>&1; then
      return 0
    fi
    log "build failed (try $try of 5; others may be editing src/): $(grep -m1 -E 'error' "$logf" || tail -n1 "$logf")"
    [ $try -lt 5 ] && sleep 45
  done
  if [ -x "$ROOT/build/release/drctl" ] && [ -x "$ROOT/build/release/tests/bench_bundle" ]; then
    log "WARNING: build keeps failing; benchmarking the binaries already in build/release (log: $logf)"
  else
    die "build failed (log: $logf)"
  fi
}

rm -rf "$WORK"
mkdir -p "$WORK/bin"
record_load script-start
install_missing
"$ROOT/scripts/setup.sh" --check >/dev/null 2>"$WORK/setup.log" || {
  cat "$WORK/setup.log" >&2
  die "scripts/setup.sh --check failed: run scripts/setup.sh first"
}
command -v restic >/dev/null && [ -x /usr/bin/time ] && command -v zstd >/dev/null || die "restic, /usr/bin/time or zstd missing"
if [ "$BENCH_BUILD" = 1 ]; then
  log "building build/release"
  build
fi
cp "$ROOT/build/release/drctl" "$WORK/bin/drctl"
cp "$ROOT/build/release/tests/bench_bundle" "$WORK/bin/bench_bundle"
DRCTL=$WORK/bin/drctl
PY=$(python3 -c 'import sys; print(sys.executable)')
BB=$WORK/bin/bench_bundle
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)

# ---------------------------------------------------------- 2. sandbox ---
# hermetic AWS CLI / boto3: nothing from ~/.aws
: >"$WORK/aws-empty" # drctl wants a regular file, not /dev/null
export AWS_CONFIG_FILE=$WORK/aws-empty AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-empty
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
"$ROOT/scripts/sandbox.sh" stop >/dev/null 2>&1 || true # a killed earlier run's
log "starting the sandbox in $DRCTL_SANDBOX_DIR with a ${BENCH_DB_MB} MB database (takes a few minutes)"
"$ROOT/scripts/sandbox.sh" start 2>&1 | sed 's/^/  /' >&2
eval "$("$ROOT/scripts/sandbox.sh" env --export)"
PGP=$DRCTL_SANDBOX_PG_PORT_US_EAST_1
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGP" -U postgres -d litellm)

export DRCTL_CONFIG_DIR=$ROOT/regions/sandbox DRCTL_STORE=$WORK/store
STACK=$(awk '/^stack:/ {print $2; exit}' "$DRCTL_CONFIG_DIR/defaults.yaml")
log "deploying us-east-1 and us-west-2 (stack $STACK)"
for r in us-east-1 us-west-2; do
  "$DRCTL" --no-progress deploy "$r" --yes --no-edge >"$WORK/deploy-$r.log" 2>&1 ||
    die "drctl deploy $r failed (log: $WORK/deploy-$r.log)"
done
A() {
  local r=$1
  shift
  aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
BUCKET=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
VAULT=$(A us-west-2 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-vault-us-west-2')].Name | [0]")
[ -n "$BUCKET" ] && [ "$BUCKET" != None ] || die "no data bucket of $STACK in us-east-1"
[ -n "$VAULT" ] && [ "$VAULT" != None ] || die "no vault bucket of $STACK in us-west-2"

log "putting $BENCH_OBJECTS objects ($BENCH_OBJ_MB MiB) into s3://$BUCKET (boto3, 8 threads)"
python3 "$ROOT/scripts/bench/gen_objects.py" put --bucket "$BUCKET" --count "$BENCH_OBJECTS" \
  --mib "$BENCH_OBJ_MB" --seed "$BENCH_SEED" --threads 8 >"$WORK/objects.json" ||
  die "putting the objects failed"
log "objects: $(cat "$WORK/objects.json")"
"${PSQL[@]}" -F $'\t' -c "
  SELECT pg_database_size('litellm'),
         (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname = 'public'),
         (SELECT sum(n_live_tup) FROM pg_stat_user_tables),
         (SELECT count(*) FROM pg_stat_user_tables)" >"$WORK/db.tsv"
read -r DB_SIZE DB_TABLES_SIZE DB_ROWS DB_NTABLES <"$WORK/db.tsv"
BENCH_TABLES=$("${PSQL[@]}" -c "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'" | tr '\n' ' ')
export BENCH_TABLES
log "database: $DB_SIZE bytes ($DB_TABLES_SIZE in $DB_NTABLES tables, ~$DB_ROWS rows)"

# ------------------------------------------------------- measurements ---
# timed NAME CMD...: GNU time's wall seconds and peak RSS into $T/NAME.time
timed() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$T/$name.time" "$@"
}
t_of() { cut -d' ' -f1 "$T/$1.time"; }
rss_of() { cut -d' ' -f2 "$T/$1.time"; }
# stamp T0: prefix each line of stdin with seconds since T0
# (builtins only: a fork per line would lag and could block drctl on a full pipe)
stamp() {
  local t0=${1/./} l d now
  while IFS= read -r l; do
    now=${EPOCHREALTIME/./}
    d=$((now - t0))
    printf '%d.%02d %s\n' $((d / 1000000)) $((d % 1000000 / 10000)) "$l"
  done
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$1" "$2"; }

# run_drctl NAME ARGS...: drctl -v with timestamps on its stderr lines, its
# JSON result, GNU time and the per-process RSS poller
run_drctl() {
  local name=$1 t0 rc=0
  shift
  # the interpreter itself, not a pyenv shim: the signal must reach the poller
  "$PY" "$ROOT/scripts/bench/rss_poll.py" "$DRCTL" "$T/$name.rss.json" &
  POLL_PID=$!
  for _ in $(seq 1 100); do [ -e "$T/$name.rss.json.ready" ] && break; sleep 0.05; done
  t0=$EPOCHREALTIME
  { timed "$name" "$DRCTL" -v --no-progress --output json "$@" 2>&1 1>&3 3>&- | stamp "$t0" >"$T/$name.err"; } \
    3>"$T/$name.json" || rc=$?
  kill "$POLL_PID" 2>/dev/null || true
  wait "$POLL_PID" 2>/dev/null || true
  POLL_PID=
  printf '%s\n' "$t0" >"$T/$name.t0"
  if [ $rc -ne 0 ]; then
    tail -n 20 "$T/$name.err" >&2
    die "drctl $* failed with exit code $rc (log: $T/$name.err)"
  fi
}
# phase times from the stamped -v lines: prep (lock, lists, state, config,
# secrets), database, objects, finish (close, reopen + verify, SHA-256,
# publish, vault upload)
drctl_phases() {
  local name=$1 rep=$2 total tc td to
  total=$(t_of "$name")
  tc=$(awk '/: info: config and [0-9]+ secrets captured/ {print $1; exit}' "$T/$name.err")
  td=$(awk '/: info: database: / {print $1; exit}' "$T/$name.err")
  to=$(awk '/: info: s3:\/\/[^ ]*: [0-9]+ objects/ {print $1; exit}' "$T/$name.err")
  if [ -n "$tc" ] && [ -n "$td" ] && [ -n "$to" ]; then
    put "$rep" "${name}_ph_prep_s" "$tc"
    put "$rep" "${name}_ph_db_s" "$(awk -v a="$tc" -v b="$td" 'BEGIN{printf "%.2f", b-a}')"
    put "$rep" "${name}_ph_objects_s" "$(awk -v a="$td" -v b="$to" 'BEGIN{printf "%.2f", b-a}')"
    put "$rep" "${name}_ph_finish_s" "$(awk -v a="$to" -v b="$total" 'BEGIN{printf "%.2f", b-a}')"
  else
    log "WARNING: could not find drctl's phase lines in $T/$name.err"
  fi
  put "$rep" "${name}_s" "$total"
  put "$rep" "${name}_rss_kib" "$(rss_of "$name")"
  put "$rep" "${name}_self_rss_kib" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("self", 0))' "$T/$name.rss.json")"
  put "$rep" "${name}_self_rss_peak_at_s" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f" % (d["self_rss_max_at"] - float(sys.argv[2])) if "self_rss_max_at" in d else "-")' "$T/$name.rss.json" "$(cat "$T/$name.t0")")"
  put "$rep" "${name}_pg_dump_rss_kib" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("pg_dump", 0))' "$T/$name.rss.json")"
  put "$rep" "${name}_internal_s" "$(jget "$T/$name.json" '["seconds"]')"
  put "$rep" "${name}_bytes" "$(jget "$T/$name.json" '["size"]')"
  put "$rep" "${name}_data_bytes" "$(jget "$T/$name.json" '["data_bytes"]')"
  put "$rep" "${name}_kind" "$(jget "$T/$name.json" '["kind"]')"
  put "$rep" "${name}_objects_captured" "$(jget "$T/$name.json" '["objects"]["captured"]')"
  put "$rep" "${name}_objects_referenced" "$(jget "$T/$name.json" '["objects"]["referenced"]')"
  # drctl's -v timing lines, quoted in the report
  grep -E ': info: (pg_dump: [0-9]+ bytes|database: |s3://[^ ]*: [0-9]+ objects|config and|a full bundle|removed)' \
    "$T/$name.err" | sed 's/^/    +/' >"$T/$name.lines" || true
}

# The script a user would otherwise write, run as one timed command.
cat >"$WORK/baseline.sh" <<'EOF'
#!/usr/bin/env bash
# the pipeline drctl backup --full is compared with; $1 = work dir, $2 = step log
set -euo pipefail
d=$1 steps=$2
st() { echo "$1 $EPOCHREALTIME" >>"$steps"; }
rm -rf "$d"
mkdir -p "$d/objects"
st start
aws s3 sync "s3://$BENCH_BUCKET" "$d/objects" --region us-east-1 --only-show-errors
st sync
pg_dump -Fc -h 127.0.0.1 -p "$BENCH_PGP" -U postgres -d litellm -f "$d/litellm.dump"
st dump
tar -C "$d" -cf - objects litellm.dump | zstd -T0 -q >"$d/backup.tar.zst"
st tar_zstd
aws s3 cp "$d/backup.tar.zst" "s3://$BENCH_VAULT/manual/litellm-$BENCH_REP.tar.zst" \
  --region us-west-2 --only-show-errors
st upload
EOF
chmod +x "$WORK/baseline.sh"
# drctl's checksum pass by itself: the query of src/db/pg_sums.c for every
# table, one after the other on one connection, one psql (drctl runs it on its own
# connection in the dump's snapshot, beside pg_dump); $@ = the psql command
cat >"$WORK/sums.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
for t in $BENCH_TABLES; do
  printf '%s\n' "SELECT count(*),
      coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0),
      coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0)
    FROM (SELECT md5(t::text) AS h FROM ONLY $t t OFFSET 0) s;"
done | "$@" >/dev/null
EOF
chmod +x "$WORK/sums.sh"
export BENCH_BUCKET=$BUCKET BENCH_VAULT=$VAULT BENCH_PGP=$PGP

CONC=()
[ -z "$BENCH_CONCURRENCY" ] || CONC=(--concurrency "$BENCH_CONCURRENCY")
record_load measure-start
for rep in $(seq 1 "$BENCH_REPEAT"); do
  T=$WORK/rep$rep
  mkdir -p "$T"
  log "repetition $rep of $BENCH_REPEAT (load average $(loadavg))"

  # a. end to end ------------------------------------------------------
  log "  baseline: aws s3 sync + pg_dump -Fc + tar | zstd -T0 + aws s3 cp to the vault"
  : >"$T/base.steps"
  export BENCH_REP=$rep
  timed base "$WORK/baseline.sh" "$WORK/base" "$T/base.steps" || die "the baseline pipeline failed"
  put "$rep" base_s "$(t_of base)"
  put "$rep" base_rss_kib "$(rss_of base)"
  put "$rep" base_bytes "$(stat -c %s "$WORK/base/backup.tar.zst")"
  awk 'NR==1 {p=$2; next} {printf "%s\t%.2f\n", $1, $2-p; p=$2}' "$T/base.steps" |
    while IFS=$'\t' read -r k v; do put "$rep" "base_${k}_s" "$v"; done
  nsynced=$(find "$WORK/base/objects" -type f | wc -l)
  [ "$nsynced" -eq "$BENCH_OBJECTS" ] || log "WARNING: aws s3 sync fetched $nsynced files, expected $BENCH_OBJECTS"
  # free moto's memory (one key: moto refuses the CLI's signed ListObjectsV2 with a prefix)
  A us-west-2 s3 rm "s3://$VAULT/manual/litellm-$rep.tar.zst" --only-show-errors >/dev/null || true

  log "  drctl backup --full"
  run_drctl drctl_full backup --full "${CONC[@]}"
  drctl_phases drctl_full "$rep"
  [ "$(jget "$T/drctl_full.json" '["kind"]')" = full ] || log "WARNING: drctl made a $(jget "$T/drctl_full.json" '["kind"]') bundle with --full"

  # b. database ----------------------------------------------------------
  # drctl's own timing of its database phase: the pg_dump line (2 decimals)
  put "$rep" db_drctl_s "$(sed -n 's/.*: info: pg_dump: \([0-9]*\) bytes in \([0-9.]*\) s.*/\2/p' "$T/drctl_full.err" | head -n1)"
  put "$rep" db_drctl_dump_bytes "$(sed -n 's/.*: info: pg_dump: \([0-9]*\) bytes in .*/\1/p' "$T/drctl_full.err" | head -n1)"
  mkdir -p "$WORK/fc"
  log "  pg_dump -Fc (defaults)"
  timed pg_dump_fc pg_dump -Fc -h 127.0.0.1 -p "$PGP" -U postgres -d litellm -f "$WORK/fc/litellm.dump"
  put "$rep" pg_dump_fc_s "$(t_of pg_dump_fc)"
  put "$rep" pg_dump_fc_rss_kib "$(rss_of pg_dump_fc)"
  put "$rep" pg_dump_fc_bytes "$(stat -c %s "$WORK/fc/litellm.dump")"
  rm -rf "$WORK/fc"
  log "  drctl's checksum pass alone (its SQL, table by table, one connection)"
  timed sums "$WORK/sums.sh" "${PSQL[@]}" || die "the checksum queries failed"
  put "$rep" sums_alone_s "$(t_of sums)"

  # c. the bundle writer alone ----------------------------------------------
  # the files: the synced objects (hard links) + an uncompressed custom dump,
  # as drctl puts them into a bundle
  F=$WORK/files
  rm -rf "$F"
  mkdir -p "$F/db"
  cp -al "$WORK/base/objects" "$F/objects"
  rm -rf "$WORK/base"
  log "  pg_dump -Fc -Z0 (the writer's input; also the floor of any dump)"
  timed pg_dump_z0 pg_dump -Fc -Z0 -h 127.0.0.1 -p "$PGP" -U postgres -d litellm -f "$F/db/dump.pgc"
  put "$rep" pg_dump_z0_s "$(t_of pg_dump_z0)"
  put "$rep" pg_dump_z0_bytes "$(stat -c %s "$F/db/dump.pgc")"
  put "$rep" files_bytes "$(du -sb --apparent-size "$F" | cut -f1)"
  sync
  log "  bench_bundle (encrypted, then --plain), tar | zstd -T0 -3, restic backup on $(du -sh --apparent-size "$F" | cut -f1)"
  for mode in enc plain; do
    args=()
    [ $mode = plain ] && args=(--plain)
    timed "writer_$mode" "$BB" "${args[@]}" "$F" >"$T/writer_$mode.out" || die "bench_bundle failed"
    line=$(cat "$T/writer_$mode.out")
    put "$rep" "writer_${mode}_s" "$(t_of "writer_$mode")"
    put "$rep" "writer_${mode}_rss_kib" "$(rss_of "writer_$mode")"
    put "$rep" "writer_${mode}_bytes" "$(sed -n 's/.* bytes in, \([0-9]*\) bytes out.*/\1/p' <<<"$line")"
    put "$rep" "writer_${mode}_cpu_s" "$(sed -n 's/.*cpu \([0-9.]*\) s.*/\1/p' <<<"$line")"
  done
  timed tar_zstd bash -c 'tar -C "$1" -cf - . | zstd -T0 -3 -q | wc -c >"$2"' _ "$F" "$T/tar_zstd.bytes"
  put "$rep" tar_zstd_s "$(t_of tar_zstd)"
  put "$rep" tar_zstd_rss_kib "$(rss_of tar_zstd)"
  put "$rep" tar_zstd_bytes "$(tr -d ' ' <"$T/tar_zstd.bytes")"
  export RESTIC_REPOSITORY=$WORK/restic/repo RESTIC_PASSWORD_FILE=$WORK/restic/pass RESTIC_CACHE_DIR=$WORK/restic/cache
  rm -rf "$WORK/restic"
  mkdir -p "$WORK/restic"
  head -c 24 /dev/urandom | base64 >"$RESTIC_PASSWORD_FILE"
  restic init >"$T/restic-init.log" 2>&1 || die "restic init failed"
  timed restic restic backup --quiet "$F" >"$T/restic.log" 2>&1 || die "restic backup failed (log: $T/restic.log)"
  put "$rep" restic_s "$(t_of restic)"
  put "$rep" restic_rss_kib "$(rss_of restic)"
  put "$rep" restic_bytes "$(du -sb "$RESTIC_REPOSITORY" | cut -f1)"
  rm -rf "$WORK/restic" "$F"
  unset RESTIC_REPOSITORY RESTIC_PASSWORD_FILE RESTIC_CACHE_DIR

  # d. incremental ---------------------------------------------------------
  log "  changing 1 % of the objects and a few rows"
  python3 "$ROOT/scripts/bench/gen_objects.py" mutate --bucket "$BUCKET" --fraction 0.01 \
    --seed $((BENCH_SEED * 1000 + rep)) >"$T/mutate.json" || die "changing the objects failed"
  "${PSQL[@]}" -c "UPDATE \"LiteLLM_SpendLogs\" SET spend = spend + 0.001 WHERE request_id IN
                     (SELECT request_id FROM \"LiteLLM_SpendLogs\" ORDER BY request_id LIMIT 50 OFFSET $((rep * 50)))" \
    -c "UPDATE \"LiteLLM_VerificationToken\" SET spend = spend + 1 WHERE token IN
                     (SELECT token FROM \"LiteLLM_VerificationToken\" ORDER BY token LIMIT 5)" >/dev/null ||
    die "updating rows failed"
  put "$rep" mutate_objects "$(jget "$T/mutate.json" '["changed"]')"
  put "$rep" mutate_bytes "$(jget "$T/mutate.json" '["bytes"]')"
  log "  drctl backup (incremental)"
  run_drctl drctl_incr backup "${CONC[@]}"
  drctl_phases drctl_incr "$rep"
  [ "$(jget "$T/drctl_incr.json" '["kind"]')" = incremental ] ||
    log "WARNING: the second backup is $(jget "$T/drctl_incr.json" '["kind"]'), not incremental"
  put "$rep" db_drctl_incr_s "$(sed -n 's/.*: info: pg_dump: \([0-9]*\) bytes in \([0-9.]*\) s.*/\2/p' "$T/drctl_incr.err" | head -n1)"
  record_load "rep$rep-end"
done

# e. moto's own speed ----------------------------------------------------
log "moto's own speed: aws s3 cp of one 256 MiB object and of 200 objects of 64 KiB, up and down"
T=$WORK/moto
S=$WORK/speed
mkdir -p "$T" "$S/up" "$S/down"
SB=bench-moto-speed-$$
SBS=bench-moto-speed-small-$$ # its own bucket: moto refuses the CLI's signed listing with a prefix
A us-east-1 s3 mb "s3://$SB" >/dev/null
A us-east-1 s3 mb "s3://$SBS" >/dev/null
head -c $((256 * 1024 * 1024)) /dev/urandom >"$S/big.bin"
for i in $(seq -w 1 200); do head -c 65536 /dev/urandom >"$S/up/small-$i.bin"; done
sync
timed big_up aws s3 cp "$S/big.bin" "s3://$SB/big.bin" --region us-east-1 --only-show-errors
timed big_down aws s3 cp "s3://$SB/big.bin" "$S/big.down" --region us-east-1 --only-show-errors
timed small_up aws s3 cp "$S/up" "s3://$SBS/" --recursive --region us-east-1 --only-show-errors
timed small_down aws s3 cp "s3://$SBS/" "$S/down" --recursive --region us-east-1 --only-show-errors
[ "$(find "$S/down" -type f | wc -l)" -eq 200 ] || log "WARNING: the small-object download fetched $(find "$S/down" -type f | wc -l) of 200"
for k in big_up big_down small_up small_down; do put 1 "moto_${k}_s" "$(t_of $k)"; done
A us-east-1 s3 rb "s3://$SB" --force >/dev/null 2>&1 || true
A us-east-1 s3 rb "s3://$SBS" --force >/dev/null 2>&1 || true
rm -rf "$S"
MOTO_RSS=$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$DRCTL_SANDBOX_DIR/moto.pid")/status" 2>/dev/null || echo 0)
record_load end

# ------------------------------------------------------------- report ---
cat >"$WORK/meta.json" <<EOF
{"db_mb_asked": $BENCH_DB_MB, "db_size": $DB_SIZE, "db_tables_size": $DB_TABLES_SIZE,
 "db_rows": $DB_ROWS, "db_tables": $DB_NTABLES, "objects": $(cat "$WORK/objects.json"),
 "repeat": $BENCH_REPEAT, "seed": $BENCH_SEED, "concurrency": "${BENCH_CONCURRENCY:-default}",
 "git": "$GIT_REV", "src_files_changed_uncommitted": $GIT_DIRTY, "nproc": $(nproc),
 "moto_rss_kib_end": ${MOTO_RSS:-0}, "config_dir": "$DRCTL_CONFIG_DIR",
 "encryption": "$(awk '/^encryption:/ {e=1} e && /mode:/ {print $2; exit}' "$DRCTL_CONFIG_DIR/defaults.yaml")"}
EOF
# drctl's -v lines of the last repetition, for the report
cat "$WORK/rep$BENCH_REPEAT/drctl_full.lines" >"$WORK/drctl_full.lines" 2>/dev/null || true
cat "$WORK/rep$BENCH_REPEAT/drctl_incr.lines" >"$WORK/drctl_incr.lines" 2>/dev/null || true
python3 "$ROOT/scripts/bench/report.py" "$WORK" "$BENCH_OUT"
