"""What a built Linux folder takes from the system, and whether it bundles what it must not.

    python3 packaging/linux/check_libs.py DIST/cashier [--max-glibc 2.31] [--json]

Reads every ELF file with `objdump` (binutils): the libraries each one needs that the
folder does not hold (they must come from the system: the README lists the packages),
and the newest GLIBC symbol version any of them asks for (the oldest glibc the folder
runs on). Fails when the folder bundles a desktop library that must come from the
system (X11/xcb, xkbcommon, fontconfig, freetype, glib, D-Bus, GL, GTK, libstdc++;
a copy from the build machine breaks on other systems) or needs a newer glibc than
--max-glibc.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

# Bundled copies of these break elsewhere (they are tied to the build machine's glibc,
# graphics stack or display server); packaging/cashier.spec leaves them out.
SYSTEM_ONLY = re.compile(
    r"^lib(X11|X11-xcb|Xau|Xdmcp|Xext|Xrender|Xi|xcb[-\w]*|xkbcommon[-\w]*|fontconfig|freetype|"
    r"glib-2\.0|gobject-2\.0|gio-2\.0|gmodule-2\.0|gthread-2\.0|dbus-1|GL|GLX|EGL|OpenGL|GLdispatch|"
    r"gtk-3|gdk-3|gdk_pixbuf-2\.0|cairo[-\w]*|pango[-\w]*|atk[-\w]*|harfbuzz|png16|stdc\+\+|gcc_s|"
    r"wayland-[\w]+|drm|gbm)\.so")
FORBIDDEN_PLUGINS = ("platformthemes/libqgtk3.so",)
# auditwheel's renamed private copies inside a wheel (Pillow's libxcb-9065bb12.so.1.1.0):
# loaded by that wheel only, under their own name, so they cannot clash with the system's
WHEEL_PRIVATE = re.compile(r"-[0-9a-f]{8}\.so")


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def inspect(folder: Path) -> dict:
    bundled = {p.name for p in folder.rglob("*") if p.is_file()}
    needed: dict[str, set[str]] = {}
    glibc = (0, 0)
    elves = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    for path in elves:
        headers = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True).stdout
        for name in re.findall(r"^\s+NEEDED\s+(\S+)", headers, re.MULTILINE):
            if name not in bundled:
                needed.setdefault(name, set()).add(str(path.relative_to(folder)))
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", headers):
            glibc = max(glibc, (int(major), int(minor)))
    bad = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                 if p.is_file() and ((SYSTEM_ONLY.match(p.name) and not WHEEL_PRIVATE.search(p.name))
                                     or str(p).endswith(FORBIDDEN_PLUGINS)))
    return {"elf_files": len(elves), "glibc": f"{glibc[0]}.{glibc[1]}",
            "from_system": {k: sorted(v)[:3] for k, v in sorted(needed.items())},
            "bundled_but_system_only": bad}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--max-glibc", default=None, help="fail when a file needs a newer glibc, e.g. 2.31")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = inspect(args.folder)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['elf_files']} ELF files; newest glibc symbol: GLIBC_{report['glibc']}")
        print("from the system: " + ", ".join(report["from_system"]))
    problems = []
    if report["bundled_but_system_only"]:
        problems.append("bundled, but must come from the system: " + ", ".join(report["bundled_but_system_only"]))
    if args.max_glibc:
        limit = tuple(int(x) for x in args.max_glibc.split("."))
        if tuple(int(x) for x in report["glibc"].split(".")) > limit:
            problems.append(f"needs glibc {report['glibc']} > {args.max_glibc}")
    for problem in problems:
        print(f"check_libs: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
