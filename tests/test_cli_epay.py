"""cashier-cli against the simulated epay (彩虹易支付) site in each answer form of a
real site: a charge the site completed ends paid and is shown paid; only a definite
refusal is shown as failed; a frozen order is paid-but-held; doctor finds out, charging
nothing, whether the site takes payment codes, and the profile remembers it."""

from __future__ import annotations

import itertools
import json

import pytest

from cashier.profiles import ProfileStore
from tests.test_cli import add_profile, as_json, cli

_code = itertools.count(10**9)


def wechat() -> str:
    return f"13{next(_code):016d}"


@pytest.fixture
def site(sim):
    return sim.gateways["epay"]


@pytest.fixture
def epay(demo_profile, site) -> str:
    return add_profile(demo_profile, "epay")


def test_v1_code_1_payurl_is_not_failed_and_ends_paid(epay, site, sim_client):
    site.scan_reply = "echojson"
    first = cli("--json", "micropay", epay, "--amount", "4.00", "--auth-code", wechat(), "--wait", "0.2", check=False)
    out = as_json(first)
    assert out["status"] == "unknown" and first.returncode == 3  # not "failed, nothing charged"
    assert sim_client.order("epay", out["out_trade_no"])["charged"] == 1
    paid = as_json(cli("--json", "query", epay, out["out_trade_no"]))
    assert paid["status"] == "paid" and paid["paid_amount"] == "4.00"


def test_v1_decline_is_failed_with_the_channels_words(epay, site, sim_client):
    site.scan_reply = "echojson"
    sim_client.micropay_behaviour("decline", reason="余额不足")
    proc = cli("--json", "micropay", epay, "--amount", "4.00", "--auth-code", wechat(), check=False)
    out = as_json(proc)
    assert out["status"] == "failed" and "余额不足" in out["reason"] and proc.returncode == 3


def test_already_paid_resubmission_is_unknown_then_paid(epay, site, sim_client):
    """code -1 已完成支付 comes when an order paid meanwhile is sent again."""
    site.scan_reply = "status"
    site.errors_after_charge.append("该订单(x)已完成支付，请勿重复发起支付")
    out = as_json(cli("--json", "micropay", epay, "--amount", "2.00", "--auth-code", wechat(), "--wait", "0.2",
                      check=False))
    assert out["status"] == "unknown" and "已完成支付" in out["reason"]
    assert as_json(cli("--json", "query", epay, out["out_trade_no"]))["status"] == "paid"


def test_error_page_type_missing_tells_the_clerk_to_use_a_qr(epay, site, sim_client):
    site.disabled_types.add("bank")
    proc = cli("micropay", epay, "--amount", "3.00", "--auth-code", f"62{next(_code):017d}", check=False)
    assert proc.returncode == 1
    assert "支付方式(type)不存在" in proc.stderr and "扫码" in proc.stderr and "Traceback" not in proc.stderr
    history = as_json(cli("--json", "history"))
    assert history["orders"][0]["status"] == "failed"
    assert all(o["charged"] == 0 for o in sim_client.orders("epay"))


def test_frozen_is_paid_but_held_in_query_history_and_report(epay, site, sim_client):
    out = as_json(cli("--json", "pay", epay, "--amount", "6.00", "--method", "alipay"))
    sim_client.pay("epay", out["out_trade_no"], wallet="alipay")
    site.frozen.add(out["out_trade_no"])
    paid = as_json(cli("--json", "query", epay, out["out_trade_no"]))
    assert paid["status"] == "paid" and paid["held"] is True and "冻结" in paid["reason"]
    text = cli("history").stdout
    assert "资金被冻结" in text and "冻结了这笔钱" in text
    report = as_json(cli("--json", "report"))
    assert [o["out_trade_no"] for o in report["held_orders"]] == [out["out_trade_no"]]
    assert report["totals"]["paid_sum"] == "6.00"
    assert "冻结" in cli("report").stdout
    english = cli("--lang", "en", "query", epay, out["out_trade_no"]).stdout
    assert "paid (held)" in english


def test_doctor_finds_a_site_without_payment_codes_and_the_profile_remembers(epay, site, sim_client):
    out = as_json(cli("--json", "doctor", epay))
    assert out["ok"] and out["found"] == {"scan": "yes"}
    assert ProfileStore().get(epay).extra.get("scan") == "yes"
    site.scan_supported = False
    out = as_json(cli("--json", "doctor", epay))
    assert out["found"] == {"scan": "no"}
    assert ProfileStore().get(epay).extra.get("scan") == "no"
    assert all(o["charged"] == 0 for o in sim_client.orders("epay"))
    proc = cli("micropay", epay, "--amount", "1.00", "--auth-code", wechat(), check=False)
    assert proc.returncode == 1 and "付款码" in proc.stderr
    assert not [p for op, p in site.received if op == "micropay" and p.get("auth_code")]  # nothing sent
