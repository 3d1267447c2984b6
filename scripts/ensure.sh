#!/usr/bin/env bash
# What `npm test` needs besides build.sh's toolchain, installed when missing, so a fresh
# clone needs only `npm test`: the npm devDependencies (playwright-core, npm ci) and
# Chromium for the browser tests (apt-get as root on Debian/Ubuntu; otherwise it says
# what to install and stops). POCKETLM_CHROMIUM may name another Chromium/Chrome binary.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 1>&2

if [ ! -f node_modules/playwright-core/package.json ]; then
  echo "ensure.sh: installing the npm devDependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

chromium="${POCKETLM_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && grep -qiE 'debian|ubuntu' /etc/os-release 2>/dev/null; then
    echo "ensure.sh: installing chromium (the browser tests drive it)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  else
    echo "ensure.sh: the browser tests need Chromium at $chromium. Install it, then run npm test again:"
    echo "  Debian/Ubuntu: sudo apt-get install -y chromium"
    echo "  elsewhere:     set POCKETLM_CHROMIUM=/path/to/chromium (or Chrome)"
    exit 1
  fi
fi
