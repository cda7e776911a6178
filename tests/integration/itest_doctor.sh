#!/usr/bin/env bash
# drctl doctor against the sandbox: all green with the sandbox's keys, a
# signature error with a wrong secret, and retries visible at -v through the
# fault proxy.
. "$(dirname "$0")/../lib.sh"
sandbox_env

run "$DRCTL_BIN" doctor us-east-1 us-west-2
expect_rc 0 "doctor against the sandbox"
for f in "us-east-1 query" "us-east-1 ec2" "us-east-1 json" "us-east-1 rest-xml" \
         "us-west-2 query" "us-west-2 ec2" "us-west-2 json" "us-west-2 rest-xml"; do
    expect_out_has "ok    $f" "doctor: $f ok"
done
expect_out_has "ok    credentials" "doctor: credentials ok"
expect_out_has "ok    identity" "doctor: identity ok"
expect_out_has "ok    pg_dump                15." "doctor: pg_dump found with its version"
expect_out_has "sandbox mapping in force (DRCTL_DB_MAP): RDS in us-east-1" "doctor: reports the sandbox DB mapping"
expect_not_has "$AWS_SECRET_ACCESS_KEY" "doctor: secret key never printed"

run "$DRCTL_BIN" --output json doctor us-east-1
expect_rc 0 "doctor --output json"
if printf '%s' "$T_OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["ok"] and len(d["checks"]) >= 8 else 1)'; then
    pass "doctor json parses and says ok"
else
    fail "doctor json parses and says ok"
fi

run env AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong-secret-00 "$DRCTL_BIN" doctor us-east-1
expect_rc 5 "doctor with a wrong secret: AWS error"
expect_out_has "SignatureDoesNotMatch" "wrong secret: AWS's signature error is shown"
expect_not_has "wrong-secret-wrong" "wrong secret: not printed"

# Retries are visible at -v: half the requests fail, never 3 in a row.
proxy_start --fail-rate 0.5 --seed 11 --max-consecutive 2 --faults throttle,503
run env AWS_MAX_ATTEMPTS=3 "$DRCTL_BIN" -v --endpoint-url "$PROXY_URL" doctor us-east-1
expect_rc 0 "doctor through 50% faults"
expect_err_has "retrying" "-v shows the retries"
proxy_stop

finish
