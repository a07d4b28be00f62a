"""Fixtures for ledger tests: a real ledger per test, on each backend (a SQLite file,
then a fresh schema on the PostgreSQL test server), and a hand-driven clock.

`db_path` is the SQLite file for the tests that are about the file itself."""

from __future__ import annotations

import pytest

from cashier.ledger import Ledger

from .helpers import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def ledger(books, clock):
    with Ledger(books, clock=clock) as opened:
        yield opened
