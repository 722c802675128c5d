#!/usr/bin/env bash
# Stops the throwaway PostgreSQL that pg-up.sh started and removes its directory. Quiet when none is running.
set -uo pipefail
PGROOT="${CI_PG_DIR:-${TMPDIR:-/tmp}/oc-ci-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -n "$BIN" ] && [ -s "$PGROOT/data/PG_VERSION" ] || exit 0
AS=(); if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); fi
if "${AS[@]}" "$BIN/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
  "${AS[@]}" "$BIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null 2>&1
fi
rm -rf "$PGROOT"
