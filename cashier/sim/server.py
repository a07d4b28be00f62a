"""The embedded gateway simulator: a real HTTP server on 127.0.0.1.

Each gateway speaks its own protocol below its own prefix: a merchant profile for
the simulator uses `http://127.0.0.1:PORT/<gateway>` as its base URL. The control
API lives below `/_sim/` (see `cashier.sim.client.SimClient` for a typed client).
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cashier.sim.core import Fault, Merchant, MicropayBehaviour, SimClock, SimError, SimState
from cashier.sim.protocol import GatewaySim, SimRequest, SimResponse

log = logging.getLogger("cashier.sim")


GATEWAY_SIMS = {
    "ltzf": "cashier.sim.ltzf:LtzfSim",
    "epay": "cashier.sim.epay:EpaySim",
    "fengniao": "cashier.sim.fengniao:FengniaoSim",
    "weidoufu": "cashier.sim.weidoufu:WeidoufuSim",
    "its500": "cashier.sim.its500:Its500Sim",
}


class _GatewaySims(Mapping):
    """Each gateway's simulator, made (and its module imported) on first use: the demo
    window opens the simulator at start-up, and most runs touch one or two gateways."""

    def __init__(self, state: SimState) -> None:
        self._state = state
        self._made: dict[str, GatewaySim] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> GatewaySim:
        with self._lock:
            sim = self._made.get(name)
            if sim is None:
                import importlib

                module_name, _, attr = GATEWAY_SIMS[name].partition(":")  # KeyError: no such gateway
                sim = self._made[name] = getattr(importlib.import_module(module_name), attr)(self._state)
            return sim

    def __iter__(self) -> Iterator[str]:
        return iter(GATEWAY_SIMS)

    def __len__(self) -> int:
        return len(GATEWAY_SIMS)


class SimServer:
    """Run the simulator in a background thread. Use as a context manager."""

    def __init__(self, state: SimState | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 clock: SimClock | None = None, demo_merchants: bool = True) -> None:
        self.state = state or SimState(clock)
        if demo_merchants:
            from cashier.sim.demo import DEMO_MERCHANTS

            for merchant in DEMO_MERCHANTS:
                self.state.add_merchant(merchant)
        self.gateways: Mapping[str, GatewaySim] = _GatewaySims(self.state)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.sim = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gateway_url(self, gateway: str) -> str:
        return f"{self.base_url}/{gateway}"

    def start(self) -> "SimServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="cashier-sim", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -----------------------------------------------------------------
    def dispatch(self, request: SimRequest, handler: "_Handler") -> SimResponse | None:
        parts = request.path.split("/", 2)
        prefix = parts[1] if len(parts) > 1 else ""
        if prefix == "_sim":
            return self.control(request)
        sim = self.gateways.get(prefix)
        if sim is None:
            return SimResponse.text("no such gateway", 404)
        request.path = "/" + (parts[2] if len(parts) > 2 else "")
        op = sim.op_of(request)
        with self.state.lock:
            self.state.requests.append({"gateway": prefix, "op": op, "at": self.state.clock.now(),
                                        "path": request.path})
        fault = self.state.take_fault(prefix, op, "before")
        if fault is not None:
            answered = self._apply_fault(fault, handler)
            if answered is not _CONTINUE:
                return answered
        response = sim.handle(request)
        fault = self.state.take_fault(prefix, op, "after")
        if fault is not None and fault.kind == "rewrite":
            return _rewritten(response, fault.fields)
        if fault is not None:
            answered = self._apply_fault(fault, handler)
            if answered is not _CONTINUE:
                return answered
        return response

    def _apply_fault(self, fault: Fault, handler: "_Handler") -> Any:
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return _CONTINUE
        if fault.kind == "http500":
            return SimResponse.text("Internal Server Error", 500)
        if fault.kind == "malformed":
            return SimResponse(200, b'{"code": 0, "data": {"status": ', "application/json")
        if fault.kind == "reset":
            handler.reset_connection()
            return None
        return _CONTINUE

    # -- control API ----------------------------------------------------------------
    def control(self, request: SimRequest) -> SimResponse:
        try:
            return self._control(request)
        except SimError as exc:
            return SimResponse.json({"ok": False, "error": exc.code, "message": exc.message}, 409)
        except (KeyError, ValueError, TypeError) as exc:
            return SimResponse.json({"ok": False, "error": "bad_request", "message": str(exc)}, 400)

    def _control(self, request: SimRequest) -> SimResponse:
        segments = [unquote(s) for s in request.path.strip("/").split("/")][1:]
        body = request.json if isinstance(request.json, dict) else {}
        state = self.state
        method = request.method
        ok = {"ok": True}
        match segments:
            case ["health"]:
                return SimResponse.json({"ok": True, "gateways": sorted(self.gateways), "now": state.clock.now()})
            case ["books"]:
                return SimResponse.json(state.books())
            case ["orders"] if method == "GET":
                books = state.books()["orders"]
                gateway = request.query.get("gateway")
                return SimResponse.json({"orders": [o for o in books if not gateway or o["gateway"] == gateway]})
            case ["orders", "latest", "pay"]:
                order = state.latest_pending()
                if order is None:
                    raise SimError("not_found", "no pending order")
                if order.kind == "micropay":
                    order.pay_at = state.clock.now()
                    state.refresh(order)
                else:
                    state.customer_pays(order.gateway, order.out_trade_no, body.get("wallet"))
                return SimResponse.json({"ok": True, "order": order.snapshot()})
            case ["orders", gateway, out_trade_no] if method == "GET":
                order = state.get(gateway, out_trade_no)
                if order is None:
                    raise SimError("not_found", "order not found")
                return SimResponse.json(order.snapshot())
            case ["orders", gateway, out_trade_no, "pay"]:
                seconds = body.get("after")
                if seconds:
                    order = state.schedule_payment(gateway, out_trade_no, float(seconds))
                else:
                    order = state.customer_pays(gateway, out_trade_no, body.get("wallet"))
                return SimResponse.json({"ok": True, "order": order.snapshot()})
            case ["orders", gateway, "foreign"]:
                # An order the shop's books never saw (made on another device, or in the
                # gateway's back office), paid: reconciliation must find it.
                order = state.foreign_order(gateway, str(body["merchant_id"]), Decimal(str(body["amount"])),
                                            out_trade_no=body.get("out_trade_no"), wallet=body.get("wallet"),
                                            paid=bool(body.get("paid", True)))
                return SimResponse.json({"ok": True, "order": order.snapshot()})
            case ["orders", gateway, out_trade_no, "amount"]:
                # The gateway's books say another amount (a site-side edit, a channel fee).
                order = state.set_amount(gateway, out_trade_no, Decimal(str(body["amount"])))
                return SimResponse.json({"ok": True, "order": order.snapshot()})
            case ["orders", gateway, out_trade_no, "backoffice-refund"]:
                # A refund made in the gateway's back office, behind the shop's back.
                order = state.get(gateway, out_trade_no)
                if order is None:
                    raise SimError("not_found", "order not found")
                refund, _ = state.refund(order, f"BO{state.new_trade_no('')}", Decimal(str(body["amount"])))
                refund.status = refund.final_status
                return SimResponse.json({"ok": True, "order": order.snapshot()})
            case ["micropay", "behaviour"]:
                behaviour = MicropayBehaviour(kind=str(body["kind"]), seconds=float(body.get("seconds", 0)),
                                              reason=str(body.get("reason", "")))
                with state.lock:
                    if body.get("auth_code"):
                        state.micropay_by_code[str(body["auth_code"])] = behaviour
                    else:
                        state.next_micropay.append(behaviour)
                return SimResponse.json(ok)
            case ["refunds", "behaviour"]:
                with state.lock:
                    if "delay" in body:
                        state.refund_delay = float(body["delay"])
                    if body.get("fail_next"):
                        state.next_refund_fail.append("fail")
                    if body.get("amount") is not None:
                        state.next_refund_amount.append(Decimal(str(body["amount"])))
                return SimResponse.json(ok)
            case ["faults"] if method == "DELETE":
                with state.lock:
                    state.faults.clear()
                return SimResponse.json(ok)
            case ["faults"]:
                fault = Fault(kind=str(body["kind"]), gateway=str(body.get("gateway", "*")),
                              op=str(body.get("op", "*")), when=str(body.get("when", "before")),
                              count=int(body.get("count", 1)), seconds=float(body.get("seconds", 0)),
                              fields=dict(body.get("fields") or {}))
                with state.lock:
                    state.faults.append(fault)
                return SimResponse.json(ok)
            case ["clock", "advance"]:
                state.clock.advance(float(body["seconds"]))
                return SimResponse.json({"ok": True, "now": state.clock.now()})
            case ["merchants"]:
                state.add_merchant(Merchant(gateway=str(body["gateway"]), merchant_id=str(body["merchant_id"]),
                                            secret=str(body["secret"]), app_id=str(body.get("app_id", "")),
                                            refund_enabled=bool(body.get("refund_enabled", True))))
                return SimResponse.json(ok)
            case ["notify", gateway, out_trade_no]:
                return SimResponse.json(self.send_notification(gateway, out_trade_no, body))
        return SimResponse.json({"ok": False, "error": "no_such_control"}, 404)

    def send_notification(self, gateway: str, out_trade_no: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send the notification the real gateway would send, to the order's notify_url."""
        order = self.state.get(gateway, out_trade_no)
        if order is None:
            raise SimError("not_found", "order not found")
        refund = None
        if body.get("out_refund_no"):
            found = self.state.find_refund(gateway, str(body["out_refund_no"]))
            if found is None:
                raise SimError("not_found", "refund not found")
            refund = found[1]
        forge = bool(body.get("forge")) or self.state.take_badsig(gateway)
        amount = Decimal(str(body["amount"])) if body.get("amount") is not None else None
        note = self.gateways[gateway].notification(order, refund, forge=forge, amount=amount)
        url = str(body.get("url") or note.url)
        import httpx  # only when a notification is sent: the demo's start-up need not load it

        with httpx.Client(timeout=5.0) as client:
            if note.method == "GET":
                response = client.get(url, params=note.form)
            elif note.body is not None:
                response = client.post(url, content=note.body, headers={"Content-Type": note.content_type})
            elif note.json is not None:
                response = client.post(url, json=note.json)
            else:
                response = client.post(url, data=note.form)
        record = {"gateway": gateway, "out_trade_no": out_trade_no, "status": response.status_code,
                  "body": response.text, "forged": forge,
                  "sent": note.form or note.json or (note.body.decode("utf-8") if note.body else None)}
        with self.state.lock:
            self.state.notifications_sent.append(record)
        return record


