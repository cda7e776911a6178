#!/usr/bin/env bash
# drctl drill us-west-2: clones the stack into us-west-2 under
# litellm-sandbox-drill (nothing shared with production), verifies the data,
# reports RTO and RPO, and tears down everything it created, also when a
# step fails. The AWS CLI, not drctl, lists what is left.
#
# moto has no DeleteCacheSubnetGroup: the drill stack's ElastiCache subnet
# group cannot be deleted in the sandbox, and drctl's destroy then keeps the
# two database subnets and the VPC it would orphan (see tests/README.md).
# Those four are the only leftovers allowed here, by name.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
STORE="$T_TMP/store"
export DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$STORE" DRCTL_RUNBOOK_DIR="$DRCTL_SOURCE_DIR/runbooks"
# moto answers every DeleteCacheSubnetGroup with a 500 (see above): fewer,
# quicker retries of it keep the test short.
export AWS_MAX_ATTEMPTS=2 DRCTL_RB_RETRY_DELAY_MS=200
STACK=litellm-sandbox
DRILL=litellm-sandbox-drill
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3"; else T_OUT="got '$1', want '$2'"; fail "$3"; fi
}
PGP2=$DRCTL_SANDBOX_PG_PORT_US_WEST_2

# Every resource of the drill stack in us-west-2 the AWS CLI can list, one
# "TYPE NAME" per line (tags where the API has them, names otherwise).
drill_resources() {
    local r=us-west-2
    {
        A $r ec2 describe-vpcs --filters "Name=tag:drctl:stack,Values=$DRILL" --query 'Vpcs[].VpcId' | tr '\t' '\n' | sed 's/^/vpc /'
        A $r ec2 describe-subnets --filters "Name=tag:drctl:stack,Values=$DRILL" --query 'Subnets[].SubnetId' | tr '\t' '\n' | sed 's/^/subnet /'
        A $r ec2 describe-security-groups --filters "Name=tag:drctl:stack,Values=$DRILL" --query 'SecurityGroups[].GroupId' | tr '\t' '\n' | sed 's/^/security-group /'
        A $r ec2 describe-nat-gateways --query "NatGateways[?(State=='available' || State=='pending') && Tags[?Key=='drctl:stack' && Value=='$DRILL']].NatGatewayId" | tr '\t' '\n' | sed 's/^/nat /'
        A $r ec2 describe-internet-gateways --filters "Name=tag:drctl:stack,Values=$DRILL" --query 'InternetGateways[].InternetGatewayId' | tr '\t' '\n' | sed 's/^/igw /'
        A $r ec2 describe-route-tables --filters "Name=tag:drctl:stack,Values=$DRILL" --query 'RouteTables[].RouteTableId' | tr '\t' '\n' | sed 's/^/route-table /'
        A $r ec2 describe-addresses --filters "Name=tag:drctl:stack,Values=$DRILL" --query 'Addresses[].AllocationId' | tr '\t' '\n' | sed 's/^/eip /'
        A $r ec2 describe-vpc-endpoints --filters "Name=tag:drctl:stack,Values=$DRILL" --query "VpcEndpoints[?State!='deleted'].VpcEndpointId" | tr '\t' '\n' | sed 's/^/vpc-endpoint /'
        A $r elbv2 describe-load-balancers --query "LoadBalancers[?starts_with(LoadBalancerName, '$DRILL')].LoadBalancerName" | tr '\t' '\n' | sed 's/^/alb /'
        A $r elbv2 describe-target-groups --query "TargetGroups[?starts_with(TargetGroupName, '$DRILL')].TargetGroupName" | tr '\t' '\n' | sed 's/^/target-group /'
        A $r ecs list-clusters --query 'clusterArns' | tr '\t' '\n' | grep "/$DRILL\$" | while read -r c; do
            st=$(A $r ecs describe-clusters --clusters "$c" --query 'clusters[0].status')
            [ "$st" = ACTIVE ] && echo "ecs-cluster $c"
        done
        A $r ecs list-task-definitions --status ACTIVE --query 'taskDefinitionArns' | tr '\t' '\n' | grep "/$DRILL-" | sed 's/^/task-definition /'
        A $r rds describe-db-instances --query "DBInstances[?starts_with(DBInstanceIdentifier, '$DRILL')].DBInstanceIdentifier" | tr '\t' '\n' | sed 's/^/db-instance /'
        A $r rds describe-db-subnet-groups --query "DBSubnetGroups[?starts_with(DBSubnetGroupName, '$DRILL')].DBSubnetGroupName" | tr '\t' '\n' | sed 's/^/db-subnet-group /'
        A $r elasticache describe-replication-groups --query "ReplicationGroups[?starts_with(ReplicationGroupId, '$DRILL') && Status!='deleting'].ReplicationGroupId" | tr '\t' '\n' | sed 's/^/cache /'
        A $r elasticache describe-cache-subnet-groups --query "CacheSubnetGroups[?starts_with(CacheSubnetGroupName, '$DRILL')].CacheSubnetGroupName" | tr '\t' '\n' | sed 's/^/cache-subnet-group /'
        A $r s3api list-buckets --query "Buckets[?starts_with(Name, '$DRILL-')].Name" | tr '\t' '\n' | sed 's/^/bucket /'
        A $r secretsmanager list-secrets --query "SecretList[?starts_with(Name, '$DRILL/')].Name" | tr '\t' '\n' | sed 's/^/secret /'
        A $r kms list-aliases --query "Aliases[?AliasName=='alias/$DRILL'].AliasName" | tr '\t' '\n' | sed 's/^/kms-alias /'
        A $r logs describe-log-groups --log-group-name-prefix "/drctl/$DRILL/" --query 'logGroups[].logGroupName' | tr '\t' '\n' | sed 's/^/log-group /'
        A $r cloudwatch describe-alarms --alarm-name-prefix "$DRILL-" --query 'MetricAlarms[].AlarmName' | tr '\t' '\n' | sed 's/^/alarm /'
        A $r iam list-roles --query "Roles[?starts_with(RoleName, '$DRILL-')].RoleName" | tr '\t' '\n' | sed 's/^/role /'
        A $r application-autoscaling describe-scalable-targets --service-namespace ecs --query "ScalableTargets[?contains(ResourceId, '/$DRILL/')].ResourceId" | tr '\t' '\n' | sed 's/^/scalable-target /'
    } | grep -v -e ' $' -e ' None$' | sort
}
# What moto cannot delete (no DeleteCacheSubnetGroup) and what destroy keeps
# because that group still uses it: the subnet group, its 2 subnets, the VPC.
moto_leftovers() { grep -v -e '^cache-subnet-group ' -e '^subnet ' -e '^vpc ' "$1"; }

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the standby"
BUCKET1=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET1" --count 60 --big 1 --big-mib 20 --seed 3
run "$DRCTL_BIN" backup
expect_rc 0 "backup"
prod_before=$(A us-west-2 ec2 describe-vpcs --filters "Name=tag:drctl:stack,Values=$STACK" --query 'length(Vpcs)')

