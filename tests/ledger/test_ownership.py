"""Owners, leases and rate-limit slots in the ledger, on each backend: what lets
several processes share one set of books."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashier.ledger import StateConflict, states as S

from .helpers import new_order, paid_order


def test_claim_release_and_takeover(ledger, clock):
    new_order(ledger, "A1")
    record, previous = ledger.claim("order", "A1", "host/1/a", clock.now + 30)
    assert record.owner == "host/1/a" and previous is None
    assert ledger.claim("order", "A1", "host/2/b", clock.now + 30) is None  # live, lease valid
    assert ledger.claim("order", "A1", "host/2/b", clock.now + 30, gone=lambda owner: owner == "host/1/a") \
        is not None  # its process is gone
    record, previous = ledger.claim("order", "A1", "host/3/c", clock.now + 30, gone=lambda o: False) or (None, None)
    assert record is None  # b holds it now
    clock.advance(31)  # b's lease ran out
    record, previous = ledger.claim("order", "A1", "host/3/c", clock.now + 30)
    assert (record.owner, previous) == ("host/3/c", "host/2/b")
    assert ledger.events("A1")[-1].action == "taken_over"
    # a write in b's name is refused now; c's goes through
    with pytest.raises(StateConflict):
        ledger.update_order("A1", event=S.QR_SHOWN, owner="host/2/b")
    assert ledger.update_order("A1", event=S.QR_SHOWN, owner="host/3/c").state == S.PENDING
    ledger.release("order", "A1", "host/3/c")
    assert ledger.get_order("A1").owner is None


def test_hold_before_sending_and_lease_renewal(ledger, clock):
    new_order(ledger, "A2", owner="host/1/a", lease_until=clock.now + 30, next_check_at=clock.now + 30)
    assert ledger.hold("order", "A2", "host/1/a", clock.now + 30, S.SENDING)
    assert not ledger.hold("order", "A2", "host/9/z", clock.now + 30, S.SENDING)
    assert ledger.renew_leases("host/1/a", clock.now + 60) == 1
    renewed = ledger.get_order("A2")
    assert renewed.lease_until == clock.now + 60 and renewed.next_check_at == clock.now + 60  # looked at when it ends
    ledger.update_order("A2", event=S.ANSWER_LOST, owner="host/1/a")
    assert not ledger.hold("order", "A2", "host/1/a", clock.now + 30, S.SENDING)  # no longer being sent
    paid_order(ledger, "P1")
    ledger.create_refund(out_refund_no="R1", out_trade_no="P1", amount=Decimal("1.00"), reason="", actor="t",
                         owner="host/1/a", lease_until=clock.now + 30)
    assert ledger.claim("refund", "R1", "host/2/b", clock.now + 30) is None


def test_rate_slots_are_shared(ledger, clock):
    assert ledger.reserve_slot("ltzf/m1/query", 5.0) == 0.0
    assert ledger.reserve_slot("ltzf/m1/query", 5.0) == pytest.approx(5.0)
    assert ledger.reserve_slot("ltzf/m2/query", 5.0) == 0.0  # another merchant
    ledger.push_slot("ltzf/m1/query", clock.now + 8.0)  # the call ended late: counted from its end
    ledger.push_slot("ltzf/m1/query", clock.now + 1.0)  # never earlier
    clock.advance(6.0)
    assert ledger.reserve_slot("ltzf/m1/query", 5.0) == pytest.approx(2.0)
    clock.advance(2.0)
    assert ledger.reserve_slot("ltzf/m1/query", 5.0) == 0.0
