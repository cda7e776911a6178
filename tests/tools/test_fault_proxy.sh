#!/usr/bin/env bash
# test_fault_proxy.sh - self-test of tests/tools/fault_proxy.py against a real
# moto_server, driven with the AWS CLI and curl through the proxy.
#
# Starts its own moto (no auth checks at first, on a free loopback port) in a
# temporary directory, so it needs no sandbox and touches nothing else; every
# process it starts is stopped on exit. Checks:
#   pass-through (query, ec2, json, rest-xml, S3 with a 64 MiB single PUT and
#   GET, a chunked upload), the throttling format of each protocol as the AWS
#   CLI parses it, 503/500/html500/reset faults, a reproducible seeded fault
#   sequence (and re-seeding through POST /__proxy/config), --max-consecutive
#   (no run longer than N; a client with N+1 attempts always succeeds),
#   --reset-after-bytes (rst and fin), latency and slow, /__proxy/stats, the
#   bounds (--max-requests, --max-seconds, parent exit), and finally that
#   SigV4-signed requests pass unchanged with moto's signature checks on.
#
# Environment: KEEP_WORK=1 keeps the temporary directory.
# Exit status 0 when every check passes; the failed checks are listed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROXY="$HERE/fault_proxy.py"
WORK=$(mktemp -d /tmp/test_fault_proxy.XXXXXX)
MOTO_PID=""
PROXY_PID=""
FAILS=()
PASSES=0

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$MOTO_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$MOTO_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "test_fault_proxy: command failed at line $LINENO" >&2' ERR

ok() {
  PASSES=$((PASSES + 1))
  printf 'ok   %s\n' "$1"
}
bad() {
  FAILS+=("$1")
  printf 'FAIL %s\n' "$1"
}
check() { # description command...
  local d=$1
  shift
  if "$@" >"$WORK/check.out" 2>&1; then ok "$d"; else
    bad "$d"
    sed 's/^/     | /' "$WORK/check.out" | tail -n 5
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# ------------------------------------------------------------------ moto ---
MOTO_PORT=$(free_port)
env -u INITIAL_NO_AUTH_ACTION_COUNT moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 </dev/null &
MOTO_PID=$!
MOTO="http://127.0.0.1:$MOTO_PORT"
for _ in $(seq 1 300); do
  curl -s -o /dev/null --max-time 2 "$MOTO/moto-api/" && break
  kill -0 "$MOTO_PID" 2>/dev/null || { cat "$WORK/moto.log" >&2; exit 1; }
  sleep 0.1
done

export AWS_ACCESS_KEY_ID=AKIDTESTPROXY AWS_SECRET_ACCESS_KEY=testsecret AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL

# ----------------------------------------------------------------- proxy ---
start_proxy() { # args... ; sets PROXY_PID, PX (base URL), PLOG
  [ -n "$PROXY_PID" ] && { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }
  PLOG="$WORK/proxy.$RANDOM.log"
  : >"$WORK/proxy.out"
  python3 "$PROXY" --upstream "$MOTO" --log "$PLOG" --max-seconds 600 "$@" \
    >"$WORK/proxy.out" 2>>"$WORK/proxy.err" </dev/null &
  PROXY_PID=$!
  for _ in $(seq 1 100); do
    grep -q '^listening [0-9]' "$WORK/proxy.out" && break
    kill -0 "$PROXY_PID" 2>/dev/null || { cat "$WORK/proxy.err" >&2; exit 1; }
    sleep 0.05
  done
  PX="http://127.0.0.1:$(awk '/^listening/ {print $2}' "$WORK/proxy.out")"
}
stop_proxy() {
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
}
pconf() { curl -s -f -X POST --data-binary "$1" "$PX/__proxy/config" >/dev/null; }
stat_field() { curl -s "$PX/__proxy/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, d))" "$1"; }
awsp() { aws --endpoint-url "$PX" "$@"; }
# the faults column of the log, in request order: one word per request
fault_seq() { python3 -c '
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["n"])
print(" ".join(r["fault"] or "-" for r in rows))' "$1"; }
sts_curl() { # an unsigned query-protocol call (moto without auth answers it)
  curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'Action=GetCallerIdentity&Version=2011-06-15' "$PX/" || true
}

echo "== pass-through"
start_proxy
check "sts (query) through the proxy" awsp sts get-caller-identity --output text --query Account
check "ec2 describe-vpcs" awsp ec2 describe-vpcs --output text --query 'Vpcs[0].VpcId'
check "logs (json)" awsp logs create-log-group --log-group-name /fp/test
check "route53 (rest-xml)" awsp route53 list-hosted-zones
check "s3 create bucket" awsp s3api create-bucket --bucket fp-bucket --output text
head -c $((64 << 20)) /dev/urandom >"$WORK/big"
check "s3 64 MiB single PUT" awsp s3api put-object --bucket fp-bucket --key big --body "$WORK/big" --output text
awsp s3api get-object --bucket fp-bucket --key big "$WORK/big.back" >/dev/null
check "s3 64 MiB GET identical" cmp -s "$WORK/big" "$WORK/big.back"
head -c 3000000 /dev/urandom >"$WORK/chunky"
code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H 'Transfer-Encoding: chunked' -T - "$PX/fp-bucket/chunky" <"$WORK/chunky")
awsp s3api get-object --bucket fp-bucket --key chunky "$WORK/chunky.back" >/dev/null
check "chunked request body (status $code) stored intact" cmp -s "$WORK/chunky" "$WORK/chunky.back"
n=$(stat_field forwarded)
check "stats count forwarded requests ($n >= 9)" test "$n" -ge 9
n=$(wc -l <"$PLOG")
check "one JSON log line per request ($n)" test "$n" -eq "$(stat_field requests)"
check "control paths are not forwarded" test "$(curl -s -o /dev/null -w '%{http_code}' "$PX/__proxy/nope")" = 404
check "bad config is refused with 400" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"fail_rate": 2}' "$PX/__proxy/config")" = 400

