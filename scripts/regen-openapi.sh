#!/usr/bin/env bash
# Regenerates openapi/krug.yaml from the code (a test fails when it is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p krug-appliance -- openapi > openapi/krug.yaml
echo "openapi/krug.yaml regenerated"
