#!/usr/bin/env bash
# `npm run demo`: installs what it needs and runs the demo on embedded defaults (loopback only).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
exec pnpm exec tsx --conditions=@p2pd/source packages/cli/src/bin.ts demo "$@"
