"""Refunds: never more than was paid, counting refunds still in progress."""

from __future__ import annotations

import tempfile
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashier.ledger import (
    DuplicateRefund,
    Ledger,
    OrderNotFound,
    RefundNotFound,
    RefundTooLarge,
    StateConflict,
    states,
)
from cashier.money import from_fen

from .helpers import ManualClock, drive, new_order, paid_order


def refund(ledger, no, order="P1", amount="1.00", **kw):
    return ledger.create_refund(out_refund_no=no, out_trade_no=order, amount=Decimal(amount),
                                reason=kw.pop("reason", "customer returned it"), actor=kw.pop("actor", "boss"))


def test_refund_lifecycle(ledger, clock):
    paid_order(ledger, "P1", amount=Decimal("10.00"))
    created = refund(ledger, "R1", amount="3.00")
    assert created.state == "sending" and created.actor == "boss"
    assert created.amount == Decimal("3.00") and created.finished_at is None
    assert ledger.refundable("P1") == Decimal("7.00")
    clock.advance(1)
    ledger.update_refund("R1", state="processing", expect="sending", gateway_refund_no="G-R1",
                         sent_at=clock.now, next_check_at=clock.now + 60)
    assert [r.out_refund_no for r in ledger.unresolved_refunds()] == ["R1"]
    assert ledger.due_refunds(clock.now + 59) == []
    assert [r.out_refund_no for r in ledger.due_refunds(clock.now + 60)] == ["R1"]
    touched = ledger.touch_refund("R1", next_check_at=clock.now + 70)
    assert touched.check_count == 1
    clock.advance(61)
    done = ledger.update_refund("R1", state="succeeded", expect={"processing", "unknown"})
    assert done.finished_at == clock.now
    assert ledger.unresolved_refunds() == []
    assert ledger.refundable("P1") == Decimal("7.00")
    assert [e.action for e in ledger.events("R1")] == ["created", "update", "update"]
    assert ledger.events("R1")[0].detail["amount"] == "3.00"
    assert ledger.refunds_for("P1") == [done]
    assert ledger.get_refund("R1") == done


def test_in_progress_refunds_hold_money_back(ledger):
    paid_order(ledger, "P1", amount=Decimal("10.00"))
    refund(ledger, "R1", amount="4.00")  # sending
    refund(ledger, "R2", amount="3.00")
    ledger.update_refund("R2", state="unknown")
    refund(ledger, "R3", amount="1.00")
    ledger.update_refund("R3", state="needs_check")
    assert ledger.refundable("P1") == Decimal("2.00")
    with pytest.raises(RefundTooLarge) as caught:
        refund(ledger, "R4", amount="2.01")
    assert caught.value.refundable == Decimal("2.00")
    assert "2.00" in caught.value.message("zh_CN") and "2.00" in caught.value.message("en")
    assert ledger.get_refund("R4") is None and ledger.events("R4") == []
    # a definite failure gives the money back to what is refundable
    ledger.update_refund("R1", state="failed", failure_reason="余额不足")
    assert ledger.refundable("P1") == Decimal("6.00")
    refund(ledger, "R4", amount="6.00")
    assert ledger.refundable("P1") == Decimal("0.00")
    with pytest.raises(RefundTooLarge):
        refund(ledger, "R5", amount="0.01")


def test_unpaid_orders_cannot_be_refunded(ledger):
    new_order(ledger, "U1")
    with pytest.raises(RefundTooLarge) as caught:
        refund(ledger, "R1", order="U1")
    assert caught.value.refundable == Decimal("0.00")
    assert "未支付" in caught.value.message("zh_CN")
    for state in ("closed", "reversed", "failed", "expired", "cancelled", "needs_check"):
        new_order(ledger, f"U-{state}")
        drive(ledger, f"U-{state}", state)
        assert ledger.refundable(f"U-{state}") == Decimal("0.00")
        with pytest.raises(RefundTooLarge):
            refund(ledger, "R1", order=f"U-{state}")
    with pytest.raises(OrderNotFound):
        refund(ledger, "R1", order="nope")
    with pytest.raises(OrderNotFound):
        ledger.refundable("nope")


