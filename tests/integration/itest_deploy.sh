#!/usr/bin/env bash
# drctl deploy / plan / status / destroy against the sandbox, checked with
# the AWS CLI component by component (issue 3): both regions and the global
# edge, a second deploy with no AWS write, a one-property change, a lost
# state file, and a destroy that leaves nothing.
. "$(dirname "$0")/../lib.sh"
sandbox_env
curl -sf -X POST "$AWS_ENDPOINT_URL/moto-api/reset" >/dev/null || true
# The reset wiped moto's IAM user too: make a fresh one.
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env

CFG="$T_TMP/regions"
STORE="$T_TMP/store"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
STACK=litellm-sandbox
D() { "$DRCTL_BIN" "$@"; }
export DRCTL_CONFIG_DIR="$CFG"
# aws REGION ARGS...: the AWS CLI against moto, text output.
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
TAG="Name=tag:drctl:stack,Values=$STACK"
# expect_eq GOT WANT DESCRIPTION
expect_eq() {
    if [ "$1" = "$2" ]; then pass "$3"; else T_OUT="got '$1', want '$2'"; fail "$3"; fi
}

export DRCTL_STORE="$STORE"
# The hosted zone is the user's, made before drctl runs.
A us-east-1 route53 create-hosted-zone --name drctl.test --caller-reference "itest-$$" >/dev/null
run D deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy us-east-1"
run D deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy us-west-2"
# moto refuses correctly signed Route 53 and CloudFront requests that have
# no body (GET, DELETE), which the edge's reads need: the global edge is
# deployed with moto's checks off. Its signed POSTs are covered by
# itest_res_edge with the checks on.
moto_auth() { curl -sf -X POST -H 'Content-Type: text/plain' --data "$1" "$AWS_ENDPOINT_URL/moto-api/reset-auth" >/dev/null; }
moto_auth inf
run D deploy --global --yes
expect_rc 0 "deploy the global edge"
moto_auth 0

for R in us-east-1 us-west-2; do
    vpc=$(A $R ec2 describe-vpcs --filters "$TAG" --query 'Vpcs[].VpcId')
    expect_eq "$(echo "$vpc" | wc -w)" 1 "$R: one VPC"
    cidr=$(A $R ec2 describe-vpcs --vpc-ids "$vpc" --query 'Vpcs[0].CidrBlock')
    [ $R = us-east-1 ] && want=10.10.0.0/16 || want=10.20.0.0/16
    expect_eq "$cidr" "$want" "$R: VPC CIDR"
    azs=$(A $R ec2 describe-subnets --filters "$TAG" --query 'Subnets[].AvailabilityZone' | tr '\t' '\n' | sort -u | wc -l)
    expect_eq "$azs" 2 "$R: subnets in 2 AZs"
    expect_eq "$(A $R ec2 describe-subnets --filters "$TAG" --query 'length(Subnets)')" 6 "$R: public, private and database subnet per AZ"
    expect_eq "$(A $R ec2 describe-nat-gateways --filter "$TAG" Name=state,Values=available --query 'length(NatGateways)')" 1 "$R: one NAT gateway (single in the sandbox)"
    expect_eq "$(A $R ec2 describe-internet-gateways --filters "$TAG" --query 'InternetGateways[0].Attachments[0].VpcId')" "$vpc" "$R: internet gateway attached"
    rts=$(A $R ec2 describe-route-tables --filters "$TAG" --query 'length(RouteTables)')
    [ "$rts" -ge 3 ] && pass "$R: route tables ($rts)" || { T_OUT=$rts; fail "$R: route tables"; }
    eps=$(A $R ec2 describe-vpc-endpoints --filters "$TAG" --query 'VpcEndpoints[].ServiceName' | tr '\t' '\n' | sed 's/.*\.//' | sort | tr '\n' ' ')
    for svc in s3 api dkr logs secretsmanager kms; do
        case " $eps" in *" $svc "*) pass "$R: VPC endpoint $svc" ;; *) T_OUT="$eps"; fail "$R: VPC endpoint $svc" ;; esac
    done
    expect_eq "$(A $R ec2 describe-flow-logs --filter "Name=resource-id,Values=$vpc" --query 'length(FlowLogs)')" 1 "$R: flow log on the VPC"
    expect_eq "$(A $R ec2 describe-security-groups --filters "$TAG" --query 'length(SecurityGroups)')" 5 "$R: security groups"
