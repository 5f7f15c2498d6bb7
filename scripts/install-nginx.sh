#!/usr/bin/env bash
# Installs what the gateway needs when it is missing: nginx (Debian's nginx-light, or nginx), and
# for the edge mode (issue #14) Debian's Lua module for nginx (libnginx-mod-http-lua, which pulls
# in the NDK module and LuaJIT) with lua-cjson. Idempotent: each part is installed only when absent,
# so a machine with nginx but without the Lua module gets just the module.
#
# Debian installs the module as /usr/lib/nginx/modules/ngx_http_lua_module.so (plus
# ndk_http_module.so, which it needs loaded first) and enables it for the system nginx through
# /usr/share/nginx/modules-available/mod-http-{ndk,lua}.conf → /etc/nginx/modules-enabled. Our
# nginx runs with its own -c config and prefix, so runtime/gateway.ts writes both load_module
# lines into the generated configuration itself.
set -euo pipefail
MODULES=/usr/lib/nginx/modules
have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
have_lua_module() { [ -f "$MODULES/ngx_http_lua_module.so" ] && [ -f "$MODULES/ndk_http_module.so" ]; }
# lua-cjson for LuaJIT: Debian puts cjson.so under the 5.1 C path LuaJIT searches.
have_cjson() { ls /usr/lib/*/lua/5.1/cjson.so >/dev/null 2>&1 || [ -f /usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so ]; }

missing=()
have_nginx || missing+=(nginx)
have_lua_module || missing+=(libnginx-mod-http-lua)
have_cjson || missing+=(lua-cjson)
if [ ${#missing[@]} -eq 0 ]; then
  echo "nginx: $( (command -v nginx || echo /usr/sbin/nginx) ) present, with the Lua module and lua-cjson"; exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "missing: ${missing[*]}; this user cannot install packages: apt-get install nginx-light libnginx-mod-http-lua lua-cjson" >&2; exit 1
fi
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# waits for another apt run's lock (a fresh machine's own, seen once) rather than failing at once
apt_get() { $SUDO apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt_get update -qq
if ! have_nginx; then
  apt_get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 || apt_get install -y -qq --no-install-recommends nginx >/dev/null
fi
# Without the Lua module the gateway still works in its auth_request mode: a failure here is reported, not fatal.
extras=()
have_lua_module || extras+=(libnginx-mod-http-lua)
have_cjson || extras+=(lua-cjson)
if [ ${#extras[@]} -gt 0 ]; then
  apt_get install -y -qq --no-install-recommends "${extras[@]}" >/dev/null ||
    echo "could not install ${extras[*]}: the gateway falls back to GATEWAY_MODE=auth_request" >&2
fi
# A package may start a system nginx on port 80; the project runs its own instances.
$SUDO systemctl stop nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
echo "nginx: $(/usr/sbin/nginx -v 2>&1); lua module: $(have_lua_module && echo present || echo absent); lua-cjson: $(have_cjson && echo present || echo absent)"
