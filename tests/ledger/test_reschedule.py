"""reschedule_order: polls move the next check without an audit event or a state change."""

import pytest

from cashier.ledger import StateConflict
from cashier.ledger import states as S

from tests.ledger.helpers import new_order


def test_reschedule_writes_no_event(ledger, clock):
    order = new_order(ledger)
    ledger.update_order(order.out_trade_no, state=S.PENDING)
    before = len(ledger.events(order.out_trade_no))
    for i in range(10):
        clock.advance(5)
        ledger.reschedule_order(order.out_trade_no, next_check_at=clock.now + 5, expect=S.PENDING)
    after = ledger.get_order(order.out_trade_no)
    assert len(ledger.events(order.out_trade_no)) == before
    assert after.state == S.PENDING and after.next_check_at == clock.now + 5
    assert after.check_count == order.check_count
    ledger.reschedule_order(order.out_trade_no, next_check_at=None, check_count=3)
    assert ledger.get_order(order.out_trade_no).check_count == 3


def test_reschedule_is_compare_and_set(ledger):
    order = new_order(ledger)
    ledger.update_order(order.out_trade_no, state=S.PAID)
    with pytest.raises(StateConflict):
        ledger.reschedule_order(order.out_trade_no, next_check_at=1.0, expect=S.PENDING)
    assert ledger.get_order(order.out_trade_no).next_check_at is None
