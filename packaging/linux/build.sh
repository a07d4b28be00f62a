#!/usr/bin/env bash
# Build the Linux onedir folder of 收银台 cashier and a .tar.gz of it (no installer):
#   venv -> PyInstaller (dist/cashier/{cashier,cashier-cli,_internal}) -> smoke test -> tar.gz
#
#   bash packaging/linux/build.sh
#   CASHIER_BUILD_DIR=/tmp/cashier-build bash packaging/linux/build.sh
#
# Output (default <repo>/build/packaging, ignored by git; CASHIER_BUILD_DIR overrides):
#   venv/  dist/cashier/  cashier-<version>-linux-<arch>.tar.gz
# The folder runs on distributions with a glibc at least as new as the build machine's.
#
# Environment (optional): CASHIER_PYTHON (python for the venv), CASHIER_SKIP_SMOKE=1.
#
# Data: ~/.local/share/cashier (ledger), ~/.config/cashier (profiles, settings),
# ~/.local/state/cashier/log (platformdirs; CASHIER_HOME overrides). Merchant keys need
# a Secret Service (GNOME Keyring, KWallet): without one the app says so and stores none.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CASHIER_BUILD_DIR:-$ROOT/build/packaging}"
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"
VENV="$BUILD/venv"
DIST="$BUILD/dist"
APPDIR="$DIST/cashier"

# cashier itself is not pip-installed: the spec analyses this checkout's cashier/ package.
if [[ ! -x "$VENV/bin/python" ]]; then
  PY="${CASHIER_PYTHON:-$(command -v python3.11 || command -v python3)}"
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" - "$ROOT/pyproject.toml" "$BUILD/requirements-app.txt" <<'PY'
import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
open(sys.argv[2], "w").write("\n".join(deps) + "\n")
PY
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$BUILD/requirements-app.txt" -r "$ROOT/packaging/requirements-build.txt"

VERSION="$("$VENV/bin/python" -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$ROOT/pyproject.toml")"
ARCH="$(uname -m)"

"$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$BUILD/work" "$ROOT/packaging/cashier.spec"

if [[ "${CASHIER_SKIP_SMOKE:-}" != 1 ]]; then
  SMOKE_HOME="$(mktemp -d)"
  trap 'rm -rf "$SMOKE_HOME"' EXIT
  CASHIER_HOME="$SMOKE_HOME" "$APPDIR/cashier-cli" --help >/dev/null
  CASHIER_HOME="$SMOKE_HOME" QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" \
    "$APPDIR/cashier" --demo --exit-when-ready --print-timings
  echo "smoke test passed"
fi

TARBALL="$BUILD/cashier-$VERSION-linux-$ARCH.tar.gz"
tar -C "$DIST" -czf "$TARBALL" cashier
echo "built $APPDIR ($(du -sh "$APPDIR" | cut -f1)) and $TARBALL ($(du -h "$TARBALL" | cut -f1))"
