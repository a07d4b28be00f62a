"""Who is working on a row: several processes (a window, `cashier-cli` runs, scripts)
share one ledger.

Every process has an identity, `host/pid/token`. Before it steps an order or a
refund it claims the row in the ledger with a lease (Ledger.claim); a row whose
request may be on the wire (sending, reversing) is created or moved there with its
owner already set. While the process waits, a keeper thread renews its leases.
Another process takes a row over only when its owner is gone (same host, no such
process) or its lease ran out (the owner froze, or lives on another host).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import weakref

LEASE_SECONDS = 30.0
RENEW_EVERY = 10.0

_HOST = socket.gethostname()


def process_identity() -> str:
    """This process, as the ledger names it: host/pid/token (the token tells a reused pid apart)."""
    return f"{_HOST}/{os.getpid()}/{_TOKEN}"


_TOKEN = secrets.token_hex(4)


def owner_gone(owner: str) -> bool:
    """Is the process that wrote `owner` certainly dead? Only provable on this host;
    elsewhere the lease decides."""
    host, _, rest = owner.partition("/")
    pid_text, _, token = rest.partition("/")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return token != _TOKEN  # our pid, another token: an earlier process that had it
    return not _alive(pid)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LeaseKeeper:
    """Renews every lease of `owner` in `ledger` every RENEW_EVERY seconds while the
    engine lives (started on the first claim)."""

    def __init__(self, engine, lease_seconds: float = LEASE_SECONDS, every: float = RENEW_EVERY) -> None:
        self._engine = weakref.ref(engine)
        self.lease_seconds = lease_seconds
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="cashier-leases", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            engine = self._engine()
            if engine is None:
                return
            try:
                engine.ledger.renew_leases(engine.owner, engine.now() + self.lease_seconds)
                engine._counter_beat(force=True)
            except Exception:  # a busy or closed ledger: try again next round
                if self._stop.is_set():
                    return
            del engine
