#!/usr/bin/env bash
# Sets up (idempotently) and starts the API server on an embedded PostgreSQL unless DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="/usr/local/bin:$PATH"
echo "[start] starting the server (Ctrl+C stops it and its database)"
exec node apps/server/bin/start.mjs