def test_refund_errors(ledger):
    paid_order(ledger, "P1", amount=Decimal("10.00"))
    first = refund(ledger, "R1")
    with pytest.raises(DuplicateRefund):
        refund(ledger, "R1")
    assert ledger.refunds_for("P1") == [first]
    with pytest.raises(TypeError):
        ledger.create_refund(out_refund_no="R2", out_trade_no="P1", amount=1, reason="", actor="boss")
    with pytest.raises(ValueError):
        refund(ledger, "R2", amount="0.00")
    with pytest.raises(StateConflict):
        ledger.update_refund("R1", state="succeeded", expect="processing")
    with pytest.raises(TypeError):
        ledger.update_refund("R1", amount=Decimal("2.00"))
    with pytest.raises(ValueError):
        ledger.update_refund("R1", state="refunded")
    with pytest.raises(RefundNotFound):
        ledger.update_refund("nope", state="failed")
    assert ledger.get_refund("R1") == first


# One step: (fen asked, what happens to it next: None = stays in progress)
_steps = st.lists(
    st.tuples(st.integers(min_value=1, max_value=1500),
              st.sampled_from([None, "processing", "unknown", "needs_check", "succeeded", "failed"])),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paid_fen=st.integers(min_value=1, max_value=3000), steps=_steps)
def test_refunds_never_exceed_paid(paid_fen, steps):
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "l.sqlite3", clock=ManualClock()) as ledger:
        paid = from_fen(paid_fen)
        paid_order(ledger, "P1", amount=paid)
        model: dict[str, tuple[Decimal, str]] = {}
        for i, (fen, outcome) in enumerate(steps):
            amount = from_fen(fen)
            holding = sum((a for a, s in model.values() if s != "failed"), Decimal("0.00"))
            expected_refundable = paid - holding
            assert ledger.refundable("P1") == expected_refundable
            no = f"R{i}"
            if amount > expected_refundable:
                with pytest.raises(RefundTooLarge) as caught:
                    refund(ledger, no, amount=str(amount))
                assert caught.value.refundable == expected_refundable
                continue
            refund(ledger, no, amount=str(amount))
            model[no] = (amount, "sending")
            if outcome is not None:
                ledger.update_refund(no, state=outcome)
                model[no] = (amount, outcome)
            held = sum((r.amount for r in ledger.refunds_for("P1") if r.state != "failed"), Decimal("0.00"))
            assert held <= paid
        succeeded = sum((r.amount for r in ledger.refunds_for("P1") if r.state == "succeeded"), Decimal("0.00"))
        assert succeeded <= paid


def test_two_programs_racing_refunds_never_exceed_paid(books, clock):
    """Two Ledger objects (two connections, as two processes would have) refund the same
    order at once: the check and the insert are one transaction, so the sum holds."""
    with Ledger(books, clock=clock) as setup:
        paid_order(setup, "P1", amount=Decimal("10.00"))
    ledgers = [Ledger(books, clock=clock) for _ in range(2)]
    accepted: list[Decimal] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker(k: int) -> None:
        ledger = ledgers[k % 2]
        barrier.wait()
        for i in range(15):
            try:
                refund(ledger, f"R{k}-{i}", amount="0.50")
            except RefundTooLarge:
                continue
            with lock:
                accepted.append(Decimal("0.50"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sum(accepted) == Decimal("10.00")
        assert ledgers[0].refundable("P1") == Decimal("0.00")
        assert len(ledgers[1].refunds_for("P1")) == 20
    finally:
        for ledger in ledgers:
            ledger.close()


def test_refund_holding_states():
    assert states.REFUND_HOLDING_STATES == {"sending", "processing", "unknown", "needs_check", "succeeded"}
