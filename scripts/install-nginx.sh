#!/usr/bin/env bash
# Installs nginx (Debian's nginx-light, or nginx) when it is missing: the gateway tests and
# `npm run gateway` put a real nginx with auth_request in front of a sample upstream.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx: $( (command -v nginx || echo /usr/sbin/nginx) ) present"; exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "nginx is missing and this user cannot install packages: apt-get install nginx-light" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 || $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
# The package may start a system nginx on port 80; the project runs its own instances.
$SUDO systemctl stop nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
echo "nginx: $(/usr/sbin/nginx -v 2>&1)"
