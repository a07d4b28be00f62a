"""packaging/cashier.spec, checked without building (no PyInstaller needed).

The gateway and simulator registries import modules by name, which PyInstaller cannot
see: every such module must be in the spec's hidden imports, or the installed app
fails only when a shop picks that gateway.
"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import cashier
from cashier.gateways import GATEWAYS
from cashier.sim.server import GATEWAY_SIMS

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "cashier.spec"


def spec_list(name: str) -> list[str]:
    tree = ast.parse(SPEC.read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned a literal list in {SPEC}")


def test_hiddenimports_cover_the_registries():
    hidden = set(spec_list("CASHIER_HIDDENIMPORTS"))
    registry = {target.partition(":")[0] for target in [*GATEWAYS.values(), *GATEWAY_SIMS.values()]}
    assert registry - hidden == set()


def test_hiddenimports_cover_every_gateway_and_sim_module():
    hidden = set(spec_list("CASHIER_HIDDENIMPORTS"))
    on_disk = {
        f"cashier.{pkg}.{path.stem}"
        for pkg in ("gateways", "sim")
        for path in (ROOT / "cashier" / pkg).glob("*.py")
        if path.stem not in ("__init__", "__main__")
    }
    assert on_disk - hidden == set()
    assert all(importlib.util.find_spec(name) is not None for name in hidden), "a listed module does not exist"


def test_keyring_backends_listed():
    hidden = set(spec_list("KEYRING_HIDDENIMPORTS"))
    for backend in ("Windows", "macOS", "SecretService", "chainer", "fail", "null"):
        assert f"keyring.backends.{backend}" in hidden
        assert importlib.util.find_spec(f"keyring.backends.{backend}") is not None


def test_one_version():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert cashier.__version__ == pyproject  # the spec refuses to build otherwise


def test_bundled_resources_and_icons_exist():
    from cashier.ui.app import RESOURCES

    # the style sheet is package data (pip install ships it; the spec collects it as
    # cashier/resources); resources/cashier.png is the source of the installer icons
    assert RESOURCES == ROOT / "cashier" / "resources"
    for rel in ("cashier/resources/cashier.qss", "resources/cashier.png",
                "packaging/icons/cashier.ico", "packaging/icons/cashier.icns"):
        assert (ROOT / rel).is_file(), rel
