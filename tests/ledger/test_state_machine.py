"""The state machine's table, walked: every state reachable, every final state final,
every way out of a non-final state leads to an end; the ledger refuses every change
that is not in the table; the diagram in docs/ is the table's."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cashier.ledger import IllegalStateChange, states as S

from .helpers import drive, drive_refund, new_order, paid_order

ROOT = Path(__file__).resolve().parents[2]

MACHINES = [
    ("order", S.ORDER_TABLE, S.ORDER_START, S.ORDER_STATES, S.FINAL_ORDER_STATES, S.ORDER_EVENTS),
    ("refund", S.REFUND_TABLE, S.REFUND_START, S.REFUND_STATES, S.FINAL_REFUND_STATES, S.REFUND_EVENTS),
]


def reachable(table, start):
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for (source, _), target in table.items():
            if source == state and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("kind, table, start, all_states, final, events", MACHINES, ids=["order", "refund"])
def test_table_walk(kind, table, start, all_states, final, events):
    named = {s for s, _ in table} | set(table.values())
    assert named <= all_states, named - all_states
    assert {e for _, e in table} == set(events), "every event is used, every used event is declared"
    assert reachable(table, start) == all_states, all_states - reachable(table, start)
    for state in final:
        assert not [e for (s, e) in table if s == state], f"final {state} has a way out"
    for state in all_states - final:
        assert reachable(table, state) & final, f"{state} can never end"
        assert [e for (s, e) in table if s == state], f"{state} is a dead end but not final"


def test_closing_is_retired_and_quiet_states_are_unresolved():
    assert "closing" not in S.ORDER_STATES
    assert S.QUIET_ORDER_STATES <= S.UNRESOLVED_ORDER_STATES
    assert S.CANCELLED not in S.ATTENTION_ORDER_STATES and S.EXPIRED in S.ATTENTION_ORDER_STATES
    # money on a cancelled sale goes to a person; on an expired one it is simply paid
    assert S.ORDER_TABLE[(S.CANCELLED, S.PAID_EVENT)] == S.NEEDS_CHECK
    assert S.ORDER_TABLE[(S.EXPIRED, S.PAID_EVENT)] == S.PAID


def test_ledger_takes_exactly_the_table_for_orders(ledger):
    """For every state and every event, on a real ledger: the table's answer, or a
    refusal that changes nothing."""
    n = 0
    for state in sorted(S.ORDER_STATES):
        for event in S.ORDER_EVENTS:
            n += 1
            no = f"W{n:05d}"
            new_order(ledger, no)
            before = drive(ledger, no, state)
            events_before = len(ledger.events(no))
            target = S.ORDER_TABLE.get((state, event))
            if target is None:
                with pytest.raises(IllegalStateChange):
                    ledger.update_order(no, event=event, next_check_at=1.0)
                assert ledger.get_order(no) == before
                assert len(ledger.events(no)) == events_before
            else:
                after = ledger.update_order(no, event=event)
                assert after.state == target
                assert ledger.events(no)[-1].changes["event"] == event


def test_ledger_takes_exactly_the_table_for_refunds(ledger):
    n = 0
    for state in sorted(S.REFUND_STATES):
        for event in S.REFUND_EVENTS:
            n += 1
            paid_order(ledger, f"P{n:05d}")
            ledger.create_refund(out_refund_no=f"R{n:05d}", out_trade_no=f"P{n:05d}", amount=Decimal("1.00"),
                                 reason="", actor="t")
            before = drive_refund(ledger, f"R{n:05d}", state)
            target = S.REFUND_TABLE.get((state, event))
            if target is None:
                with pytest.raises(IllegalStateChange):
                    ledger.update_refund(f"R{n:05d}", event=event)
                assert ledger.get_refund(f"R{n:05d}") == before
            else:
                assert ledger.update_refund(f"R{n:05d}", event=event).state == target


def test_a_state_without_an_event_must_be_one_step_of_the_table(ledger):
    new_order(ledger, "A1")
    with pytest.raises(IllegalStateChange):
        ledger.update_order("A1", state=S.REVERSED)  # sending -> reversed: no such arrow
    with pytest.raises(IllegalStateChange):
        ledger.update_order("A1", event=S.QR_SHOWN, state=S.PAID)  # event and state disagree
    assert ledger.get_order("A1").state == S.SENDING
    assert ledger.update_order("A1", state=S.PENDING).state == S.PENDING  # one arrow: qr_shown
    assert ledger.events("A1")[-1].changes["event"] == S.QR_SHOWN


def test_states_import_without_sqlite():
    code = "import sys, cashier.ledger.states as s; assert s.PAID; assert 'sqlite3' not in sys.modules, 'sqlite3'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_diagram_in_docs_is_generated_from_the_table():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "state_machine_doc.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (ROOT / "docs" / "state-machine.md").read_text(encoding="utf-8")
    for (source, event), target in S.ORDER_TABLE.items():
        assert f"| `{source}` | `{event}` | `{target}` |" in text
