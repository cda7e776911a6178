#!/usr/bin/env bash
# Encrypted bundles (encryption.mode kms) open in either region and with
# no AWS at all: the bundle key is wrapped by each region's stack KMS key
# and by an offline RSA recovery key. With no usable key the error lists
# the wraps that exist.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
sed -i 's/^stack: litellm-sandbox$/stack: litellm-kms/; s/^  mode: none$/  mode: kms/' "$CFG/defaults.yaml"
grep -q "mode: kms" "$CFG/defaults.yaml" || { echo "could not switch the profile to kms"; exit 1; }
STORE="$T_TMP/store"
export DRCTL_CONFIG_DIR="$CFG" DRCTL_STORE="$STORE"
STACK=litellm-kms
A() {
    local r=$1
    shift
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$r" --output text "$@"
}
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$T_TMP/recovery.pem" 2>/dev/null
openssl pkey -in "$T_TMP/recovery.pem" -pubout -out "$T_TMP/recovery.pub.pem"
chmod 600 "$T_TMP/recovery.pem"

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the standby"
run "$DRCTL_BIN" backup --recovery-key "$T_TMP/recovery.pub.pem"
expect_rc 0 "encrypted backup v1"
V1="$STORE/bundles/$STACK/$STACK-v000001.drb"
run tar --zstd -tf "$V1"
[ "$T_RC" != 0 ] && pass "an encrypted bundle is not a readable tar" || fail "encrypted bundle opened with tar"
secret=$(A us-east-1 secretsmanager get-secret-value --secret-id "$STACK/litellm-salt-key" --query SecretString)
[ -n "$secret" ] && ! grep -qaF -- "$secret" "$V1" && pass "the salt key is not in the bundle in clear" || fail "salt key found in the bundle"

run "$DRCTL_BIN" bundles verify 1
expect_rc 0 "verify with both regions' KMS keys available"

# us-east-1 down: every KMS call signed for us-east-1 fails (the fault
# proxy in front of moto answers 503; moto itself does not refuse Decrypt
# with a disabled key, so disabling keys would prove nothing).
proxy_start --fail-all --faults 503 --match 'kms [^ ]+ us-east-1$'
run env AWS_ENDPOINT_URL="$PROXY_URL" AWS_MAX_ATTEMPTS=1 "$DRCTL_BIN" bundles verify 1
expect_rc 0 "us-east-1's KMS down: the bundle opens with us-west-2's wrap"
expect_out_has "opened with aws-kms us-west-2" "verify says it opened with the us-west-2 wrap"
proxy_stop
proxy_start --fail-all --faults 503 --match 'kms [^ ]+ us-(east-1|west-2)$'
run env AWS_ENDPOINT_URL="$PROXY_URL" AWS_MAX_ATTEMPTS=1 "$DRCTL_BIN" bundles verify 1
[ "$T_RC" != 0 ] && pass "no usable key: verify fails (exit $T_RC)" || fail "verify passed with no usable key"
expect_err_has "us-east-1" "the error lists the us-east-1 wrap"
expect_err_has "us-west-2" "the error lists the us-west-2 wrap"
expect_err_has "recovery" "the error lists the recovery-key wrap"
proxy_stop

# No AWS at all: an endpoint nothing listens on, the recovery key only.
run env AWS_ENDPOINT_URL=http://127.0.0.1:9 DRCTL_RECOVERY_KEY="$T_TMP/recovery.pem" "$DRCTL_BIN" bundles verify 1
expect_rc 0 "with no AWS reachable, the offline recovery key opens the bundle"
expect_out_has "recovery" "verify says it opened with the recovery key"
finish
