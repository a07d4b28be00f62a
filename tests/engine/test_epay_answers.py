"""epay (彩虹易支付) payment-code answers through the engine, against the simulated
site over real HTTP and a real ledger: a charge the site completed always ends paid,
and only a definite refusal ends failed."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest

from cashier.engine.core import EngineError, is_held
from cashier.gateways.base import Method, Rejected
from cashier.ledger import states as S

_codes = itertools.count(300000000000)


def wechat_code() -> str:
    return f"134{next(_codes):015d}"


def alipay_code() -> str:
    return f"28{next(_codes):016d}"


@pytest.fixture
def site(env):
    return env.sim.gateways["epay"]


def no_failed_on_the_way(env, out_trade_no: str) -> None:
    states = [e.order.state for e in env.events if e.order is not None and e.order.out_trade_no == out_trade_no]
    assert S.FAILED not in states, states


def test_v1_code_1_payurl_after_the_charge_ends_paid(env, site):
    site.scan_reply = "echojson"
    order = env.engine.start_micropay(env.profile("epay"), Decimal("5.00"), wechat_code(), sale_id="E1")
    assert order.state == S.UNKNOWN  # the answer does not say: query
    assert env.sim_order("epay", order.out_trade_no)["charged"] == 1
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=30)
    assert paid.paid_amount == Decimal("5.00")
    no_failed_on_the_way(env, order.out_trade_no)


def test_v1_alipay_status_0_for_a_while_keeps_polling_until_paid(env, site):
    """The site shows status 0 until Alipay's own notice reaches it, here longer than
    the 60 s micropay deadline: the order is still followed and ends paid."""
    site.scan_reply, site.paid_status_lag = "echojson", 150.0
    order = env.engine.start_micropay(env.profile("epay"), Decimal("6.00"), alipay_code(), sale_id="E2")
    env.run(70)
    waiting = env.engine.order(order.out_trade_no)
    assert waiting.state not in S.FINAL_ORDER_STATES  # epay cannot reverse: a person is told, polling goes on
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=300)
    assert paid.paid_amount == Decimal("6.00")
    no_failed_on_the_way(env, order.out_trade_no)


def test_v1_decline_is_failed_and_a_new_scan_is_allowed(env, site):
    site.scan_reply = "echojson"
    env.sim_client.micropay_behaviour("decline", reason="余额不足")
    order = env.engine.start_micropay(env.profile("epay"), Decimal("6.00"), wechat_code(), sale_id="E3")
    assert order.state == S.FAILED and "余额不足" in order.reason
    again = env.engine.start_micropay(env.profile("epay"), Decimal("6.00"), wechat_code(), sale_id="E3")
    assert again.state == S.PAID or again.state == S.UNKNOWN


def test_v1_system_busy_then_paid_ends_paid(env, site):
    site.scan_reply = "echojson"
    env.sim_client.micropay_behaviour("error_then_pay")
    order = env.engine.start_micropay(env.profile("epay"), Decimal("7.00"), wechat_code(), sale_id="E4")
    assert order.state == S.UNKNOWN
    assert env.run_until(order.out_trade_no, {S.PAID}, limit=30).paid_amount == Decimal("7.00")


def unionpay_code() -> str:
    return f"62{next(_codes):017d}"


def test_error_page_type_missing_is_failed_nothing_charged_use_a_qr(env, site):
    site.disabled_types.add("bank")
    with pytest.raises(Rejected):
        env.engine.start_micropay(env.profile("epay"), Decimal("8.00"), unionpay_code(), sale_id="E5")
    (order,) = env.engine.ledger.orders_for_sale("E5")
    assert order.state == S.FAILED
    assert "支付方式(type)不存在" in order.reason and "扫码" in order.reason
    assert env.sim_order("epay", order.out_trade_no)["charged"] == 0


def test_error_page_after_the_charge_ends_paid(env, site):
    site.pages_after_charge.append("Fatal error: Allowed memory size exhausted")
    order = env.engine.start_micropay(env.profile("epay"), Decimal("8.50"), wechat_code(), sale_id="E6")
    assert order.state == S.UNKNOWN and "Allowed memory" in order.reason
    assert env.run_until(order.out_trade_no, {S.PAID}, limit=30).paid_amount == Decimal("8.50")
    no_failed_on_the_way(env, order.out_trade_no)


def test_code_minus_1_plugin_error_after_the_charge_ends_paid(env, site):
    site.errors_after_charge.append("微信支付下单失败！cURL error 28: Operation timed out")
    order = env.engine.start_micropay(env.profile("epay"), Decimal("9.00"), wechat_code(), sale_id="E7")
    assert order.state == S.UNKNOWN
    assert env.run_until(order.out_trade_no, {S.PAID}, limit=30).state == S.PAID
    no_failed_on_the_way(env, order.out_trade_no)


def test_refund_channel_failure_is_never_failed_nor_resent(env):
    order = env.engine.start_qr(env.profile("epay"), Decimal("10.00"), Method.WECHAT)
    env.sim_client.pay("epay", order.out_trade_no)
    env.run_until(order.out_trade_no, {S.PAID}, limit=30)
    env.sim_client.refund_behaviour(fail_next=True)
    refund = env.engine.refund(order.out_trade_no, Decimal("4.00"), "退货", actor="manager")
    assert refund.state == S.REFUND_UNKNOWN
    env.run(120)
    refund = env.engine.ledger.get_refund(refund.out_refund_no)
    assert refund.state == S.REFUND_NEEDS_CHECK  # a person decides; never re-sent
    assert len([op for op, _ in env.sim.gateways["epay"].received if op == "refund"]) == 1
    assert env.engine.refundable(order.out_trade_no) == Decimal("6.00")  # held back until checked


def test_status_3_frozen_is_paid_but_held_everywhere(env, site):
    order = env.engine.start_qr(env.profile("epay"), Decimal("12.00"), Method.ALIPAY)
    env.sim_client.pay("epay", order.out_trade_no, wallet="alipay")
    site.frozen.add(order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=30)
    assert is_held(paid) and "冻结" in paid.reason and paid.paid_amount == Decimal("12.00")
    assert [e.action for e in env.engine.ledger.events(order.out_trade_no)][-1] == "paid_held"
    report = env.engine.ledger.daily_report(datetime.date.fromtimestamp(paid.paid_at))
    assert [o.out_trade_no for o in report.held_orders] == [order.out_trade_no]
    assert report.totals.paid_sum == Decimal("12.00")  # counted as taken
    other = env.engine.start_qr(env.profile("epay"), Decimal("1.00"), Method.ALIPAY)
    env.sim_client.pay("epay", other.out_trade_no, wallet="alipay")
    assert not is_held(env.run_until(other.out_trade_no, {S.PAID}, limit=30))


def test_a_site_found_without_scan_is_refused_before_sending(env, site):
    gw = env.engine.gateway(env.profile("epay"))
    site.scan_supported = False
    assert gw.probe() == {"scan": "no"}
    with pytest.raises(EngineError):
        env.engine.start_micropay(env.profile("epay"), Decimal("1.00"), wechat_code(), sale_id="E8")
    assert env.engine.ledger.orders_for_sale("E8") == []
    assert not [p for op, p in site.received if op == "micropay" and p.get("auth_code")]
