#!/usr/bin/env bash
# Installs the Postgres server (Debian's `postgresql`) when its binaries are missing: the test
# setup (test/helpers/postgres.ts) runs a throwaway cluster of its own from
# /usr/lib/postgresql/<version>/bin, as the `postgres` OS user the package creates (the server
# refuses to run as root). Idempotent: nothing happens when initdb and postgres are present.
set -euo pipefail
have_server() {
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && { echo "$dir"; return 0; }
  done
  return 1
}

if bin="$(have_server)"; then
  echo "postgres: $("$bin/postgres" --version) in $bin, present"; exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "the Postgres server is missing and this user cannot install packages: apt-get install postgresql" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# waits for another apt run's lock (a fresh machine's own, seen once) rather than failing at once
apt_get() { $SUDO apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends postgresql >/dev/null
# The package creates and may start a system cluster on port 5432; the project runs its own
# clusters (tests) or is pointed at an operator's server by DATABASE_URL, so that one is stopped.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for version_dir in /etc/postgresql/*/; do
    [ -d "$version_dir" ] || continue
    version="$(basename "$version_dir")"
    for cluster_dir in "$version_dir"*/; do
      [ -d "$cluster_dir" ] || continue
      $SUDO pg_ctlcluster "$version" "$(basename "$cluster_dir")" stop >/dev/null 2>&1 || true
    done
  done
fi
$SUDO systemctl stop postgresql >/dev/null 2>&1 || $SUDO service postgresql stop >/dev/null 2>&1 || true
bin="$(have_server)" || { echo "postgresql installed, but no initdb/postgres under /usr/lib/postgresql/*/bin" >&2; exit 1; }
echo "postgres: $("$bin/postgres" --version) in $bin"
