"""Helpers shared by the ledger tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from cashier.ledger import Ledger, states


class ManualClock:
    """A clock the test moves; never sleeps."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


_numbers = itertools.count(1)


def new_order(ledger: Ledger, out_trade_no: str | None = None, **overrides):
    """create_order with plausible defaults."""
    values = dict(
        out_trade_no=out_trade_no or f"T{next(_numbers):08d}",
        sale_id="S1",
        counter_id="counter-1",
        profile="shop",
        gateway="ltzf",
        method="wechat",
        wallet="wechat",
        amount=Decimal("12.34"),
    )
    values.update(overrides)
    return ledger.create_order(**values)


def paid_order(ledger: Ledger, out_trade_no: str | None = None, amount=Decimal("10.00"), **overrides):
    order = new_order(ledger, out_trade_no, amount=amount, **overrides)
    return ledger.update_order(order.out_trade_no, state="paid", expect="sending")


def drive(ledger: Ledger, out_trade_no: str, state: str, **fields):
    """Move an order to `state` along the state machine's shortest path of events."""
    current = ledger.get_order(out_trade_no).state
    path = states.shortest_path(states.ORDER_TABLE, current, state)
    assert path is not None, (current, state)
    record = ledger.get_order(out_trade_no)
    for event in path:
        record = ledger.update_order(out_trade_no, event=event)
    return ledger.update_order(out_trade_no, **fields) if fields else record


def drive_refund(ledger: Ledger, out_refund_no: str, state: str, **fields):
    current = ledger.get_refund(out_refund_no).state
    path = states.shortest_path(states.REFUND_TABLE, current, state)
    assert path is not None, (current, state)
    record = ledger.get_refund(out_refund_no)
    for event in path:
        record = ledger.update_refund(out_refund_no, event=event)
    return ledger.update_refund(out_refund_no, **fields) if fields else record


# A test about SQLite's own file or planner runs on that backend only.
sqlite_only = pytest.mark.parametrize("books", ["sqlite"], indirect=True)


class RawConnection:
    """A connection of the test's own to the ledger's database (not through the
    Ledger), taking the ledger's SQL dialect on either backend."""

    def __init__(self, ledger: Ledger) -> None:
        if ledger.backend == "sqlite":
            import sqlite3

            self._conn = sqlite3.connect(ledger.path, isolation_level=None)
            self.execute = self._conn.execute
            self.errors = (sqlite3.DatabaseError,)
        else:
            import psycopg

            from cashier.ledger import postgres

            self._conn = psycopg.connect(ledger.url, autocommit=True)
            self.execute = postgres.Connection(self._conn).execute
            self.errors = (psycopg.Error,)

    def scalar(self, sql: str, params=()):
        return self.execute(sql, params).fetchone()[0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
