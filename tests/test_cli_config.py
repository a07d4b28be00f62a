"""`cashier-cli config get|set` and `cashier-cli ledger where|password`: a chain
provisions counters by script."""

from __future__ import annotations

import json

import pytest

from cashier.i18n import UserError
from cashier.settings import LEDGER_URL_ENV, SettingsStore, check_ledger_url, ledger_url

from .test_cli import as_json, cli


def test_config_set_and_get_by_script(isolated_home):
    cli("config", "set", "counter_id", "B2")
    cli("config", "set", "ledger_url", "postgresql://cashier@db.shop.lan/cashier")
    cli("config", "set", "kiosk", "on")
    cli("config", "set", "qr_expiry_seconds", "600")
    cli("config", "set", "active_profile", "店铺")
    saved = SettingsStore().load()
    assert (saved.counter_id, saved.ledger_url, saved.kiosk, saved.qr_expiry_seconds, saved.active_profile) == (
        "B2", "postgresql://cashier@db.shop.lan/cashier", True, 600, "店铺")
    assert cli("config", "get", "counter_id").stdout.strip() == "B2"
    assert as_json(cli("--json", "config", "get", "kiosk")) == {"key": "kiosk", "value": True}
    everything = as_json(cli("--json", "config", "get"))
    assert everything["ledger_url"] == "postgresql://cashier@db.shop.lan/cashier"
    assert "manager_pin" not in everything
    cli("config", "set", "active_profile", "")
    assert SettingsStore().load().active_profile is None


@pytest.mark.parametrize("key, value, words", [
    ("counter_id", "ABCDE", "收银台编号"),
    ("ledger_url", "postgresql://cashier:secret@db/cashier", "不能写密码"),
    ("ledger_url", "postgresql://db/cashier?password=secret", "不能写密码"),
    ("ledger_url", "mysql://db/cashier", "账本地址无效"),
    ("ledger_url", "postgresql:///cashier", "账本地址无效"),
    ("kiosk", "maybe", "on 或 off"),
    ("qr_expiry_seconds", "10 min", "整数"),
    ("colour", "red", "未知的设置项"),
    ("manager_pin", "1234", "店长密码"),
])
def test_config_refuses_bad_values_and_keeps_the_file(isolated_home, key, value, words):
    cli("config", "set", "counter_id", "C3")
    before = SettingsStore().path.read_bytes()
    proc = cli("config", "set", key, value, check=False)
    assert proc.returncode == 1 and words in proc.stderr, proc.stderr
    assert "secret" not in proc.stderr
    assert SettingsStore().path.read_bytes() == before


def test_environment_overrides_the_setting(monkeypatch, isolated_home):
    SettingsStore().update(ledger_url="postgresql://cashier@db.shop.lan/cashier")
    assert ledger_url() == "postgresql://cashier@db.shop.lan/cashier"
    monkeypatch.setenv(LEDGER_URL_ENV, "postgresql://cashier@other.lan:6432/books")
    assert ledger_url() == "postgresql://cashier@other.lan:6432/books"
    monkeypatch.setenv(LEDGER_URL_ENV, "postgresql://cashier:pw@other.lan/books")
    with pytest.raises(UserError, match="不能写密码"):
        ledger_url()
    where = as_json(cli("--json", "ledger", "where", env={LEDGER_URL_ENV: "postgresql://cashier@other.lan/books"}))
    assert where == {"ledger": "postgresql://cashier@other.lan/books", "backend": "postgresql"}


def test_default_ledger_is_the_sqlite_file(isolated_home):
    where = as_json(cli("--json", "ledger", "where"))
    assert where["backend"] == "sqlite" and where["ledger"].endswith("ledger.sqlite3")
    assert check_ledger_url("") == ""


def test_database_password_goes_to_the_keyring_only(isolated_home, tmp_path):
    cli("config", "set", "ledger_url", "postgresql://cashier@db.shop.lan/cashier")
    saved = as_json(cli("--json", "ledger", "password", "--stdin", stdin="s3cret-pw\n"))
    assert saved == {"stored": "ledger:cashier@db.shop.lan:5432/cashier"}
    keyring = json.loads((tmp_path / "keyring.json").read_text())
    assert "s3cret-pw" in json.dumps(keyring)
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert b"s3cret-pw" not in path.read_bytes(), path
    from cashier import secrets

    assert secrets.get_database_password("postgresql://cashier@db.shop.lan:5432/cashier") == "s3cret-pw"



def test_support_bundle_describes_a_shared_ledger_without_its_password(pg_url, isolated_home, tmp_path):
    import zipfile

    from cashier import secrets
    from cashier.ledger import Ledger

    with Ledger(pg_url):
        pass
    secrets.set_database_password(pg_url, "bundle-secret-pw")
    out = tmp_path / "bundle.zip"
    cli("support-bundle", "--out", str(out), env={LEDGER_URL_ENV: pg_url})
    with zipfile.ZipFile(out) as zf:
        facts = json.loads(zf.read("facts.json"))
        everything = b"".join(zf.read(name) for name in zf.namelist())
    assert facts["ledger"]["backend"] == "postgresql" and facts["ledger"]["schema_version"] >= 7
    assert facts["ledger"]["orders"] == 0 and "error" not in facts["ledger"]
    assert b"bundle-secret-pw" not in everything


def test_unreachable_shared_ledger_is_said_plainly(isolated_home):
    """No server at the configured address: one plain line, exit 1, no traceback."""
    proc = cli("--lang", "en", "report", check=False, env={LEDGER_URL_ENV: "postgresql://cashier@127.0.0.1:1/books"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "cashier-cli: The shared ledger cannot be reached (postgresql://cashier@127.0.0.1:1/books): no new payments"
        " can be taken now. Orders already sent are finished and written when the database is back. Check the"
        " network or the database server"]
