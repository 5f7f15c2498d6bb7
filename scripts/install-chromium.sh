#!/usr/bin/env bash
# Installs a headless Chromium for the portal's browser tests (issue #15) when it is missing:
# Debian's `chromium` package. The tests drive it with playwright-core pointed at the system binary
# (CHROMIUM_PATH, or the first of /usr/bin/chromium, /usr/bin/chromium-browser), so no browser is
# downloaded from the internet. Idempotent.
set -euo pipefail
find_chromium() {
  for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  return 1
}
if path=$(find_chromium); then
  echo "chromium: $path present ($("$path" --version 2>/dev/null || echo 'version unknown'))"; exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "chromium is missing and this user cannot install packages: apt-get install chromium" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# waits for another apt run's lock (a fresh machine's own, seen once) rather than failing at once
apt_get() { $SUDO apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
# fonts-liberation: pages render with real metrics in screenshots
apt_get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
path=$(find_chromium) || { echo "chromium did not install" >&2; exit 1; }
echo "chromium: $path installed ($("$path" --version 2>/dev/null || echo 'version unknown'))"
