"""The window's last resort: an exception nobody caught (in a slot, in a worker task
without an error handler, in a plain thread) ends as one plain line in a message box and
a traceback in logs/cashier.log. The window keeps working."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QPushButton

from cashier import logs
from cashier.ui.app import LastResort


@pytest.fixture
def last_resort(counter, isolated_home):
    logs.setup("cashier")
    hook = LastResort(lambda: counter.window).install()
    yield hook
    hook.uninstall()
    logs.shutdown()


def _log(isolated_home) -> str:
    return (isolated_home / "logs" / "cashier.log").read_text("utf-8")


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_is_one_message_and_a_log_entry(counter, last_resort, isolated_home, qtbot):
    def broken_slot() -> None:
        raise ZeroDivisionError("planted in a slot")

    button = QPushButton("x", counter.window)
    button.clicked.connect(broken_slot)
    button.click()
    qtbot.waitUntil(lambda: bool(last_resort.shown), timeout=5000)
    line = last_resort.shown[-1]
    assert "\n" not in line and "Traceback" not in line
    assert "ZeroDivisionError" in line and "日志" in line
    assert last_resort._box is not None and last_resort._box.isVisible() and last_resort._box.text() == line
    log = _log(isolated_home)
    assert "Traceback" in log and "planted in a slot" in log
    # the window still works after the error
    counter.type_human("12.34")
    assert counter.checkout.amount_label.text() == "¥ 12.34"


@pytest.mark.qt_no_exception_capture
def test_worker_error_without_a_handler_and_thread_errors_are_shown(counter, last_resort, isolated_home, qtbot):
    counter.window.workers.run(lambda: {}["no such key"])  # no on_error given
    qtbot.waitUntil(lambda: any("KeyError" in s for s in last_resort.shown), timeout=5000)
    thread = threading.Thread(target=lambda: 1 / 0, name="planted-thread")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: any("ZeroDivisionError" in s for s in last_resort.shown), timeout=5000)
    assert len([s for s in last_resort.shown]) == 2  # one line each
    log = _log(isolated_home)
    assert log.count("Traceback") >= 2 and "planted-thread" in log


@pytest.mark.qt_no_exception_capture
def test_a_user_error_escaping_a_slot_says_its_own_message(counter, last_resort, qtbot):
    from cashier.paths import StorageError

    def full() -> None:
        raise StorageError("files.full", path="/x/profiles.json")

    button = QPushButton("x", counter.window)
    button.clicked.connect(full)
    button.click()
    qtbot.waitUntil(lambda: bool(last_resort.shown), timeout=5000)
    assert last_resort.shown[-1].startswith("磁盘已满")


def test_window_names_a_damaged_ledger_too_big_to_check_at_open(counter, qtbot, tmp_path, monkeypatch):
    """A ledger above the size read whole at open is checked on a worker once the window
    has it: damage found then is named in the window."""
    from decimal import Decimal

    from cashier.ledger import Ledger, db
    from cashier.services import open_context

    path = tmp_path / "big.sqlite3"
    with Ledger(path) as ledger:
        for i in range(30):
            order = ledger.create_order(out_trade_no=f"B{i:04d}", sale_id="S", counter_id="01", profile="p",
                                        gateway="ltzf", method="wechat", wallet="wechat", amount=Decimal("1.00"),
                                        subject="x" * 200)
            ledger.update_order(order.out_trade_no, state="pending", expect="sending")
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size - 4096)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(4096)))
    monkeypatch.setattr(db, "QUICK_CHECK_MAX_BYTES", 0)
    ctx = open_context(demo=True, start=False, ledger_path=path, clock=counter.clock)
    try:
        counter.window._context_opened(ctx)
        qtbot.waitUntil(lambda: "损坏" in counter.window.status_note.text(), timeout=10000)
        assert str(path) in counter.window.status_note.text()
    finally:
        counter.window.workers.wait(20000)
        ctx.close()
