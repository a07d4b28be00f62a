"""Fault injection: the engine never reports paid when it was not, and never loses a
paid order, whatever the gateway or the network does."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from cashier.engine.notify import NotificationReceiver
from cashier.gateways import build_gateway
from cashier.gateways.base import Method
from cashier.gateways.http import GatewayHttp
from cashier.ledger import states as S


def _pending(env, gateway="ltzf", method=Method.WECHAT, amount="10.00"):
    return env.engine.start_qr(env.profile(gateway), Decimal(amount), method)


@pytest.mark.parametrize("kind", ["http500", "malformed", "reset"])
def test_query_faults_never_paid_never_lost(env, kind):
    order = _pending(env)
    env.sim_client.fault(kind, gateway="ltzf", op="query", count=6)
    env.run(120, step=1)
    current = env.engine.order(order.out_trade_no)
    assert current.state == S.PENDING and current.paid_amount is None
    env.sim_client.pay("ltzf", order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=200)
    assert paid.paid_amount == Decimal("10.00")
    errors = [e for e in env.engine.ledger.events(order.out_trade_no) if e.action == "gateway_error"]
    assert errors, "the faults left no trace in the event log"


def test_query_timeouts(env):
    """A gateway that answers slower than the read timeout: outcome unknown, retried."""
    profile, secret = env.pairs["fengniao"]
    short = GatewayHttp(profile.base_url, secrets=(secret,), timeout=httpx.Timeout(0.3))
    env.engine._gateways[profile.name].close_transport()
    env.engine._gateways[profile.name] = build_gateway(profile, secret, http=short)
    env.sim_client.micropay_behaviour("password", seconds=3)
    order = env.engine.start_micropay(profile.name, Decimal("2.00"), "134000000000000001", sale_id="T1")
    assert order.state == S.USERPAYING
    env.sim_client.fault("delay", gateway="fengniao", op="query", seconds=1.0, count=2)
    paid = env.run_until(order.out_trade_no, {S.PAID, S.REVERSED}, limit=60)
    assert paid.state == S.PAID
    assert env.sim_order("fengniao", order.out_trade_no)["charged"] == 1


def test_unreachable_gateway_is_marked_needs_check_and_still_watched(env):
    env.engine.settings.max_error_checks = 5
    order = _pending(env)
    env.sim_client.fault("http500", gateway="ltzf", op="query", count=-1)
    checked = env.run_until(order.out_trade_no, {S.NEEDS_CHECK}, limit=900, step=2)
    assert checked in env.engine.needs_attention()
    env.sim_client.clear_faults()
    env.sim.state.get("ltzf", order.out_trade_no).expires_at = None
    env.sim_client.pay("ltzf", order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=300, step=5)
    assert paid.paid_amount == Decimal("10.00")


# ------------------------------------------------------------ notifications


@pytest.fixture
def receiver(env):
    r = NotificationReceiver(env.engine, port=0, path="/notify").start()
    yield r
    r.stop()


def test_valid_notification_marks_paid_once(env, receiver):
    order = _pending(env)
    env.sim_client.pay("ltzf", order.out_trade_no)
    first = env.sim_client.notify("ltzf", order.out_trade_no, url=receiver.url_for("ltzf"))
    assert first["status"] == 200 and first["body"] == "SUCCESS"
    assert env.engine.order(order.out_trade_no).state == S.PAID
    replay = env.sim_client.notify("ltzf", order.out_trade_no, url=receiver.url_for("ltzf"))
    assert replay["body"] == "SUCCESS"
    paid_events = [e for e in env.engine.ledger.events(order.out_trade_no) if e.new_state == S.PAID and e.old_state != S.PAID]
    assert len(paid_events) == 1


def test_forged_notification_rejected(env, receiver):
    order = _pending(env)
    env.sim_client.pay("ltzf", order.out_trade_no)  # paid at the gateway, but the note is forged
    forged = env.sim_client.notify("ltzf", order.out_trade_no, url=receiver.url_for("ltzf"), forge=True)
    assert forged["body"] != "SUCCESS"
    assert env.engine.order(order.out_trade_no).state == S.PENDING


def test_amount_mismatched_notification_rejected(env, receiver):
    order = _pending(env, amount="10.00")
    env.sim_client.pay("ltzf", order.out_trade_no)
    wrong = env.sim_client.notify("ltzf", order.out_trade_no, url=receiver.url_for("ltzf"), amount="0.01")
    assert wrong["body"] != "SUCCESS"
    assert env.engine.order(order.out_trade_no).state == S.PENDING
    rejected = [e for e in env.engine.ledger.events(order.out_trade_no) if e.action == "notification_rejected"]
    assert rejected


def test_notification_for_an_order_that_is_not_ours(env, receiver):
    order = _pending(env)
    env.sim_client.pay("ltzf", order.out_trade_no)
    env.ledger_path = env.tmp_path / "another-counter.sqlite3"  # a ledger that never made this order
    env.restart()
    receiver.engine = env.engine
    reply = env.sim_client.notify("ltzf", order.out_trade_no, url=receiver.url_for("ltzf"))
    assert reply["body"] != "SUCCESS"
    assert env.engine.ledger.get_order(order.out_trade_no) is None


def test_its500_unsigned_notification_is_confirmed_by_query(env, receiver):
    order = env.engine.start_qr(env.profile("its500"), Decimal("10.00"), Method.WECHAT)
    # A notification for an order the customer has NOT paid: never trusted alone.
    reply = env.sim_client.notify("its500", order.gateway_trade_no, url=receiver.url_for("its500"))
    assert reply["status"] == 200
    env.run(10)
    assert env.engine.order(order.out_trade_no).state == S.PENDING
    env.sim_client.pay("its500", order.gateway_trade_no)
    env.sim_client.notify("its500", order.gateway_trade_no, url=receiver.url_for("its500"))
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=60)
    assert paid.paid_amount == order.amount_to_pay


def test_full_disk_sends_nothing(env):
    """The ledger cannot write: the clerk gets a clear message and no request leaves,
    so nobody can be charged for an order the books do not hold."""
    from cashier.ledger import Ledger, LedgerFull

    pages = env.engine.ledger.settings()["page_count"]
    env.restart()
    env.engine.ledger.close()
    full = Ledger(env.ledger_path, clock=env.clock.now, max_page_count=pages + 2)
    filled = 0
    for size in (400, 40, 0):  # fill what is left, down to the last byte, as a full disk would be
        with pytest.raises(LedgerFull):
            for _ in range(100_000):
                full.create_order(out_trade_no=f"FILL{filled:08d}", sale_id="fill", counter_id="01", profile="x",
                                  gateway="ltzf", method="wechat", wallet="wechat", amount=Decimal("1.00"),
                                  subject="x" * size)
                filled += 1
    env.engine = type(env.engine)(full, env.engine._gateways, clock=env.clock)
    with pytest.raises(LedgerFull) as info:
        env.engine.start_qr(env.profile("ltzf"), Decimal("8.00"), Method.WECHAT)
    assert "磁盘" in info.value.message("zh_CN")
    assert env.sim_client.orders("ltzf") == []
