"""A merchant's notify URL on 127.0.0.1 for the gateway tests: every request the
simulator sends (GET query, POST form or JSON body) is verified by the gateway
client under test, and answered with that gateway's own reply."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cashier.engine.notify import read_incoming, send_reply
from cashier.gateways.base import IncomingRequest, NotificationError


class NotifyEndpoint:
    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self.requests: list[IncomingRequest] = []
        self.results: list[object] = []  # a Notification or the NotificationError, per request
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def _serve(self):
                request = read_incoming(self)
                endpoint.requests.append(request)
                try:
                    endpoint.results.append(gateway.verify_notification(request))
                    ok = True
                except NotificationError as exc:
                    endpoint.results.append(exc)
                    ok = False
                send_reply(self, gateway.notification_reply(ok))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{gateway.name}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    # the names the gateway test modules grew up with
    @property
    def received(self) -> list[IncomingRequest]:
        return self.requests

    @property
    def notes(self) -> list[object]:
        return self.results

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "NotifyEndpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
