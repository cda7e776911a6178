#!/usr/bin/env bash
# drctl backup against the sandbox, checked with independent tools: the AWS
# CLI and boto3 for the vault and the objects, tar + zstd for the bundle
# (the sandbox profile is encryption: none), pg_restore + psql for the
# database.
#
# Primary and standby deployed, the primary's PostgreSQL loaded with
# LiteLLM data (sandbox.sh), the bucket filled with ~300 objects (two of
# them multipart-sized, spaces, deep paths, metadata, SSE). Then:
#   - backup -> a full v1, listed, in the vault bucket in us-west-2,
#     `bundles verify` passes;
#   - the dump restored with pg_restore into an empty database has the same
#     per-table checksums as the source (computed by psql, not drctl);
#   - every object extracted matches S3 byte for byte, with its metadata;
#   - no secret value in the logs (-vv), the store or pg_dump's command line;
#   - 1 % of the objects and some rows changed -> v2 is incremental and
#     holds exactly the changed objects;
#   - a second backup while one runs exits 9 (locked);
#   - flipped bytes make verify fail naming what is damaged.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
STORE="$T_TMP/store"
export DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$STORE"
STACK=litellm-sandbox
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3"; else T_OUT="got '$1', want '$2'"; fail "$3"; fi
}
PGP1=$DRCTL_SANDBOX_PG_PORT_US_EAST_1
PGP2=$DRCTL_SANDBOX_PG_PORT_US_WEST_2
psql1() { psql -X -q -At -h 127.0.0.1 -p "$PGP1" -U postgres -d litellm "$@"; }
# Per-table checksums computed by psql alone: row count and an order-free
# digest of every row's text.
table_sums() {
    local port=$1 db=$2
    psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c "
      SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1" |
        while read -r t; do
            q=$(printf '%s' "$t" | sed 's/^\([^.]*\)\.\(.*\)$/"\1"."\2"/')
            psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c \
                "SELECT '$t', count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(x::text) h FROM $q x) s"
        done
}

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the standby"
BUCKET=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
VAULT=$(A us-west-2 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-vault-us-west-2')].Name | [0]")
[ -n "$BUCKET" ] && [ "$BUCKET" != None ] && pass "data bucket $BUCKET" || fail "no data bucket"
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET" --count 300 --big 2 --big-mib 20 --seed 4
expect_rc 0 "302 objects put with boto3"

# ---- v1: full -----------------------------------------------------------
mkdir -p "$T_TMP/drtmp"
TMPDIR="$T_TMP/drtmp" "$DRCTL_BIN" -vv backup >"$T_TMP/b1.out" 2>"$T_TMP/b1.err" &
BPID=$!
# While it runs, no child process carries a secret on its command line
# (sampled every 20 ms; pg_dump is the child that connects to the database).
: >"$T_TMP/cmdlines"
while kill -0 $BPID 2>/dev/null; do
    for p in /proc/[0-9]*; do
        [ "$p" = /proc/$$ ] && continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null && echo
    done >>"$T_TMP/cmdlines"
    sleep 0.02
done
wait $BPID
T_RC=$?
T_OUT=$(cat "$T_TMP/b1.out")
T_ERR=$(cat "$T_TMP/b1.err")
expect_rc 0 "backup v1"
expect_out_has "backup $STACK v1 (full)" "summary line names v1, full"
expect_out_has "objects 302 (302 captured, 0 referenced)" "every object captured"
grep -q "pg_dump" "$T_TMP/cmdlines" && pass "pg_dump's command line was sampled while it ran" ||
    echo "# note: pg_dump finished between two samples"
# The lock: while another process holds the stack's backup lock (flock, as
# a running backup does), a backup exits 9 at once; with --wait it waits.
mkdir -p "$STORE/locks"
flock "$STORE/locks/$STACK-backup.lock" sleep 3 &
HOLDER=$!
sleep 0.3
run "$DRCTL_BIN" backup
expect_rc 9 "a second backup while the lock is held exits 9 (locked)"
expect_err_has "lock" "the message says it is locked"
wait $HOLDER
V1="$STORE/bundles/$STACK/$STACK-v000001.drb"
cp "$V1" "$T_TMP/v1.drb" 2>/dev/null
cp "$STORE/bundles/$STACK/$STACK-v000001.json" "$T_TMP/v1.json" 2>/dev/null
[ -f "$V1" ] && pass "v1 is in the local store" || fail "no $V1"
[ -f "$STORE/bundles/$STACK/$STACK-v000001.json" ] && pass "v1 summary beside it" || fail "no v1 summary"
expect_eq "$(A us-west-2 s3api list-objects-v2 --bucket "$VAULT" --query "Contents[?ends_with(Key, '-v000001.drb')].Size | [0]")" \
    "$(stat -c %s "$V1")" "the AWS CLI shows v1 in the vault bucket in us-west-2, same size"
expect_eq "$(A us-west-2 s3api list-objects-v2 --bucket "$VAULT" --query "length(Contents[?ends_with(Key, '-v000001.json')])")" 1 \
    "its summary beside it in the vault"

# Secrets: the values as Secrets Manager holds them, nowhere in clear.
: >"$T_TMP/secrets"
for arn in $(A us-east-1 secretsmanager list-secrets --query "SecretList[?starts_with(Name, '$STACK/')].ARN"); do
    v=$(A us-east-1 secretsmanager get-secret-value --secret-id "$arn" --query SecretString)
    printf '%s\n' "$v" >>"$T_TMP/secrets"
    # JSON secrets: each string value too (the database password).
    printf '%s' "$v" | python3 -c 'import json,sys
try:
    d=json.load(sys.stdin)
    [print(d[k]) for k in ("password", "url") if isinstance(d.get(k), str)]
except Exception: pass' >>"$T_TMP/secrets"
done
nsec=$(grep -c . "$T_TMP/secrets")
[ "$nsec" -ge 4 ] && pass "$nsec secret values to look for" || fail "only $nsec secret values found"
leak=0
while IFS= read -r s; do
    [ ${#s} -ge 8 ] || continue
    # The run's output, the child command lines, the store (bundles are
    # compressed, so a bundle is checked by secrets/secrets.enc below), and
    # whatever drctl left in its TMPDIR.
    if grep -rqF -- "$s" "$T_TMP/b1.out" "$T_TMP/b1.err" "$T_TMP/cmdlines" "$STORE" "$T_TMP/drtmp" 2>/dev/null; then
        leak=$((leak + 1))
        echo "# leaked: a value starting ${s:0:4}"
    fi
done <"$T_TMP/secrets"
expect_eq "$leak" 0 "no secret value in -vv logs, child command lines, the store or temp files"

run "$DRCTL_BIN" bundles verify 1
expect_rc 0 "bundles verify v1"

# The bundle opens with plain tar + zstd.
X1="$T_TMP/x1"
mkdir -p "$X1"
run tar --zstd -xf "$V1" -C "$X1"
expect_rc 0 "tar --zstd -xf opens v1"
for f in config/profiles/defaults.yaml config/templates/us-east-1.json config/state/us-east-1.json config/task-definition.json db/tables.json s3/index.json; do
    [ -s "$X1/$f" ] && pass "v1 holds $f" || fail "v1 lacks $f"
done
[ -f "$X1/secrets/secrets.enc" ] && ! grep -qF -- "$(head -1 "$T_TMP/secrets")" "$X1/secrets/secrets.enc" &&
    pass "secrets sealed in secrets/secrets.enc" || fail "secrets entry missing or in clear"

# Database: restore the dump with pg_restore into an empty database.
cat $(ls "$X1"/db/dump.pgc.part-* | sort) >"$T_TMP/dump.pgc"
psql -X -q -h 127.0.0.1 -p "$PGP2" -U postgres -d postgres -c "DROP DATABASE IF EXISTS restored_v1" -c "CREATE DATABASE restored_v1"
run pg_restore --no-owner --no-privileges --exit-on-error -h 127.0.0.1 -p "$PGP2" -U postgres -d restored_v1 "$T_TMP/dump.pgc"
expect_rc 0 "pg_restore of the bundled dump into an empty database"
table_sums "$PGP1" litellm >"$T_TMP/src.sums"
table_sums "$PGP2" restored_v1 >"$T_TMP/dst.sums"
ntab=$(wc -l <"$T_TMP/src.sums")
[ "$ntab" -ge 10 ] && pass "$ntab tables in the source" || fail "only $ntab tables"
if cmp -s "$T_TMP/src.sums" "$T_TMP/dst.sums"; then pass "restored per-table counts and checksums equal the source's (psql)"; else
    T_OUT=$(diff "$T_TMP/src.sums" "$T_TMP/dst.sums" | head)
    fail "restored tables differ"
fi
rows_bundle=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(v["rows"] for v in d.values()))' "$X1/db/tables.json")
rows_src=$(awk -F'|' '{s+=$2} END {print s}' "$T_TMP/src.sums")
expect_eq "$rows_bundle" "$rows_src" "db/tables.json row total equals psql's count"

# Objects: byte for byte, with metadata, against what boto3 reads from S3.
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" compare --bucket "$BUCKET" --extract "$X1"
expect_rc 0 "every object in v1 matches S3 (bytes, content type, metadata, SSE)"
expect_out_has "302 objects compared, 0 differences" "302 objects compared"

# ---- v2: incremental after changing 1 % of the objects and some rows ----
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" mutate --bucket "$BUCKET" --fraction 0.01 --seed 9
expect_rc 0 "1 % of the objects changed, one added, one deleted"
CHANGES=$T_OUT
nchanged=$(printf '%s' "$CHANGES" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["changed"])+len(d["added"]))')
psql1 -c "UPDATE \"LiteLLM_VerificationToken\" SET spend = spend + 1 WHERE token IN (SELECT token FROM \"LiteLLM_VerificationToken\" ORDER BY token LIMIT 5)"
psql1 -c "INSERT INTO \"LiteLLM_UserTable\" (user_id, spend, models, teams) VALUES ('itest-backup-v2', 0, '{}', '{}')" ||
    psql1 -c "INSERT INTO \"LiteLLM_UserTable\" (user_id) VALUES ('itest-backup-v2')"
run "$DRCTL_BIN" backup
expect_rc 0 "backup v2"
expect_out_has "v2 (incremental on v1)" "v2 is incremental on v1"
expect_out_has "objects 302 ($nchanged captured, $((302 - nchanged)) referenced)" "only the $nchanged changed objects captured, the rest referenced"
V2="$STORE/bundles/$STACK/$STACK-v000002.drb"
X2="$T_TMP/x2"
mkdir -p "$X2"
tar --zstd -xf "$V2" -C "$X2"
nobj=$(ls "$X2/s3/objects" | sed 's/\.part-[0-9]*$//' | sort -u | wc -l)
expect_eq "$nobj" "$nchanged" "v2 holds exactly the changed objects"
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" compare --bucket "$BUCKET" --extract "$X2" --bundles "$X1"
expect_rc 0 "v2 with v1 reproduces the bucket as it is now"
grep -q "itest-backup-v2" <(cat "$X2"/db/dump.pgc.part-* | pg_restore -a -t LiteLLM_UserTable -f - 2>/dev/null) &&
    pass "v2's dump has the row inserted after v1" || fail "v2's dump lacks the new row"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kind"])' "$STORE/bundles/$STACK/$STACK-v000002.json")" = incremental ] &&
    pass "summary says incremental" || fail "summary kind"

