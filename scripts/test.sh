#!/usr/bin/env bash
# `npm test`: type-checks, then runs the whole vitest suite (unit and end-to-end through the router).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== type check"
npx tsc --noEmit -p .
echo "== tests"
npx vitest run "$@"
