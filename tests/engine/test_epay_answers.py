"""epay (彩虹易支付) payment-code answers through the engine, against the simulated
site over real HTTP and a real ledger: a charge the site completed always ends paid,
and only a definite refusal ends failed."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

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
