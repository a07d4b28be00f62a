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
