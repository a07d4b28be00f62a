"""One scheduler per ledger: the window's lock, as another process sees it."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from cashier.engine.instance import AlreadyRunning, InstanceLock

HOLD = """
import sys
from cashier.engine.instance import InstanceLock
lock = InstanceLock(sys.argv[1])
print("locked" if lock.acquire() else "busy", flush=True)
sys.stdin.read()
"""


def test_lock_is_exclusive_and_dies_with_its_process(tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ledger)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        mine = InstanceLock(ledger)
        assert mine.held_elsewhere()
        assert not mine.acquire()
        holder.send_signal(signal.SIGKILL)  # a crash, not a clean exit
        holder.wait(timeout=10)
        assert not mine.held_elsewhere()
        assert mine.acquire()
        mine.release()
    finally:
        holder.kill()
        holder.communicate()


def test_second_exclusive_context_is_refused(tmp_path):
    from cashier.services import open_context

    first = open_context(start=False, exclusive=True, ledger_path=tmp_path / "l.sqlite3")
    try:
        with pytest.raises(AlreadyRunning) as info:
            open_context(start=False, exclusive=True, ledger_path=tmp_path / "l.sqlite3")
        assert "已经在运行" in info.value.message("zh_CN")
        shared = open_context(start=False, ledger_path=tmp_path / "l.sqlite3")
        assert shared.scheduled_elsewhere
        shared.close()
    finally:
        first.close()
    again = open_context(start=False, exclusive=True, ledger_path=tmp_path / "l.sqlite3")
    again.close()
