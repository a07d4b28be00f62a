"""The HTTP layer under GatewayHttp: httpx's client over an httpcore connection pool
whose sockets honour each request's total deadline. Imported by a gateway's first
request (or its warm-up), not when the gateway is built: loading httpx and httpcore
takes ~80 ms, which the window's start-up need not wait for."""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING, Any, Iterable

import httpcore
import httpx

from cashier.gateways.http import DEFAULT_TIMEOUTS

if TYPE_CHECKING:
    from cashier.gateways.http import _Deadline


class _NoQueryInHttpxLogs(logging.Filter):
    """httpx logs each request's full URL at INFO ("HTTP Request: GET https://..?key=.."):
    epay carries the merchant key in query strings, so httpx's URLs lose their query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(a.copy_with(query=None, fragment=None) if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_NoQueryInHttpxLogs())

DEFAULT_TIMEOUT = httpx.Timeout(**DEFAULT_TIMEOUTS)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      self._deadline.left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                         local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                                 socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (its exception mapping and streams), over a connection
    pool whose sockets honour the deadline."""

    def __init__(self, deadline: _Deadline, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(verify=ssl_context or False, trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(deadline),
        )


def client(deadline: "_Deadline", tls: ssl.SSLContext | None, *, timeout: httpx.Timeout | None = None,
           transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A gateway's client: no redirects, no proxy from the environment (its transport
    would be httpx's own, without the deadline), gzip/deflate answers."""
    return httpx.Client(
        timeout=timeout or DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False,
        transport=transport or _DeadlineTransport(deadline, tls),
        headers={"User-Agent": "cashier/0.1", "Accept-Encoding": "gzip, deflate"})
