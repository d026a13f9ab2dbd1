#!/usr/bin/env bash
# What the test suite needs beyond the runtime (deploy/install-runtime.sh): Node.js and the pinned
# official client SDKs the compatibility tests drive (E2B, MCP), installed with `npm ci` from the
# committed lockfiles. Idempotent; run as root on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "Node.js $(node --version) is too old for the E2B SDK: 18 or later is needed" >&2
  exit 1
fi

for dir in compat/*/; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
