#!/usr/bin/env bash
# `npm test`: installs the real services the suite needs when they are missing (Debian packages,
# as root), type-checks, lints, checks formatting and the walls, then runs the three vitest tiers
# (unit, integration, e2e). The suite starts Redis, Mosquitto and
# Graphite itself on free loopback ports with temporary data, and stops them, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto mosquitto-clients)
[ -x /usr/bin/carbon-cache ] || need+=(graphite-carbon)
[ -x /usr/bin/graphite-manage ] || need+=(graphite-web)
[ -x /usr/bin/chromium ] || need+=(chromium)
lean=()
command -v docker-compose >/dev/null || lean+=(docker-compose)
if [ $(( ${#need[@]} + ${#lean[@]} )) -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing ${need[*]} ${lean[*]}: install them (Debian: apt-get install ${need[*]} ${lean[*]}) or run this as root" >&2
    exit 1
  fi
  echo "== installing ${need[*]} ${lean[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
  # docker-compose only validates the compose file here: without the engine it would pull in.
  [ ${#lean[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
fi

echo "== type check"
npx tsc --noEmit -p .
echo "== lint, format, walls"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --list-different . >&2; echo "not formatted: run \`npm run format\`" >&2; exit 1; }
npm run -s walls
echo "== tests"
npx vitest run "$@"
