"""Make the installers' icons from one PNG.

    python packaging/make_icons.py            # PNG -> packaging/icons/cashier.ico + .icns
    python packaging/make_icons.py --redraw   # first redraw resources/cashier.png

resources/cashier.png (1024x1024, RGBA) is the one source picture. A designer may
replace it with a real one and run this again; without a PNG (or with --redraw) the
script draws the stock icon: a white yuan sign on a green rounded square, drawn from
polygons so that no font is needed and the result is the same on every machine.

The generated icons are committed (a few dozen KB), so the Windows and macOS builds
need only PyInstaller, not this script. Needs Pillow: pip install -e ".[icons]".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
PNG = ROOT / "resources" / "cashier.png"
ICONS = ROOT / "packaging" / "icons"
ICO_SIZES = [(16, 16), (20, 20), (24, 24), (32, 32), (40, 40), (48, 48), (64, 64), (128, 128), (256, 256)]

GREEN = (22, 128, 88, 255)
GREEN_DARK = (14, 96, 64, 255)
WHITE = (255, 255, 255, 255)


def draw(size: int = 1024) -> Image.Image:
    """The stock icon, drawn 4x larger and scaled down for smooth edges."""
    s = size * 4
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    u = s / 64  # design grid: 64 x 64 units
    # macOS-style margin so the icon does not look oversized next to others in the Dock
    d.rounded_rectangle((4 * u, 4 * u, 60 * u, 60 * u), radius=13 * u, fill=GREEN_DARK)
    d.rounded_rectangle((4 * u, 4 * u, 60 * u, 58 * u), radius=13 * u, fill=GREEN)
    w = 5.2 * u  # stroke width
    cx = 32 * u
    top, join, bottom = 14 * u, 32 * u, 50 * u
    # the two arms of the Y
    d.line([(19 * u, top), (cx, join)], fill=WHITE, width=round(w))
    d.line([(45 * u, top), (cx, join)], fill=WHITE, width=round(w))
    d.ellipse((cx - w / 2, join - w / 2, cx + w / 2, join + w / 2), fill=WHITE)
    # the stem and the two bars of the yuan sign
    d.rectangle((cx - w / 2, join, cx + w / 2, bottom), fill=WHITE)
    bar = 4.2 * u
    for y in (34 * u, 41.5 * u):
        d.rectangle((21 * u, y, 43 * u, y + bar), fill=WHITE)
    return img.resize((size, size), Image.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redraw", action="store_true", help="redraw resources/cashier.png first")
    args = parser.parse_args(argv)

    if args.redraw or not PNG.exists():
        PNG.parent.mkdir(parents=True, exist_ok=True)
        draw().save(PNG, optimize=True)
        print(f"drew {PNG.relative_to(ROOT)}")
    src = Image.open(PNG).convert("RGBA")
    if src.size[0] != src.size[1] or src.size[0] < 512:
        print(f"{PNG}: needs a square picture of at least 512x512 (1024x1024 best)", file=sys.stderr)
        return 1

    ICONS.mkdir(parents=True, exist_ok=True)
    ico, icns = ICONS / "cashier.ico", ICONS / "cashier.icns"
    src.save(ico, format="ICO", sizes=ICO_SIZES)
    # Pillow writes every ICNS size up to the picture's own (16..1024 with @2x).
    src.save(icns, format="ICNS")
    for path in (PNG, ico, icns):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
