"""The package version, and what Windows and macOS make of it.

[project].version in pyproject.toml is the one place the version is written. The app
reads it back through importlib.metadata; this script derives the numbers the
installers need and checks a release tag against it:

    python packaging/versions.py show            # JSON: version, windows, macos_short, macos_bundle
    python packaging/versions.py get windows     # one field, e.g. 0.2.0.30199
    python packaging/versions.py check-tag v0.2.0rc1

Windows file and product versions are four numbers of 0..65535 compared left to right;
macOS' CFBundleVersion is one to three period-separated integers, compared the same
way. A PEP 440 version (X.Y.Z with optional aN/bN/rcN, .postN, .devN) is mapped so
that the order is kept:

    X.Y.Z.devN < X.Y.ZaN < X.Y.ZbN < X.Y.ZrcN < X.Y.Z < X.Y.Z.postN < X.Y.(Z+1)...

by a fourth number, the "build":

    X.Y.Z.devN          N                       (N <= 9999)
    X.Y.Z{a,b,rc}N      10000/20000/30000 + 100*N + 99     (N <= 99)
      ... .devM         same, + M instead of 99              (M <= 98)
    X.Y.Z               40000
    X.Y.Z.postN         40000 + 100*N + 99                    (1 <= N <= 254)
      ... .devM         same, + M instead of 99              (M <= 98)

Windows: X.Y.Z.build (so 0.2.0rc1 -> 0.2.0.30199 < 0.2.0 -> 0.2.0.40000, and
1.0.post1 -> 1.0.0.40199 stays below 1.0.1 -> 1.0.1.40000).
macOS: CFBundleShortVersionString X.Y.Z (what people see), CFBundleVersion
X.Y.(Z*100000 + build) (three integers, same order).
A version outside these ranges (an epoch, a local "+" part, four release numbers,
a number above the caps) is refused rather than mapped to something that sorts wrong.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

try:
    from packaging.version import InvalidVersion, Version
except ImportError:  # a bare Python (the release workflow's first job): pip's own copy
    from pip._vendor.packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent

STAGE_BASE = {"a": 10000, "b": 20000, "rc": 30000}
FINAL = 40000
MAX_FIELD = 65535


class VersionError(ValueError):
    pass


def project_version(root: Path = ROOT) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["version"]


def parse(text: str) -> Version:
    try:
        version = Version(text)
    except InvalidVersion:
        raise VersionError(f"not a PEP 440 version: {text!r}") from None
    if version.epoch or version.local:
        raise VersionError(f"{text}: epochs and local versions are not released")
    if len(version.release) > 3:
        raise VersionError(f"{text}: at most three release numbers (X.Y.Z)")
    return version


def build_number(version: Version) -> int:
    """The fourth number (see the module docstring)."""
    dev = version.dev
    if version.pre is not None:
        stage, n = version.pre
        if version.post is not None:
            raise VersionError(f"{version}: a pre-release with a post-release is not mapped")
        if n > 99:
            raise VersionError(f"{version}: pre-release number above 99")
        return STAGE_BASE[stage] + 100 * n + _dev_slot(version, dev)
    if version.post is not None:
        if not 1 <= version.post <= 254:
            raise VersionError(f"{version}: post-release number must be 1..254")
        return FINAL + 100 * version.post + _dev_slot(version, dev)
    if dev is not None:
        if dev > 9999:
            raise VersionError(f"{version}: dev number above 9999")
        return dev
    return FINAL


def _dev_slot(version: Version, dev: int | None) -> int:
    if dev is None:
        return 99
    if dev > 98:
        raise VersionError(f"{version}: dev number above 98 after a pre/post-release")
    return dev


def release_numbers(version: Version) -> tuple[int, int, int]:
    numbers = tuple(version.release) + (0,) * (3 - len(version.release))
    if any(n > MAX_FIELD for n in numbers):
        raise VersionError(f"{version}: a release number above {MAX_FIELD}")
    return numbers  # type: ignore[return-value]


def windows_version(text: str) -> tuple[int, int, int, int]:
    """Four numbers for the Windows version resource and Inno Setup's VersionInfoVersion."""
    version = parse(text)
    return (*release_numbers(version), build_number(version))


def macos_versions(text: str) -> tuple[str, str]:
    """(CFBundleShortVersionString, CFBundleVersion)."""
    version = parse(text)
    major, minor, patch = release_numbers(version)
    if patch > 9999:
        raise VersionError(f"{text}: patch number above 9999")
    return f"{major}.{minor}.{patch}", f"{major}.{minor}.{patch * 100000 + build_number(version)}"


def check_tag(tag: str, version: str) -> None:
    """A release tag is v<version>, spelled exactly as in pyproject.toml (normalised)."""
    parse(version)
    if str(Version(version)) != version:
        raise VersionError(f"pyproject.toml version {version!r} is not in normal form ({Version(version)})")
    name = tag.removeprefix("refs/tags/")
    if name != f"v{version}":
        raise VersionError(f"tag {name!r} does not equal the package version: expected 'v{version}'")


def describe(text: str) -> dict[str, str]:
    short, bundle = macos_versions(text)
    return {"version": text, "windows": ".".join(map(str, windows_version(text))),
            "macos_short": short, "macos_bundle": bundle}


def main(argv: list[str]) -> int:
    version = project_version()
    try:
        if argv[:1] == ["show"]:
            print(json.dumps(describe(version)))
        elif argv[:1] == ["get"] and len(argv) == 2 and argv[1] in describe(version):
            print(describe(version)[argv[1]])
        elif argv[:1] == ["check-tag"] and len(argv) == 2:
            check_tag(argv[1], version)
            print(f"tag {argv[1]} = version {version}")
        else:
            print(__doc__.split("\n\n")[1], file=sys.stderr)
            return 2
    except VersionError as exc:
        print(f"versions.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
