#!/usr/bin/env bash
# Sets up (idempotently, Chromium included) and runs every test on a real PostgreSQL that the run
# starts itself (or TEST_DATABASE_URL). Installs Debian's pgbouncer too, for the pooler tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser --pgbouncer
export PATH="/usr/local/bin:$PATH" TURBO_TELEMETRY_DISABLED=1
echo "[test] running the test suite"
exec pnpm exec vitest run "$@"
