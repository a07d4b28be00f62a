"""The order lifecycle against the simulator over real HTTP, with a fake clock."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from cashier.engine import MicropayBusy, NotAPaymentCode
from cashier.engine.core import EngineError
from cashier.gateways.base import Method, UnknownOutcome
from cashier.ledger import states as S

_codes = itertools.count(100000000000)



@pytest.fixture
def ledger_target(books):
    """Every flow on both backends: a SQLite file, then a shared PostgreSQL ledger."""
    return books


def wechat_code() -> str:
    return f"134{next(_codes):015d}"


def alipay_code() -> str:
    return f"28{next(_codes):016d}"


# ---------------------------------------------------------------- QR orders


def test_qr_paid(env):
    profile = env.profile("ltzf")
    order = env.engine.start_qr(profile, Decimal("12.34"), Method.WECHAT, subject="测试")
    assert order.state == S.PENDING
    assert order.qr.startswith("weixin://")
    assert env.sim_order("ltzf", order.out_trade_no)["status"] == "NOTPAY"
    env.run(10)
    assert env.engine.order(order.out_trade_no).state == S.PENDING
    env.sim_client.pay("ltzf", order.out_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID})
    assert paid.paid_amount == Decimal("12.34")
    assert paid.wallet == "wechat"
    assert any(e.order and e.order.state == S.PAID for e in env.events)


def test_qr_polling_respects_ltzf_rate_limit(env):
    """Several open orders on one LTZF merchant: never two queries within 5 s."""
    profile = env.profile("ltzf")
    orders = [env.engine.start_qr(profile, Decimal("1.00"), Method.ALIPAY) for _ in range(3)]
    env.run(60, step=0.5)
    queries = [r["at"] for r in env.sim.state.requests if r.get("gateway") == "ltzf" and r.get("op") == "query"]
    assert len(queries) >= 8
    gaps = [b - a for a, b in zip(queries, queries[1:])]
    assert min(gaps) >= 5.0
    rejected = [o for o in orders if env.engine.order(o.out_trade_no).state != S.PENDING]
    assert not rejected


def test_qr_expiry_without_close_is_watched_for_late_payment(env):
    profile = env.profile("ltzf")  # LTZF has no close API
    order = env.engine.start_qr(profile, Decimal("5.00"), Method.ALIPAY)
    expired = env.run_until(order.out_trade_no, {S.EXPIRED}, limit=400)
    assert expired.watch_until and expired.watch_until > env.clock.now()
    # The customer pays after the QR expired locally: the money is shown, not lost.
    sim_order = env.sim.state.get("ltzf", order.out_trade_no)
    sim_order.expires_at = None  # the wallet's own order outlives our 5 minutes
    sim_order.status = "NOTPAY"
    env.sim_client.pay("ltzf", order.out_trade_no)
    late = env.run_until(order.out_trade_no, {S.PAID}, limit=120)
    assert "付款" in (late.reason or "")


def test_qr_expiry_watch_ends_closed(env):
    env.engine.settings.late_payment_watch_seconds = 120
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("5.00"), Method.WECHAT)
    env.run_until(order.out_trade_no, {S.EXPIRED}, limit=400)
    closed = env.run_until(order.out_trade_no, {S.CLOSED}, limit=400, step=5)
    assert closed.paid_amount is None


def test_clerk_cancel_qr(env):
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("3.00"), Method.MERGED)
    cancelled = env.engine.stop_waiting(order.out_trade_no)
    assert cancelled.state == S.CANCELLED  # LTZF cannot close: watched quietly
    assert "取消" in cancelled.reason and cancelled.reason_code == "reason.cancelled"
    assert order.out_trade_no not in {o.out_trade_no for o in env.engine.needs_attention()}
    env.run(60)
    assert env.engine.order(order.out_trade_no).state == S.CANCELLED


def test_money_on_a_cancelled_qr_reaches_a_person(env):
    """Cancelled is not expired: quiet until money arrives, then in the to-check list."""
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("3.00"), Method.WECHAT)
    env.engine.stop_waiting(order.out_trade_no)
    env.sim_client.pay("ltzf", order.out_trade_no)
    flagged = env.run_until(order.out_trade_no, {S.NEEDS_CHECK}, limit=120)
    assert flagged.paid_amount == Decimal("3.00") and flagged.reason_code == "reason.late_payment"
    assert order.out_trade_no in {o.out_trade_no for o in env.engine.needs_attention()}
    assert env.engine.mark_checked(order.out_trade_no, actor="boss").state == S.PAID


def test_qr_create_timeout_is_unknown_then_settled(env):
    """The create's answer is lost after the gateway made the order: the order is
    followed (never shown, so closed locally) and never reported paid."""
    env.sim_client.fault("reset", gateway="ltzf", op="create", when="after")
    with pytest.raises(UnknownOutcome):
        env.engine.start_qr(env.profile("ltzf"), Decimal("9.99"), Method.WECHAT)
    (order,) = env.engine.ledger.unresolved_orders()
    assert order.state == S.UNKNOWN
    assert env.sim_order("ltzf", order.out_trade_no)["status"] == "NOTPAY"
    settled = env.run_until(order.out_trade_no, {S.CANCELLED, S.CLOSED}, limit=120)
    assert settled.reason_code in ("reason.never_shown", "reason.never_created")
    assert settled.paid_amount is None


def test_its500_discounted_amount_is_what_must_be_paid(env):
    order = env.engine.start_qr(env.profile("its500"), Decimal("100.00"), Method.ALIPAY)
    assert order.amount == Decimal("100.00")
    assert Decimal("99.00") <= order.amount_to_pay < Decimal("100.00")
    # its500 knows orders only by its own orderId; the engine follows it by query
    env.sim_client.pay("its500", order.gateway_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=60)
    assert paid.paid_amount == order.amount_to_pay


def test_method_not_supported(env):
    with pytest.raises(EngineError):
        env.engine.start_qr(env.profile("its500"), Decimal("5.00"), Method.MERGED)


# ---------------------------------------------------------------- micropay


def test_micropay_paid_at_once(env):
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("8.80"), wechat_code(), sale_id="S1")
    assert order.state == S.PAID
    assert order.auth_code_last4 and len(order.auth_code_last4) == 4


def test_micropay_password_then_paid(env):
    env.sim_client.micropay_behaviour("password", seconds=12)
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("20.00"), alipay_code(), sale_id="S2")
    assert order.state == S.USERPAYING
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=60)
    assert paid.paid_amount == Decimal("20.00")
    assert env.sim_order("fengniao", order.out_trade_no)["charged"] == 1


def test_micropay_never_pays_is_reversed_after_last_query(env):
    env.sim_client.micropay_behaviour("never")
    start = env.clock.now()
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S3")
    assert order.state == S.USERPAYING
    done = env.run_until(order.out_trade_no, {S.REVERSED}, limit=120)
    assert done.state == S.REVERSED
    requests = [r for r in env.sim.state.requests if r.get("gateway") == "fengniao"]
    reverse = [r for r in requests if r.get("op") == "reverse"]
    queries = [r for r in requests if r.get("op") == "query"]
    assert reverse, "no reverse was sent"
    # WeChat: about 30 s of queries every 5 s, reverse right after the last query.
    assert 30 <= reverse[0]["at"] - start <= 36
    assert queries[-1]["at"] <= reverse[0]["at"] <= queries[-1]["at"] + 1.5
    assert all(b["at"] - a["at"] >= 4.9 for a, b in zip(queries, queries[1:]))
    assert env.sim_order("fengniao", order.out_trade_no)["status"] == "REVOKED"


def test_micropay_alipay_waits_60s(env):
    env.sim_client.micropay_behaviour("never")
    start = env.clock.now()
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), alipay_code(), sale_id="S4")
    env.run_until(order.out_trade_no, {S.REVERSED}, limit=120)
    reverse = [r for r in env.sim.state.requests if r.get("gateway") == "fengniao" and r.get("op") == "reverse"]
    assert 60 <= reverse[0]["at"] - start <= 66


def test_stop_waiting_wechat_never_reverses_before_15s(env):
    env.sim_client.micropay_behaviour("never")
    start = env.clock.now()
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S5")
    env.advance(2)
    after = env.engine.stop_waiting(order.out_trade_no)
    assert after.state != S.REVERSED
    done = env.run_until(order.out_trade_no, {S.REVERSED}, limit=60)
    reverse = [r for r in env.sim.state.requests if r.get("gateway") == "fengniao" and r.get("op") == "reverse"]
    assert reverse[0]["at"] - start >= 15
    assert done.state == S.REVERSED


def test_micropay_declined_is_failed_and_new_scan_allowed(env):
    env.sim_client.micropay_behaviour("decline", reason="余额不足")
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S6")
    assert order.state == S.FAILED
    assert "余额不足" in order.reason
    again = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S6")
    assert again.state == S.PAID
    assert again.out_trade_no != order.out_trade_no


def test_second_scan_refused_while_unresolved(env):
    """The known double charge: a rescan while the first attempt is unresolved."""
    env.sim_client.micropay_behaviour("password", seconds=20)
    first = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S7")
    assert first.state == S.USERPAYING
    with pytest.raises(MicropayBusy):
        env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S7")
    env.run_until(first.out_trade_no, {S.PAID}, limit=60)
    with pytest.raises(MicropayBusy):  # paid: never charge the same sale again
        env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="S7")
    charged = [o for o in env.sim_client.books() if o["gateway"] == "fengniao" and o["charged"]]
    assert len(charged) == 1


def test_not_a_payment_code(env):
    for code in ("12345", "6912345678901", "abc", "", "134567890123456789X"):
        with pytest.raises(NotAPaymentCode):
            env.engine.start_micropay(env.profile("fengniao"), Decimal("1.00"), code, sale_id="S8")
    assert env.engine.ledger.history(limit=10) == []


def test_micropay_system_error_but_paid_is_found_by_query(env):
    env.sim_client.micropay_behaviour("error_then_pay")
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("4.00"), alipay_code(), sale_id="S9")
    assert order.state == S.UNKNOWN
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=30)
    assert paid.state == S.PAID
    assert env.sim_order("fengniao", order.out_trade_no)["charged"] == 1


def test_micropay_answer_lost_after_charge_is_found_not_charged_twice(env):
    env.sim_client.fault("reset", gateway="fengniao", op="micropay", when="after")
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("4.00"), wechat_code(), sale_id="S10")
    assert order.state == S.UNKNOWN
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=30)
    assert paid.paid_amount == Decimal("4.00")


def test_micropay_without_reverse_needs_checking(env):
    """Weidoufu cannot reverse: an unresolved scan is handed to a person, never dropped,
    and still watched: a late confirmation shows up as paid."""
    env.sim_client.micropay_behaviour("never")
    order = env.engine.start_micropay(env.profile("weidoufu"), Decimal("6.00"), wechat_code(), sale_id="S11")
    assert order.state in (S.USERPAYING, S.UNKNOWN)
    settled = env.run_until(order.out_trade_no, {S.NEEDS_CHECK, S.CLOSED, S.REVERSED, S.PAID}, limit=120)
    assert settled.state == S.NEEDS_CHECK
    assert "撤销" in settled.reason
    assert settled in env.engine.needs_attention()
    checked = env.engine.mark_checked(order.out_trade_no, actor="店长")
    assert checked.state == S.CLOSED and checked.checked_by == "店长"


def test_needs_checking_micropay_still_watched_for_late_payment(env):
    env.sim_client.micropay_behaviour("never")
    order = env.engine.start_micropay(env.profile("weidoufu"), Decimal("6.00"), alipay_code(), sale_id="S12")
    env.run_until(order.out_trade_no, {S.NEEDS_CHECK}, limit=120)
    env.sim.state.get("weidoufu", order.out_trade_no).pay_at = env.clock.now()  # the customer confirms late
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=300, step=5)
    assert paid.paid_amount == Decimal("6.00")


# ---------------------------------------------------------------- refunds


def _paid_ltzf(env, amount="10.00", method=Method.WECHAT):
    order = env.engine.start_qr(env.profile("ltzf"), Decimal(amount), method)
    env.sim_client.pay("ltzf", order.out_trade_no)
    return env.run_until(order.out_trade_no, {S.PAID})


def test_partial_refunds_followed_until_final(env):
    env.sim_client.refund_behaviour(delay=30)
    order = _paid_ltzf(env)
    refund = env.engine.refund(order.out_trade_no, Decimal("3.00"), "退货", actor="店长")
    assert refund.state == S.REFUND_PROCESSING
    assert env.engine.refundable(order.out_trade_no) == Decimal("7.00")
    for _ in range(200):
        env.engine.run_due()
        if env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_SUCCEEDED:
            break
        env.advance(1)
    assert env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_SUCCEEDED
    # LTZF: first query about a minute after, then at most one per 10 s
    rq = [r["at"] for r in env.sim.state.requests if r.get("gateway") == "ltzf" and r.get("op") == "refund_query"]
    assert rq and rq[0] - refund.created_at >= 55
    assert all(b - a >= 10 for a, b in zip(rq, rq[1:]))


def test_refund_more_than_refundable_is_refused(env):
    order = _paid_ltzf(env, "10.00")
    from cashier.ledger import RefundTooLarge

    with pytest.raises(RefundTooLarge):
        env.engine.refund(order.out_trade_no, Decimal("10.01"), "", actor="店长")
    assert env.engine.ledger.refunds_for(order.out_trade_no) == []


def test_refund_spacing_enforced_before_sending(env):
    order = _paid_ltzf(env, "10.00", Method.WECHAT)
    env.engine.refund(order.out_trade_no, Decimal("1.00"), "", actor="店长")
    with pytest.raises(EngineError) as info:
        env.engine.refund(order.out_trade_no, Decimal("1.00"), "", actor="店长")
    assert "间隔" in info.value.message("zh_CN")
    env.advance(61)
    second = env.engine.refund(order.out_trade_no, Decimal("1.00"), "", actor="店长")
    assert second.state in (S.REFUND_PROCESSING, S.REFUND_SUCCEEDED)


def test_its500_refund_is_manual(env):
    order = env.engine.start_qr(env.profile("its500"), Decimal("10.00"), Method.ALIPAY)
    env.sim_client.pay("its500", order.gateway_trade_no)
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=60)
    with pytest.raises(EngineError) as info:
        env.engine.refund(paid.out_trade_no, Decimal("1.00"), "", actor="店长")
    assert "手工" in info.value.message("zh_CN")


def test_refund_answer_lost_is_resolved_with_the_same_number(env):
    order = _paid_ltzf(env, "10.00")
    env.sim_client.fault("reset", gateway="ltzf", op="refund", when="after")
    refund = env.engine.refund(order.out_trade_no, Decimal("4.00"), "", actor="店长")
    assert refund.state == S.REFUND_UNKNOWN
    for _ in range(300):
        env.engine.run_due()
        if env.engine.ledger.get_refund(refund.out_refund_no).state in S.FINAL_REFUND_STATES:
            break
        env.advance(1)
    final = env.engine.ledger.get_refund(refund.out_refund_no)
    assert final.state == S.REFUND_SUCCEEDED
    sim_refunds = env.sim_order("ltzf", order.out_trade_no)["refunds"]
    assert len(sim_refunds) == 1 and sim_refunds[0]["amount"] == "4.00"


# ---------------------------------------------------------------- recovery


def test_recovery_resumes_unresolved(env):
    env.sim_client.micropay_behaviour("password", seconds=8)
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("7.00"), alipay_code(), sale_id="R1")
    assert order.state == S.USERPAYING
    env.restart()
    resumed = env.engine.recover()
    assert order.out_trade_no in resumed
    paid = env.run_until(order.out_trade_no, {S.PAID}, limit=60)
    assert paid.state == S.PAID


def test_partial_refund_cap_enforced_before_sending(env):
    """Weidoufu allows at most 10 partial refunds per order."""
    order = env.engine.start_micropay(env.profile("weidoufu"), Decimal("20.00"), wechat_code(), sale_id="CAP")
    assert order.state == S.PAID
    for _ in range(10):
        env.engine.refund(order.out_trade_no, Decimal("1.00"), "", actor="店长")
        env.advance(5)
    sent = len(env.sim_order("weidoufu", order.out_trade_no)["refunds"])
    with pytest.raises(EngineError) as info:
        env.engine.refund(order.out_trade_no, Decimal("1.00"), "", actor="店长")
    assert "10" in info.value.message("zh_CN")
    assert len(env.sim_order("weidoufu", order.out_trade_no)["refunds"]) == sent == 10
    assert env.engine.refundable(order.out_trade_no) == Decimal("10.00")


def test_order_numbers_fit_every_gateway(env):
    import re

    from cashier.engine.numbers import make_number
    from cashier.gateways import GATEWAYS, gateway_class

    numbers = [make_number(kind, counter, env.clock.now(), seq) for kind in "PR"
               for counter in ("1", "01", "A9Z", "ZZZZ") for seq in (0, 1, 999_999, 1_000_000)]
    assert len(set(numbers)) == len(numbers) - 8  # the sequence wraps at a million (0 == 1,000,000): same second only
    for name in GATEWAYS:
        limits = gateway_class(name).limits
        for number in numbers:
            assert re.fullmatch(limits.trade_no_pattern, number), (name, number)
            assert limits.trade_no_min_length <= len(number) <= limits.trade_no_max_length
    later = make_number("P", "01", env.clock.now() + 1, 0)
    assert later > make_number("P", "01", env.clock.now(), 999_999)  # sortable by time


def test_events_reach_subscribers_for_every_state_change(env):
    order = env.engine.start_qr(env.profile("ltzf"), Decimal("1.00"), Method.WECHAT)
    env.sim_client.pay("ltzf", order.out_trade_no)
    env.run_until(order.out_trade_no, {S.PAID})
    seen = [e.order.state for e in env.events if e.order and e.order.out_trade_no == order.out_trade_no]
    assert seen[0] == S.SENDING and S.PENDING in seen and seen[-1] == S.PAID


def test_late_payment_of_an_abandoned_qr_for_a_paid_sale_is_flagged(env):
    """The clerk cancelled a QR (LTZF cannot close it), showed a second one for the
    same sale, the customer paid that, and later the first too: both are recorded,
    and the second payment is handed to a person to refund."""
    profile = env.profile("ltzf")
    first = env.engine.start_qr(profile, Decimal("5.00"), Method.WECHAT, sale_id="DOUBLE")
    assert env.engine.stop_waiting(first.out_trade_no).state == S.CANCELLED
    second = env.engine.start_qr(profile, Decimal("5.00"), Method.ALIPAY, sale_id="DOUBLE")
    env.sim_client.pay("ltzf", second.out_trade_no)
    env.run_until(second.out_trade_no, {S.PAID})
    env.sim_client.pay("ltzf", first.out_trade_no)
    late = env.run_until(first.out_trade_no, {S.NEEDS_CHECK, S.PAID}, limit=120)
    assert late.state == S.NEEDS_CHECK and late.paid_amount == Decimal("5.00")
    assert second.out_trade_no in late.reason
    assert late in env.engine.needs_attention()
    report = env.engine.ledger.daily_report(__import__("datetime").date.fromtimestamp(env.clock.now()))
    assert report.totals.paid_sum == Decimal("10.00")  # every fen taken is counted


def test_a_payment_settled_after_a_lost_answer_keeps_no_stale_reason(env):
    """"Outcome unknown, querying" is what was true while it was unsettled; once the
    query says paid, the order is plainly paid (the window and CLI showed both)."""
    profile = env.profile("fengniao")
    env.sim_client.fault("reset", gateway="fengniao", op="micropay", when="after")
    order = env.engine.start_micropay(profile, Decimal("3.00"), wechat_code())
    assert order.state in (S.UNKNOWN, S.PENDING, S.USERPAYING) and order.reason
    paid = env.run_until(order.out_trade_no, {S.PAID})
    assert paid.reason is None and paid.reason_code is None
