#!/usr/bin/env bash
# The native snapshot path of restore (database.restore_path: snapshot):
# backup takes an RDS snapshot, tagged with the bundle version, and copies
# it to the standby under the standby's KMS key; `drctl restore` then has
# RDS create the standby's instance from that copy
# (RestoreDBInstanceFromDBSnapshot, seen in the fault proxy's log). moto's
# snapshots hold no data, so in the sandbox the logical dump still carries
# the rows (the step says so); this test is about the API calls.
. "$(dirname "$0")/../lib.sh"
sandbox_env
"$DRCTL_SOURCE_DIR/scripts/sandbox.sh" reset >/dev/null
sandbox_env
CFG="$T_TMP/regions"
cp -r "$DRCTL_SOURCE_DIR/regions/sandbox" "$CFG"
sed -i 's/^  restore_path: logical$/  restore_path: snapshot/' "$CFG/defaults.yaml"
grep -q "restore_path: snapshot" "$CFG/defaults.yaml" || { echo "could not set restore_path"; exit 1; }
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
run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the standby"
run "$DRCTL_BIN" backup
expect_rc 0 "backup"
copy=$(A us-west-2 rds describe-db-snapshots --query "DBSnapshots[?starts_with(DBSnapshotIdentifier, '$STACK-v000001')].DBSnapshotArn | [0]")
case "$copy" in arn:aws:rds:us-west-2:*) pass "the snapshot's copy is in us-west-2" ;; *) T_OUT=$copy; fail "no snapshot copy in us-west-2" ;; esac
expect_eq "$(A us-west-2 rds describe-db-snapshots --query "DBSnapshots[?starts_with(DBSnapshotIdentifier, '$STACK-v000001')].KmsKeyId | [0]")" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"]["KmsKeyArn"])' "$STORE/state/$STACK/us-west-2.json")" \
    "copied under the standby's KMS key"
expect_eq "$(A us-east-1 rds list-tags-for-resource --resource-name "$(A us-east-1 rds describe-db-snapshots --query "DBSnapshots[?starts_with(DBSnapshotIdentifier, '$STACK-v000001')].DBSnapshotArn | [0]")" --query "TagList[?Key=='drctl:bundle-version'].Value | [0]")" 1 \
    "the snapshot is tagged with the bundle version"

proxy_start --log "$T_TMP/proxy.jsonl"
run env AWS_ENDPOINT_URL="$PROXY_URL" "$DRCTL_BIN" restore 1 --region us-west-2 --yes
proxy_stop
expect_rc 0 "drctl restore 1 --region us-west-2"
grep -q '"op": "RestoreDBInstanceFromDBSnapshot"' "$T_TMP/proxy.jsonl" && pass "RDS was asked to create the instance from the snapshot" ||
    fail "no RestoreDBInstanceFromDBSnapshot call"
expect_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resources"]["Db"]["properties"]["DBSnapshotIdentifier"])' "$STORE/state/$STACK/us-west-2.json")" \
    "$copy" "the standby's database comes from the bundle's snapshot copy"
RUN=$(ls -t "$STORE/runs" | head -1)
python3 - "$STORE/runs/$RUN/report.json" <<'PY' && pass "the restore-database step says the sandbox's logical dump carried the rows" || fail "restore-database detail"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "succeeded", r["status"]
d = {x["name"]: x for x in r["steps"]}["restore the database"]["detail"]
assert "snapshot" in d.get("note", ""), d
PY
finish