run "$DRCTL_BIN" bundles list
expect_rc 0 "bundles list"
expect_out_has "incremental" "list shows the incremental v2"

# ---- show, verify --deep, prune ------------------------------------------
run "$DRCTL_BIN" bundles show 2
expect_rc 0 "bundles show v2"
expect_out_has "incremental, parent v1" "show: kind and parent"
expect_out_has "rds-snapshot us-west-2" "show: the snapshot copied to the standby"
run "$DRCTL_BIN" bundles verify 2 --deep
expect_rc 0 "verify --deep restores v2's dump into a scratch database"
expect_out_has "rows match" "verify --deep: per-table counts and checksums match"
expect_eq "$(psql -X -At -h 127.0.0.1 -p "$PGP2" -U postgres -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'drctl_verify%'")" 0 \
    "the scratch database is dropped"
snaps_before=$(A us-west-2 rds describe-db-snapshots --query "length(DBSnapshots[?starts_with(DBSnapshotIdentifier, '$STACK-v00000')])")
expect_eq "$snaps_before" 2 "two snapshot copies in us-west-2 (v1, v2)"
# Keep only the newest bundle from now on.
sed -i 's/^  keep_last: .*/  keep_last: 1/; s/^  daily: .*/  daily: 0/; s/^  weekly: .*/  weekly: 0/; s/^  monthly: .*/  monthly: 0/' "$CFG/defaults.yaml"
run "$DRCTL_BIN" bundles prune --dry-run
expect_rc 0 "prune --dry-run"
expect_out_has "keep v2" "dry run keeps the newest"
expect_out_has "keep v1 (parent of v2)" "dry run keeps v1: the kept incremental v2 needs it"
run "$DRCTL_BIN" backup --full
expect_rc 0 "a full v3"
run "$DRCTL_BIN" bundles prune --dry-run
expect_out_has "delete v1" "dry run: v1 would go"
expect_out_has "delete v2" "dry run: v2 would go"
[ -f "$STORE/bundles/$STACK/$STACK-v000001.drb" ] && pass "dry run deleted nothing" || fail "dry run deleted v1"
run "$DRCTL_BIN" bundles prune
expect_rc 0 "prune"
[ ! -e "$STORE/bundles/$STACK/$STACK-v000001.drb" ] && [ ! -e "$STORE/bundles/$STACK/$STACK-v000002.drb" ] &&
    [ -f "$STORE/bundles/$STACK/$STACK-v000003.drb" ] && pass "v1 and v2 pruned, v3 kept" || fail "prune result"
