"""Optional notification receiver (off by default).

For shops that relay the gateways' notifications to the counter PC: a small HTTP
server on a configured port and path. `POST|GET {path}/{gateway}` is verified by
each profile of that gateway (signature, constant time), then handed to the engine,
which checks the order is ours and the amount equals ours and applies it
idempotently under the order's lock. The reply is what each gateway expects.
Polling stays the primary signal; this only makes "paid" show up sooner.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cashier.gateways.base import Capability, HttpReply, IncomingRequest, NotificationError

log = logging.getLogger("cashier.notify")

# A notification is a few hundred bytes of form or JSON: anything past this is refused
# unread. A client silent for READ_TIMEOUT seconds loses its connection.
MAX_NOTIFICATION_BYTES = 64 * 1024
READ_TIMEOUT = 10.0


class NotificationReceiver:
    def __init__(self, engine, *, host: str = "127.0.0.1", port: int = 0, path: str = "/notify") -> None:
        self.engine = engine
        self.path = "/" + path.strip("/")
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.receiver = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url_for(self, gateway: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}/{gateway}"

    def start(self) -> "NotificationReceiver":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="cashier-notify", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def handle(self, gateway_name: str, request: IncomingRequest) -> HttpReply:
        candidates = [(name, self.engine.gateway(name)) for name in self.engine.profiles()]
        candidates = [(n, g) for n, g in candidates if g.name == gateway_name and g.supports(Capability.NOTIFY_VERIFY)]
        if not candidates:
            return HttpReply(404, "FAIL")
        for profile, gw in candidates:
            try:
                note = gw.verify_notification(request)
            except NotificationError as exc:
                log.warning("notification for %s rejected: %s", gateway_name, exc.message("en"))
                continue
            ok = self.engine.apply_notification(profile, note)
            return gw.notification_reply(ok)
        return candidates[0][1].notification_reply(False)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle holds the
    # body until the client's delayed ACK (~40 ms per request on loopback).
    disable_nagle_algorithm = True
    timeout = READ_TIMEOUT  # on the socket: a client that stops sending is dropped

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("notify: %s %s", self.command, urlsplit(self.path).path)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        receiver: NotificationReceiver = self.server.receiver  # type: ignore[attr-defined]
        try:
            request = read_incoming(self)
        except NotificationError as exc:
            log.warning("notification refused unread: %s", exc.message("en"))
            self.close_connection = True
            send_reply(self, HttpReply(400, "FAIL"))
            return
        reply = HttpReply(404, "FAIL")
        prefix = receiver.path + "/"
        if request.path.startswith(prefix):
            gateway_name = request.path[len(prefix):].strip("/")
            try:
                reply = receiver.handle(gateway_name, request)
            except Exception:
                log.exception("notification handling failed")
                reply = HttpReply(500, "FAIL")
        send_reply(self, reply)


def read_incoming(handler: BaseHTTPRequestHandler) -> IncomingRequest:
    """The request a BaseHTTPRequestHandler is serving, as the gateways' verifiers want
    it: query, form fields (for form posts) and the raw body (for JSON posts).
    NotificationError, before reading the body, when its length is missing-but-given,
    not a number, or more than MAX_NOTIFICATION_BYTES."""
    split = urlsplit(handler.path)
    declared = (handler.headers.get("Content-Length") or "0").strip()
    if not declared.isdigit() or not declared.isascii():
        raise NotificationError("gw.notify_malformed", reason="Content-Length")
    length = int(declared)
    if length > MAX_NOTIFICATION_BYTES:
        raise NotificationError("gw.notify_malformed", reason=f"body of {length} bytes")
    body = handler.rfile.read(length) if length else b""
    ctype = (handler.headers.get("Content-Type") or "").lower()
    form: dict[str, str] = {}
    if "application/x-www-form-urlencoded" in ctype:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return IncomingRequest(method=handler.command, path=split.path,
                           query=dict(parse_qsl(split.query, keep_blank_values=True)), form=form,
                           body=body, headers={k: v for k, v in handler.headers.items()})


def send_reply(handler: BaseHTTPRequestHandler, reply: HttpReply) -> None:
    data = reply.body.encode("utf-8")
    handler.send_response(reply.status)
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


__all__ = ["NotificationReceiver", "read_incoming", "send_reply"]
