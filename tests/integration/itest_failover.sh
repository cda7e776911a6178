#!/usr/bin/env bash
# The reason drctl exists, against the sandbox: deploy us-east-1 with
# LiteLLM data and objects, back up, `drctl failover us-west-2`, then
# `drctl failback us-east-1`. Every check is made with independent tools:
# psql for per-table checksums, boto3 for objects (bytes and metadata), the
# AWS CLI for secrets and Route 53.
#
# moto refuses correctly signed Route 53 GETs, which the edge and the DNS
# switch need: signature checks are off from the edge deploy on (the same
# step the demo takes); every other test runs with them on.
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
moto_auth() { curl -sf -X POST -H 'Content-Type: text/plain' --data "$1" "$AWS_ENDPOINT_URL/moto-api/reset-auth" >/dev/null; }
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
secret_of() { A "$1" secretsmanager get-secret-value --secret-id "$STACK/$2" --query SecretString; }
primary_alias() {
    local zone
    zone=$(A us-east-1 route53 list-hosted-zones-by-name --dns-name drctl.test --query 'HostedZones[0].Id')
    A us-east-1 route53 list-resource-record-sets --hosted-zone-id "$zone" \
        --query "ResourceRecordSets[?Failover=='PRIMARY'].AliasTarget.DNSName | [0]"
}
alb_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"]["AlbDnsName"])' "$STORE/state/$STACK/$1.json"; }

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the pilot-light standby"
moto_auth inf
A us-east-1 route53 create-hosted-zone --name drctl.test --caller-reference "itest-$$" >/dev/null
run "$DRCTL_BIN" deploy --global --yes
expect_rc 0 "deploy the edge (Route 53 failover records)"
ALB1=$(alb_of us-east-1)
ALB2=$(alb_of us-west-2)
case "$(primary_alias)" in "$ALB1"*) pass "before: the PRIMARY record points at us-east-1's ALB" ;; *) T_OUT=$(primary_alias); fail "PRIMARY record before failover" ;; esac

BUCKET1=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
BUCKET2=$(A us-west-2 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-west-2')].Name | [0]")
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET1" --count 80 --big 1 --big-mib 20 --seed 7 --unicode
expect_rc 0 "81 objects in the primary's bucket"
run "$DRCTL_BIN" backup
expect_rc 0 "backup"

# ---- failover ----------------------------------------------------------------
run "$DRCTL_BIN" failover us-west-2 --yes
expect_rc 0 "drctl failover us-west-2"
expect_out_has "RTO" "the report says the RTO"
expect_out_has "of 30m00s: met" "RTO against the 30 minute target"
expect_out_has "of 1h00m00s: met" "RPO against the 60 minute target"
RUN=$(ls -t "$STORE/runs" | head -1)
for f in journal.jsonl run.json report.json report.md report.html; do
    [ -s "$STORE/runs/$RUN/$f" ] && pass "run dir has $f" || fail "run dir lacks $f"
done
table_sums "$PGP1" litellm >"$T_TMP/east.sums"
table_sums "$PGP2" litellm >"$T_TMP/west.sums"
ntab=$(wc -l <"$T_TMP/east.sums")
if [ "$ntab" -ge 10 ] && cmp -s "$T_TMP/east.sums" "$T_TMP/west.sums"; then
    pass "us-west-2's PostgreSQL has every row of the primary ($ntab tables, per-table checksums equal, psql)"
else
    T_OUT=$(diff "$T_TMP/east.sums" "$T_TMP/west.sums" | head -5)
    fail "us-west-2's tables differ from the primary's"
fi
python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" describe --bucket "$BUCKET1" --region us-east-1 >"$T_TMP/east.obj"
python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" describe --bucket "$BUCKET2" --region us-west-2 >"$T_TMP/west.obj"
n1=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T_TMP/east.obj")
if cmp -s "$T_TMP/east.obj" "$T_TMP/west.obj"; then
    pass "us-west-2's bucket holds the same $n1 objects: bytes, content type, metadata, SSE (boto3)"
else
    T_OUT=$(diff "$T_TMP/east.obj" "$T_TMP/west.obj" | head -8)
    fail "objects differ between the regions"
fi
for s in litellm-salt-key litellm-master-key cache-auth-token; do
    expect_eq "$(secret_of us-west-2 $s)" "$(secret_of us-east-1 $s)" "secret $s has the same value in us-west-2"
done
pw() { secret_of "$1" database | python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])'; }
expect_eq "$(pw us-west-2)" "$(pw us-east-1)" "the database password is the same in us-west-2"
case "$(primary_alias)" in "$ALB2"*) pass "Route 53's PRIMARY failover record now points at us-west-2's ALB" ;; *) T_OUT=$(primary_alias); fail "PRIMARY record after failover" ;; esac
expect_eq "$(A us-west-2 ecs describe-services --cluster $STACK --services litellm --query 'services[0].desiredCount')" 2 \
    "us-west-2's service scaled to the primary's minimum"
python3 - "$STORE/runs/$RUN/report.json" <<'EOF' && pass "report.json: RTO and RPO with targets, every step succeeded" || fail "report.json content"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "succeeded", r["status"]
assert r["rto"]["target_s"] == 1800 and r["rto"]["actual_s"] > 0 and r["rto"]["met"] is True
assert r["rpo"]["target_s"] == 3600 and r["rpo"]["actual_s"] >= 0 and r["rpo"]["met"] is True
assert all(s["status"] == "succeeded" for s in r["steps"]), [s["status"] for s in r["steps"]]
EOF

# ---- failback, with a row written during the "outage" ------------------------
psql -X -q -h 127.0.0.1 -p "$PGP2" -U postgres -d litellm -c \
    "INSERT INTO \"LiteLLM_UserTable\" (user_id) VALUES ('written-during-outage')"
run "$DRCTL_BIN" failback us-east-1 --yes
expect_rc 0 "drctl failback us-east-1"
expect_eq "$(psql -X -At -h 127.0.0.1 -p "$PGP1" -U postgres -d litellm -c "SELECT count(*) FROM \"LiteLLM_UserTable\" WHERE user_id = 'written-during-outage'")" 1 \
    "the row written in us-west-2 during the outage is back in us-east-1"
case "$(primary_alias)" in "$ALB1"*) pass "after failback: the PRIMARY record points at us-east-1 again" ;; *) T_OUT=$(primary_alias); fail "PRIMARY record after failback" ;; esac

# ---- report command and history ------------------------------------------------
run "$DRCTL_BIN" report --history
expect_rc 0 "report --history"
expect_out_has "failover" "history lists the failover"
expect_out_has "failback" "history lists the failback"
moto_auth 0
finish