expect_eq "$(A us-west-2 rds describe-db-snapshots --query "length(DBSnapshots[?starts_with(DBSnapshotIdentifier, '$STACK-v00000')])")" 1 \
    "the RDS snapshot copies of pruned bundles are deleted (us-west-2)"
expect_eq "$(A us-east-1 rds describe-db-snapshots --query "length(DBSnapshots[?starts_with(DBSnapshotIdentifier, '$STACK-v00000')])")" 1 \
    "the RDS snapshots of pruned bundles are deleted (us-east-1)"
run "$DRCTL_BIN" bundles prune --vault
echo "# prune --vault: exit $T_RC: $(printf '%s' "$T_OUT$T_ERR" | tr '\n' ' ' | cut -c1-300)"
nv=$(A us-west-2 s3api list-objects-v2 --bucket "$VAULT" --query "length(Contents[?ends_with(Key, '.drb')])")
expect_eq "$nv" 3 "the vault keeps v1 and v2 while their Object Lock retention runs"
expect_rc 5 "prune --vault reports the locked bundles (exit 5)"
expect_err_has "locked by S3 Object Lock (GOVERNANCE) until" "the error names the lock and its date"

# ---- corruption: single flipped bytes -----------------------------------
V1="$T_TMP/v1.drb"
size=$(stat -c %s "$V1")
detected=0
tries=0
for off in $(python3 -c "import random; r=random.Random(5); print(' '.join(str(r.randrange($size)) for _ in range(25)))"); do
    cp "$V1" "$T_TMP/bad.drb"
    python3 -c "
