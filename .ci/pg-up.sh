#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite: Debian's `postgresql` package (installed only when no pg_ctl exists),
# a fresh cluster in a temp directory (initdb + pg_ctl, no systemd, never the distribution's own cluster),
# 127.0.0.1 only, trust auth (CI only), socket beside the data directory. Idempotent. Prints the URL on stdout.
set -euo pipefail
PGPORT="${CI_PG_PORT:-54329}"
PGROOT="${CI_PG_DIR:-${TMPDIR:-/tmp}/oc-ci-pg}"
PGDATA="$PGROOT/data"
export DEBIAN_FRONTEND=noninteractive
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q --no-install-recommends postgresql >&2
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
# initdb and postgres refuse to run as root: as root, run them as the package's `postgres` user.
AS=(); if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); fi
mkdir -p "$PGROOT"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGROOT"; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "${AS[@]}" "$BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if "${AS[@]}" "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  PGPORT="$(cat "$PGROOT/port")"
else
  # Another cluster (a second CI run on this machine) may hold the port: take the next free one.
  for _ in $(seq 1 20); do port_busy "$PGPORT" || break; PGPORT=$((PGPORT + 1)); done
  echo "$PGPORT" >"$PGROOT/port"
  # max_connections: the claims test opens 4 processes x 4 connections plus the suite's own pools.
  "${AS[@]}" "$BIN/pg_ctl" -D "$PGDATA" -l "$PGROOT/server.log" -w -t 30 \
    -o "-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
fi
"$BIN/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q
echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
