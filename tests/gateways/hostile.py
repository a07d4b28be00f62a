"""A hostile gateway for tests: a raw socket server on 127.0.0.1 that answers each
request with whatever the test scripts, byte by byte if need be (slow headers, slow
body, endless or huge answers, broken compression). No HTTP library on its side, so
nothing tidies up what it sends."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Callable

Script = Callable[["Conn"], None]


class Conn:
    """One accepted connection; the script writes to it."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop
        self.request = b""

    def read_request(self) -> bytes:
        data = b""
        self.sock.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                want = int(line.split(b":", 1)[1])
                while len(body) < want:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
        self.request = head + b"\r\n\r\n" + body
        return self.request

    def send(self, data: bytes) -> bool:
        """False once the client has gone (or the test is over)."""
        if self.stop.is_set():
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def drip(self, data: bytes, every: float) -> None:
        """One byte each `every` seconds, `data` repeated until the client leaves."""
        i = 0
        while not self.stop.is_set():
            if not self.send(data[i % len(data):i % len(data) + 1]):
                return
            i += 1
            time.sleep(every)


class HostileServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.stop = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.requests: list[bytes] = []
        self.threads: list[threading.Thread] = []
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, self.stop)
        try:
            self.requests.append(conn.read_request())
            self.script(conn)
        except OSError:
            pass
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.stop.set()
        self.accepting.join(timeout=5)
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=5)

    def __enter__(self) -> "HostileServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def head(status: str = "200 OK", *, length: int | None = None, extra: str = "",
         content_type: str = "application/json") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    else:
        lines.append("Connection: close")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def answer(body: bytes | str | dict, *, status: str = "200 OK", content_type: str = "application/json") -> Script:
    """A script that answers every request with `body` at once."""
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False)
    raw = body.encode("utf-8") if isinstance(body, str) else body

    def script(conn: Conn) -> None:
        conn.send(head(status, length=len(raw), content_type=content_type) + raw)

    return script


def slow_headers(every: float = 0.05) -> Script:
    def script(conn: Conn) -> None:
        conn.send(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        conn.drip(b"abcdefghij", every)

    return script


def slow_body(every: float = 0.05) -> Script:
    def script(conn: Conn) -> None:
        conn.send(head(length=1_000_000) + b'{"code": "')
        conn.drip(b"0123456789", every)

    return script


def endless_body(chunk: int = 65536) -> Script:
    """Bytes as fast as the client takes them, with no length, for ever."""

    def script(conn: Conn) -> None:
        conn.send(head() + b'{"pad": "')
        block = b"x" * chunk
        while conn.send(block):
            pass

    return script
