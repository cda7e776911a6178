#!/usr/bin/env bash
# scripts/demo.sh - README command (a): set up this machine, build drctl,
# start the local sandbox (moto as AWS, one PostgreSQL per region, all on
# 127.0.0.1) and run the main job against it.
#
# For now the main job is what exists: `drctl doctor` for both sandbox
# regions, which makes one real, signed call per AWS protocol family in each
# region and checks the tools and the store. The sandbox stays up afterwards
# (scripts/sandbox.sh stop ends it); its settings are in .sandbox/sandbox.env.
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

echo "demo: drctl doctor us-east-1 us-west-2"
build/release/drctl doctor us-east-1 us-west-2
echo "demo: done; the sandbox is still running (scripts/sandbox.sh stop to end it)"
