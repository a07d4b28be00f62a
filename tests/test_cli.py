"""cashier-cli as a user runs it: real subprocesses against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cashier.gateways import gateway_class
from cashier.gateways.base import Capability


def cli(*args: str, stdin: str | None = None, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cashier.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def add_profile(demo_profile, gateway: str, name: str | None = None) -> str:
    profile, secret = demo_profile(gateway)
    name = name or gateway
    args = ["profile", "add", name, "--gateway", gateway, "--base-url", profile.base_url,
            "--merchant-id", profile.merchant_id, "--key-stdin"]
    if profile.app_id:
        args += ["--app-id", profile.app_id]
    for key, value in profile.extra.items():
        args += ["--extra", f"{key}={value}"]
    cli(*args, stdin=secret + "\n")
    return name


def as_json(proc: subprocess.CompletedProcess) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def test_profiles_keep_the_key_in_the_keyring_only(demo_profile, isolated_home, tmp_path):
    add_profile(demo_profile, "ltzf", "蓝兔")
    _, secret = demo_profile("ltzf")
    listed = as_json(cli("--json", "profile", "list"))
    assert listed["profiles"][0]["name"] == "蓝兔" and listed["profiles"][0]["has_key"]
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret in (tmp_path / "keyring.json").read_text()
    cli("profile", "remove", "蓝兔")
    assert secret not in (tmp_path / "keyring.json").read_text()


def test_no_keyring_stores_nothing(demo_profile, isolated_home):
    profile, secret = demo_profile("ltzf")
    proc = cli("profile", "add", "x", "--gateway", "ltzf", "--base-url", profile.base_url, "--merchant-id", "1",
               "--key-stdin", stdin=secret + "\n", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
               check=False)
    assert proc.returncode == 1
    assert "钥匙串" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not list(isolated_home.rglob("profiles.json"))


def test_insecure_base_url_refused(demo_profile):
    proc = cli("profile", "add", "x", "--gateway", "epay", "--base-url", "http://pay.example.com",
               "--merchant-id", "1", "--key-stdin", stdin="k\n", check=False)
    assert proc.returncode == 1 and "https" in proc.stderr


@pytest.mark.parametrize("gateway", ["ltzf", "epay", "fengniao", "weidoufu", "its500"])
def test_pay_query_every_gateway(gateway, demo_profile, sim_client):
    name = add_profile(demo_profile, gateway)
    cls = gateway_class(gateway)
    for method in cls.qr_methods():
        out = as_json(cli("--json", "pay", name, "--amount", "12.34", "--method", method.value))
        assert out["status"] == "pending", out
        assert out["amount"] == "12.34"
        assert out["qr"] or out["qr_image_url"]
        if out["qr"]:
            assert not out["qr"].lower().endswith(".png")
        queried = as_json(cli("--json", "query", name, out["out_trade_no"]))
        assert queried["out_trade_no"] == out["out_trade_no"]
        assert queried["status"] == "pending"


def test_pay_wait_until_paid(demo_profile, sim_client):
    name = add_profile(demo_profile, "fengniao")
    proc = subprocess.Popen([sys.executable, "-m", "cashier.cli", "--json", "pay", name, "--amount", "3.00",
                             "--method", "alipay", "--wait", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        order = _wait_for_sim_order(sim_client, "fengniao")
        sim_client.pay("fengniao", order["out_trade_no"])
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["status"] == "paid"


def _wait_for_sim_order(sim_client, gateway: str, timeout: float = 30.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        orders = sim_client.orders(gateway)
        if orders:
            return orders[-1]
        time.sleep(0.05)
    raise AssertionError("the CLI never created the order")


def test_micropay_refund_and_refund_query(demo_profile, sim_client):
    name = add_profile(demo_profile, "fengniao")
    paid = as_json(cli("--json", "micropay", name, "--amount", "10.00", "--auth-code", "134567890123456789"))
    assert paid["status"] == "paid" and paid["amount"] == "10.00"
    refund = as_json(cli("--json", "refund", name, paid["out_trade_no"], "--amount", "4.00", "--reason", "退货"))
    assert refund["status"] in ("processing", "succeeded") and refund["amount"] == "4.00"
    followed = as_json(cli("--json", "refund-query", name, refund["out_refund_no"]))
    assert followed["out_refund_no"] == refund["out_refund_no"]
    queried = as_json(cli("--json", "query", name, paid["out_trade_no"]))
    assert queried["refundable"] == "6.00"


def test_micropay_wrong_code_changes_nothing(demo_profile, sim_client):
    name = add_profile(demo_profile, "fengniao")
    proc = cli("micropay", name, "--amount", "1.00", "--auth-code", "6901234567892", check=False)
    assert proc.returncode == 1
    assert "付款码" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sim_client.orders("fengniao") == []


@pytest.mark.parametrize("amount,words", [("abc", "数字"), ("0", "大于 0"), ("1.234", "两位小数"), ("-5", "负数")])
def test_bad_amount_is_one_clear_line(amount, words, demo_profile, sim_client):
    name = add_profile(demo_profile, "ltzf")
    proc = cli("pay", name, "--amount", amount, "--method", "wechat", check=False)
    assert proc.returncode == 1
    assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sim_client.orders("ltzf") == []


def test_its500_minimum_amount(demo_profile, sim_client):
    name = add_profile(demo_profile, "its500")
    proc = cli("pay", name, "--amount", "0.99", "--method", "alipay", check=False)
    assert proc.returncode == 1 and "1.00" in proc.stderr


def test_doctor(demo_profile, sim):
    name = add_profile(demo_profile, "ltzf")
    out = as_json(cli("--json", "doctor", name))
    assert out["ok"] is True
    profile, _ = demo_profile("ltzf")
    cli("profile", "add", "wrong", "--gateway", "ltzf", "--base-url", profile.base_url,
        "--merchant-id", profile.merchant_id, "--key-stdin", stdin="not-the-key\n")
    bad = cli("--json", "doctor", "wrong", check=False)
    assert bad.returncode == 1
    assert "签名" in bad.stderr or "密钥" in bad.stderr
    assert "not-the-key" not in bad.stderr + bad.stdout


def test_english_messages(demo_profile, sim_client):
    name = add_profile(demo_profile, "ltzf")
    proc = cli("--lang", "en", "pay", name, "--amount", "1.234", "--method", "wechat", check=False)
    assert "two decimals" in proc.stderr


# Every operation each gateway supports, through the CLI, against the simulator.

_code = iter(range(10**9, 2 * 10**9))


@pytest.mark.parametrize("gateway", [g for g in ("ltzf", "epay", "fengniao", "weidoufu", "its500")
                                     if Capability.MICROPAY in gateway_class(g).capabilities])
def test_micropay_every_gateway(gateway, demo_profile, sim_client):
    name = add_profile(demo_profile, gateway)
    out = as_json(cli("--json", "micropay", name, "--amount", "2.50", "--auth-code", f"28{next(_code):016d}"))
    assert out["status"] == "paid" and out["wallet"] == "alipay"


@pytest.mark.parametrize("gateway", [g for g in ("ltzf", "epay", "fengniao", "weidoufu", "its500")
                                     if Capability.REFUND in gateway_class(g).capabilities])
def test_refund_every_gateway(gateway, demo_profile, sim_client):
    name = add_profile(demo_profile, gateway)
    out = as_json(cli("--json", "pay", name, "--amount", "10.00", "--method", "alipay"))
    key = out["gateway_trade_no"] if gateway == "its500" else out["out_trade_no"]
    if gateway == "epay":
        key = out["out_trade_no"]
    sim_client.pay(gateway, key)
    paid = as_json(cli("--json", "query", name, out["out_trade_no"]))
    assert paid["status"] == "paid", paid
    refund = as_json(cli("--json", "refund", name, out["out_trade_no"], "--amount", "4.00"))
    assert refund["status"] in ("processing", "succeeded"), refund
    again = as_json(cli("--json", "refund-query", name, refund["out_refund_no"]))
    assert again["status"] in ("processing", "succeeded", "needs_check")
    books = sim_client.order(gateway, key)
    assert [r["amount"] for r in books["refunds"]] == ["4.00"]


@pytest.mark.parametrize("gateway", ["ltzf", "epay", "fengniao", "weidoufu", "its500"])
def test_doctor_every_gateway(gateway, demo_profile, sim):
    name = add_profile(demo_profile, gateway)
    out = as_json(cli("--json", "doctor", name))
    assert out["ok"] is True and out["detail"]


def test_cancel_micropay_reverses(demo_profile, sim_client):
    name = add_profile(demo_profile, "fengniao")
    sim_client.micropay_behaviour("never")
    waited = cli("--json", "micropay", name, "--amount", "3.00", "--auth-code", f"28{next(_code):016d}",
                 "--wait", "0.5", check=False)
    assert waited.returncode == 3  # not paid (yet)
    out = as_json(waited)
    assert out["status"] == "userpaying"
    cancelled = as_json(cli("--json", "cancel", name, out["out_trade_no"]))
    assert cancelled["status"] == "reversed"
    assert sim_client.order("fengniao", out["out_trade_no"])["status"] == "REVOKED"


def test_cancel_of_a_paid_order_is_not_a_success(demo_profile, sim_client):
    # The customer was charged: "cancel" cannot undo that, and a script reading exit 0
    # as "not charged" would be wrong. Exit 3, the order shown as paid.
    name = add_profile(demo_profile, "fengniao")
    paid = as_json(cli("--json", "micropay", name, "--amount", "3.10", "--auth-code", f"13{next(_code):016d}"))
    proc = cli("--json", "cancel", name, paid["out_trade_no"], check=False)
    assert proc.returncode == 3
    assert as_json(proc)["status"] == "paid"
    assert sim_client.order("fengniao", paid["out_trade_no"])["status"] != "REVOKED"


def test_refund_not_final_within_wait_exits_3(demo_profile, sim_client):
    name = add_profile(demo_profile, "fengniao")
    paid = as_json(cli("--json", "micropay", name, "--amount", "5.00", "--auth-code", f"13{next(_code):016d}"))
    sim_client.refund_behaviour(delay=3600)  # accepted, refunded an hour later
    waited = cli("--json", "refund", name, paid["out_trade_no"], "--amount", "1.00", "--wait", "0.3", check=False)
    assert waited.returncode == 3, waited.stdout
    assert as_json(waited)["status"] != "succeeded"
    sim_client.refund_behaviour(delay=0)
    done = cli("--json", "refund", name, paid["out_trade_no"], "--amount", "1.00", "--wait", "30")
    assert as_json(done)["status"] == "succeeded"


@pytest.mark.parametrize("wait", ["nan", "-5", "soon"])
def test_a_bad_wait_sends_nothing(wait, demo_profile, sim_client):
    name = add_profile(demo_profile, "ltzf")
    proc = cli("pay", name, "--amount", "1.00", "--method", "wechat", "--wait", wait, check=False)
    assert proc.returncode == 2 and "秒数" in proc.stderr
    assert sim_client.orders("ltzf") == []


def test_history_and_report(demo_profile, sim_client):
    name = add_profile(demo_profile, "fengniao")
    paid = as_json(cli("--json", "micropay", name, "--amount", "8.00", "--auth-code", f"13{next(_code):016d}"))
    history = as_json(cli("--json", "history"))
    assert history["orders"][0]["out_trade_no"] == paid["out_trade_no"]
    found = as_json(cli("--json", "history", "--search", "8.00 微信", "--state", "paid"))
    assert [o["out_trade_no"] for o in found["orders"]] == [paid["out_trade_no"]]
    assert found["orders"][0]["refund_state"] == "none" and "¥8.00" in found["search"]
    assert as_json(cli("--json", "history", "--search", "8.01"))["orders"] == []
    refused = cli("history", "--search", "8", check=False)
    assert refused.returncode != 0 and "金额也可能是时间" in refused.stderr
    report = as_json(cli("--json", "report"))
    assert report["totals"]["paid_sum"] == "8.00" and report["totals"]["paid_count"] == 1
    text = cli("report").stdout
    assert "fengniao wechat" in text and "8.00" in text


def test_null_keyring_is_no_keyring(demo_profile, isolated_home):
    profile, secret = demo_profile("ltzf")
    proc = cli("profile", "add", "x", "--gateway", "ltzf", "--base-url", profile.base_url, "--merchant-id", "1",
               "--key-stdin", stdin=secret + "\n", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"},
               check=False)
    assert proc.returncode == 1 and "钥匙串" in proc.stderr
    assert not list(isolated_home.rglob("profiles.json"))


def test_missing_key_is_named(demo_profile, tmp_path):
    name = add_profile(demo_profile, "ltzf")
    (tmp_path / "keyring.json").write_text("{}")  # the key vanished from the keyring
    proc = cli("pay", name, "--amount", "1.00", "--method", "wechat", check=False)
    assert proc.returncode == 1
    assert "钥匙串" in proc.stderr and "没有名为" not in proc.stderr


def test_cli_leaves_recovery_to_a_running_window(demo_profile, sim_client, isolated_home):
    from cashier.engine.instance import InstanceLock
    from cashier.services import open_context

    name = add_profile(demo_profile, "ltzf")
    order = as_json(cli("--json", "pay", name, "--amount", "1.00", "--method", "wechat"))
    ctx = open_context(start=False, exclusive=True)  # "the window" on the same books
    try:
        proc = cli("--json", "history")
        assert "继续处理" not in proc.stderr
        proc = cli("--json", "query", name, order["out_trade_no"])
        assert "继续处理" not in proc.stderr  # the window schedules; the CLI only queries its order
    finally:
        ctx.close()
    assert not InstanceLock(isolated_home / "data" / "ledger.sqlite3").held_elsewhere()


def test_refund_needs_the_manager_pin_once_one_is_set(demo_profile, sim_client):
    from cashier.settings import SettingsStore

    name = add_profile(demo_profile, "fengniao")
    order = as_json(cli("--json", "pay", name, "--amount", "4.00", "--method", "alipay"))
    sim_client.pay("fengniao", order["out_trade_no"])
    assert as_json(cli("--json", "query", name, order["out_trade_no"]))["status"] == "paid"
    SettingsStore().set_pin("2468")
    refused = cli("refund", name, order["out_trade_no"], "--amount", "1.00", check=False)
    assert refused.returncode == 1 and "--pin-stdin" in refused.stderr
    wrong = cli("refund", name, order["out_trade_no"], "--amount", "1.00", "--pin-stdin", stdin="1111\n", check=False)
    assert wrong.returncode == 1 and "店长密码不正确" in wrong.stderr
    assert sim_client.order("fengniao", order["out_trade_no"])["refunded"] in ("0", "0.00")  # nothing was sent
    done = as_json(cli("--json", "refund", name, order["out_trade_no"], "--amount", "1.00", "--pin-stdin",
                       stdin="2468\n"))
    assert done["amount"] == "1.00" and done["status"] in ("processing", "succeeded")
