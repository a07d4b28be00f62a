"""One order query per 5 s per LTZF merchant: who gets the slot. The order the clerk
is waiting on first, then live orders nearest their expiry; cancelled and expired
orders, only watched for a late payment, after them. Real simulator over HTTP, one
fake clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashier.engine import EngineError
from cashier.gateways.base import Method
from cashier.ledger import states as S


def _watched(env, n: int) -> list:
    """`n` QRs the clerk cancelled: LTZF cannot close them, so they are watched."""
    profile = env.profile("ltzf")
    out = []
    for _ in range(n):
        order = env.engine.start_qr(profile, Decimal("1.00"), Method.ALIPAY)
        out.append(env.engine.stop_waiting(order.out_trade_no))
    assert all(o.state == S.CANCELLED for o in out)
    return out


def _queries(env) -> list[float]:
    return [r["at"] for r in env.sim.state.requests if r.get("gateway") == "ltzf" and r.get("op") == "query"]


def test_a_payment_on_screen_is_seen_before_watched_orders_are_asked(env):
    """Four cancelled QRs fall due together with the one on screen: the one on screen
    keeps its 5 s rhythm (before: it queued behind all four, ~25 s)."""
    watched = _watched(env, 4)
    shown = env.engine.start_qr(env.profile("ltzf"), Decimal("8.00"), Method.ALIPAY)
    env.run(16)  # the watched ones fall due (15 s after the cancel), with the shown one
    env.sim_client.pay("ltzf", shown.out_trade_no)
    paid_at = env.clock.now()
    paid = env.run_until(shown.out_trade_no, {S.PAID}, limit=60)
    assert env.clock.now() - paid_at <= 6.0, "the order on screen waited behind watched orders"
    assert paid.paid_amount == Decimal("8.00")
    # The watched ones are still asked afterwards, one slot each, never two within 5 s.
    before = len(_queries(env))
    env.run(30)
    assert len(_queries(env)) - before >= 4
    gaps = [b - a for a, b in zip(_queries(env), _queries(env)[1:])]
    assert min(gaps) >= 5.0
    assert {env.engine.order(o.out_trade_no).state for o in watched} == {S.CANCELLED}


def test_an_order_about_to_expire_gets_its_last_query_on_time(env):
    """At its expiry the QR's last query goes out in the next slot, not after every
    watched order had its turn: the screen's 'checking once more' is short."""
    _watched(env, 4)
    shown = env.engine.start_qr(env.profile("ltzf"), Decimal("8.00"), Method.ALIPAY)
    env.clock.set(shown.expires_at - 14.0)  # the watched ones are due now and again; so is it
    env.engine.run_due()
    env.clock.set(shown.expires_at)
    ended = env.run_until(shown.out_trade_no, {S.EXPIRED}, limit=120)
    assert env.clock.now() - shown.expires_at <= 6.0, "the expiring order waited behind watched orders"
    assert ended.reason_code == "reason.expired"


def test_the_order_on_the_checkout_comes_before_an_older_live_one(env):
    """Two live QRs on one merchant (an older one from a counter that closed, say):
    the one the clerk is showing now is asked first, then the older one."""
    profile = env.profile("ltzf")
    older = env.engine.start_qr(profile, Decimal("2.00"), Method.ALIPAY, sale_id="older-sale")
    env.clock.advance(1)
    shown = env.engine.start_qr(profile, Decimal("3.00"), Method.ALIPAY, sale_id="shown-sale")
    env.run(12)
    env.sim_client.pay("ltzf", shown.out_trade_no)
    env.sim_client.pay("ltzf", older.out_trade_no)
    paid_at = env.clock.now()
    env.run_until(shown.out_trade_no, {S.PAID}, limit=60)
    assert env.clock.now() - paid_at <= 6.0
    assert env.engine.order(older.out_trade_no).state == S.PENDING  # its turn is the next slot
    env.run_until(older.out_trade_no, {S.PAID}, limit=10)


# ------------------------------------------------------------- the clerk's 查单


def test_check_right_after_the_engines_own_query_gives_that_answer(env):
    """The engine's scheduled query just took the slot: the clerk's 查单 is answered
    with it (checked at that time, not paid), never "queried too often"."""
    shown = env.engine.start_qr(env.profile("ltzf"), Decimal("8.00"), Method.ALIPAY)
    env.run(5)
    queried = env.engine.last_query(shown.out_trade_no)
    assert queried is not None and queried.answered
    env.clock.advance(1)
    answer = env.engine.check_soon(shown.out_trade_no)
    assert answer.queried_at == queried.at and answer.due_at is None
    assert answer.order.state == S.PENDING
    # cashier-cli's 查单 still hears the gateway's rule (it waits and asks again)
    with pytest.raises(EngineError) as refused:
        env.engine.check(shown.out_trade_no, actor="cli")
    assert refused.value.key == "engine.check_too_soon"


def test_check_while_another_order_holds_the_slot_is_queued_and_answered(env):
    """The slot went to a watched order just before the new QR's first query: the
    clerk's 查单 is queued for the next slot, goes out first there, and its answer
    arrives as an order event (the customer paid meanwhile: paid)."""
    profile = env.profile("ltzf")
    (watched,) = _watched(env, 1)
    env.clock.set(watched.next_check_at - 1)
    shown = env.engine.start_qr(profile, Decimal("8.00"), Method.ALIPAY)
    env.clock.advance(1)
    env.engine.run_due()  # the watched one's turn: the new QR is not due yet
    assert env.engine.last_query(watched.out_trade_no).at == env.clock.now()
    env.clock.advance(1)
    answer = env.engine.check_soon(shown.out_trade_no)
    assert answer.queried_at is None and answer.due_at == env.clock.now() + 4.0
    assert env.engine.order(shown.out_trade_no).next_check_at <= answer.due_at
    env.sim_client.pay("ltzf", shown.out_trade_no)
    env.events.clear()
    env.clock.set(answer.due_at)
    env.engine.run_due()
    assert env.engine.last_query(shown.out_trade_no).at == answer.due_at
    assert [e.order.state for e in env.events if e.order and e.order.out_trade_no == shown.out_trade_no] == [S.PAID]


def test_a_queued_check_that_finds_nothing_new_still_says_so(env):
    """Queued 查单 answered "not paid yet": no state change, but the screen hears it."""
    profile = env.profile("ltzf")
    _watched(env, 3)
    shown = env.engine.start_qr(profile, Decimal("8.00"), Method.ALIPAY)
    env.engine.stop_waiting(shown.out_trade_no)  # the clerk gave up; then looks again (F5 on the result)
    env.clock.advance(15)
    env.engine.run_due()  # a watched order takes the slot
    answer = env.engine.check_soon(shown.out_trade_no)
    assert answer.due_at is not None
    env.events.clear()
    env.clock.set(answer.due_at)
    env.engine.run_due()
    mine = [e.order for e in env.events if e.order and e.order.out_trade_no == shown.out_trade_no]
    assert [o.state for o in mine] == [S.CANCELLED]
    assert env.engine.last_query(shown.out_trade_no).at == answer.due_at
