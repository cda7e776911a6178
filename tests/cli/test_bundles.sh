#!/usr/bin/env bash
# `drctl bundles`: usage errors, missing profiles, and an empty store, with
# their exit codes. Runs with no sandbox (local store only, no AWS call).
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T_TMP/home"
CFG="$DRCTL_SOURCE_DIR/regions/sandbox"
STORE="$T_TMP/store"

run clean_env "$DRCTL_BIN" bundles --help
expect_rc 0 "bundles --help"
expect_out_has "usage: drctl bundles list" "help shows the list usage"
expect_out_has "--deep" "help explains --deep"

run clean_env "$DRCTL_BIN" bundles
expect_rc 2 "no subcommand"
expect_err_has "needs a subcommand" "no subcommand is explained"

run clean_env "$DRCTL_BIN" bundles frob
expect_rc 2 "unknown subcommand"
expect_err_has "unknown bundles subcommand 'frob'" "unknown subcommand is named"

run clean_env "$DRCTL_BIN" bundles list --deep --config-dir "$CFG" --store "$STORE"
expect_rc 2 "--deep with list"
expect_err_has "--deep does not apply to 'bundles list'" "misplaced option is named"

run clean_env "$DRCTL_BIN" bundles show --config-dir "$CFG" --store "$STORE"
expect_rc 2 "show without a version"
run clean_env "$DRCTL_BIN" bundles show x7 --config-dir "$CFG" --store "$STORE"
expect_rc 2 "show with a bad version"
expect_err_has "not a bundle version" "bad version is explained"

run clean_env "$DRCTL_BIN" bundles list --config-dir "$T_TMP/none" --store "$STORE"
expect_rc 3 "no profiles"

run clean_env "$DRCTL_BIN" bundles list --config-dir "$CFG" --store "$STORE"
expect_rc 0 "list of an empty store"
expect_out_has "no bundles" "empty store says so"

run clean_env "$DRCTL_BIN" --output json bundles list --config-dir "$CFG" --store "$STORE"
expect_rc 0 "list -o json of an empty store"
expect_out_has "[]" "empty JSON array"

run clean_env "$DRCTL_BIN" bundles show 7 --config-dir "$CFG" --store "$STORE"
expect_rc 11 "unknown version"
expect_err_has "no bundle v7" "unknown version is named"

run clean_env "$DRCTL_BIN" bundles verify v3 --config-dir "$CFG" --store "$STORE"
expect_rc 11 "verify of an unknown version"

run clean_env "$DRCTL_BIN" bundles prune --dry-run --config-dir "$CFG" --store "$STORE"
expect_rc 0 "prune of an empty store"
expect_out_has "0 to keep, 0 to delete" "prune summary"

run clean_env "$DRCTL_BIN" bundles list --vault --config-dir "$CFG" --store "$STORE"
expect_rc 11 "--vault without a deployed standby"
expect_err_has "no deployed vault bucket" "missing vault is explained"

finish
