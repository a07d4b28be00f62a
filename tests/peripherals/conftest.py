"""Peripheral fixtures: a fake network receipt printer on 127.0.0.1 that keeps the bytes."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.engine.conftest import env, ledger_target  # noqa: F401  (the engine against the simulator, fake clock)


class FakePrinter:
    """A TCP server speaking like a raw-port (9100) printer: it keeps every byte sent."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.jobs: list[bytes] = []
        self.received = threading.Event()
        self._changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            chunks = []
            with conn:
                conn.settimeout(5)
                while True:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    chunks.append(data)
            if chunks:
                with self._changed:
                    self.jobs.append(b"".join(chunks))
                    self._changed.notify_all()
                self.received.set()

    def wait_jobs(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until `count` connections have delivered their bytes."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.jobs) >= count, timeout)

    @property
    def data(self) -> bytes:
        return b"".join(self.jobs)

    def close(self) -> None:
        self._stop = True
        self._server.close()


@pytest.fixture
def printer():
    p = FakePrinter()
    yield p
    p.close()


_held: list[socket.socket] = []


def free_port() -> int:
    """A port with nothing listening: a printer that is off. The port stays bound (not
    listening) for the rest of the process, so no server started later can take it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _held.append(s)
    return s.getsockname()[1]