_CONTINUE = object()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on resets
        log.debug("sim: error handling a request from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cashier-sim/0.1"
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle holds the
    # body until the client's delayed ACK (~40 ms per request on loopback).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise, no query strings
        log.debug("sim: %s %s", self.command, urlsplit(self.path).path)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def reset_connection(self) -> None:
        """Drop the connection with a TCP reset and no answer."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        self._reset = True

    def _serve(self) -> None:
        self._reset = False
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").lower()
        form: dict[str, str] = {}
        payload: Any = None
        if "application/x-www-form-urlencoded" in ctype:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif "json" in ctype and body:
            try:
                payload = json.loads(body.decode("utf-8"), parse_float=Decimal)
            except ValueError:
                payload = None
        request = SimRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            form=form,
            json=payload,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            client=self.client_address[0],
        )
        sim: SimServer = self.server.sim  # type: ignore[attr-defined]
        try:
            response = sim.dispatch(request, self)
        except Exception:  # a bug in the simulator must still answer something
            log.exception("sim: internal error")
            response = SimResponse.text("simulator internal error", 500)
        if response is None or self._reset:
            try:
                self.connection.close()
            except OSError:
                pass
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


def _rewritten(response: SimResponse, fields: dict[str, Any]) -> SimResponse:
    """The "rewrite" fault: the JSON answer with `fields` set (inside its `data` object
    when it has one, else at the top)."""
    from cashier.gateways.fengniao import encode_content  # numbers stay as written (12.30)

    try:
        answer = json.loads(response.body.decode("utf-8"), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return response
    if not isinstance(answer, dict):
        return response
    target = answer["data"] if isinstance(answer.get("data"), dict) else answer
    target.update(fields)
    return SimResponse(response.status, encode_content(answer).encode("utf-8"), response.content_type)
