#!/usr/bin/env bash
# Warm standby needs the two regions in turn: the standby's read replica
# needs the primary's database, the primary's bucket replication needs the
# standby's bucket. deploy primary (replication waits, said as a warning),
# deploy standby (a cross-region read replica), deploy primary again (the
# replication is added in place), then nothing is left to change.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
sed -i 's/^stack: litellm-sandbox$/stack: litellm-warm/; s/strategy: pilot-light/strategy: warm-standby/' "$CFG/defaults.yaml"
export DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$T_TMP/store"
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3"; else T_OUT="got '$1', want '$2'"; fail "$3"; fi
}

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary first"
expect_err_has "ReplicationConfiguration waits: " "the bucket's replication waits for the standby, said so"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the warm standby"
run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary again"
expect_out_has "Plan: 0 to create, 2 to update, 0 to replace, 0 to delete." "only the replication role and the bucket change"
run "$DRCTL_BIN" plan us-east-1
expect_out_has "No changes" "primary converged"
run "$DRCTL_BIN" plan us-west-2
expect_out_has "No changes" "standby converged"

src=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, 'litellm-warm-data-us-east-1')].Name | [0]")
dst=$(A us-west-2 s3api list-buckets --query "Buckets[?starts_with(Name, 'litellm-warm-data-us-west-2')].Name | [0]")
expect_eq "$(A us-east-1 s3api get-bucket-replication --bucket "$src" --query 'ReplicationConfiguration.Rules[0].Destination.Bucket')" "arn:aws:s3:::$dst" "primary bucket replicates to the standby's"
primary_db=$(A us-east-1 rds describe-db-instances --query "DBInstances[?starts_with(DBInstanceIdentifier, 'litellm-warm')].DBInstanceArn | [0]")
expect_eq "$(A us-west-2 rds describe-db-instances --query "DBInstances[?starts_with(DBInstanceIdentifier, 'litellm-warm')].ReadReplicaSourceDBInstanceIdentifier | [0]")" "$primary_db" "standby database is a read replica of the primary's"
expect_eq "$(A us-west-2 ecs describe-services --cluster litellm-warm --services litellm --query 'services[0].desiredCount')" 2 "warm standby runs the minimum"

finish
