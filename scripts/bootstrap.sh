#!/usr/bin/env bash
# Everything a fresh Debian/Ubuntu machine needs before `npm run deploy` or `npm test`:
# PostgreSQL 15 (server + client tools), Redis, and the npm dependencies of every workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
command -v pg_dump >/dev/null 2>&1 || need_apt+=(postgresql-client-15)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The local services issue their TLS certificates with openssl.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing system packages: ${need_apt[*]} (install PostgreSQL 15 and Redis 7 with your package manager)" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "npm dependencies up to date"
else
  npm ci --no-audit --no-fund
fi
npm run generate -w api --silent
