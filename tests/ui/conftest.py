"""GUI tests: the real window against the embedded simulator, the engine on a FakeClock
(tests call engine.run_due() instead of waiting), the scanner on a key clock the test
moves (synthetic key timestamps)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

LTZF = "演示·蓝兔支付"
FENGNIAO = "演示·蜂鸟"
ITS500 = "演示·站长付"


class KeyClock:
    """Milliseconds for the scanner filter: moves only when the test says so."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Counter:
    window: object
    ctx: object
    clock: object  # the engine's FakeClock
    keys: KeyClock
    qtbot: object

    @property
    def checkout(self):
        return self.window.checkout

    @property
    def engine(self):
        return self.ctx.engine

    @property
    def sim(self):
        return self.ctx.sim_client

    def type_human(self, text: str, gap_ms: float = 200.0) -> None:
        """A person typing: every key `gap_ms` after the previous one."""
        for ch in text:
            self.keys.t += gap_ms
            QTest.keyClicks(self.checkout, ch)
        self.keys.t += 500  # then a pause: the last key is let through
        self.window.scanner.poll()

    def scan(self, code: str, gap_ms: float = 1.0, suffix=Qt.Key.Key_Return, check_amount: str | None = None) -> None:
        """A scanner burst: one key every `gap_ms`, then the suffix key."""
        self.keys.t += 500
        for ch in code:
            self.keys.t += gap_ms
            QTest.keyClicks(self.checkout, ch)
            if check_amount is not None:
                assert self.checkout.amount.text == check_amount  # no scanned digit leaks
        self.keys.t += gap_ms
        if suffix is not None:
            QTest.keyClick(self.checkout, suffix)
        else:
            self.keys.t += 200
            self.window.scanner.poll()

    def key(self, key) -> None:
        self.keys.t += 500
        QTest.keyClick(self.checkout, key)

    def run(self, seconds: float = 0.0) -> None:
        """Move the engine's clock (and the simulator's) and do what is due, once the
        window's own engine calls (worker threads) have finished."""
        self.idle()
        if seconds:
            self.clock.advance(seconds)
            self.sim.advance(seconds)
        self.engine.run_due()

    def idle(self) -> None:
        self.qtbot.waitUntil(lambda: self.window.workers.pending == 0, timeout=10000)

    def wait_mode(self, mode: str, timeout: int = 10000) -> None:
        self.qtbot.waitUntil(lambda: self.checkout.mode == mode, timeout=timeout)

    def wait_state(self, state: str, timeout: int = 10000) -> None:
        self.qtbot.waitUntil(lambda: self.checkout.current is not None and self.checkout.current.state == state,
                             timeout=timeout)


def open_counter(qtbot, tmp_path, *, lang: str | None = None, area=None) -> Counter:
    """The demo window on a fake clock; `lang` "en" for English; `area` a QRect the
    window is fitted to (a screen's available geometry)."""
    from cashier import i18n
    from cashier.engine import FakeClock
    from cashier.services import open_context
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    if lang is not None:
        i18n.set_language(lang)
    make_app([])
    clock = FakeClock()
    ctx = open_context(demo=True, clock=clock, start=False, ledger_path=tmp_path / "ledger.sqlite3")
    keys = KeyClock()
    window = MainWindow(demo=True, scanner_clock=keys)
    qtbot.addWidget(window)
    from PySide6.QtCore import QRect

    window.fit_to(area if area is not None else QRect(0, 0, 1280, 800))
    window.set_context(ctx)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.checkout._built, timeout=10000)  # built once the context is set
    window.checkout.setFocus()
    return Counter(window, ctx, clock, keys, qtbot)


def close_counter(c: Counter) -> None:
    c.window.workers.wait(20000)
    c.window.close()
    c.ctx.close()


@pytest.fixture
def counter(qtbot, tmp_path):
    c = open_counter(qtbot, tmp_path)
    yield c
    close_counter(c)
