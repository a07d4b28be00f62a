"""Crash test for epay's payment-code answer: a real `cashier-cli` is killed with
SIGKILL right after the site answered "code 1 + payurl" (彩虹易支付 V1's answer after
the channel charged the customer), before anything of that answer was written. A
fresh process recovers, queries, and the ledger ends paid."""

from __future__ import annotations

import sys

import pytest

from tests.engine.test_crash import SIGKILLED, counter  # noqa: F401  (the fixture)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def test_kill_right_after_the_v1_code_1_payurl_answer_recovers_paid(counter):  # noqa: F811
    site = counter.sim.gateways["epay"]
    site.scan_reply = "echojson"
    proc = counter.run("micropay", "epay", "--amount", "5.00", "--auth-code", counter.wechat_code(),
                       failpoint="after_unknown_answer")
    assert proc.returncode == SIGKILLED
    order = counter.latest_order()
    assert order["state"] == "sending"  # the answer was never written
    assert counter.client.order("epay", order["out_trade_no"])["charged"] == 1
    counter.recover()
    assert counter.state_of(order["out_trade_no"]) == "paid"
    assert counter.ledger_orders()[order["out_trade_no"]]["paid_amount_fen"] == 500
    counter.assert_books_agree()


def test_kill_right_after_the_answer_alipay_status_still_0(counter):  # noqa: F811
    """The site's Alipay channel shows the charged order unpaid until Alipay's notice
    arrives: recovery keeps following it and it ends paid."""
    site = counter.sim.gateways["epay"]
    site.scan_reply, site.paid_status_lag = "echojson", 20.0
    proc = counter.run("micropay", "epay", "--amount", "6.00", "--auth-code", counter.alipay_code(),
                       failpoint="after_unknown_answer")
    assert proc.returncode == SIGKILLED
    order = counter.latest_order()
    counter.recover(wait=1)
    assert counter.state_of(order["out_trade_no"]) not in ("paid", "failed", "closed")
    counter.advance(21)
    counter.recover(wait=8)
    assert counter.state_of(order["out_trade_no"]) == "paid"
    counter.assert_books_agree()
