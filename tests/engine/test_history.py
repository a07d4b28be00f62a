"""The engine's history face: search pages with refund state, and 已核对 (mark_checked)
on every order a person is asked to look at."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashier.engine.core import EngineError
from cashier.gateways.base import Method
from cashier.ledger import states as S
from cashier.ledger.records import OrderQuery


def test_cancelled_qr_the_gateway_cannot_close_can_be_marked_checked(env):
    """LTZF has no close API: a cancelled QR is given up locally and watched quietly. A
    person who checked that no money came may settle it with 已核对."""
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("7.77"), Method.MERGED)
    cancelled = env.engine.stop_waiting(order.out_trade_no)
    assert cancelled.state == S.CANCELLED
    checked = env.engine.mark_checked(order.out_trade_no, actor="王店长")
    assert checked.state == S.CLOSED and checked.checked_by == "王店长" and checked.next_check_at is None
    assert checked not in env.engine.needs_attention()
    assert env.engine.mark_checked(order.out_trade_no, actor="王店长") == checked  # final: left alone


def test_mark_checked_refuses_an_order_still_being_handled(env):
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("3.00"), Method.WECHAT)
    assert order.state == S.PENDING
    with pytest.raises(EngineError) as raised:
        env.engine.mark_checked(order.out_trade_no, actor="店长")
    assert "自动处理" in raised.value.message("zh_CN")
    assert env.engine.order(order.out_trade_no).state == S.PENDING


def test_search_history_shows_a_partial_refund(env):
    profile = env.profile("ltzf")
    order = env.engine.start_qr(profile, Decimal("12.34"), Method.WECHAT)
    env.sim_client.pay("ltzf", order.out_trade_no)
    env.run_until(order.out_trade_no, {S.PAID})
    env.engine.start_qr(profile, Decimal("5.00"), Method.ALIPAY)
    refund = env.engine.refund(order.out_trade_no, Decimal("2.34"), "退货", actor="店长")
    for _ in range(60):
        if env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_SUCCEEDED:
            break
        env.run(5)
    (entry,) = env.engine.search_history(OrderQuery(amount=Decimal("12.34")))
    assert entry.order.out_trade_no == order.out_trade_no
    assert entry.refund_state == "partly" and entry.refunded == Decimal("2.34")
    assert entry.refundable == Decimal("10.00") == env.engine.refundable(order.out_trade_no)
    assert [e.order.out_trade_no for e in env.engine.search_history(OrderQuery(status="partly_refunded"))] == [
        order.out_trade_no]
    assert env.engine.history_entry(order.out_trade_no).refund_state == "partly"
