#!/usr/bin/env bash
# Installs what Boxoffice needs, idempotently: Node 24 (when the machine's Node is older than 22.17),
# pnpm at the version pinned in package.json, and the workspace's packages. A second run skips
# whatever is already in place. Pass --browser to also install Chromium for the browser tests, and
# --pgbouncer to install Debian's pgbouncer for the stress run's pass behind a pooler.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
export PATH="/usr/local/bin:$PATH"

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=17)?0:1)'
}

if node_ok; then
  say "Node $(node --version) is recent enough"
else
  say "installing Node 24 from the npm registry (found $(node --version 2>/dev/null || echo none))"
  npm install -g node@24 --prefix /usr/local --no-fund --no-audit --loglevel=error
  hash -r
  node_ok || { echo "Node 24 install failed; install Node >= 22.17 yourself" >&2; exit 1; }
  say "Node $(node --version) installed"
fi

PNPM_VERSION="$(node -p 'require("./package.json").packageManager.split("@")[1]')"
if [ "$(pnpm --version 2>/dev/null || true)" = "$PNPM_VERSION" ]; then
  say "pnpm $PNPM_VERSION present"
else
  say "installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" --prefix /usr/local --no-fund --no-audit --loglevel=error
  hash -r
fi

# pnpm 11 cannot run on an older Node (it fails with "No such built-in module: node:sqlite"). When
# an older Node comes first on someone's PATH, pnpm still runs on the Node installed above.
if [ -x /usr/local/lib/node_modules/pnpm/bin/pnpm.cjs ] && [ -L /usr/local/bin/pnpm ] \
   && [ "$(PATH="/usr/bin:/bin:$PATH" node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 22 ]; then
  rm -f /usr/local/bin/pnpm
  printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/pnpm/bin/pnpm.cjs "$@"\n' >/usr/local/bin/pnpm
  chmod +x /usr/local/bin/pnpm
fi

say "installing workspace packages (frozen lockfile)"
pnpm install --frozen-lockfile --reporter=append-only | grep -vE '^Progress' || true
test -d node_modules/.pnpm || { echo "pnpm install failed" >&2; exit 1; }

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
for flag in "$@"; do
  case "$flag" in
    --browser)
      if command -v chromium >/dev/null 2>&1; then
        say "Chromium present: $(chromium --version 2>/dev/null | head -1)"
      else
        say "installing Debian's Chromium for the browser tests"
        apt_install chromium
      fi
      ;;
    --pgbouncer)
      # Debian puts it in /usr/sbin, which is not on every user's PATH
      if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then
        say "pgbouncer present: $("$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" --version 2>&1 | head -1)"
      else
        say "installing Debian's pgbouncer for the stress run behind a pooler"
        apt_install pgbouncer
        # the package starts a system-wide pgbouncer on port 6432; the stress run starts its own
        $SUDO systemctl disable --now pgbouncer >/dev/null 2>&1 || $SUDO service pgbouncer stop >/dev/null 2>&1 || true
      fi
      ;;
  esac
done
say "done"
