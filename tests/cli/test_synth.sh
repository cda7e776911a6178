#!/usr/bin/env bash
# drctl synth: the command line, and cfn-lint on every template it renders.
#
# For both shipped profile sets (regions/ and regions/sandbox/) and every
# combination of DR strategy (3) and edge on/off (2), a temporary copy of
# the set is changed with Python (PyYAML) and rendered: each region as it
# rests, each standby as it runs after failover (--active), and the global
# edge when the edge is on (as it rests and with the standby active). cfn-lint (the image's, with the checked-in
# tests/cfn-lint.yaml: every ignored rule is named there with its reason)
# then checks every template against AWS's resource schemas, per region.
# This is the check that the model's types and property names are what AWS
# expects. Runs with no sandbox and no credentials.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T_TMP/home"
SRC=${DRCTL_SOURCE_DIR:?DRCTL_SOURCE_DIR is not set (run through ctest)}
LINT_CONFIG="$SRC/tests/cfn-lint.yaml"

synth() { clean_env "$DRCTL_BIN" synth "$@"; }

# ---- the command line -------------------------------------------------

run synth --help
expect_rc 0 "synth --help"
expect_out_has "usage: drctl synth REGION" "synth --help shows usage"

run synth --config-dir "$SRC/regions"
expect_rc 2 "synth without a region"
expect_err_has "synth needs a region" "missing region is explained"

run synth us-east-1 us-west-2 --config-dir "$SRC/regions"
expect_rc 2 "synth with two regions"

run synth us-est-1 --config-dir "$SRC/regions"
expect_rc 3 "synth of an unknown region"
expect_err_has "unknown region 'us-est-1'" "unknown region is named"

run synth eu-west-1 --config-dir "$SRC/regions"
expect_rc 3 "synth of a region the profiles do not describe"
expect_err_has "no profile for eu-west-1" "region without a profile is named"
expect_err_has "us-east-1, us-west-2" "the described regions are listed"

run synth us-west-2 --global --config-dir "$SRC/regions"
expect_rc 2 "the global template is not in us-west-2"
expect_err_has "lives in us-east-1" "global region is explained"

run synth us-east-1 --bogus
expect_rc 2 "unknown synth option"

run synth us-east-1 --config-dir "$T_TMP/nowhere"
expect_rc 3 "a missing profile directory"

