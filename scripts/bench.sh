#!/usr/bin/env bash
# The standard benchmark set (release build), in under 10 minutes on the 2-core dev machine once
# built, printing one table at the end (also saved as table.md in the output folder):
#   1. criterion micro-benches of the in-memory scan decision;
#   2. the SDK's record_purchase and scan through the store on SQLite (synchronous FULL and NORMAL)
#      and PostgreSQL, each beside the bare-commit floor measured in the same run, then 1/8/32
#      tasks flat out (on SQLite also beside the group-commit floor of 8/32 inserts per COMMIT,
#      and with the writer's time per scan);
#   3. HTTP load against an in-process appliance on SQLite FULL and PostgreSQL: 200 scans/s open
#      loop, then flat out with 32 clients (3,000 signed-in members; when all have used the current
#      30 s step the appliance's clock moves on a step instead of the run waiting for it).
# Environment: KRUG_BENCH_PG_URL (admin URL; fresh krug_bench_* databases are created and dropped),
# CARGO_TARGET_DIR, BENCH_OUT (output folder), BENCH_SKIP_PG=1 to leave PostgreSQL out.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/krug-target}"
export KRUG_BENCH_PG_URL="${KRUG_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
OUT="${BENCH_OUT:-$(mktemp -d /var/tmp/krug-bench-XXXXXX)}"
mkdir -p "$OUT"
ROWS="$OUT/rows.jsonl"
: > "$ROWS"

step() { printf '\n==> %s (%ds)\n' "$*" "$SECONDS" >&2; }

step "release build"
cargo build -q --release -p krug-benches --bin krug-bench
cargo bench -q -p krug-benches --bench decision --no-run 2>/dev/null
BIN="$CARGO_TARGET_DIR/release/krug-bench"
SECONDS=0

STORES=(sqlite-full sqlite-normal postgres)
LOADS=(sqlite-full postgres)
if [[ "${BENCH_SKIP_PG:-0}" == 1 ]] || ! psql "$KRUG_BENCH_PG_URL" -Atqc 'select 1' >/dev/null 2>&1; then
    echo "PostgreSQL not reachable at $KRUG_BENCH_PG_URL (or BENCH_SKIP_PG=1): SQLite only" >&2
    STORES=(sqlite-full sqlite-normal)
    LOADS=(sqlite-full)
fi

step "criterion: in-memory decision"
cargo bench -q -p krug-benches --bench decision -- --noplot >"$OUT/criterion.txt" 2>&1

for s in "${STORES[@]}"; do
    step "SDK through the store: $s"
    "$BIN" store --store "$s" --members 1000 --secs 4 --tasks 1,8,32 --json "$ROWS" >/dev/null
done

for s in "${LOADS[@]}"; do
    step "HTTP load, in-process appliance: $s"
    "$BIN" load --fresh "$s" --members 3000 --virtual-steps --signin-concurrency 8 --concurrency 32 \
        --rate 200 --flat-out --duration 20 --json "$ROWS" >/dev/null
done

step "done"
"$BIN" report --criterion "$CARGO_TARGET_DIR/criterion" "$ROWS" | tee "$OUT/table.md"
echo "(results in $OUT; standard set took ${SECONDS}s)" >&2