done

# Compute, data, security and monitoring in the primary (the pilot-light
# standby rests without database, cache and scaling).
R=us-east-1
alb=$(A $R elbv2 describe-load-balancers --query "LoadBalancers[?starts_with(LoadBalancerName, 'litellm')].LoadBalancerArn | [0]")
[ -n "$alb" ] && [ "$alb" != None ] && pass "$R: load balancer" || fail "$R: load balancer"
expect_eq "$(A $R elbv2 describe-target-groups --load-balancer-arn "$alb" --query 'TargetGroups[0].HealthCheckPath')" /health/liveliness "$R: target group health path"
expect_eq "$(A $R elbv2 describe-target-groups --load-balancer-arn "$alb" --query 'TargetGroups[0].Port')" 4000 "$R: target group port 4000"
nl=$(A $R elbv2 describe-listeners --load-balancer-arn "$alb" --query 'length(Listeners)')
[ "$nl" -ge 1 ] && pass "$R: listeners ($nl)" || fail "$R: listener"
cl=$(A $R ecs list-clusters --query 'clusterArns[0]')
expect_eq "$(A $R ecs describe-clusters --clusters "$cl" --include SETTINGS --query 'clusters[0].settings[?name==`containerInsights`].value | [0]')" enabled "$R: ECS Container Insights"
svc=$(A $R ecs list-services --cluster "$cl" --query 'serviceArns[0]')
expect_eq "$(A $R ecs describe-services --cluster "$cl" --services "$svc" --query 'services[0].desiredCount')" 2 "$R: service desired count"
td=$(A $R ecs describe-services --cluster "$cl" --services "$svc" --query 'services[0].taskDefinition')
expect_eq "$(A $R ecs describe-task-definition --task-definition "$td" --query 'taskDefinition.requiresCompatibilities[0]')" FARGATE "$R: Fargate task definition"
expect_eq "$(A $R ecs describe-task-definition --task-definition "$td" --query 'taskDefinition.containerDefinitions[0].portMappings[0].containerPort')" 4000 "$R: container port 4000"
expect_eq "$(A $R application-autoscaling describe-scalable-targets --service-namespace ecs --query 'ScalableTargets[0].[MinCapacity,MaxCapacity]' | tr '\t' ' ')" "2 6" "$R: scalable target 2-6"
pol=$(A $R application-autoscaling describe-scaling-policies --service-namespace ecs --query 'ScalingPolicies[].TargetTrackingScalingPolicyConfiguration.TargetValue' | tr '\t' '\n' | sort -n | tr '\n' ' ')
expect_eq "$pol" "70.0 75.0 " "$R: CPU 70 and memory 75 target tracking"
db=$(A $R rds describe-db-instances --query "DBInstances[?starts_with(DBInstanceIdentifier, 'litellm')] | [0].[MultiAZ,StorageEncrypted,BackupRetentionPeriod,DeletionProtection,KmsKeyId]")
read -r maz enc bkp dp dbkey <<<"$db"
expect_eq "$maz $enc $bkp $dp" "True True 7 True" "$R: RDS Multi-AZ, encrypted, 7-day backups, deletion protection"
key=$(A $R kms list-aliases --query "Aliases[?starts_with(AliasName, 'alias/litellm')].TargetKeyId | [0]")
case "$dbkey" in *"$key"*) pass "$R: RDS encrypted with the stack key" ;; *) T_OUT="$dbkey vs $key"; fail "$R: RDS key" ;; esac
expect_eq "$(A $R kms get-key-rotation-status --key-id "$key" --query KeyRotationEnabled)" True "$R: KMS key rotation"
rg=$(A $R elasticache describe-replication-groups --query 'ReplicationGroups[0].[AtRestEncryptionEnabled,TransitEncryptionEnabled]' | tr '\t' ' ')
expect_eq "$rg" "True True" "$R: ElastiCache encrypted at rest and in transit"
bucket=$(A $R s3api list-buckets --query "Buckets[?contains(Name, 'data')].Name | [0]")
expect_eq "$(A $R s3api get-bucket-versioning --bucket "$bucket" --query Status)" Enabled "$R: bucket versioning"
expect_eq "$(A $R s3api get-bucket-encryption --bucket "$bucket" --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm')" aws:kms "$R: bucket SSE-KMS"
expect_eq "$(A $R s3api get-bucket-lifecycle-configuration --bucket "$bucket" --query 'length(Rules)')" "$(A $R s3api get-bucket-lifecycle-configuration --bucket "$bucket" --query 'length(Rules)')" "$R: lifecycle readable"
[ "$(A $R s3api get-bucket-lifecycle-configuration --bucket "$bucket" --query 'length(Rules)')" -ge 1 ] && pass "$R: bucket lifecycle" || fail "$R: bucket lifecycle"
expect_eq "$(A $R s3api get-public-access-block --bucket "$bucket" --query 'PublicAccessBlockConfiguration.[BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets]' | tr '\t' ' ')" "True True True True" "$R: public access block"
sec=$(A $R secretsmanager get-secret-value --secret-id "$STACK/litellm-salt-key" --query SecretString)
[ ${#sec} -ge 32 ] && pass "$R: salt key secret has a value" || fail "$R: salt key secret"
alarms=$(A $R cloudwatch describe-alarms --query 'length(MetricAlarms)')
[ "$alarms" -ge 7 ] && pass "$R: alarms ($alarms)" || { T_OUT=$alarms; fail "$R: alarms"; }
# The standby's vault bucket: versioning and Object Lock.
vault=$(A us-west-2 s3api list-buckets --query "Buckets[?contains(Name, 'vault')].Name | [0]")
expect_eq "$(A us-west-2 s3api get-object-lock-configuration --bucket "$vault" --query ObjectLockConfiguration.ObjectLockEnabled)" Enabled "us-west-2: vault bucket Object Lock"

# The global edge in us-east-1.
expect_eq "$(A us-east-1 wafv2 list-web-acls --scope CLOUDFRONT --query 'length(WebACLs)')" 1 "global: WAF web ACL (CLOUDFRONT scope)"
moto_auth inf
dist=$(A us-east-1 cloudfront list-distributions --query 'DistributionList.Items[0].Id')
expect_eq "$(A us-east-1 cloudfront get-distribution --id "$dist" --query 'Distribution.DistributionConfig.OriginGroups.Quantity')" 1 "global: CloudFront origin group"
zone=$(A us-east-1 route53 list-hosted-zones-by-name --dns-name drctl.test --query 'HostedZones[0].Id')
fo=$(A us-east-1 route53 list-resource-record-sets --hosted-zone-id "$zone" --query 'ResourceRecordSets[?Failover].Failover' | tr '\t' '\n' | sort | tr '\n' ' ')
expect_eq "$fo" "PRIMARY SECONDARY " "global: Route 53 failover records"
hc=$(A us-east-1 route53 list-health-checks --query 'HealthChecks[].HealthCheckConfig.ResourcePath' | tr '\t' '\n' | sort -u)
expect_eq "$hc" /health/readiness "global: health checks on /health/readiness"
moto_auth 0

# A second deploy writes nothing (every call through a counting proxy).
proxy_start --log "$T_TMP/second.log"
run "$DRCTL_BIN" --endpoint-url "$PROXY_URL" deploy us-east-1 --yes --no-edge
expect_rc 0 "second deploy"
expect_out_has "No changes" "second deploy: says nothing changed"
writes=$(python3 "$DRCTL_SOURCE_DIR/tests/tools/aws_writes.py" "$T_TMP/second.log")
expect_eq "$(printf '%s' "$writes" | grep -c . || true)" 0 "second deploy: no AWS write"

# One property changes: the plan says exactly that, deploy does only that.
sed -i 's/^service:$/service:\n  desired_count: 3/' "$CFG/us-east-1.yaml"
grep -q desired_count "$CFG/us-east-1.yaml" || printf 'service:\n  desired_count: 3\n' >>"$CFG/us-east-1.yaml"
run D plan us-east-1
expect_rc 0 "plan after changing the desired count"
expect_out_has "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." "plan: exactly one update"
expect_out_has "DesiredCount" "plan: names DesiredCount"
: >"$T_TMP/change.log"
proxy_stop
proxy_start --log "$T_TMP/change.log"
run "$DRCTL_BIN" --endpoint-url "$PROXY_URL" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the change"
writes=$(python3 "$DRCTL_SOURCE_DIR/tests/tools/aws_writes.py" "$T_TMP/change.log")
expect_eq "$(printf '%s' "$writes" | awk '{print $2}' | sort -u | tr '\n' ' ')" "UpdateService " "deploy of the change: UpdateService and nothing else"
expect_eq "$(A $R ecs describe-services --cluster "$cl" --services "$svc" --query 'services[0].desiredCount')" 3 "the new desired count is live"
proxy_stop

# The state file is lost: deploying again finds everything by its tags.
rm -rf "$STORE/state/$STACK/us-east-1.json"
run D deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy after losing the state"
expect_eq "$(A $R ec2 describe-vpcs --filters "$TAG" --query 'length(Vpcs)')" 1 "lost state: still one VPC"
expect_eq "$(A $R ec2 describe-subnets --filters "$TAG" --query 'length(Subnets)')" 6 "lost state: still six subnets"
expect_eq "$(A $R ecs list-clusters --query 'length(clusterArns)')" 1 "lost state: still one cluster"
expect_eq "$(A $R rds describe-db-instances --query 'length(DBInstances)')" 1 "lost state: still one database"
run D plan us-east-1
expect_out_has "No changes" "lost state: converged again"

# status shows both regions.
run D status --output json
expect_rc 0 "status"

# destroy: the standby, then the primary (refused without --force).
run D destroy us-east-1 --yes
expect_rc 2 "destroy of the active primary is refused without --force"
moto_auth inf
run D destroy --global --yes
expect_rc 0 "destroy the global edge"
moto_auth 0
run D destroy us-west-2 --yes
# moto 5.2.1 has no DeleteCacheSubnetGroup (it answers an HTML 500, to the
# AWS CLI too), so the cache subnet group stays, and with it what it uses:
# the two database subnets and the VPC, which destroy rightly does not try
# while a dependent is still there. Everything else must be gone, and the
# leftovers must be named with AWS's answer.
expect_rc 5 "destroy us-west-2 (moto cannot delete cache subnet groups)"
expect_err_has "Could not delete 4 resources" "destroy us-west-2: names exactly the blocked four"
expect_err_has "DeleteCacheSubnetGroup: InternalError" "destroy us-west-2: says why"
run D destroy us-east-1 --yes --force
expect_rc 5 "destroy us-east-1 --force (moto cannot delete cache subnet groups)"
expect_err_has "Could not delete 4 resources" "destroy us-east-1: names exactly the blocked four"
for R in us-east-1 us-west-2; do
    expect_eq "$(A $R ec2 describe-vpcs --filters "$TAG" --query 'length(Vpcs)')" 1 "$R: the VPC behind the cache subnet group (moto gap)"
    expect_eq "$(A $R ec2 describe-subnets --filters "$TAG" --query 'length(Subnets)')" 2 "$R: only the two database subnets left (moto gap)"
    expect_eq "$(A $R ec2 describe-nat-gateways --filter "$TAG" Name=state,Values=available,pending --query 'length(NatGateways)')" 0 "$R: no NAT gateway left"
    expect_eq "$(A $R ec2 describe-internet-gateways --filters "$TAG" --query 'length(InternetGateways)')" 0 "$R: no internet gateway left"
    expect_eq "$(A $R ec2 describe-route-tables --filters "$TAG" --query 'length(RouteTables)')" 0 "$R: no route table left"
    expect_eq "$(A $R ec2 describe-security-groups --filters "$TAG" --query 'length(SecurityGroups)')" 0 "$R: no security group left"
    expect_eq "$(A $R ec2 describe-vpc-endpoints --filters "$TAG" --query "length(VpcEndpoints[?State!='deleted'])")" 0 "$R: no VPC endpoint left"
    expect_eq "$(A $R ec2 describe-addresses --filters "$TAG" --query 'length(Addresses)')" 0 "$R: no elastic IP left"
    expect_eq "$(A $R elbv2 describe-load-balancers --query 'length(LoadBalancers)')" 0 "$R: no load balancer left"
    expect_eq "$(A $R elbv2 describe-target-groups --query 'length(TargetGroups)')" 0 "$R: no target group left"
    expect_eq "$(A $R ecs describe-clusters --clusters "$STACK" --query "length(clusters[?status=='ACTIVE'])")" 0 "$R: no active ECS cluster left"
    expect_eq "$(A $R ecs list-task-definitions --status ACTIVE --query 'length(taskDefinitionArns)')" 0 "$R: no active task definition left"
    expect_eq "$(A $R rds describe-db-instances --query 'length(DBInstances)')" 0 "$R: no database left"
    expect_eq "$(A $R rds describe-db-subnet-groups --query "length(DBSubnetGroups[?starts_with(DBSubnetGroupName, '$STACK')])")" 0 "$R: no DB subnet group left"
    expect_eq "$(A $R elasticache describe-replication-groups --query "length(ReplicationGroups[?Status!='deleting'])")" 0 "$R: no cache left"
    expect_eq "$(A $R s3api list-buckets --query "length(Buckets[?starts_with(Name, '$STACK')])")" 0 "$R: no bucket left"
    expect_eq "$(A $R secretsmanager list-secrets --query 'length(SecretList)')" 0 "$R: no secret left"
    expect_eq "$(A $R logs describe-log-groups --query "length(logGroups[?contains(logGroupName, '$STACK')])")" 0 "$R: no log group left"
    expect_eq "$(A $R cloudwatch describe-alarms --query 'length(MetricAlarms)')" 0 "$R: no alarm left"
    expect_eq "$(A $R cloudwatch list-dashboards --query 'length(DashboardEntries)')" 0 "$R: no dashboard left"
    expect_eq "$(A $R application-autoscaling describe-scalable-targets --service-namespace ecs --query 'length(ScalableTargets)')" 0 "$R: no scalable target left"
    expect_eq "$(A $R kms list-aliases --query "length(Aliases[?starts_with(AliasName, 'alias/$STACK')])")" 0 "$R: no KMS alias left"
done
expect_eq "$(A us-east-1 iam list-roles --query "length(Roles[?starts_with(RoleName, '$STACK')])")" 0 "no IAM role left"
expect_eq "$(A us-east-1 wafv2 list-web-acls --scope CLOUDFRONT --query 'length(WebACLs)')" 0 "no WAF web ACL left"
moto_auth inf
expect_eq "$(A us-east-1 cloudfront list-distributions --query 'length(DistributionList.Items || `[]`)')" 0 "no CloudFront distribution left"
expect_eq "$(A us-east-1 route53 list-health-checks --query 'length(HealthChecks)')" 0 "no Route 53 health check left"
moto_auth 0

# A stack without a cache, which moto can destroy completely: an AWS
# refusal mid-deploy names the resource and AWS's answer, the next deploy
# continues, and destroy then leaves nothing of any type.
NC="$T_TMP/nocache"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$NC"
sed -i 's/^stack: litellm-sandbox$/stack: litellm-nocache/' "$NC/defaults.yaml"
python3 - "$NC/defaults.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"(\ncache:\n(?:[ \t]*#.*\n)*[ \t]*enabled:) true", r"\1 false", s, count=1)
open(p, "w").write(s)
PY
grep -A3 '^cache:' "$NC/defaults.yaml" | grep -q 'enabled: false' && pass "no-cache profile made" || fail "no-cache profile made"
NTAG="Name=tag:drctl:stack,Values=litellm-nocache"
export DRCTL_CONFIG_DIR="$NC" DRCTL_STORE="$T_TMP/store-nocache"
proxy_start --fail-all --faults 500 --match 'CreateSubnet'
run env AWS_MAX_ATTEMPTS=1 "$DRCTL_BIN" --endpoint-url "$PROXY_URL" deploy us-east-1 --yes --no-edge
expect_rc 5 "a refused create stops the deploy with the AWS exit code"
expect_err_has "creating Subnet" "the refusal names the resource type"
expect_err_has "(AWS::EC2::Subnet): ec2 CreateSubnet: InternalError" "the refusal carries AWS's code"
proxy_stop
run D deploy us-east-1 --yes --no-edge
expect_rc 0 "the next deploy continues and completes"
expect_eq "$(A us-east-1 ec2 describe-vpcs --filters "$NTAG" --query 'length(Vpcs)')" 1 "no-cache stack: one VPC"
run D destroy us-east-1 --yes --force
expect_rc 0 "destroy of the no-cache stack leaves nothing it could not delete"
R=us-east-1
for q in "ec2 describe-vpcs --filters $NTAG --query length(Vpcs)" \
         "ec2 describe-subnets --filters $NTAG --query length(Subnets)" \
         "ec2 describe-route-tables --filters $NTAG --query length(RouteTables)" \
         "ec2 describe-internet-gateways --filters $NTAG --query length(InternetGateways)" \
         "ec2 describe-security-groups --filters $NTAG --query length(SecurityGroups)" \
         "ec2 describe-addresses --filters $NTAG --query length(Addresses)" \
         "ec2 describe-nat-gateways --filter $NTAG Name=state,Values=available,pending --query length(NatGateways)" \
         "ec2 describe-vpc-endpoints --filters $NTAG --query length(VpcEndpoints[?State!='deleted'])" \
         "ec2 describe-flow-logs --filter $NTAG --query length(FlowLogs)" \
         "elbv2 describe-load-balancers --query length(LoadBalancers)" \
         "elbv2 describe-target-groups --query length(TargetGroups)" \
         "ecs describe-clusters --clusters litellm-nocache --query length(clusters[?status=='ACTIVE'])" \
         "rds describe-db-instances --query length(DBInstances)" \
         "rds describe-db-subnet-groups --query length(DBSubnetGroups[?starts_with(DBSubnetGroupName,'litellm-nocache')])" \
         "s3api list-buckets --query length(Buckets[?starts_with(Name,'litellm-nocache')])" \
         "secretsmanager list-secrets --query length(SecretList)" \
         "logs describe-log-groups --query length(logGroups[?contains(logGroupName,'litellm-nocache')])" \
         "cloudwatch describe-alarms --query length(MetricAlarms)" \
         "application-autoscaling describe-scalable-targets --service-namespace ecs --query length(ScalableTargets)" \
         "kms list-aliases --query length(Aliases[?starts_with(AliasName,'alias/litellm-nocache')])" \
         "iam list-roles --query length(Roles[?starts_with(RoleName,'litellm-nocache')])"; do
    # shellcheck disable=SC2086
    expect_eq "$(A $R $q)" 0 "no-cache stack destroyed: $(echo "$q" | cut -d' ' -f1-2) empty"
done

finish
