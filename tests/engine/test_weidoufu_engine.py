"""Weidoufu through the engine: what the clerk ends up with for a refund whose signature
form is refused, a refund whose answer is lost, and a notification signed the way the
public client checks it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashier.engine.notify import NotificationReceiver
from cashier.gateways.base import Method
from cashier.gateways.weidoufu import RefundSignatureUnconfirmed
from cashier.ledger import states as S


def _paid(env, amount: str = "10.00"):
    order = env.engine.start_qr(env.profile("weidoufu"), Decimal(amount), Method.WECHAT)
    env.sim_client.pay("weidoufu", order.out_trade_no)
    return env.run_until(order.out_trade_no, {S.PAID}, limit=60)


def test_refund_signature_form_refused_tells_the_clerk_what_to_do(env):
    order = _paid(env)
    env.sim.gateways["weidoufu"].refund_sign_form = "public_page"
    with pytest.raises(RefundSignatureUnconfirmed) as info:
        env.engine.refund(order.out_trade_no, Decimal("1.00"), "退货", actor="店长")
    refund = env.engine.ledger.refunds_for(order.out_trade_no)[0]
    assert refund.state == S.REFUND_FAILED
    assert refund.failure_reason == info.value.message()
    assert "签名方式尚未得到确认" in refund.failure_reason and "请检查商户密钥" not in refund.failure_reason
    assert env.sim_order("weidoufu", order.out_trade_no)["refunds"] == []
    assert env.engine.refundable(order.out_trade_no) == Decimal("10.00")


def test_refund_answer_lost_is_never_sent_again(env):
    """No refund number, no refund query: a lost answer is for the clerk to check."""
    order = _paid(env)
    env.sim_client.fault("reset", gateway="weidoufu", op="refund", when="after")
    refund = env.engine.refund(order.out_trade_no, Decimal("2.00"), "", actor="店长")
    assert refund.state == S.REFUND_UNKNOWN
    env.run(600, step=10)
    refund = env.engine.ledger.get_refund(refund.out_refund_no)
    assert refund.state == S.REFUND_NEEDS_CHECK
    assert [r["amount"] for r in env.sim_order("weidoufu", order.out_trade_no)["refunds"]] == ["2.00"]


def test_hmac_signed_notification_marks_paid(env):
    receiver = NotificationReceiver(env.engine, port=0, path="/notify").start()
    try:
        order = env.engine.start_qr(env.profile("weidoufu"), Decimal("6.60"), Method.ALIPAY)
        env.sim_client.pay("weidoufu", order.out_trade_no)
        reply = env.sim_client.notify("weidoufu", order.out_trade_no, url=receiver.url_for("weidoufu"))
        assert reply["status"] == 200 and reply["body"] == "success"
        assert env.engine.order(order.out_trade_no).state == S.PAID
        forged = env.sim_client.notify("weidoufu", order.out_trade_no, url=receiver.url_for("weidoufu"), forge=True)
        assert forged["status"] == 400 and forged["body"] == "fail"
    finally:
        receiver.stop()
