"""Smoke test of a built folder (Windows, macOS, Linux): the frozen programs start and
the frozen cashier-cli pays, queries and refunds against the gateway simulator.

    python packaging/smoke.py DIR        # DIR holds cashier[.exe] and cashier-cli[.exe]

Run with a Python that has the app's dependencies (the build venv): the simulator
comes from this checkout. Everything happens in a throwaway CASHIER_HOME; the frozen
CLI stores the demo key through keyring's own configuration file (keyringrc.cfg with
keyring-path), in a file keyring kept in the throwaway folder, so no desktop keyring
is needed. Exits non-zero with the failing step's output on any failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXE = ".exe" if sys.platform == "win32" else ""


class SmokeFailed(Exception):
    pass


def run(cmd: list[str], env: dict[str, str], *, stdin: str | None = None, expect: int = 0,
        timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", env=env, timeout=timeout)
    if proc.returncode != expect:
        raise SmokeFailed(f"{' '.join(cmd)}: exit {proc.returncode} (expected {expect})\n"
                          f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def smoke_env(scratch: Path) -> dict[str, str]:
    """CASHIER_HOME, a file keyring configured through keyringrc.cfg, offscreen Qt on Linux."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["CASHIER_HOME"] = str(scratch / "home")
    env["CASHIER_LANG"] = "en"
    env["CASHIER_TEST_KEYRING_FILE"] = str(scratch / "keyring.json")
    config_root = scratch / "config"
    env["XDG_CONFIG_HOME"] = str(config_root)          # keyring's config root on Linux and macOS
    env["LOCALAPPDATA"] = str(config_root)             # ... and on Windows
    keyring_dir = config_root / ("Python Keyring" if sys.platform == "win32" else "python_keyring")
    keyring_dir.mkdir(parents=True, exist_ok=True)
    (keyring_dir / "keyringrc.cfg").write_text(
        "[backend]\n"
        f"keyring-path = {ROOT}\n"
        "default-keyring = tests.support.keyring_backend.FileKeyring\n", "utf-8")
    if sys.platform.startswith("linux"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def as_json(proc: subprocess.CompletedProcess) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if len(lines) != 1:
        raise SmokeFailed(f"expected one JSON line, got: {proc.stdout!r}")
    return json.loads(lines[0])


def smoke(folder: Path) -> dict[str, float]:
    """Run every step; returns the wall time of each, in seconds."""
    from cashier.sim.client import SimClient
    from cashier.sim.demo import demo_profiles
    from cashier.sim.server import SimServer

    gui, cli = str(folder / f"cashier{EXE}"), str(folder / f"cashier-cli{EXE}")
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cashier-smoke-") as tmp:
        env = smoke_env(Path(tmp))

        def step(name: str, *args, **kwargs):
            start = time.perf_counter()
            out = run(*args, **kwargs)
            times[name] = round(time.perf_counter() - start, 2)
            return out

        step("cli --help", [cli, "--help"], env)
        # ready: the pages built (after the first frame) and the engine, books and
        # simulator open: more of the frozen app than the first frame alone
        step("gui --demo ready", [gui, "--demo", "--exit-when-ready"], env)
        with SimServer() as sim, SimClient(sim.base_url) as sim_client:
            profile, secret = {p.gateway: (p, s) for p, s in demo_profiles(sim.base_url)}["fengniao"]
            step("cli profile add", [cli, "profile", "add", "shop", "--gateway", "fengniao", "--base-url",
                                     profile.base_url, "--merchant-id", profile.merchant_id, "--app-id",
                                     profile.app_id, "--key-stdin"], env, stdin=secret + "\n")
            paid = as_json(step("cli micropay", [cli, "--json", "micropay", "shop", "--amount", "10.00",
                                                 "--auth-code", "134567890123456789"], env))
            if paid["status"] != "paid":
                raise SmokeFailed(f"micropay not paid: {paid}")
            pending = as_json(step("cli pay (QR)", [cli, "--json", "pay", "shop", "--amount", "3.00",
                                                    "--method", "alipay"], env))
            sim_client.pay("fengniao", pending["out_trade_no"])
            queried = as_json(step("cli query", [cli, "--json", "query", "shop", pending["out_trade_no"]], env))
            if queried["status"] != "paid":
                raise SmokeFailed(f"query after the simulated customer paid: {queried}")
            refund = as_json(step("cli refund", [cli, "--json", "refund", "shop", paid["out_trade_no"],
                                                 "--amount", "4.00", "--wait", "30"], env))
            if refund["status"] != "succeeded":
                raise SmokeFailed(f"refund: {refund}")
            left = as_json(run([cli, "--json", "query", "shop", paid["out_trade_no"]], env))
            if left["refundable"] != "6.00":
                raise SmokeFailed(f"refundable after a 4.00 refund of 10.00: {left}")
            step("cli doctor", [cli, "doctor"], env)
    return times


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        times = smoke(Path(argv[0]).resolve())
    except (SmokeFailed, subprocess.TimeoutExpired) as exc:
        print(f"smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    for name, seconds in times.items():
        print(f"  {name:24} {seconds:6.2f} s")
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
