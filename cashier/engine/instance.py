"""One scheduler per ledger file.

The window takes an exclusive lock next to the ledger while it runs, so a second
window on the same books is refused (two schedulers would poll and reverse the same
orders twice), and `cashier-cli` knows to leave recovery and polling of other orders
to the running window. The lock is the operating system's (flock / msvcrt): it
vanishes with the process, even after a crash or a kill.
"""

from __future__ import annotations

import os
from pathlib import Path

from cashier.i18n import UserError, define

define({
    "instance.running": ("收银台已经在运行（同一个账本只能打开一个收银窗口）", "The cashier is already running (one window per ledger)"),
})


class AlreadyRunning(UserError):
    key = "instance.running"


class InstanceLock:
    def __init__(self, ledger_path: Path) -> None:
        self.path = Path(str(ledger_path) + ".lock")
        self._fh = None

    def acquire(self) -> bool:
        """Take the lock without waiting. False when another process holds it."""
        if self._fh is not None:
            return True
        from cashier.paths import storing

        with storing(self.path):  # a read-only or full data folder is named, not a traceback
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+b")
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            if os.name == "nt":
                import msvcrt

                self._fh.seek(0)
                msvcrt.locking(self._fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        finally:
            self._fh.close()
            self._fh = None

    def held_elsewhere(self) -> bool:
        """Is another process holding it right now? (Takes and drops it to find out.)"""
        if self._fh is not None:
            return False
        if self.acquire():
            self.release()
            return False
        return True
