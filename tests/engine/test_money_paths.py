"""Money paths a careless gateway can bend: a refund reported for another amount than
ours, a refund answer whose amount cannot be read. Against the simulator over real
HTTP, a real ledger and one fake clock."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from cashier.engine.core import EngineError
from cashier.gateways.base import Method
from cashier.ledger import RefundTooLarge
from cashier.ledger import states as S
from cashier.sim.epay import REFUND_MONEY_ABSENT


_codes = itertools.count(700000000000)


def wechat_code() -> str:
    return f"134{next(_codes):015d}"


def paid(env, gateway: str, amount: str):
    order = env.engine.start_qr(env.profile(gateway), Decimal(amount), Method.WECHAT)
    env.sim_client.pay_order(order)
    return env.run_until(order.out_trade_no, {S.PAID}, limit=60)


def refund_requests(env, gateway: str) -> int:
    return len([r for r in env.sim.state.requests if r.get("gateway") == gateway and r.get("op") == "refund"])


def assert_nothing_more_refundable(env, out_trade_no: str) -> None:
    assert env.engine.refundable(out_trade_no) == Decimal("0.00")
    assert env.engine.ledger.history_entry(out_trade_no).refundable == Decimal("0.00")
    with pytest.raises((RefundTooLarge, EngineError)):
        env.engine.refund(out_trade_no, Decimal("0.01"), "again", actor="manager")


def test_ltzf_refund_queried_as_succeeded_for_another_amount_goes_to_a_person(env):
    order = paid(env, "ltzf", "10.00")
    env.sim_client.refund_behaviour(amount="3.00")  # the gateway refunds 3.00 whatever we ask
    refund = env.engine.refund(order.out_trade_no, Decimal("1.00"), "退货", actor="manager")
    assert refund.state in (S.REFUND_PROCESSING, S.REFUND_SUCCEEDED, S.REFUND_NEEDS_CHECK)
    env.run(120)
    after = env.engine.ledger.get_refund(refund.out_refund_no)
    assert after.state == S.REFUND_NEEDS_CHECK, after
    assert after.failure_code == S.REFUND_AMOUNT_MISMATCH
    assert after.failure_params == {"refunded": "3.00", "amount": "1.00"}
    assert after.amount == Decimal("1.00")  # ours, as asked: never rewritten to the gateway's
    # 10.00 - 1.00 would be a figure the gateway contradicts: nothing more until checked
    assert_nothing_more_refundable(env, order.out_trade_no)


def test_ltzf_refund_reported_as_asked_still_succeeds(env):
    order = paid(env, "ltzf", "10.00")
    refund = env.engine.refund(order.out_trade_no, Decimal("1.00"), "退货", actor="manager")
    env.run(120)
    assert env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_SUCCEEDED
    assert env.engine.refundable(order.out_trade_no) == Decimal("9.00")


def test_epay_refund_answered_with_another_amount_goes_to_a_person(env):
    order = paid(env, "epay", "10.00")
    env.sim_client.refund_behaviour(amount="4.00")
    refund = env.engine.refund(order.out_trade_no, Decimal("2.00"), "退货", actor="manager")
    assert refund.state == S.REFUND_NEEDS_CHECK, refund
    assert refund.failure_code == S.REFUND_AMOUNT_MISMATCH
    assert refund.failure_params == {"refunded": "4.00", "amount": "2.00"}
    env.run(60)
    assert env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_NEEDS_CHECK
    assert refund_requests(env, "epay") == 1  # never sent again
    assert_nothing_more_refundable(env, order.out_trade_no)


@pytest.mark.parametrize("money", ["abc", "1e2", "-2.00", "2.001", "", "两元"])
def test_epay_refund_answer_whose_money_cannot_be_read_is_not_as_asked(env, money):
    env.sim.gateways["epay"].refund_money = money
    order = paid(env, "epay", "10.00")
    refund = env.engine.refund(order.out_trade_no, Decimal("2.00"), "退货", actor="manager")
    assert refund.state == S.REFUND_NEEDS_CHECK, refund
    assert refund.failure_code == "gw.bad_answer_amount"
    env.run(60)
    assert env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_NEEDS_CHECK
    assert refund_requests(env, "epay") == 1
    assert_nothing_more_refundable(env, order.out_trade_no)


def test_epay_refund_answer_in_the_documented_form_is_as_asked(env):
    """The document's answer is `code` and `msg` only: success means the money we sent."""
    env.sim.gateways["epay"].refund_money = REFUND_MONEY_ABSENT
    order = paid(env, "epay", "10.00")
    refund = env.engine.refund(order.out_trade_no, Decimal("2.00"), "退货", actor="manager")
    assert refund.state == S.REFUND_SUCCEEDED
    assert env.engine.refundable(order.out_trade_no) == Decimal("8.00")


