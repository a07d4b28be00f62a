"""Test setup: no network, no desktop keyring, no display, Chinese by default.

Every test gets its own CASHIER_HOME and its own keyring file, and (through the
`sim` fixture) its own simulator on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.keyring_backend.FileKeyring"
os.environ.setdefault("CASHIER_LANG", "zh_CN")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CASHIER_HOME", str(home))
    monkeypatch.setenv("CASHIER_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("CASHIER_LANG", "zh_CN")
    from cashier import i18n

    i18n.set_language("zh_CN")
    yield home


@pytest.fixture
def sim():
    """A fresh simulator on 127.0.0.1 with the demo merchants."""
    from cashier.sim.server import SimServer

    with SimServer() as server:
        yield server


@pytest.fixture
def sim_client(sim):
    from cashier.sim.client import SimClient

    with SimClient(sim.base_url) as client:
        yield client


@pytest.fixture
def demo_profile(sim):
    """demo_profile("ltzf") -> (Profile, secret) pointing at the running simulator."""
    from cashier.sim.demo import demo_profiles

    profiles = {p.gateway: (p, s) for p, s in demo_profiles(sim.base_url)}
    return lambda gateway: profiles[gateway]


@pytest.fixture
def make_gateway(demo_profile):
    """make_gateway("ltzf", **http_kwargs) -> a gateway client for the simulator's demo merchant."""
    from cashier.gateways import build_gateway

    built = []

    def factory(name: str, **kwargs):
        profile, secret = demo_profile(name)
        gateway = build_gateway(profile, secret, **kwargs)
        built.append(gateway)
        return gateway

    yield factory
    for gateway in built:
        gateway.close_transport()


def require_tool(name: str) -> str:
    """The path of a system tool a test drives (espeak-ng, zbarimg, pdftoppm, ...).

    Without it the test is skipped with the reason, except where CASHIER_TEST_REQUIRE_TOOLS
    is set (CI, whose .ci/run installs them): there a missing tool fails the test.
    """
    import shutil

    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian: see .ci/run for the package)"
    if os.environ.get("CASHIER_TEST_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)
