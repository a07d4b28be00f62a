"""The log file under logs/ and `cashier-cli support-bundle`: request timing and outcomes
are logged, keys never reach the log or the bundle, and the bundle describes the ledger."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

from tests.test_cli import add_profile, as_json, cli


def test_log_has_request_timing_and_no_key(demo_profile, isolated_home):
    name = add_profile(demo_profile, "epay")  # epay carries its key in query strings
    _, secret = demo_profile("epay")
    out = as_json(cli("--json", "pay", name, "--amount", "1.00", "--method", "wechat"))
    log = (isolated_home / "logs" / "cashier-cli.log").read_text("utf-8")
    assert "cashier-cli pay: start" in log and "cashier-cli pay: exit 0" in log
    assert re.search(r"POST \S+ -> 200 after \d+ ms", log)  # each gateway request: path, status, time
    assert f"order {out['out_trade_no']}: sending -> pending" in log  # outcomes, once written
    assert secret not in log


def test_damaged_profiles_file_is_named(isolated_home):
    (isolated_home / "config").mkdir()
    (isolated_home / "config" / "profiles.json").write_text('{"profiles": [{"name": 5}], "active": null}', "utf-8")
    proc = cli("profile", "list", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"cashier-cli: 商户配置文件损坏：{isolated_home / 'config' / 'profiles.json'}"]


def test_unexpected_error_is_one_line_and_a_logged_traceback(isolated_home):
    """A bug (here: one planted in the command dispatch) ends as one line; the traceback
    is in the log file."""
    code = ("import sys, cashier.cli as c\n"
            "def bug(args, out): raise RuntimeError('planted bug')\n"
            "c._run = bug\n"
            "sys.exit(c.main(['history']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    log_file = isolated_home / "logs" / "cashier-cli.log"
    assert lines == [f"cashier-cli: 意外错误（RuntimeError），详情已写入日志：{log_file}"]
    log = log_file.read_text("utf-8")
    assert "Traceback" in log and "planted bug" in log


def test_support_bundle_holds_facts_never_keys(demo_profile, isolated_home, sim_client, tmp_path):
    name = add_profile(demo_profile, "ltzf")
    _, secret = demo_profile("ltzf")
    order = as_json(cli("--json", "pay", name, "--amount", "3.00", "--method", "wechat"))
    # a key that reached a log line by some other road is hidden in the bundle too
    with open(isolated_home / "logs" / "cashier-cli.log", "a", encoding="utf-8") as fh:
        fh.write(f"a careless line with {secret} in it\n")
    out = tmp_path / "bundle.zip"
    made = as_json(cli("--json", "support-bundle", "--out", str(out)))
    assert made["ledger"]["integrity"] == "ok"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"facts.json", "settings.json", "profiles.json", "logs/cashier-cli.log"} <= names
        everything = b"".join(zf.read(n) for n in names)
        facts = json.loads(zf.read("facts.json"))
        profiles = json.loads(zf.read("profiles.json"))
    assert secret.encode() not in everything
    assert b"careless line with ***" in everything
    assert facts["ledger"]["orders_by_state"] == {"pending": 1}
    assert facts["ledger"]["schema_version"] >= 1 and facts["ledger"]["integrity"] == "ok"
    assert profiles["profiles"][0]["has_key"] is True
    assert order["out_trade_no"]


def test_support_bundle_describes_a_damaged_ledger(isolated_home, tmp_path):
    data = isolated_home / "data"
    data.mkdir()
    (data / "ledger.sqlite3").write_bytes(b"")
    out = tmp_path / "b.zip"
    made = as_json(cli("--json", "support-bundle", "--out", str(out)))
    assert "0 bytes" in made["ledger"]["integrity"]
    assert (data / "ledger.sqlite3").stat().st_size == 0  # described, not "repaired"


def test_window_log_keeps_what_was_logged_before_its_first_frame(isolated_home):
    """The window opens its log file after its first frame; what was logged before
    (settings, start-up) reaches the file then, redacted like the rest."""
    code = ("import logging\n"
            "from cashier import logs, redaction\n"
            "logs.hold()\n"
            "redaction.register('k3y-0123456789abcdef')\n"
            "logging.getLogger('cashier.settings').warning('early note k3y-0123456789abcdef')\n"
            "logging.getLogger('cashier.ui').debug('too fine to keep')\n"
            "logs.setup('cashier')\n"
            "logging.getLogger('cashier.ui').info('after the first frame')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # nothing printed on the way
    log = (isolated_home / "logs" / "cashier.log").read_text("utf-8")
    assert log.index("early note") < log.index("after the first frame")
    assert "k3y-0123456789abcdef" not in log and "too fine" not in log
