#!/usr/bin/env bash
# Installs schemathesis (PyPI) into a project-local virtualenv, .tools/venv, for `npm run fuzz`.
set -euo pipefail
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/venv"
if [ -x "$venv/bin/st" ] && "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "schemathesis: $venv/bin/st ($("$venv/bin/st" --version))"; exit 0
fi
python3 -m venv "$venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
echo "schemathesis: $venv/bin/st ($("$venv/bin/st" --version))"