echo "== throttling in each protocol's format (AWS CLI, 1 attempt)"
pconf '{"fail_all": true, "faults": ["throttle"]}'
expect_err() { # code command...
  local want=$1 out
  shift
  out=$(awsp "$@" 2>&1 >/dev/null || true)
  if grep -q "($want)" <<<"$out"; then ok "$* -> $want"; else bad "$* -> want $want, got: $out"; fi
}
expect_err Throttling sts get-caller-identity
expect_err Throttling rds describe-db-instances
expect_err RequestLimitExceeded ec2 describe-vpcs
expect_err ThrottlingException logs describe-log-groups
expect_err ThrottlingException kms list-keys
expect_err SlowDown s3api list-objects-v2 --bucket fp-bucket
expect_err Throttling route53 list-hosted-zones
expect_err Throttling cloudfront list-distributions
statuses=$(python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["status"]) for l in open(sys.argv[1]) if json.loads(l)["fault"]))' "$PLOG")
check "throttle statuses 400/503 as AWS sends them ($statuses)" test "$statuses" = "400 400 503 400 400 503 400 400"
pconf '{"faults": ["503"]}'
expect_err ServiceUnavailable sts get-caller-identity
expect_err ServiceUnavailableException ecs list-clusters
pconf '{"faults": ["500"]}'
expect_err InternalError s3api list-objects-v2 --bucket fp-bucket
expect_err InternalFailure sts get-caller-identity
pconf '{"faults": ["html500"]}'
out=$(awsp s3api list-objects-v2 --bucket fp-bucket 2>&1 || true)
check "html500 gives an HTML body" grep -q '500' <<<"$out"
pconf '{"faults": ["reset"]}'
out=$(awsp sts get-caller-identity 2>&1 || true)
check "reset: connection closed without answer" grep -qi 'connection was closed\|reset\|aborted' <<<"$out"
pconf '{"faults": ["partial"]}'
rc=0
curl -s -o /dev/null -X POST --data 'Action=GetCallerIdentity&Version=2011-06-15' "$PX/" || rc=$?
check "partial: status line, then reset (curl rc $rc)" test "$rc" -eq 56 -o "$rc" -eq 52 -o "$rc" -eq 8

