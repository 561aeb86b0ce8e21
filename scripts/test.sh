#!/usr/bin/env bash
# `npm test`: everything CI checks, from a fresh clone. Ends with `tests: N passed, N failed`.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
bash scripts/servers.sh
echo "› build";     pnpm -s build --output-logs=errors-only
# The typecheck and the API docs are two single-threaded compilers of the sources (neither
# reads dist): side by side they take the time of the slower one on two cores.
tc_log=$(mktemp); docs_log=$(mktemp)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -f "$tc_log" "$docs_log"' EXIT
pnpm -s typecheck >"$tc_log" 2>&1 & tc_pid=$!
pnpm -s docs:api >"$docs_log" 2>&1 & docs_pid=$!
echo "› typecheck"; wait "$tc_pid" || { cat "$tc_log"; exit 1; }; cat "$tc_log"
echo "› lint";      pnpm -s lint
echo "› deadlines"; node scripts/check-deadlines.mjs
echo "› api docs";  wait "$docs_pid" || { cat "$docs_log"; exit 1; }
echo "› test"
# Two files at a time, then the NAT-lab and wall-clock-timed files one by one (vitest.config.ts).
P2PD_TEST_WORKERS="${P2PD_TEST_WORKERS:-2}" pnpm -s vitest run
