#!/usr/bin/env bash
# Build the macOS app and disk image of 收银台 cashier:
#   venv from the lock file -> PyInstaller (Cashier.app) -> [codesign] -> minimum macOS check
#   -> smoke test -> [notarize + staple the app] -> .dmg of the stapled app -> [sign, notarize,
#   staple the dmg] -> SHA-256
#
#   bash packaging/macos/build.sh
#
# Needs macOS with Xcode command line tools and Python 3.11+ (python.org or Homebrew).
# Builds for the Python's own architecture (arm64 on Apple silicon, x86_64 on Intel);
# universal2 needs a universal2 Python and universal2 wheels of every dependency,
# so build once per architecture instead.
#
# Output (default <repo>/build/packaging, ignored by git; CASHIER_BUILD_DIR overrides):
#   venv/  dist/Cashier.app  dist/cashier/ (the onedir folder)  cashier-<version>-macos-<arch>.dmg
#
# Environment (all optional):
#   CASHIER_PYTHON           python for the venv (default: python3 on PATH; 3.11+)
#   CASHIER_SIGN_IDENTITY    "Developer ID Application: Name (TEAMID)": sign every binary and
#                            the app with hardened runtime + entitlements.plist, and the dmg
#   Notarization (needs CASHIER_SIGN_IDENTITY), one of:
#     CASHIER_NOTARY_PROFILE                 a profile saved by `xcrun notarytool store-credentials`
#     CASHIER_NOTARY_APPLE_ID, CASHIER_NOTARY_TEAM_ID, CASHIER_NOTARY_PASSWORD (app-specific password)
#     CASHIER_NOTARY_KEY (.p8 path), CASHIER_NOTARY_KEY_ID, CASHIER_NOTARY_ISSUER (App Store Connect API key)
#   CASHIER_BUNDLE_ID, CASHIER_MACOS_MIN, CASHIER_TARGET_ARCH: see packaging/cashier.spec
#   CASHIER_SKIP_SMOKE=1     do not start the built app
#   CASHIER_REQUIRE_SIGNED=1 fail unless signed and notarized (the release workflow sets it on tags)
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

# --- venv: exactly the lock file (hashes checked, nothing resolved) ----------------------
# cashier itself is not pip-installed: the spec analyses this checkout's cashier/ package.
if [[ ! -x "$VENV/bin/python" ]]; then
  PY="${CASHIER_PYTHON:-python3}"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "build.sh: needs Python 3.11+ ($PY)" >&2; exit 2; }
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --require-hashes --no-deps -r "$ROOT/packaging/requirements.lock"

VERSION="$("$VENV/bin/python" "$ROOT/packaging/versions.py" get version)"
ARCH="${CASHIER_TARGET_ARCH:-$("$VENV/bin/python" -c 'import platform; print(platform.machine())')}"
echo "cashier $VERSION for macOS $ARCH (CFBundleVersion $("$VENV/bin/python" "$ROOT/packaging/versions.py" get macos_bundle))"
if [[ "${CASHIER_REQUIRE_SIGNED:-}" == 1 && -z "$IDENTITY" ]]; then
  echo "build.sh: CASHIER_REQUIRE_SIGNED=1 but no CASHIER_SIGN_IDENTITY: refusing to build an unsigned release" >&2
  exit 1
fi

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

# --- minimum macOS: stated in Info.plist, and no binary may need a newer one ----------------
MIN_MACOS="$(/usr/libexec/PlistBuddy -c 'Print :LSMinimumSystemVersion' "$APP/Contents/Info.plist")"
newest="0"
while IFS= read -r -d '' file; do
  if file -b "$file" | grep -q Mach-O; then
    # LC_BUILD_VERSION (minos) or, in older binaries, LC_VERSION_MIN_MACOSX (version)
    v="$(otool -l "$file" | awk '/LC_BUILD_VERSION|LC_VERSION_MIN_MACOSX/{f=1} f&&/^ *(minos|version) /{print $2; f=0}' | sort -V | tail -1)"
    if [[ -n "$v" ]] && [[ "$(printf '%s\n%s\n' "$newest" "$v" | sort -V | tail -1)" == "$v" ]]; then
      newest="$v"; newest_file="$file"
    fi
  fi
done < <(find "$APP/Contents" -type f -print0)
echo "LSMinimumSystemVersion $MIN_MACOS; newest minimum of any binary: $newest (${newest_file:-})"
if [[ "$(printf '%s\n%s\n' "$MIN_MACOS" "$newest" | sort -V | tail -1)" != "$MIN_MACOS" ]]; then
  echo "build.sh: ${newest_file:-?} needs macOS $newest > LSMinimumSystemVersion $MIN_MACOS (set CASHIER_MACOS_MIN)" >&2
  exit 1
fi

# --- smoke test: the window starts in demo mode, the frozen CLI pays against the simulator ---
if [[ "${CASHIER_SKIP_SMOKE:-}" != 1 ]]; then
  "$VENV/bin/python" "$ROOT/packaging/smoke.py" "$APP/Contents/MacOS"
fi

# --- notarization credentials -----------------------------------------------------------
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
if (( ${#notary_args[@]} )) && [[ -z "$IDENTITY" ]]; then
  echo "notarization needs CASHIER_SIGN_IDENTITY (a Developer ID)" >&2; exit 1
fi
if [[ "${CASHIER_REQUIRE_SIGNED:-}" == 1 ]] && (( ${#notary_args[@]} == 0 )); then
  echo "build.sh: CASHIER_REQUIRE_SIGNED=1 but no notarization credentials" >&2; exit 1
fi

notarize() {  # notarize FILE: submit, wait, fail on anything but Accepted
  xcrun notarytool submit "$1" --wait "${notary_args[@]}"
}

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

# --- notarize and staple the app itself first: a copy dragged out of the dmg then carries
# its own ticket and opens offline ------------------------------------------------------------
if (( ${#notary_args[@]} )); then
  ditto -c -k --keepParent "$APP" "$STAGE/Cashier.zip"
  notarize "$STAGE/Cashier.zip"
  rm "$STAGE/Cashier.zip"
  xcrun stapler staple "$APP"
  xcrun stapler validate "$APP"
  spctl --assess --type execute --verbose=2 "$APP"
fi

# --- disk image of the stapled app ---------------------------------------------------------------
DMG_NAME="cashier-$VERSION-macos-$ARCH.dmg"
DMG="$BUILD/$DMG_NAME"
mkdir "$STAGE/root"
ditto "$APP" "$STAGE/root/Cashier.app"          # ditto keeps symlinks, xattrs, signatures, the ticket
ln -s /Applications "$STAGE/root/Applications"
rm -f "$DMG"
hdiutil create -volname "收银台 Cashier $VERSION" -srcfolder "$STAGE/root" -fs HFS+ -format UDZO -ov "$DMG"
if [[ -n "$IDENTITY" ]]; then
  codesign --sign "$IDENTITY" --timestamp "$DMG"
fi

# --- then notarize and staple the dmg ----------------------------------------------------------
if (( ${#notary_args[@]} )); then
  notarize "$DMG"
  xcrun stapler staple "$DMG"
  xcrun stapler validate "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
else
  echo "no notarization credentials: $DMG is not notarized (Gatekeeper warns on other Macs)"
fi

(cd "$BUILD" && shasum -a 256 "$DMG_NAME" > "$DMG_NAME.sha256")
echo "built $DMG ($(du -h "$DMG" | cut -f1))"