mkdir -p "$T_TMP/broken"
cp "$SRC"/regions/*.yaml "$T_TMP/broken/"
sed -i 's#cidr: 10.20.0.0/16#cidr: 10.10.0.0/16#' "$T_TMP/broken/us-west-2.yaml"
run synth us-east-1 --config-dir "$T_TMP/broken"
expect_rc 3 "overlapping regions: a config error"
expect_err_has "us-west-2.yaml:" "the profile problem names its file"

run synth us-east-1 --config-dir "$SRC/regions"
expect_rc 0 "synth us-east-1"
first=$T_OUT
if printf '%s' "$T_OUT" | python3 -c 'import json,sys; t=json.load(sys.stdin); assert t["AWSTemplateFormatVersion"]=="2010-09-09" and len(t["Resources"])>50' 2>/dev/null; then
    pass "synth prints a JSON template"
else
    fail "synth prints a JSON template"
fi
expect_not_has "drctl::Output" "no drctl::Output left in a template"
run synth us-east-1 --config-dir "$SRC/regions"
if [ "$T_OUT" = "$first" ]; then pass "synth is deterministic"; else fail "synth is deterministic"; fi
run clean_env DRCTL_CONFIG_DIR="$SRC/regions" "$DRCTL_BIN" synth us-east-1 --out "$T_TMP/t.json"
expect_rc 0 "synth --out FILE, DRCTL_CONFIG_DIR"
if [ "$(cat "$T_TMP/t.json")" = "$first" ] && [ -z "$T_OUT" ]; then
    pass "--out writes the same template, nothing on stdout"
else
    fail "--out writes the same template, nothing on stdout"
fi

run synth us-west-2 --active --config-dir "$SRC/regions"
expect_rc 0 "synth us-west-2 --active"
expect_out_has '"DbSnapshotIdentifier"' "an active pilot-light standby restores its database"
run synth us-west-2 --config-dir "$SRC/regions"
expect_out_has '"DesiredCount": 0' "a resting pilot-light standby has an empty service"
run synth --global --config-dir "$SRC/regions"
expect_rc 0 "synth --global"
expect_out_has '"UsWest2AlbDnsName"' "the standby's ALB is a parameter of the edge"

# ---- cfn-lint on every strategy x edge combination ---------------------

if ! command -v cfn-lint >/dev/null 2>&1; then
    T_RC=127 fail "cfn-lint is not installed"
    finish
    exit
fi

# vary SRCDIR DSTDIR STRATEGY EDGE: a copy of a profile set with the
# strategy and the edge switched, in every file that sets them, and an RTO
# that every strategy can reach.
vary() {
    mkdir -p "$2"
    cp "$1"/*.yaml "$2/"
    python3 - "$2" "$3" "$4" <<'PY'
import glob, os, sys
import yaml
d, strategy, edge = sys.argv[1], sys.argv[2], sys.argv[3] == "on"
for path in sorted(glob.glob(os.path.join(d, "*.yaml"))):
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    defaults = os.path.basename(path) == "defaults.yaml"
    if defaults or "dr" in doc:
        doc.setdefault("dr", {})["strategy"] = strategy
        doc["dr"]["rto_minutes"] = max(60, doc["dr"].get("rto_minutes", 60))
    if defaults or "edge" in doc:
        doc.setdefault("edge", {})["enabled"] = edge
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
PY
}

total=0
for set in regions regions/sandbox; do
    regions=$(cd "$SRC/$set" && ls *.yaml | grep -v '^defaults.yaml$' | sed 's/\.yaml$//')
    out="$T_TMP/templates/${set//\//-}"
    mkdir -p "$out"
    for strategy in backup-and-restore pilot-light warm-standby; do
        for edge in on off; do
            dir="$T_TMP/profiles/${set//\//-}-$strategy-$edge"
            vary "$SRC/$set" "$dir" "$strategy" "$edge"
            tag="$set $strategy edge=$edge"
            for r in $regions; do
                run synth "$r" --config-dir "$dir" --out "$out/$strategy-$edge-$r.json"
                expect_rc 0 "synth $r ($tag)"
                if grep -q '^role: *standby' "$dir/$r.yaml"; then
                    run synth "$r" --active --config-dir "$dir" \
                        --out "$out/$strategy-$edge-$r-active.json"
                    expect_rc 0 "synth $r --active ($tag)"
                fi
            done
            run synth --global --config-dir "$dir" --out "$out/$strategy-$edge-global.json"
            if [ "$edge" = on ]; then
                expect_rc 0 "synth --global ($tag)"
                run synth --global --active --config-dir "$dir" \
                    --out "$out/$strategy-$edge-global-active.json"
                expect_rc 0 "synth --global --active ($tag)"
            else
                expect_rc 3 "synth --global refused with the edge off ($tag)"
                expect_err_has "edge is off" "edge off is explained ($tag)"
            fi
        done
    done
    # One cfn-lint run per region (the global templates live in us-east-1):
    # region-specific checks (instance classes, AZs) apply to each template.
    for r in $regions; do
        files=$(ls "$out"/*-"$r".json "$out"/*-"$r"-active.json 2>/dev/null)
        [ "$r" = us-east-1 ] && files="$files $(ls "$out"/*-global*.json 2>/dev/null)"
        n=$(echo $files | wc -w)
        total=$((total + n))
        # shellcheck disable=SC2086
        run cfn-lint --config-file "$LINT_CONFIG" --regions "$r" -- $files
        expect_rc 0 "cfn-lint: $n templates of $set in $r pass"
    done
done
echo "# cfn-lint checked $total templates"
if [ "$total" -ge 48 ]; then pass "cfn-lint saw every template ($total)"; else fail "cfn-lint saw only $total templates"; fi

finish
