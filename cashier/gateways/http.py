"""HTTP for gateways: one total deadline per request, a size cap, a nesting cap,
typed errors, nothing secret in any log.

Every transport failure becomes one of the typed errors of `cashier.gateways.base`:
  * connection refused / connect timeout / pool timeout -> NotSent (nothing left)
  * read timeout, write timeout, dropped connection     -> Timeout / ConnectionLost
  * the total deadline passed (connect + headers + body) -> NotSent before the
    connection was open, Timeout after
  * HTTP 5xx                                            -> ServerError
  * an answer larger than the cap, nested deeper than the cap, not UTF-8, not the
    JSON we expect                                      -> BadResponse
All of the latter are "outcome unknown": the engine queries before anything else.

The deadline is enforced below httpx, on the socket: httpx's own timeouts are per
operation, so a server sending one byte a second would never trip them. Our network
backend gives every socket read and write at most the time left until the deadline.
(Name resolution is the one step it cannot bound: the OS resolver has no timeout.)

URLs are logged by path only: epay carries the merchant key in query strings.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
import time
import zlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from urllib.parse import urlsplit

from cashier import redaction
from cashier.redaction import REDACT_MIN_RUN, redact_runs  # noqa: F401 (the gateways' name for it)
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

if TYPE_CHECKING:
    import ssl

    import httpx

# httpx and httpcore (~80 ms to import, and each client's set-up) are loaded by a
# gateway's first request, or by warm_up() on a worker once the window is ready: a
# gateway is built at start-up without them. See cashier.gateways.transport.

log = logging.getLogger("cashier.gateways")

# Per phase (connect, read, write, pool), in seconds; the deadline bounds the whole.
DEFAULT_TIMEOUTS = {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 5.0}
# The whole request, connect + send + headers + body, ends within this many seconds.
DEFAULT_DEADLINE = 20.0
# A gateway's answer is a few kilobytes of JSON; its500's QR pictures are tens of kB.
MAX_ANSWER_BYTES = 1 << 20
MAX_IMAGE_BYTES = 2 << 20
# Gateway answers nest three or four levels; anything deeper is not an answer.
MAX_JSON_DEPTH = 32


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
            import ssl

            import certifi

            _tls_context = ssl.create_default_context(cafile=certifi.where())
        return _tls_context


_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets outside strings nest deeper than `limit` (checked before
    parsing: Python's parser would hit its recursion limit on 100,000 levels)."""
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value money can take")


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON with floats as Decimal (money is never float), NaN / Infinity refused, key
    names stripped (its500 answers carry stray trailing spaces in keys), nesting capped.
    Raises ValueError for anything else."""

    def strip_keys(pairs):
        return {str(k).strip(): v for k, v in pairs}

    if json_depth_exceeds(text, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth}")
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=strip_keys)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


# ------------------------------------------------------------------ the deadline


class _Deadline(threading.local):
    """The monotonic time the current request must end by, per thread (httpx's sync
    client does its socket work in the calling thread)."""

    at: float | None = None

    def left(self, timeout: float | None, error: type[Exception]) -> float | None:
        if self.at is None:
            return timeout
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise error("the request's total deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class GatewayHttp:
    """One gateway's HTTP client. `deadline` (seconds) bounds each whole request,
    `max_bytes` each answer (after decompression), `max_depth` each JSON answer's
    nesting; tests pass small ones."""

    def __init__(
        self,
        base_url: str,
        *,
        secrets: Iterable[str] = (),
        timeout: "httpx.Timeout | None" = None,
        transport: "httpx.BaseTransport | None" = None,
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = MAX_ANSWER_BYTES,
        max_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self._secrets = tuple(s for s in secrets if s)
        redaction.register(*self._secrets)  # the log file hides them too
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._deadline = _Deadline()
        self._timeout = timeout
        self._transport = transport
        self._client_lock = threading.Lock()
        self._http_client: "httpx.Client | None" = None
        self._closed = False

    @property
    def _client(self) -> "httpx.Client":
        """The httpx client, made on first use (several worker threads may ask)."""
        client = self._http_client
        if client is None:
            with self._client_lock:
                if self._http_client is None:
                    from cashier.gateways import transport

                    # A plain-http client (only ever loopback) gets no context of ours:
                    # should it fetch an https image (its500), httpcore builds its own.
                    tls = shared_tls_context() if self.base_url.startswith("https:") else None
                    self._http_client = transport.client(self._deadline, tls, timeout=self._timeout,
                                                         transport=self._transport)
                client = self._http_client
        return client

    def warm_up(self) -> None:
        """Load the HTTP layer and make the client now (a worker, before the first sale)."""
        if not self._closed:
            self._client  # noqa: B018

    def close(self) -> None:
        self._closed = True
        with self._client_lock:
            if self._http_client is not None:
                self._http_client.close()

    def redact(self, text: str) -> str:
        return redact_runs(text, self._secrets)

    def excerpt(self, text: str, length: int = 80) -> str:
        """A short piece of an answer for a message: redacted first, then cut, so a key
        cut in two at the edge shows no part of itself."""
        # Only the start can show: a key reaching into it lies wholly within this much.
        reach = length + max((len(secret) for secret in self._secrets), default=0)
        return self.redact(text[:reach])[:length]

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

    def get_image(self, url: str, *, max_bytes: int = MAX_IMAGE_BYTES,
                  schemes: Iterable[str] = ("https",)) -> bytes:
        """A picture (its500's payment code) by absolute URL, in one of `schemes` (http
        on this machine always): same deadline, redirects followed within the same
        schemes, at most `max_bytes`, and it must be a PNG, JPEG or GIF."""
        allowed = frozenset(schemes)

        def fits(scheme: str, host: str | None) -> bool:
            return bool(host) and (scheme in allowed or (scheme == "http" and is_loopback_host(host or "")))

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not fits(parts.scheme, parts.hostname):
            raise BadResponse(reason="image address is not " + "/".join(sorted(allowed)))
        response = self.request("GET", url, max_bytes=max_bytes, follow_redirects=True)
        final = response.request.url
        if not fits(final.scheme, final.host):
            raise BadResponse(reason="image redirected to " + final.scheme)
        content = response.content
        if not content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")):
            raise BadResponse(reason="not a PNG, JPEG or GIF picture")
        return content

    def request(self, method: str, path: str, *, max_bytes: int | None = None, follow_redirects: bool = False,
                **kwargs: Any) -> "httpx.Response":
        """Send, and read the answer whole within the deadline and the size cap. The
        returned response holds the (decoded) body in `.content`; its `.request` is the
        last one sent (after redirects, when they are followed: images only)."""
        import httpx

        url = self.url(path)
        shown = urlsplit(url).path  # never the query: it may hold a key
        limit = self.max_bytes if max_bytes is None else max_bytes
        started = time.monotonic()
        self._deadline.at = started + self.deadline
        client = self._client
        try:
            request = client.build_request(method, url, **kwargs)
            response = client.send(request, stream=True, follow_redirects=follow_redirects)
            try:
                log.info("%s %s -> %s after %.0f ms", method, shown, response.status_code,
                         (time.monotonic() - started) * 1000)
                _raise_for_status(response.status_code)
                content = _read_capped(response, limit)
            finally:
                response.close()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
            log.warning("%s %s: not sent (%s)", method, shown, type(exc).__name__)
            raise NotSent(reason=type(exc).__name__) from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            log.warning("%s %s: timeout after %.0f ms (%s)", method, shown, (time.monotonic() - started) * 1000,
                        type(exc).__name__)
            raise Timeout(reason=type(exc).__name__) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as exc:
            log.warning("%s %s: connection lost (%s)", method, shown, type(exc).__name__)
            raise ConnectionLost(reason=type(exc).__name__) from None
        except httpx.HTTPError as exc:
            log.warning("%s %s: transport error (%s)", method, shown, type(exc).__name__)
            raise ConnectionLost(reason=type(exc).__name__) from None
        except BadResponse as exc:
            log.warning("%s %s: %s", method, shown, exc.params.get("reason"))
            raise
        finally:
            self._deadline.at = None
        log.info("%s %s: %d bytes in %.0f ms", method, shown, len(content), (time.monotonic() - started) * 1000)
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=content, request=response.request)

    def _json(self, response: "httpx.Response") -> Any:
        try:
            text = response.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadResponse(reason="not UTF-8") from None
        try:
            data = self.parse_json(text)
        except ValueError as exc:
            raise BadResponse(reason=f"not JSON ({str(exc)[:40]}): " + self.excerpt(text)) from None
        if not isinstance(data, dict):
            raise BadResponse(reason="JSON is not an object")
        return data

    def parse_json(self, text: str) -> Any:
        return parse_json(text, max_depth=self.max_depth)


def _raise_for_status(status: int) -> None:
    if status >= 500:
        raise ServerError(status=status, reason=f"HTTP {status}")
    if status == 429:
        raise RateLimited(reason="HTTP 429")
    if status in (400, 401, 403, 404, 405):
        # The server refused before acting on it.
        raise Rejected(reason=f"HTTP {status}")
    if status >= 300:
        raise BadResponse(reason=f"HTTP {status}")


def _read_capped(response: "httpx.Response", limit: int) -> bytes:
    """The body, decoded (gzip / deflate), never more than `limit` bytes held: a
    bigger answer, declared or not, compressed or not, is a BadResponse."""
    if response.is_stream_consumed:  # a transport that read it already (httpx.MockTransport)
        if len(response.content) > limit:
            raise BadResponse(reason=f"answer larger than {limit} bytes")
        return response.content
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise BadResponse(reason=f"answer of {declared} bytes (more than {limit})")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decoder = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
    else:
        raise BadResponse(reason=f"answer encoded as {encoding[:20]}")
    body = bytearray()
    for chunk in response.iter_raw():
        if decoder is not None:
            try:
                chunk = decoder.decompress(chunk, limit + 1 - len(body))
            except zlib.error:
                raise BadResponse(reason="answer does not decompress") from None
        body += chunk
        if len(body) > limit:
            raise BadResponse(reason=f"answer larger than {limit} bytes")
    return bytes(body)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot serialise {type(value).__name__}")
