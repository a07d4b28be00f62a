"""Every cashier-cli command against a read-only, a full, a zero-byte and a damaged data
folder: one plain line in the user's language, never a traceback, nothing sent to the
gateway.

Root ignores file modes, so "read-only" and "full" are made for real, in a private mount
namespace that vanishes with the commands (`unshare -m` as root, `unshare -rm` for a user
where user namespaces are allowed; util-linux provides unshare):
  * read-only: a read-only bind mount of CASHIER_HOME over itself;
  * full: a 1 MB tmpfs mounted on CASHIER_HOME, the books copied in, then filled to the
    last byte.
Where no namespace can be made, a non-root user gets read-only from file modes, and "full"
from RLIMIT_FSIZE (writes fail with EFBIG); root without namespaces skips those two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cashier.sim.demo import DEMO_MERCHANTS

LTZF = next(m for m in DEMO_MERCHANTS if m.gateway == "ltzf")
AUTH_CODE = "134567890123456789"

DRIVER = r"""
import json, os, subprocess, sys
runs = []
for item in json.load(sys.stdin):
    proc = subprocess.run([sys.executable, "-m", "cashier.cli", *item["args"]], input=item.get("stdin", ""),
                          capture_output=True, text=True, timeout=60)
    runs.append({"args": item["args"], "code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr})
print(json.dumps(runs))
"""


def _cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cashier.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "CASHIER_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """A shop's home made by cashier-cli itself: a profile, a paid order, a refund."""
    from cashier.sim.client import SimClient
    from cashier.sim.server import SimServer

    root = tmp_path_factory.mktemp("books")
    home = root / "home"
    keyring_file = root / "keyring.json"
    old = os.environ.get("CASHIER_TEST_KEYRING_FILE")
    os.environ["CASHIER_TEST_KEYRING_FILE"] = str(keyring_file)
    with SimServer() as sim, SimClient(sim.base_url) as client:
        _cli(home, "profile", "add", "lt", "--gateway", "ltzf", "--base-url", sim.gateway_url("ltzf"),
             "--merchant-id", LTZF.merchant_id, "--key-stdin", stdin=LTZF.secret + "\n")
        order = json.loads(_cli(home, "--json", "pay", "lt", "--amount", "2.00", "--method", "wechat").stdout)
        client.pay("ltzf", order["out_trade_no"])
        _cli(home, "query", "lt", order["out_trade_no"])
        refund = json.loads(_cli(home, "--json", "refund", "lt", order["out_trade_no"], "--amount", "0.50").stdout)
    if old is None:
        os.environ.pop("CASHIER_TEST_KEYRING_FILE", None)
    else:
        os.environ["CASHIER_TEST_KEYRING_FILE"] = old
    return {"home": home, "keyring": keyring_file, "order": order["out_trade_no"],
            "refund": refund["out_refund_no"]}


def _commands(base_url: str, order: str, refund: str, out: Path) -> list[dict]:
    cmds = [
        (["profile", "add", "other", "--gateway", "ltzf", "--base-url", base_url, "--merchant-id",
          LTZF.merchant_id, "--key-stdin"], LTZF.secret + "\n"),
        (["profile", "list"], ""),
        (["profile", "use", "lt"], ""),
        (["--json", "pay", "lt", "--amount", "1.00", "--method", "wechat"], ""),
        (["micropay", "lt", "--amount", "1.00", "--auth-code", AUTH_CODE, "--wait", "0"], ""),
        (["query", "lt", order], ""),
        (["cancel", "lt", order, "--wait", "0"], ""),
        (["refund", "lt", order, "--amount", "0.10"], ""),
        (["refund-query", "lt", refund], ""),
        (["doctor", "lt"], ""),
        (["resume", "--wait", "0"], ""),
        (["history"], ""),
        (["--json", "history", "--limit", "5"], ""),
        (["report"], ""),
        (["support-bundle", "--out", str(out)], ""),
        (["print", "receipt", order, "--printer", "tcp://127.0.0.1:1"], ""),
        (["print", "test", "--printer", "tcp://127.0.0.1:1"], ""),
        (["drawer", "open", "--printer", "tcp://127.0.0.1:1"], ""),
        (["say", "收款成功", "--wav", str(out.with_suffix(".wav"))], ""),
        (["profile", "remove", "lt"], ""),
    ]
    return [{"args": a, "stdin": s} for a, s in cmds]


def _namespace_prefix() -> list[str] | None:
    """The unshare command that gives a private mount namespace here, or None."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]) if os.geteuid() == 0 else (["unshare", "-rm"],):
        probe = subprocess.run([*prefix, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", "/mnt"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return prefix
    return None


def _run(home: Path, keyring: Path, commands: list[dict], *, mode: str, source: Path) -> list[dict]:
    env = {**os.environ, "CASHIER_HOME": str(home), "CASHIER_TEST_KEYRING_FILE": str(keyring),
           "CASHIER_LANG": "zh_CN"}
    driver = [sys.executable, "-c", DRIVER]
    preexec = None
    if mode in ("zero", "damaged"):
        argv = driver
    else:
        prefix = _namespace_prefix()
        if prefix is not None:
            q = subprocess.list2cmdline
            if mode == "read_only":
                setup = f"mount --bind {q([str(home)])} {q([str(home)])} && mount -o remount,bind,ro {q([str(home)])}"
            else:
                setup = (f"mount -t tmpfs -o size=1m tmpfs {q([str(home)])} && cp -a {q([str(source)])}/. {q([str(home)])}/"
                         f" && (dd if=/dev/zero of={q([str(home / 'filler')])} bs=4k 2>/dev/null; true)")
            argv = [*prefix, "sh", "-c", f"{setup} && exec \"$0\" \"$@\"", *driver]
        elif os.geteuid() != 0 and mode == "read_only":
            for path in sorted(home.rglob("*"), reverse=True) + [home]:
                path.chmod(path.stat().st_mode & ~0o222)
            argv = driver
        elif os.geteuid() != 0:
            import resource
            import signal

            def preexec():  # every write past the first byte of a file fails with EFBIG
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))

            argv = driver
        else:
            pytest.skip("root without mount namespaces: cannot make a folder read-only or full")
    proc = subprocess.run(argv, input=json.dumps(commands), capture_output=True, text=True, timeout=600,
                          env=env, preexec_fn=preexec)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _damage(home: Path, mode: str) -> None:
    ledger = home / "data" / "ledger.sqlite3"
    if mode == "zero":
        ledger.write_bytes(b"")
    elif mode == "damaged":  # garbage over the last page: what a torn write or a bad disk leaves
        size = ledger.stat().st_size
        with open(ledger, "r+b") as fh:
            fh.seek(size - 4096)
            fh.write(bytes((i * 37 + 11) % 256 for i in range(4096)))


EXPECTED = {
    "read_only": "只读",
    "full": "磁盘已满",
    "zero": "0 字节",
    "damaged": "损坏",
}
# Commands that never open the ledger: they may succeed where the ledger is damaged, or
# fail for their own reason (no printer at tcp://127.0.0.1:1).
PROFILE_ONLY = {"profile", "support-bundle", "drawer", "say"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["read_only", "full", "zero", "damaged"])
def test_every_command_says_one_line_and_sends_nothing(mode, books, tmp_path):
    from cashier.sim.server import SimServer

    home = tmp_path / "shop"
    shutil.copytree(books["home"], home, symlinks=True)
    keyring = tmp_path / "keyring.json"
    shutil.copy(books["keyring"], keyring)
    _damage(home, mode)
    with SimServer() as sim:
        # the profile's gateway URL points at the module's simulator (gone): re-point it here
        profiles = home / "config" / "profiles.json"
        profiles.write_text(profiles.read_text("utf-8").replace(
            json.loads(profiles.read_text("utf-8"))["profiles"][0]["base_url"].rsplit("/", 1)[0],
            sim.base_url), "utf-8")
        commands = _commands(sim.gateway_url("ltzf"), books["order"], books["refund"], tmp_path / "bundle.zip")
        if mode == "full":  # a tmpfs is mounted on an empty folder and the books copied in
            target = tmp_path / "full-home"
            target.mkdir()
        else:
            target = home
        runs = _run(target, keyring, commands, mode=mode, source=home)
        sent = list(sim.state.requests)
    assert len(runs) == len(commands)
    strict = _namespace_prefix() is not None or mode in ("zero", "damaged")
    for run in runs:
        shown = f"{run['args']}: exit {run['code']}\nstdout: {run['stdout']}\nstderr: {run['stderr']}"
        assert "Traceback" not in run["stdout"] + run["stderr"], shown
        assert run["code"] in (0, 1, 2, 3), shown
        if run["code"] != 0:
            lines = [line for line in run["stderr"].splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("cashier-cli"), shown
            if strict and run["args"][0] not in PROFILE_ONLY and run["args"][1:2] != ["test"]:
                assert EXPECTED[mode] in lines[0], shown
        elif run["args"][0] not in PROFILE_ONLY and run["args"][1:2] != ["test"]:
            raise AssertionError(f"a command that opens the ledger succeeded: {shown}")
        writes_profiles = run["args"][:2] in (["profile", "add"], ["profile", "use"], ["profile", "remove"])
        if strict and mode in ("read_only", "full") and writes_profiles:
            assert run["code"] == 1 and EXPECTED[mode] in run["stderr"], shown
    assert sent == [], f"requests reached the gateway: {sent}"


def test_a_keyring_backend_that_is_not_installed_is_named(books, tmp_path):
    """PYTHON_KEYRING_BACKEND naming a module that does not exist (a typo, or a frozen
    build without it): commands needing the key say so in one line; the others work."""
    home = tmp_path / "shop"
    shutil.copytree(books["home"], home, symlinks=True)
    env = {**os.environ, "CASHIER_HOME": str(home), "PYTHON_KEYRING_BACKEND": "no_such_module.Keyring",
           "CASHIER_TEST_KEYRING_FILE": str(books["keyring"])}

    def run(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "cashier.cli", *args], input=stdin, capture_output=True,
                              text=True, timeout=60, env=env)

    add = run("profile", "add", "x", "--gateway", "ltzf", "--base-url", "http://127.0.0.1:9/ltzf",
              "--merchant-id", LTZF.merchant_id, "--key-stdin", stdin="k\n")
    query = run("query", "lt", books["order"])
    history = run("history")
    for proc in (add, query, history):
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert add.returncode == 1 and "PYTHON_KEYRING_BACKEND=no_such_module.Keyring" in add.stderr
    assert "密钥未保存" in add.stderr and len(add.stderr.strip().splitlines()) == 1
    errors = [line for line in query.stderr.splitlines() if line.startswith("cashier-cli:")]
    assert query.returncode == 1 and len(errors) == 1 and "读不到商户密钥" in errors[0], query.stderr
    assert history.returncode == 0 and books["order"] in history.stdout


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01"])
def test_history_search_for_a_day_out_of_range_is_named(text, isolated_home):
    proc = subprocess.run([sys.executable, "-m", "cashier.cli", "history", "--search", text], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"cashier-cli: 没有这一天：{text}"]
