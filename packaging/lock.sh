#!/usr/bin/env bash
# Regenerate packaging/requirements.lock: every package of the build and test
# environment (the app's dependencies, the test extra, PyInstaller), pinned with the
# SHA-256 of every wheel for Windows, macOS and Linux (uv's universal resolution).
# Run after changing dependencies in pyproject.toml or packaging/requirements-build.in:
#
#   bash packaging/lock.sh            # needs uv (pip install uv)
#
# Every build script and the release workflow install from the lock with
# `pip install --require-hashes --no-deps -r packaging/requirements.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
"$UV" pip compile --universal --generate-hashes --python-version 3.11 --no-header \
  --extra test pyproject.toml packaging/requirements-build.in \
  --output-file packaging/requirements.lock "$@"
