#!/usr/bin/env bash
# kill -9 of drctl backup at moments spread over a whole run (the dump, the
# object transfer, the upload to the vault, the publish): no incomplete
# bundle is ever listed, locally or in the vault, and the next backup
# succeeds and cleans up what the killed run left.
#
# The moments are fractions of the duration of an uninterrupted backup
# measured first, so they land in every phase whatever the machine's speed.
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
now_ms() { date +%s%3N; }

run "$DRCTL_BIN" deploy us-east-1 --yes --no-edge
expect_rc 0 "deploy the primary"
run "$DRCTL_BIN" deploy us-west-2 --yes --no-edge
expect_rc 0 "deploy the standby"
BUCKET=$(A us-east-1 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-data-us-east-1')].Name | [0]")
VAULT=$(A us-west-2 s3api list-buckets --query "Buckets[?starts_with(Name, '$STACK-vault-us-west-2')].Name | [0]")
run python3 "$DRCTL_SOURCE_DIR/tests/tools/s3_objects.py" put --bucket "$BUCKET" --count 150 --big 2 --big-mib 24 --seed 2
expect_rc 0 "objects put"

# Every bundle listed (locally and in the vault) must verify.
check_listed() {
    local what=$1 n bad=0 v
    for v in $("$DRCTL_BIN" -o json bundles list 2>/dev/null | python3 -c 'import json,sys; [print(b["version"]) for b in json.load(sys.stdin)]'); do
        "$DRCTL_BIN" bundles verify "$v" >/dev/null 2>"$T_TMP/verr" || {
            bad=$((bad + 1))
            echo "  local v$v: $(head -1 "$T_TMP/verr")"
        }
    done
    for v in $("$DRCTL_BIN" -o json bundles list --vault 2>/dev/null | python3 -c 'import json,sys; [print(b["version"]) for b in json.load(sys.stdin)]'); do
        "$DRCTL_BIN" bundles verify "$v" --vault >/dev/null 2>"$T_TMP/verr" || {
            bad=$((bad + 1))
            echo "  vault v$v: $(head -1 "$T_TMP/verr")"
        }
    done
    [ "$bad" = 0 ] && pass "$what: every listed bundle verifies" || { T_RC=$bad; fail "$what: $bad listed bundle(s) incomplete"; }
}

t0=$(now_ms)
run "$DRCTL_BIN" backup
expect_rc 0 "an uninterrupted backup (v1)"
dur=$(($(now_ms) - t0))
echo "# an uninterrupted backup took $dur ms"

kills=0
for frac in 5 15 25 35 45 55 65 75 85 95; do
    at=$((dur * frac / 100))
    "$DRCTL_BIN" -v backup --full >"$T_TMP/k.out" 2>"$T_TMP/k.err" &
    pid=$!
    sleep "$(printf '%d.%03d' $((at / 1000)) $((at % 1000)))"
    if kill -9 $pid 2>/dev/null; then
        kills=$((kills + 1))
        # pg_dump is our child: it dies with its pipe; give it a moment.
        wait $pid 2>/dev/null
        echo "# killed at $at ms ($frac % of a run); its last log line: $(tail -n 1 "$T_TMP/k.err" | cut -c1-150)"
    else
        wait $pid 2>/dev/null
        echo "# the run at $frac % had already finished"
    fi
    check_listed "after kill -9 at $frac %"
done
[ "$kills" -ge 6 ] && pass "$kills runs killed mid-way" || fail "only $kills runs could be killed"

run "$DRCTL_BIN" backup
expect_rc 0 "the next backup after the kills succeeds"
check_listed "after the recovery backup"
left=$(find "$STORE/tmp" -type f 2>/dev/null | wc -l)
expect_eq "$left" 0 "no leftovers in the store's staging area"
expect_eq "$(A us-west-2 s3api list-multipart-uploads --bucket "$VAULT" --query 'length(Uploads || `[]`)')" 0 \
    "no unfinished multipart upload left in the vault"
nloc=$(ls "$STORE/bundles/$STACK/"*.drb | wc -l)
nvault=$(A us-west-2 s3api list-objects-v2 --bucket "$VAULT" --query "length(Contents[?ends_with(Key, '.drb')])")
expect_eq "$nvault" "$nloc" "the vault holds every local bundle ($nloc)"
pgrep -f "pg_dump.*--snapshot" >/dev/null && fail "a pg_dump is still running" || pass "no pg_dump left running"
finish
