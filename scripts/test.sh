#!/usr/bin/env bash
# scripts/test.sh - build drctl and run every test, twice: a normal build with
# warnings as errors, then an AddressSanitizer + UndefinedBehaviorSanitizer
# build. ctest runs the Criterion unit tests, starts the sandbox (moto +
# PostgreSQL on 127.0.0.1) as a fixture, runs the integration tests against
# it, and stops it.
#
# Environment: DRCTL_TEST_CONFIGS (default "release sanitize") picks builds;
# DRCTL_SKIP_SETUP=1 skips the package check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${DRCTL_SKIP_SETUP:-0}" != 1 ]; then
    "$root/scripts/setup.sh"
fi

configs=${DRCTL_TEST_CONFIGS:-"release sanitize"}
status=0
for cfg in $configs; do
    case "$cfg" in
    release) type=RelWithDebInfo ;;
    sanitize) type=Sanitize ;;
    *) echo "test.sh: unknown config '$cfg'" >&2; exit 2 ;;
    esac
    dir="$root/build/$cfg"
    echo "== $cfg build ($type) in $dir"
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DDRCTL_WERROR=ON >/dev/null
    cmake --build "$dir" -j"$(nproc)"
    echo "== $cfg tests"
    if ! ctest --test-dir "$dir" --output-on-failure --timeout 1200; then
        status=1
    fi
done
exit $status
