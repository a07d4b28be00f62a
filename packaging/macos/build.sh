#!/usr/bin/env bash
# Build the macOS app and disk image of 收银台 cashier:
#   venv -> PyInstaller (Cashier.app) -> [codesign] -> smoke test -> .dmg -> [notarize, staple]
#
#   bash packaging/macos/build.sh
#
# Needs macOS with Xcode command line tools and Python 3.11+ (python.org or Homebrew).
# Builds for the Python's own architecture (arm64 on Apple silicon, x86_64 on Intel);
# universal2 needs a universal2 Python and universal2 wheels of every dependency
# (check Pillow's), so build once per architecture instead.
#
# Output (default <repo>/build/packaging, ignored by git; CASHIER_BUILD_DIR overrides):
#   venv/  dist/Cashier.app  dist/cashier/ (the onedir folder)  cashier-<version>-macos-<arch>.dmg
#
# Environment (all optional):
#   CASHIER_PYTHON           python for the venv (default python3.11, else python3)
#   CASHIER_SIGN_IDENTITY    "Developer ID Application: Name (TEAMID)": sign every binary and
#                            the app with hardened runtime + entitlements.plist, and the dmg
#   Notarization (needs CASHIER_SIGN_IDENTITY), one of:
#     CASHIER_NOTARY_PROFILE                 a profile saved by `xcrun notarytool store-credentials`
#     CASHIER_NOTARY_APPLE_ID, CASHIER_NOTARY_TEAM_ID, CASHIER_NOTARY_PASSWORD (app-specific password)
#     CASHIER_NOTARY_KEY (.p8 path), CASHIER_NOTARY_KEY_ID, CASHIER_NOTARY_ISSUER (App Store Connect API key)
#   CASHIER_BUNDLE_ID, CASHIER_MACOS_MIN, CASHIER_TARGET_ARCH: see packaging/cashier.spec
#   CASHIER_SKIP_SMOKE=1     do not start the built app
#
# The app keeps no data in its bundle: ledger, profiles, settings in
# ~/Library/Application Support/cashier, logs in ~/Library/Logs/cashier (platformdirs;
# CASHIER_HOME overrides), merchant keys in the login Keychain (service "cashier").
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CASHIER_BUILD_DIR:-$ROOT/build/packaging}"
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"
VENV="$BUILD/venv"
DIST="$BUILD/dist"
APP="$DIST/Cashier.app"
IDENTITY="${CASHIER_SIGN_IDENTITY:-}"

[[ "$(uname -s)" == Darwin ]] || { echo "build.sh: macOS only (see packaging/linux/build.sh)" >&2; exit 2; }

# --- venv: the app's dependencies (from pyproject.toml) and PyInstaller -----------------
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
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install -r "$BUILD/requirements-app.txt" -r "$ROOT/packaging/requirements-build.txt"

VERSION="$("$VENV/bin/python" -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$ROOT/pyproject.toml")"
ARCH="${CASHIER_TARGET_ARCH:-$("$VENV/bin/python" -c 'import platform; print(platform.machine())')}"
echo "cashier $VERSION for macOS $ARCH"

# --- PyInstaller: Cashier.app (signed by PyInstaller itself when an identity is set) ----
# With CASHIER_SIGN_IDENTITY the spec passes codesign_identity + entitlements.plist:
# every Mach-O file is signed with --options=runtime --timestamp, then the bundle.
rm -rf "$APP"
"$VENV/bin/python" -m PyInstaller --noconfirm --clean \
  --distpath "$DIST" --workpath "$BUILD/work" "$ROOT/packaging/cashier.spec"

if [[ -n "$IDENTITY" ]]; then
  codesign --verify --deep --strict --verbose=2 "$APP"
  codesign --display --verbose=2 "$APP" 2>&1 | grep -E "Authority|TeamIdentifier|flags" || true
else
  echo "CASHIER_SIGN_IDENTITY not set: ad-hoc signed, for this Mac only (Gatekeeper will refuse it elsewhere)"
fi

# --- smoke test: both executables start, in a throwaway CASHIER_HOME --------------------
if [[ "${CASHIER_SKIP_SMOKE:-}" != 1 ]]; then
  SMOKE_HOME="$(mktemp -d)"
  CASHIER_HOME="$SMOKE_HOME" "$APP/Contents/MacOS/cashier-cli" --help >/dev/null
  start=$(date +%s)
  CASHIER_HOME="$SMOKE_HOME" "$APP/Contents/MacOS/cashier" --demo --exit-when-ready --print-timings
  echo "cashier --demo ready after $(( $(date +%s) - start )) s (wall, whole seconds)"
  rm -rf "$SMOKE_HOME"
fi

# --- disk image ---------------------------------------------------------------------------
DMG="$BUILD/cashier-$VERSION-macos-$ARCH.dmg"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
ditto "$APP" "$STAGE/Cashier.app"          # ditto keeps symlinks, xattrs and signatures
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "收银台 Cashier $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
if [[ -n "$IDENTITY" ]]; then
  codesign --sign "$IDENTITY" --timestamp "$DMG"
fi

# --- notarize and staple --------------------------------------------------------------------
notary_args=()
if [[ -n "${CASHIER_NOTARY_PROFILE:-}" ]]; then
  notary_args=(--keychain-profile "$CASHIER_NOTARY_PROFILE")
elif [[ -n "${CASHIER_NOTARY_APPLE_ID:-}" ]]; then
  notary_args=(--apple-id "$CASHIER_NOTARY_APPLE_ID" --team-id "${CASHIER_NOTARY_TEAM_ID:?set CASHIER_NOTARY_TEAM_ID}"
               --password "${CASHIER_NOTARY_PASSWORD:?set CASHIER_NOTARY_PASSWORD}")
elif [[ -n "${CASHIER_NOTARY_KEY:-}" ]]; then
  notary_args=(--key "$CASHIER_NOTARY_KEY" --key-id "${CASHIER_NOTARY_KEY_ID:?set CASHIER_NOTARY_KEY_ID}"
               --issuer "${CASHIER_NOTARY_ISSUER:?set CASHIER_NOTARY_ISSUER}")
fi
if (( ${#notary_args[@]} )); then
  [[ -n "$IDENTITY" ]] || { echo "notarization needs CASHIER_SIGN_IDENTITY (a Developer ID)" >&2; exit 1; }
  # The dmg is submitted whole: Apple notarizes the app inside it as well.
  xcrun notarytool submit "$DMG" --wait "${notary_args[@]}"
  xcrun stapler staple "$DMG"
  xcrun stapler validate "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
else
  echo "no notarization credentials: $DMG is not notarized (Gatekeeper warns on other Macs)"
fi

echo "built $DMG ($(du -h "$DMG" | cut -f1))"