echo "== seeded sequence"
run_seq() { # n
  for _ in $(seq 1 "$1"); do sts_curl >/dev/null; done
}
start_proxy --fail-rate 0.3 --seed 42 --faults throttle,503,500,reset
run_seq 40
seq1=$(fault_seq "$PLOG")
start_proxy --fail-rate 0.3 --seed 42 --faults throttle,503,500,reset
run_seq 40
seq2=$(fault_seq "$PLOG")
check "same seed, same sequence" test "$seq1" = "$seq2"
nf=$(tr ' ' '\n' <<<"$seq1" | grep -vc '^-$' || true)
check "about 30 % fail ($nf of 40)" test "$nf" -ge 5 -a "$nf" -le 20
kinds=$(tr ' ' '\n' <<<"$seq1" | grep -v '^-$' | sort -u | tr '\n' ' ')
check "several fault kinds drawn ($kinds)" test "$(wc -w <<<"$kinds")" -ge 3
pconf '{"seed": 7, "reset_stats": true}'
: >"$PLOG"
run_seq 40
seq3=$(fault_seq "$PLOG")
check "another seed, another sequence" test "$seq3" != "$seq1"
pconf '{"seed": 42, "reset_stats": true}'
: >"$PLOG"
run_seq 40
seq4=$(fault_seq "$PLOG")
check "re-seeding through /__proxy/config replays the sequence" test "$seq4" = "$seq1"

echo "== max-consecutive"
start_proxy --fail-rate 0.9 --seed 3 --faults throttle,503,500,reset --max-consecutive 2
run_seq 60
longest=$(python3 -c '
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["n"])
best = cur = 0
for r in rows:
    cur = cur + 1 if r["fault"] else 0
    best = max(best, cur)
print(best)' "$PLOG")
check "longest run of failures is $longest (<= 2)" test "$longest" -le 2
nf=$(stat_field 'sum(faults.values())')
check "yet most requests failed ($nf of 60)" test "$nf" -ge 30
ok_all=1
for _ in 1 2 3 4 5 6; do
  AWS_MAX_ATTEMPTS=3 awsp sts get-caller-identity >/dev/null 2>&1 || ok_all=0
  AWS_MAX_ATTEMPTS=3 awsp s3api head-object --bucket fp-bucket --key chunky >/dev/null 2>&1 || ok_all=0
done
check "a client with 3 attempts never fails" test $ok_all = 1
# two interleaved clients: the per-request streak still holds
ok_all=1
for _ in 1 2 3 4; do
  AWS_MAX_ATTEMPTS=3 awsp sts get-caller-identity >/dev/null 2>&1 &
  p1=$!
  AWS_MAX_ATTEMPTS=3 awsp ec2 describe-vpcs >/dev/null 2>&1 &
  p2=$!
  wait $p1 || ok_all=0
  wait $p2 || ok_all=0
done
check "two concurrent clients with 3 attempts never fail" test $ok_all = 1

echo "== reset-after-bytes"
start_proxy
awsp s3api put-object --bucket fp-bucket --key pub --body "$WORK/chunky" --acl public-read >/dev/null
pconf '{"reset_after_bytes": 100000, "reset_count": 1}'
rc=0
curl -s -o "$WORK/cut1" "$PX/fp-bucket/pub" || rc=$?
check "first GET is cut (curl rc $rc, $(stat -c %s "$WORK/cut1") bytes)" test "$rc" -ne 0 -a "$(stat -c %s "$WORK/cut1")" -eq 100000
rc=0
curl -s -o "$WORK/cut2" "$PX/fp-bucket/pub" || rc=$?
check "second GET is whole" cmp -s "$WORK/cut2" "$WORK/chunky"
out=$(AWS_MAX_ATTEMPTS=1 awsp s3api get-object --bucket fp-bucket --key pub "$WORK/cut3" 2>&1 >/dev/null || true)
check "the AWS CLI also gets it whole now" cmp -s "$WORK/cut3" "$WORK/chunky"
pconf '{"reset_after_bytes": 5000, "reset_count": 2, "cut_style": "fin"}'
rc=0
curl -s -o "$WORK/cut4" "$PX/fp-bucket/pub" || rc=$?
check "fin style: short body (curl rc $rc = 18)" test "$rc" -eq 18 -a "$(stat -c %s "$WORK/cut4")" -eq 5000
check "cuts counted" test "$(stat_field cuts)" = 2
pconf '{"reset_after_bytes": 10, "reset_count": 1, "cut_style": "rst", "reset_match": "nomatch"}'
check "reset-match limits the cut" curl -s -f -o /dev/null "$PX/fp-bucket/pub"

