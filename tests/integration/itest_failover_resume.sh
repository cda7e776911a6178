#!/usr/bin/env bash
# kill -9 of `drctl failover` during each step in turn, then --resume: the
# run ends in the same final state as an uninterrupted failover (every row,
# object and secret of the primary in us-west-2), no step that finished
# before a kill runs again (each journal shows it), and nothing is
# duplicated.
#
# One failover is killed during step 2, its resume during step 3, that
# resume's resume during step 4, and so on; the last resume runs to the end.
# A fault proxy adds 150 ms to every AWS call so that each step lasts long
# enough to be caught in flight; the journal says which step is running.
# No edge is deployed, so moto's signature checks stay on throughout.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
STORE="$T_TMP/store"
export DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$STORE" DRCTL_RUNBOOK_DIR="$DRCTL_SOURCE_DIR/runbooks"
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
BUCKET1=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
BUCKET2=$(A us-west-2 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-west-2')].Name | [0]")
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET1" --count 120 --big 1 --big-mib 24 --seed 11
expect_rc 0 "objects in the primary's bucket"
run "$DRCTL_BIN" backup
expect_rc 0 "backup"

proxy_start --fail-rate 1 --faults slow --slow-seconds 0.15
export AWS_ENDPOINT_URL="$PROXY_URL"
NSTEPS=11
prev=""
runs=()
killed_at=()
newest_run() { ls -t "$STORE/runs" 2>/dev/null | grep '^failover-' | head -1; }
# Steps whose "start" is the last event of the journal: the one in flight.
in_flight() {
    python3 - "$1" <<'EOF'
import json, sys
ev = []
for line in open(sys.argv[1]):
    try:
        ev.append(json.loads(line))
    except ValueError:
        pass
live = {}
for e in ev:
    if e.get("event") == "start":
        live[e["step"]] = True
    elif e.get("event") == "end":
        live.pop(e["step"], None)
print(" ".join(str(s) for s in sorted(live)))
EOF
}
want=1
while [ "$want" -lt "$NSTEPS" ]; do
    before=$(newest_run)
    if [ -z "$prev" ]; then
        "$DRCTL_BIN" failover us-west-2 --yes >"$T_TMP/f.out" 2>&1 &
    else
        "$DRCTL_BIN" failover us-west-2 --yes --resume "$prev" >"$T_TMP/f.out" 2>&1 &
    fi
    pid=$!
    hit=""
    for _ in $(seq 1 3000); do
        r=$(newest_run)
        if [ -n "$r" ] && [ "$r" != "$before" ] && [ -f "$STORE/runs/$r/journal.jsonl" ]; then
            live=$(in_flight "$STORE/runs/$r/journal.jsonl")
            if [ -n "$live" ] && [ "$live" -ge "$want" ]; then
                kill -9 $pid 2>/dev/null && hit=$live
                break
            fi
        fi
        kill -0 $pid 2>/dev/null || break
        sleep 0.01
    done
    wait $pid 2>/dev/null
    r=$(newest_run)
    [ "$r" != "$before" ] || { fail "step $want: no new run started"; break; }
    runs+=("$r")
    if [ -n "$hit" ]; then
        killed_at+=("$hit")
        echo "# run $r killed during step $((hit + 1)) ($(head -1 "$STORE/runs/$r/journal.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"][int(sys.argv[1])]["name"])' "$hit" 2>/dev/null))"
    else
        killed_at+=("-")
        echo "# run $r was not caught in flight (it finished or failed): $(tail -1 "$T_TMP/f.out")"
    fi
    prev=$r
    [ -z "$hit" ] && break
    want=$((hit + 1))
done
nk=0
for k in "${killed_at[@]}"; do [ "$k" != "-" ] && nk=$((nk + 1)); done
[ "$nk" -ge 8 ] && pass "$nk runs killed in flight, each at a later step" || { T_OUT="killed at: ${killed_at[*]}"; fail "only $nk runs killed in flight"; }

# The last one runs to the end.
run "$DRCTL_BIN" failover us-west-2 --yes --resume "$prev"
expect_rc 0 "the final --resume completes the failover"
final=$(newest_run)
runs+=("$final")

# No step that finished before a kill ran again: in each run's journal,
# steps start only from where the run before it stopped.
python3 - "$STORE/runs" "${runs[@]}" <<'EOF' && pass "journals: no finished step ever started again in a later run" || fail "a finished step was run again"
import json, os, sys
base, runs = sys.argv[1], sys.argv[2:]
finished = set()
ok = True
for r in runs:
    started, ended = [], []
    for line in open(os.path.join(base, r, "journal.jsonl")):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "start":
            started.append(e["step"])
            if e["step"] in finished:
                print(f"{r}: step {e['step']} started again although it finished earlier")
                ok = False
        elif e.get("event") == "end" and e.get("status") == "succeeded":
            ended.append(e["step"])
    finished.update(ended)
sys.exit(0 if ok else 1)
EOF
python3 - "$STORE/runs/$final/run.json" <<'EOF' && pass "the final record: every step succeeded, the earlier ones marked resumed" || fail "final run record"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "succeeded", r["status"]
assert all(s["status"] == "succeeded" for s in r["steps"]), [(s["name"], s["status"]) for s in r["steps"]]
assert sum(1 for s in r["steps"] if s.get("resumed")) >= 8, [s.get("resumed") for s in r["steps"]]
assert len(r.get("resumed_from") or []) >= 8
EOF
proxy_stop
export AWS_ENDPOINT_URL
AWS_ENDPOINT_URL=$(grep '^AWS_ENDPOINT_URL=' "$DRCTL_SANDBOX_DIR/sandbox.env" | cut -d= -f2-)

# The same final state as an uninterrupted failover.
table_sums "$PGP1" litellm >"$T_TMP/east.sums"
table_sums "$PGP2" litellm >"$T_TMP/west.sums"
cmp -s "$T_TMP/east.sums" "$T_TMP/west.sums" && pass "us-west-2 has every row of the primary, no duplicates (per-table counts and checksums)" ||
    { T_OUT=$(diff "$T_TMP/east.sums" "$T_TMP/west.sums" | head -5); fail "tables differ"; }
python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" describe --bucket "$BUCKET1" --region us-east-1 >"$T_TMP/east.obj"
python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" describe --bucket "$BUCKET2" --region us-west-2 >"$T_TMP/west.obj"
cmp -s "$T_TMP/east.obj" "$T_TMP/west.obj" && pass "us-west-2's bucket: the same objects, no extra (bytes and metadata)" ||
    { T_OUT=$(diff "$T_TMP/east.obj" "$T_TMP/west.obj" | head -5); fail "objects differ"; }
expect_eq "$(A us-west-2 secretsmanager get-secret-value --secret-id $STACK/litellm-salt-key --query SecretString)" \
    "$(A us-east-1 secretsmanager get-secret-value --secret-id $STACK/litellm-salt-key --query SecretString)" "the salt key is the primary's"
expect_eq "$(A us-west-2 rds describe-db-instances --query "length(DBInstances[?starts_with(DBInstanceIdentifier, '$STACK')])")" 1 \
    "one database instance in us-west-2 (no duplicate from a re-run deploy)"
finish
