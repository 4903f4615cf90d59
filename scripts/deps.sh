#!/usr/bin/env bash
# Installs what jitgate needs to build, test, demo and benchmark on Debian 12.
# Idempotent: runs `apt-get update` and `apt-get install` only when a package is missing,
# and `npm ci` only when node_modules does not match package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libssl-dev libyaml-cpp-dev libpg-query-dev
  libvectorscan-dev libsqlite3-dev libpq-dev libspdlog-dev libfmt-dev libcli11-dev libzstd-dev
  zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 pgbouncer nginx haproxy wrk
  python3-psycopg python3-pytest python3-pytest-xdist python3-requests python3-httpx curl zstd
  # the client-driver matrix (tests/e2e/test_driver_matrix.py)
  openjdk-17-jdk-headless libpostgresql-jdbc-java python3-asyncpg
  unixodbc odbc-postgresql python3-pyodbc libdbd-pg-perl
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -L node_modules ]; then
  # A worktree that links another checkout's node_modules: `npm ci` would empty the target.
  echo "deps: node_modules links to $(readlink node_modules); run scripts/deps.sh there"
elif [ -f package-lock.json ]; then
  if ! command -v npm >/dev/null; then
    echo "deps: npm is required (Node.js 20) for the test peers (OIDC provider, HTTP upstreams)" >&2
    exit 1
  fi
  stamp=node_modules/.jitgate-lock
  if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  fi
fi
echo "deps: ok"