echo "== latency and slow"
start_proxy --latency-ms 300
t=$(curl -s -o /dev/null -w '%{time_total}' -X POST --data 'Action=GetCallerIdentity&Version=2011-06-15' "$PX/")
check "latency 300 ms applied (${t}s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }'
pconf '{"latency_ms": 0, "fail_all": true, "faults": ["slow"], "slow_seconds": 1}'
t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST --data 'Action=GetCallerIdentity&Version=2011-06-15' "$PX/")
check "slow: answered 200 after >= 1 s ($t)" awk -v c="${t% *}" -v t="${t#* }" 'BEGIN { exit !(c == 200 && t >= 1.0) }'

echo "== bounds"
start_proxy --max-requests 3
for _ in 1 2 3; do sts_curl >/dev/null; done
gone=0
for _ in $(seq 1 40); do kill -0 "$PROXY_PID" 2>/dev/null || { gone=1; break; }; sleep 0.1; done
check "exits after --max-requests" test $gone = 1
PROXY_PID=""
start_proxy --max-seconds 1
sleep 1.6
check "exits after --max-seconds" bash -c "! kill -0 $PROXY_PID 2>/dev/null"
PROXY_PID=""
(python3 "$PROXY" --upstream "$MOTO" >"$WORK/orphan.out" 2>/dev/null </dev/null & echo $! >"$WORK/orphan.pid"
  for _ in $(seq 1 100); do grep -q listening "$WORK/orphan.out" && break; sleep 0.05; done)
sleep 1
opid=$(cat "$WORK/orphan.pid")
# gone, or a zombie that our (non-reaping) init has not collected yet
check "exits when its parent exits" bash -c "st=\$(ps -o stat= -p $opid) || exit 0; [[ \$st == Z* ]]"
kill "$opid" 2>/dev/null || true

echo "== SigV4 survives the proxy (moto checks signatures)"
start_proxy
keys=$(python3 - "$MOTO" <<'EOF'
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="y")
iam.create_user(UserName="fp")
iam.put_user_policy(UserName="fp", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="fp")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
EOF
)
read -r kid secret <<<"$keys"
curl -s -f -X POST -H 'Content-Type: text/plain' --data-binary 0 "$MOTO/moto-api/reset-auth" >/dev/null
check "signed sts through the proxy" env AWS_ACCESS_KEY_ID="$kid" AWS_SECRET_ACCESS_KEY="$secret" \
  aws --endpoint-url "$PX" sts get-caller-identity --output text --query Arn
check "signed S3 PUT through the proxy" env AWS_ACCESS_KEY_ID="$kid" AWS_SECRET_ACCESS_KEY="$secret" \
  aws --endpoint-url "$PX" s3 cp "$WORK/chunky" s3://fp-bucket/signed --quiet
out=$(AWS_ACCESS_KEY_ID="$kid" AWS_SECRET_ACCESS_KEY="wrong$secret" aws --endpoint-url "$PX" sts get-caller-identity 2>&1 || true)
check "a wrong secret is still refused" grep -q SignatureDoesNotMatch <<<"$out"
curl -s -f -X POST -H 'Content-Type: text/plain' --data-binary inf "$MOTO/moto-api/reset-auth" >/dev/null
stop_proxy

echo
if [ ${#FAILS[@]} -eq 0 ]; then
  echo "test_fault_proxy: all $PASSES checks passed"
  exit 0
fi
echo "test_fault_proxy: ${#FAILS[@]} of $((PASSES + ${#FAILS[@]})) checks FAILED:"
printf '  %s\n' "${FAILS[@]}"
exit 1
