#!/usr/bin/env bash
# The one command that runs every test: install (frozen lockfile), build and type-check, jest, and a
# plain "N passed, N failed" closing line taken from jest's JSON result.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM="npx -y pnpm@12.4.2"
$PNPM install --frozen-lockfile
$PNPM run typecheck
status=0
$PNPM test --json --outputFile=.jest.json || status=$?
node -e 'const r=require("./.jest.json");console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)'
exit $status
