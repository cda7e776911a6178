#!/usr/bin/env bash
# drctl validate: the shipped profiles pass; a broken copy fails with exit 3
# and every problem at once, each as file:line:column: key: message. Runs
# with no sandbox and no AWS.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T_TMP/home"
SRC="${DRCTL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"

run clean_env "$DRCTL_BIN" validate --help
expect_rc 0 "validate --help"
expect_out_has "usage: drctl validate [--config-dir DIR]" "validate --help shows usage"
expect_out_has "DRCTL_CONFIG_DIR" "validate --help documents DRCTL_CONFIG_DIR"

run clean_env "$DRCTL_BIN" --help
expect_out_has "validate" "--help lists validate"

# The default directory is ./regions.
run clean_env sh -c "cd '$SRC' && exec '$DRCTL_BIN' validate"
expect_rc 0 "validate in the source tree (default ./regions)"
expect_out_has "us-east-1       primary  litellm-prod             pilot-light         10.10.0.0/16" \
    "the primary's line"
expect_out_has "us-west-2       standby  litellm-prod             pilot-light         10.20.0.0/16" \
    "the standby's line"
expect_out_has "2 regions valid" "the count"

run clean_env "$DRCTL_BIN" validate --config-dir "$SRC/regions/sandbox"
expect_rc 0 "validate --config-dir regions/sandbox"
expect_out_has "litellm-sandbox" "sandbox stack"

run clean_env DRCTL_CONFIG_DIR="$SRC/regions/sandbox" "$DRCTL_BIN" validate
expect_rc 0 "DRCTL_CONFIG_DIR"
expect_out_has "litellm-sandbox" "DRCTL_CONFIG_DIR is used"

# --config-dir wins over DRCTL_CONFIG_DIR.
run clean_env DRCTL_CONFIG_DIR=/nonexistent "$DRCTL_BIN" validate --config-dir "$SRC/regions"
expect_rc 0 "--config-dir over DRCTL_CONFIG_DIR"

run clean_env "$DRCTL_BIN" --output json validate --config-dir "$SRC/regions"
expect_rc 0 "validate --output json"
if printf '%s' "$T_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] is True
r = {x["region"]: x for x in d["regions"]}
assert r["us-east-1"]["role"] == "primary" and r["us-west-2"]["role"] == "standby"
assert r["us-west-2"]["cidr"] == "10.20.0.0/16" and r["us-east-1"]["strategy"] == "pilot-light"
'; then pass "json: ok and regions"; else fail "json: ok and regions"; fi

# A broken copy: problems in three files, all reported in one run.
B="$T_TMP/broken"
mkdir -p "$B"
cp "$SRC/regions/defaults.yaml" "$SRC/regions/us-east-1.yaml" "$B/"
cat >"$B/us-west-2.yaml" <<'EOF'
role: standby
network:
  cidr: 10.10.0.0/16
  az_count: 7
service:
  cpuu: 1024
dr:
  rto_minutes: 10
EOF
cat >"$B/eu-west-1.yaml" <<'EOF'
role: standby
network:
  cidr: 10.30.1.0/16
EOF
run clean_env "$DRCTL_BIN" validate --config-dir "$B"
expect_rc 3 "broken profiles: config error"
expect_err_has "$B/eu-west-1.yaml:3:9: network.cidr: 10.30.1.0/16 has host bits set; did you mean 10.30.0.0/16?" \
    "host bits, with file:line:column"
expect_err_has "$B/us-west-2.yaml:3:9: network.cidr: 10.10.0.0/16 overlaps 10.10.0.0/16 of us-east-1 ($B/us-east-1.yaml:" \
    "overlap names the other file"
expect_err_has "$B/us-west-2.yaml:4:13: network.az_count: must be between 2 and 6, got 7" "range"
expect_err_has "$B/us-west-2.yaml:6:3: service.cpuu: unknown key 'cpuu'; did you mean 'cpu'?" \
    "unknown key with suggestion"
expect_err_has "$B/us-west-2.yaml:8:16: dr.rto_minutes: 10 is below what pilot-light can reach (15 minutes); raise it or choose warm-standby" \
    "RTO floor"
expect_err_has "drctl: error: 6 problems in $B" "the summary counts them"
# 5 of the 6 checked above; the sixth is dr.rto_minutes differing from us-east-1's.
expect_err_has "$B/us-west-2.yaml:8:16: dr.rto_minutes: 10 here but 60 in us-east-1" "stack-wide mismatch"
expect_err_lines 8 "six problems, the error and the hint, nothing else"
if [ -z "$T_OUT" ]; then pass "nothing on stdout"; else fail "nothing on stdout"; fi

run clean_env "$DRCTL_BIN" --output json validate --config-dir "$B"
expect_rc 3 "broken profiles, json: config error"
if printf '%s' "$T_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] is False, d
assert len(d["problems"]) == 6, d
p = [x for x in d["problems"] if x["path"] == "service.cpuu"][0]
assert p["line"] == 6 and p["column"] == 3, p
assert p["file"].endswith("/us-west-2.yaml"), p
assert p["message"] == "unknown key '"'"'cpuu'"'"'; did you mean '"'"'cpu'"'"'?", p
'; then pass "json: every problem with file, line, column, path, message"; else fail "json problems"; fi

# A YAML syntax error: libyaml's problem and the place.
S="$T_TMP/syntax"
mkdir -p "$S"
cp "$SRC/regions/defaults.yaml" "$SRC/regions/us-west-2.yaml" "$S/"
printf 'role: primary\nnetwork:\n  cidr: [10.10.0.0/16\n' >"$S/us-east-1.yaml"
run clean_env "$DRCTL_BIN" validate --config-dir "$S"
expect_rc 3 "syntax error: config error"
expect_err_has "$S/us-east-1.yaml:4:1: YAML syntax error: did not find expected ',' or ']'" \
    "syntax error with its place"

run clean_env "$DRCTL_BIN" validate --config-dir "$T_TMP/none"
expect_rc 3 "missing directory: config error"
expect_err_has "cannot read the profile directory $T_TMP/none" "missing directory is named"
expect_err_has "--config-dir" "missing directory: hint"

run clean_env "$DRCTL_BIN" validate extra
expect_rc 2 "validate takes no arguments"
run clean_env "$DRCTL_BIN" validate --config-dir
expect_rc 2 "--config-dir needs a value"
expect_err_has "needs a value" "--config-dir without value is explained"

finish
