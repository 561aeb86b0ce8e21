#!/usr/bin/env bash
# `npm test`: everything CI checks, from a fresh clone. Ends with `tests: N passed, N failed`.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
bash scripts/servers.sh
echo "› build";     pnpm -s build --output-logs=errors-only
echo "› typecheck"; pnpm -s typecheck
echo "› lint";      pnpm -s lint
echo "› deadlines"; node scripts/check-deadlines.mjs
echo "› api docs"
log=$(mktemp); pnpm -s docs:api >"$log" 2>&1 || { cat "$log"; exit 1; }; rm -f "$log"
echo "› test"
# Two files at a time, then the NAT-lab and wall-clock-timed files one by one (vitest.config.ts).
P2PD_TEST_WORKERS="${P2PD_TEST_WORKERS:-2}" pnpm -s vitest run
