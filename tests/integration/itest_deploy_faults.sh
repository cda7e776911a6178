#!/usr/bin/env bash
# deploy under faults: 30 % of AWS requests throttled or failing (never
# more in a row than the retries absorb), and deploys killed with SIGKILL at
# seeded random moments, then run again: the result is complete, with
# nothing created twice.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env

CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
export DRCTL_CONFIG_DIR="$CFG"
STACK=litellm-sandbox
TAG="Name=tag:drctl:stack,Values=$STACK"
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3"; else T_OUT="got '$1', want '$2'"; fail "$3"; fi
}
# counts REGION: one line with the number of each kind of resource.
counts() {
    local r=$1
    echo "vpc=$(A $r ec2 describe-vpcs --filters "$TAG" --query 'length(Vpcs)')" \
        "subnet=$(A $r ec2 describe-subnets --filters "$TAG" --query 'length(Subnets)')" \
        "sg=$(A $r ec2 describe-security-groups --filters "$TAG" --query 'length(SecurityGroups)')" \
        "rt=$(A $r ec2 describe-route-tables --filters "$TAG" --query 'length(RouteTables)')" \
        "nat=$(A $r ec2 describe-nat-gateways --filter "$TAG" Name=state,Values=available,pending --query 'length(NatGateways)')" \
        "ep=$(A $r ec2 describe-vpc-endpoints --filters "$TAG" --query 'length(VpcEndpoints)')" \
        "alb=$(A $r elbv2 describe-load-balancers --query 'length(LoadBalancers)')" \
        "tg=$(A $r elbv2 describe-target-groups --query 'length(TargetGroups)')" \
        "cluster=$(A $r ecs list-clusters --query 'length(clusterArns)')" \
        "db=$(A $r rds describe-db-instances --query 'length(DBInstances)')" \
        "cache=$(A $r elasticache describe-replication-groups --query 'length(ReplicationGroups)')" \
        "secret=$(A $r secretsmanager list-secrets --query 'length(SecretList)')" \
        "alarm=$(A $r cloudwatch describe-alarms --query 'length(MetricAlarms)')" \
        "key=$(A $r kms list-aliases --query "length(Aliases[?starts_with(AliasName, 'alias/$STACK')])")"
}

# 1. Under 30 % faults, a deploy completes.
export DRCTL_STORE="$T_TMP/store-a"
proxy_start --fail-rate 0.3 --seed 3 --max-consecutive 2 --faults throttle,503,500 --log "$T_TMP/faults.log"
run env AWS_MAX_ATTEMPTS=3 "$DRCTL_BIN" --endpoint-url "$PROXY_URL" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy under 30% faults"
faults=$(grep -c '"fault": "[a-z0-9]' "$T_TMP/faults.log" || true)
[ "$faults" -ge 20 ] && pass "faults were injected ($faults)" || { T_OUT=$faults; fail "faults were injected"; }
proxy_stop
run "$DRCTL_BIN" plan us-east-1
expect_out_has "No changes" "after the faulty deploy: converged"

# 2. Killed at seeded random moments, then run again: converges, with
# nothing created twice (the standby region, a clean slate).
export DRCTL_STORE="$T_TMP/store-b"
RANDOM=20261127
for i in 1 2 3 4 5 6; do
    delay_ms=$((200 + RANDOM % 2500))
    "$DRCTL_BIN" --region us-west-2 deploy us-west-2 --yes --no-edge \
        >"$T_TMP/kill$i.out" 2>&1 &
    pid=$!
    sleep "$(awk -v ms=$delay_ms 'BEGIN{printf "%.3f", ms/1000}')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    echo "# killed deploy $i after ${delay_ms} ms"
done
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy after six kills"
run "$DRCTL_BIN" plan us-west-2
expect_out_has "No changes" "after the kills: converged"
after=$(counts us-west-2)
echo "# us-west-2 after kills: $after"
for kv in $after; do
    k=${kv%%=*} n=${kv#*=}
    case $k in
    vpc | cluster | alb) expect_eq "$n" 1 "no duplicate after kills: $k" ;;
    subnet) expect_eq "$n" 6 "no duplicate after kills: subnets" ;;
    esac
done
# A fresh store (the state lost) adopts by tags and duplicates nothing.
export DRCTL_STORE="$T_TMP/store-c"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy with a fresh store adopts by tags"
expect_eq "$(counts us-west-2)" "$after" "a fresh store created nothing"

finish
