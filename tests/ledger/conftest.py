"""Fixtures for ledger tests: a real SQLite file per test and a hand-driven clock."""

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
def ledger(db_path, clock):
    with Ledger(db_path, clock=clock) as opened:
        yield opened
