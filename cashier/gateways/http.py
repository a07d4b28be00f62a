"""HTTP for gateways: explicit timeouts, typed errors, nothing secret in any log.

Every transport failure becomes one of the typed errors of `cashier.gateways.base`:
  * connection refused / connect timeout / pool timeout -> NotSent (nothing left)
  * read timeout, write timeout, dropped connection     -> Timeout / ConnectionLost
  * HTTP 5xx                                            -> ServerError
  * body that is not the JSON we expect                 -> BadResponse
All of the latter are "outcome unknown": the engine queries before anything else.

URLs are logged by path only: epay carries the merchant key in query strings.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
import threading
import time
from decimal import Decimal
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import httpx

from cashier import redaction
from cashier.gateways.base import (
    BadResponse,
    ConfigError,
    ConnectionLost,
    NotSent,
    RateLimited,
    Rejected,
    ServerError,
    Timeout,
)

log = logging.getLogger("cashier.gateways")


class _NoQueryInHttpxLogs(logging.Filter):
    """httpx logs each request's full URL at INFO ("HTTP Request: GET https://..?key=.."):
    epay carries the merchant key in query strings, so httpx's URLs lose their query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(a.copy_with(query=None, fragment=None) if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_NoQueryInHttpxLogs())

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """https required, except for loopback (the simulator, a local relay)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("gw.bad_url", url=url)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError("gw.insecure_url", url=url)
    if parts.query or parts.fragment:
        raise ConfigError("gw.bad_url", url=url)
    return url.strip().rstrip("/")


_tls_lock = threading.Lock()
_tls_context: ssl.SSLContext | None = None


def shared_tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every gateway client: loading the CA bundle
    costs ~50 ms, once is enough. (Plain-http clients, only ever loopback, get none.)"""
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            import certifi

            _tls_context = ssl.create_default_context(cafile=certifi.where())
        return _tls_context


def parse_json(text: str) -> Any:
    """JSON with floats as Decimal (money is never float) and key names stripped
    (its500 answers carry stray trailing spaces in keys)."""

    def strip_keys(pairs):
        return {str(k).strip(): v for k, v in pairs}

    return json.loads(text, parse_float=Decimal, object_pairs_hook=strip_keys)


class GatewayHttp:
    def __init__(
        self,
        base_url: str,
        *,
        secrets: Iterable[str] = (),
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self._secrets = tuple(s for s in secrets if s)
        redaction.register(*self._secrets)  # the log file hides them too
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                    verify=shared_tls_context() if self.base_url.startswith("https:") else False,
                                    headers={"User-Agent": "cashier/0.1"})

    def close(self) -> None:
        self._client.close()

    def redact(self, text: str) -> str:
        return redaction.redact(text, self._secrets)

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base_url + "/" + path.lstrip("/")

    # -- requests -----------------------------------------------------------------
    def post_form(self, path: str, data: Mapping[str, str], *, headers: Mapping[str, str] | None = None) -> Any:
        return self._json(self.request("POST", path, data=dict(data), headers=headers))

    def post_json(self, path: str, payload: Any, *, headers: Mapping[str, str] | None = None) -> Any:
        body = json.dumps(payload, ensure_ascii=False, default=_json_default).encode("utf-8")
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return self._json(self.request("POST", path, content=body, headers=hdrs))

    def get(self, path: str, params: Mapping[str, str], *, headers: Mapping[str, str] | None = None) -> Any:
        return self._json(self.request("GET", path, params=dict(params), headers=headers))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.url(path)
        shown = urlsplit(url).path  # never the query: it may hold a key
        started = time.monotonic()
        try:
            response = self._client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
            log.warning("%s %s: not sent (%s)", method, shown, type(exc).__name__)
            raise NotSent(reason=type(exc).__name__) from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            log.warning("%s %s: timeout (%s)", method, shown, type(exc).__name__)
            raise Timeout(reason=type(exc).__name__) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as exc:
            log.warning("%s %s: connection lost (%s)", method, shown, type(exc).__name__)
            raise ConnectionLost(reason=type(exc).__name__) from None
        except httpx.HTTPError as exc:
            log.warning("%s %s: transport error (%s)", method, shown, type(exc).__name__)
            raise ConnectionLost(reason=type(exc).__name__) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s -> %s in %.0f ms", method, shown, response.status_code, elapsed_ms)
        if response.status_code >= 500:
            raise ServerError(status=response.status_code, reason=f"HTTP {response.status_code}")
        if response.status_code == 429:
            raise RateLimited(reason="HTTP 429")
        if response.status_code in (400, 401, 403, 404, 405):
            # The server refused before acting on it.
            raise Rejected(reason=f"HTTP {response.status_code}")
        if response.status_code >= 300:
            raise BadResponse(reason=f"HTTP {response.status_code}")
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            text = response.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadResponse(reason="not UTF-8") from None
        try:
            data = parse_json(text)
        except ValueError:
            raise BadResponse(reason="not JSON: " + self.redact(text[:80])) from None
        if not isinstance(data, dict):
            raise BadResponse(reason="JSON is not an object")
        return data


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot serialise {type(value).__name__}")