import sys
f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x5a])); f.close()" "$T_TMP/bad.drb" "$off"
    mkdir -p "$T_TMP/cstore/bundles/$STACK"
    cp "$T_TMP/bad.drb" "$T_TMP/cstore/bundles/$STACK/$STACK-v000001.drb"
    cp "$T_TMP/v1.json" "$T_TMP/cstore/bundles/$STACK/$STACK-v000001.json"
    run "$DRCTL_BIN" bundles verify 1 --store "$T_TMP/cstore"
    tries=$((tries + 1))
    if [ "$T_RC" = 7 ] && printf '%s' "$T_ERR" | grep -qE "entry|segment|footer|header|manifest|tail|chunk|sha256|checksum"; then
        detected=$((detected + 1))
    else
        echo "  offset $off: exit $T_RC: $(printf '%s' "$T_ERR" | head -2)"
    fi
done
expect_eq "$detected" "$tries" "each of $tries single-byte flips fails verify (exit 7) naming what is damaged"
head -c $((size / 2)) "$V1" >"$T_TMP/cstore/bundles/$STACK/$STACK-v000001.drb"
run "$DRCTL_BIN" bundles verify 1 --store "$T_TMP/cstore"
expect_rc 7 "a truncated bundle fails verify"

psql -X -q -h 127.0.0.1 -p "$PGP2" -U postgres -d postgres -c "DROP DATABASE IF EXISTS restored_v1"
finish
