#!/usr/bin/env bash
# Checks the SDK as it would be published: builds it, lints the package (publint), packs it the way
# it is published (pnpm pack, which writes real versions for catalog: and workspace: ranges) and
# checks the tarball's types resolve for ESM consumers (attw).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
pnpm run --silent build >/dev/null
pnpm exec publint --strict
pnpm pack --pack-destination "$out" >/dev/null
pnpm exec attw "$out"/*.tgz --profile esm-only --format table-flipped
