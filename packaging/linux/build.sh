#!/usr/bin/env bash
# Build the Linux onedir folder of 收银台 cashier and a .tar.gz of it (no installer):
#   venv from the lock file -> PyInstaller (dist/cashier/{cashier,cashier-cli,_internal})
#   -> smoke test (packaging/smoke.py) -> tar.gz + SHA-256
#
#   bash packaging/linux/build.sh
#   CASHIER_BUILD_DIR=/tmp/cashier-build bash packaging/linux/build.sh
#
# Output (default <repo>/build/packaging, ignored by git; CASHIER_BUILD_DIR overrides):
#   venv/  dist/cashier/  cashier-<version>-linux-<arch>.tar.gz(.sha256)
#
# Build it on the oldest distribution it must run on: the folder needs a glibc at least
# as new as the build machine's (the release workflow builds in Ubuntu 22.04, glibc
# 2.35; PySide6 6.10+ wheels need 2.34, so nothing older can run it). The desktop
# libraries (X11/xcb, xkbcommon, fontconfig, freetype, glib, D-Bus, GL, libstdc++) are
# left out on purpose and come from the system, see the README's list of packages; the
# spec says which.
#
# Environment (optional): CASHIER_PYTHON (python for the venv, 3.11+),
# CASHIER_SKIP_SMOKE=1, SOURCE_DATE_EPOCH (tarball timestamps; default: the last commit's).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CASHIER_BUILD_DIR:-$ROOT/build/packaging}"
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"
VENV="$BUILD/venv"
DIST="$BUILD/dist"
APPDIR="$DIST/cashier"

# The build venv holds exactly the lock file (hashes checked, nothing resolved); cashier
# itself is not installed: the spec analyses this checkout's cashier/ package.
if [[ ! -x "$VENV/bin/python" ]]; then
  PY="${CASHIER_PYTHON:-python3}"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "build.sh: needs Python 3.11+ ($PY)" >&2; exit 2; }
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --require-hashes --no-deps -r "$ROOT/packaging/requirements.lock"

VERSION="$("$VENV/bin/python" "$ROOT/packaging/versions.py" get version)"
ARCH="$(uname -m)"
echo "cashier $VERSION for Linux $ARCH (glibc $(ldd --version | head -1 | awk '{print $NF}'))"

"$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$BUILD/work" "$ROOT/packaging/cashier.spec"

if [[ "${CASHIER_SKIP_SMOKE:-}" != 1 ]]; then
  "$VENV/bin/python" "$ROOT/packaging/smoke.py" "$APPDIR"
fi

# Reproducible tarball: sorted names, fixed owner and timestamps.
EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}"
TARBALL="cashier-$VERSION-linux-$ARCH.tar.gz"
tar -C "$DIST" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -cf - cashier \
  | gzip -n > "$BUILD/$TARBALL"
(cd "$BUILD" && sha256sum "$TARBALL" > "$TARBALL.sha256")
echo "built $APPDIR ($(du -sh "$APPDIR" | cut -f1)) and $BUILD/$TARBALL ($(du -h "$BUILD/$TARBALL" | cut -f1))"