def test_fengniao_micropay_answered_paid_with_amount_0_is_not_booked_as_ours(env):
    env.sim_client.fault("rewrite", gateway="fengniao", op="micropay", when="after",
                         fields={"total_amount": "0.00"})
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("8.80"), wechat_code(), sale_id="Z1")
    assert order.state == S.NEEDS_CHECK, order
    assert order.reason_code == "reason.amount_mismatch"
    assert order.paid_amount == Decimal("0.00")


def test_fengniao_query_answered_about_another_order_never_closes_ours(env):
    order = env.engine.start_qr(env.profile("fengniao"), Decimal("12.00"), Method.WECHAT)
    env.sim_client.pay_order(order)
    # The answer names another order, closed: ours is paid at the gateway.
    env.sim_client.fault("rewrite", gateway="fengniao", op="query", when="after",
                         fields={"out_trade_no": "OTHER0000001", "trade_status": "CLOSED", "pay_time": ""})
    states = []
    for _ in range(60):
        env.engine.run_due()
        states.append(env.engine.order(order.out_trade_no).state)
        if states[-1] == S.PAID:
            break
        env.advance(1.0)
    assert states[-1] == S.PAID, states
    assert S.CLOSED not in states


def test_fengniao_refund_answered_about_another_order_is_not_ours(env):
    order = paid(env, "fengniao", "10.00")
    env.sim_client.fault("rewrite", gateway="fengniao", op="refund", when="after",
                         fields={"out_trade_no": "OTHER0000002"})
    refund = env.engine.refund(order.out_trade_no, Decimal("1.00"), "退货", actor="manager")
    assert refund.state != S.REFUND_SUCCEEDED
    env.run(120)  # asked again (the same number): settled by the answer about OUR order
    assert env.engine.ledger.get_refund(refund.out_refund_no).state == S.REFUND_SUCCEEDED
    assert env.sim_order("fengniao", order.out_trade_no)["refunded"] == "1.00"


def test_fengniao_reverse_answered_about_another_order_is_not_a_reverse_of_ours(env):
    env.sim_client.micropay_behaviour("never")  # the customer never confirms: reversed at the deadline
    order = env.engine.start_micropay(env.profile("fengniao"), Decimal("6.00"), wechat_code(), sale_id="Z2")
    # The first reverse answer says "done" about another order; ours is still open at the gateway.
    env.sim_client.fault("rewrite", gateway="fengniao", op="reverse", when="after",
                         fields={"out_trade_no": "OTHER0000003", "recall": "N"})
    done = env.run_until(order.out_trade_no, {S.REVERSED, S.NEEDS_CHECK}, limit=300)
    assert done.state == S.REVERSED
    assert env.sim_order("fengniao", order.out_trade_no)["status"] == "REVOKED"  # reversed there too


def test_weidoufu_micropay_answered_about_another_order_never_fails_ours(env):
    """Ours is charged; the answer is about another order, which failed."""
    env.sim_client.fault("rewrite", gateway="weidoufu", op="micropay", when="after",
                         fields={"out_order_no": "OTHER0000004", "status": 3})
    order = env.engine.start_micropay(env.profile("weidoufu"), Decimal("7.00"), wechat_code(), sale_id="Z3")
    assert order.state != S.FAILED, order
    assert env.run_until(order.out_trade_no, {S.PAID, S.FAILED}, limit=120).state == S.PAID


