#!/usr/bin/env bash
# scripts/demo.sh - README command (a): set up this machine, build drctl,
# start the local sandbox (moto as AWS, one PostgreSQL per region, all on
# 127.0.0.1) and run the main job against it.
#
# The main job: `drctl doctor` for both sandbox regions (one real, signed
# call per AWS protocol family in each), `drctl validate`, the whole stack
# deployed from regions/sandbox (the primary us-east-1, the pilot-light
# standby us-west-2, the global edge), objects put in the primary's bucket
# (its PostgreSQL already holds generated LiteLLM data), `drctl backup`,
# `drctl failover us-west-2` and its RTO/RPO report. The sandbox stays up
# afterwards (scripts/sandbox.sh stop ends it); its settings are in
# .sandbox/sandbox.env, the deployed state, bundles and run reports in
# .sandbox/store.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
echo "demo: built build/release/drctl"

scripts/sandbox.sh start
set -a
# shellcheck disable=SC1091
. "${DRCTL_SANDBOX_DIR:-$root/.sandbox}/sandbox.env"
set +a

drctl=build/release/drctl
export DRCTL_CONFIG_DIR="$root/regions/sandbox"
export DRCTL_STORE="${DRCTL_SANDBOX_DIR:-$root/.sandbox}/store"
moto_auth() {
    curl -sf -X POST -H 'Content-Type: text/plain' --data "$1" \
        "$AWS_ENDPOINT_URL/moto-api/reset-auth" >/dev/null
}

echo "demo: drctl doctor us-east-1 us-west-2"
$drctl doctor us-east-1 us-west-2
echo "demo: drctl validate"
$drctl validate
echo "demo: drctl deploy us-east-1 (primary)"
$drctl deploy us-east-1 --yes --no-edge
echo "demo: drctl deploy us-west-2 (pilot-light standby)"
$drctl deploy us-west-2 --yes --no-edge
# moto refuses correctly signed Route 53 and CloudFront requests without a
# body (GET, DELETE), which the edge and the DNS switch need: its signature
# checks go off from here to the end of the failover.
echo "demo: drctl deploy --global (WAF, CloudFront, Route 53 failover records)"
moto_auth inf
trap 'moto_auth 0' EXIT
# The hosted zone is the user's own, made once before drctl runs.
zones=$(aws --endpoint-url "$AWS_ENDPOINT_URL" route53 list-hosted-zones-by-name \
    --dns-name drctl.test --query "length(HostedZones[?Name=='drctl.test.'])" --output text)
if [ "$zones" = 0 ]; then
    aws --endpoint-url "$AWS_ENDPOINT_URL" route53 create-hosted-zone --name drctl.test \
        --caller-reference "demo-$(date +%s)" >/dev/null
fi
$drctl deploy --global --yes
echo "demo: drctl status"
$drctl status
bucket=$(aws --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 s3api list-buckets \
    --query "Buckets[?starts_with(Name, 'litellm-sandbox-data-us-east-1')].Name | [0]" --output text)
echo "demo: 200 objects (one of 20 MiB) into s3://$bucket with boto3"
python3 tests/tools/s3_objects.py put --bucket "$bucket" --region us-east-1 --count 200 --big 1 \
    --big-mib 20 --seed "$(date +%s)" >/dev/null
echo "demo: drctl backup"
$drctl backup
echo "demo: drctl bundles list"
$drctl bundles list
echo "demo: drctl failover us-west-2 --yes"
$drctl failover us-west-2 --yes
echo "demo: drctl report latest --format md"
$drctl report latest --format md
echo "demo: done; the sandbox is still running (scripts/sandbox.sh stop to end it)"