# ---- a drill that passes --------------------------------------------------------
run "$DRCTL_BIN" drill us-west-2 --yes
expect_rc 0 "drctl drill us-west-2"
expect_out_has "drill run" "the drill reports its run"
expect_out_has "RTO" "the report gives the RTO"
RUN=$(ls -t "$STORE/runs" | grep '^drill-' | head -1)
python3 - "$STORE/runs/$RUN/report.json" <<'EOF' && pass "report: every step passed, the clone was verified, RTO and RPO measured" || fail "drill report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "succeeded", r["status"]
steps = {s["name"]: s for s in r["steps"]}
v = steps["verify the clone"]
assert v["status"] == "succeeded" and "database" in v["detail"] and v["detail"]["objects"] >= 61, v
assert r["rto"]["actual_s"] > 0 and r["rpo"]["actual_s"] is not None
td = [s for s in r["steps"] if s.get("finally")]
assert td and td[0]["action"] == "teardown", td
EOF
drill_resources >"$T_TMP/left"
moto_leftovers "$T_TMP/left" >"$T_TMP/left.real"
if [ ! -s "$T_TMP/left.real" ]; then
    pass "after the drill the AWS CLI lists no drill resource (beyond moto's undeletable cache subnet group: $(wc -l <"$T_TMP/left") lines)"
else
    T_OUT=$(cat "$T_TMP/left.real")
    fail "drill resources left behind"
fi
expect_eq "$(psql -X -At -h 127.0.0.1 -p "$PGP2" -U postgres -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'litellm_sandbox_drill'")" 0 \
    "the drill's database is dropped"
expect_eq "$(A us-west-2 ec2 describe-vpcs --filters "Name=tag:drctl:stack,Values=$STACK" --query 'length(Vpcs)')" "$prod_before" \
    "production's standby in us-west-2 untouched"
expect_eq "$(psql -X -At -h 127.0.0.1 -p "$PGP2" -U postgres -d litellm -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 \
    "production's standby database untouched (still empty)"

# ---- a drill whose object restore fails: still torn down, failure reported -------
# moto keeps a deleted ElastiCache replication group "deleting" forever, so
# the drill's cache name stays taken: a fresh moto (and stack) for this part.
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
rm -rf "$STORE"
"$DRCTL_BIN" deploy us-east-1 --yes --no-edge >/dev/null 2>&1 && "$DRCTL_BIN" deploy us-west-2 --yes --no-edge >/dev/null 2>&1 &&
    python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET1" --count 20 --big 0 --seed 5 >/dev/null &&
    "$DRCTL_BIN" backup >/dev/null && pass "fresh sandbox: deployed and backed up again" || fail "redeploy for the failing drill"
proxy_start --fail-all --faults 500 --match 'PUT /litellm-sandbox-drill-data-[^/ ]*/'
run env AWS_ENDPOINT_URL="$PROXY_URL" AWS_MAX_ATTEMPTS=2 "$DRCTL_BIN" drill us-west-2 --yes
proxy_stop
[ "$T_RC" != 0 ] && pass "a drill with a failing step exits non-zero (exit $T_RC)" || fail "the failing drill exited 0"
expect_out_has "restore the objects" "the report names the failed step"
RUN=$(ls -t "$STORE/runs" | grep '^drill-' | head -1)
python3 - "$STORE/runs/$RUN/report.json" <<'EOF' && pass "report: restore-objects failed, teardown still ran" || fail "failed drill report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "failed", r["status"]
steps = {s["name"]: s for s in r["steps"]}
assert steps["restore the objects"]["status"] == "failed", steps["restore the objects"]
td = [s for s in r["steps"] if s.get("finally")][0]
assert td["status"] in ("succeeded", "continued"), td
assert td["started_at"] is not None
EOF
drill_resources >"$T_TMP/left2"
moto_leftovers "$T_TMP/left2" >"$T_TMP/left2.real"
[ ! -s "$T_TMP/left2.real" ] && pass "after the failed drill nothing of it is left either" || { T_OUT=$(cat "$T_TMP/left2.real"); fail "failed drill left resources"; }
finish