def test_epay_paid_micropay_answer_with_an_empty_money_is_not_booked_as_ours(env):
    env.sim.gateways["epay"].scan_reply = "status"
    env.sim_client.fault("rewrite", gateway="epay", op="micropay", when="after", fields={"money": ""})
    order = env.engine.start_micropay(env.profile("epay"), Decimal("9.00"), wechat_code(), sale_id="Z4")
    assert order.state in (S.UNKNOWN, S.NEEDS_CHECK), order  # followed, never paid on that figure
    assert order.reason_code == "gw.bad_answer_amount"


def test_epay_paid_query_answer_with_an_empty_money_is_not_booked_as_ours(env):
    env.sim.gateways["epay"].scan_reply = "status"
    env.sim_client.micropay_behaviour("password", seconds=8)  # "confirming", then the query says paid
    env.sim_client.fault("rewrite", gateway="epay", op="query", when="after", fields={"money": ""}, count=-1)
    order = env.engine.start_micropay(env.profile("epay"), Decimal("9.00"), wechat_code(), sale_id="Z5")
    assert order.state == S.USERPAYING
    done = env.run_until(order.out_trade_no, {S.PAID, S.NEEDS_CHECK}, limit=120)
    assert done.state == S.NEEDS_CHECK, done
    assert done.reason_code == "gw.bad_answer_amount"


def test_reconciliation_never_records_our_amount_for_a_gateway_payment_of_0(env):
    import datetime

    from cashier.books import Books
    from cashier.i18n import UserError
    from cashier.ledger import books as B
    from cashier.reconcile import Reconciler, resolve
    from cashier.settings import SettingsStore

    SettingsStore().set_pin("2468")
    books = Books(env.engine)
    books.open_shift("小王", Decimal("0.00"))
    epay = env.profile("epay")
    late = env.engine.start_qr(epay, Decimal("15.00"), Method.WECHAT)
    env.engine.stop_waiting(late.out_trade_no)
    env.engine.mark_checked(late.out_trade_no, actor="小王", note="顾客走了")
    env.sim_client.pay_order(late)
    env.sim_client.set_amount("epay", late.out_trade_no, "0.00")  # the gateway books it as 0.00
    result = Reconciler(env.engine, sleep=env.advance).run(epay, datetime.date.fromtimestamp(env.clock.now()))
    assert {d.out_trade_no: d.kind for d in result.differences} == {late.out_trade_no: B.PAID_THERE_NOT_HERE}
    with pytest.raises(UserError):
        resolve(env.engine, books, late.out_trade_no, "record", "顾客后来付了", pin="2468")
    assert env.engine.ledger.get_order(late.out_trade_no + "-R") is None  # no 15.00 booked on a 0.00


def test_fengniao_qr_paid_after_our_watch_but_while_the_gateway_still_takes_it_ends_paid(env):
    """Fengniao takes no expiry and cannot close an order: the wallet keeps it payable
    about 2 h. The order is watched that long, so a late payment is not left "closed"."""
    order = env.engine.start_qr(env.profile("fengniao"), Decimal("18.00"), Method.WECHAT)
    limit = env.engine.settings.late_payment_watch_seconds + 600  # past our own watch
    env.run(limit, step=15.0)
    assert env.engine.order(order.out_trade_no).state == S.EXPIRED  # still watched
    env.sim_client.pay_order(order)  # the customer pays ~40 minutes later: the gateway takes it
    done = env.run_until(order.out_trade_no, {S.PAID, S.CLOSED}, limit=600, step=15.0)
    assert done.state == S.PAID and done.paid_amount == Decimal("18.00")


def test_weidoufu_refund_answered_for_another_amount_goes_to_a_person_with_both_figures(env):
    order = paid(env, "weidoufu", "10.00")
    env.sim_client.refund_behaviour(amount="5.00")
    refund = env.engine.refund(order.out_trade_no, Decimal("2.00"), "退货", actor="manager")
    env.run(30)
    after = env.engine.ledger.get_refund(refund.out_refund_no)
    assert after.state == S.REFUND_NEEDS_CHECK, after
    assert after.failure_code == S.REFUND_AMOUNT_MISMATCH
    assert after.failure_params == {"refunded": "5.00", "amount": "2.00"}
    assert refund_requests(env, "weidoufu") == 1
    assert_nothing_more_refundable(env, order.out_trade_no)
