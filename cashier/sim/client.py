"""A typed client for the simulator's control API (tests, the demo, the CLI)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class SimClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._lock = threading.Lock()
        self._http: "httpx.Client | None" = None

    @property
    def _client(self) -> "httpx.Client":
        """Made on first use: the demo window opens the simulator at start-up, and
        loading httpx then would only delay it."""
        with self._lock:
            if self._http is None:
                import httpx

                # the simulator is plain http on loopback: no TLS context to load
                self._http = httpx.Client(base_url=self.base_url + "/_sim", timeout=self._timeout,
                                          transport=httpx.HTTPTransport(verify=False))
            return self._http

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()

    def __enter__(self) -> "SimClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        response = self._client.request(method, path, json=body if body is not None else None,
                                        params=params or None)
        data = response.json()
        if response.status_code >= 400:
            raise SimControlError(data.get("error", "error"), data.get("message", ""))
        return data

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def books(self) -> list[dict[str, Any]]:
        return self._call("GET", "/books")["orders"]

    def orders(self, gateway: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/orders", **({"gateway": gateway} if gateway else {}))["orders"]

    def order(self, gateway: str, out_trade_no: str) -> dict[str, Any]:
        return self._call("GET", f"/orders/{gateway}/{out_trade_no}")

    def open_link(self, url: str) -> int:
        """The customer's phone opens a QR that is a web page of the simulator (epay's
        一码付 submit.php URL): the simulated site creates the order then. Returns the
        HTTP status."""
        return self._client.get(url).status_code

    def pay(self, gateway: str, out_trade_no: str, *, wallet: str | None = None, after: float | None = None,
            url: str | None = None) -> dict:
        """The customer pays. `url`: the QR payload, opened first when it is a web page
        (an epay 一码付 order exists at the site only once the phone opened it)."""
        if url and url.startswith(self.base_url + "/"):
            self.open_link(url)
        body: dict[str, Any] = {}
        if wallet:
            body["wallet"] = wallet
        if after:
            body["after"] = after
        return self._call("POST", f"/orders/{gateway}/{out_trade_no}/pay", body)["order"]

    def pay_order(self, order, *, wallet: str | None = None) -> dict:
        """The customer pays a ledger order (anything with gateway, out_trade_no,
        gateway_trade_no and qr): its500 knows orders only by its own orderId, an epay
        一码付 order exists only once the phone opened its link."""
        key = order.gateway_trade_no if order.gateway == "its500" else order.out_trade_no
        return self.pay(order.gateway, key, wallet=wallet, url=order.qr or None)

    def foreign_order(self, gateway: str, merchant_id: str, amount: str, *, out_trade_no: str | None = None,
                      wallet: str | None = None, paid: bool = True) -> dict:
        """An order the gateway has and the shop's books never saw."""
        body: dict[str, Any] = {"merchant_id": merchant_id, "amount": amount, "paid": paid}
        if out_trade_no:
            body["out_trade_no"] = out_trade_no
        if wallet:
            body["wallet"] = wallet
        return self._call("POST", f"/orders/{gateway}/foreign", body)["order"]

    def set_amount(self, gateway: str, out_trade_no: str, amount: str) -> dict:
        """The gateway's books give this order another amount."""
        return self._call("POST", f"/orders/{gateway}/{out_trade_no}/amount", {"amount": amount})["order"]

    def backoffice_refund(self, gateway: str, out_trade_no: str, amount: str) -> dict:
        """A refund made in the gateway's back office, not through the cashier."""
        return self._call("POST", f"/orders/{gateway}/{out_trade_no}/backoffice-refund", {"amount": amount})["order"]

    def pay_latest(self, wallet: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/orders/latest/pay", {"wallet": wallet} if wallet else {})["order"]

    def micropay_behaviour(self, kind: str, *, seconds: float = 0, reason: str = "", auth_code: str | None = None) -> None:
        body: dict[str, Any] = {"kind": kind, "seconds": seconds, "reason": reason}
        if auth_code:
            body["auth_code"] = auth_code
        self._call("POST", "/micropay/behaviour", body)

    def refund_behaviour(self, *, delay: float | None = None, fail_next: bool = False,
                         amount: str | None = None) -> None:
        """`amount`: the next refund is booked and reported for this amount, whatever
        was asked (a careless gateway)."""
        body: dict[str, Any] = {"fail_next": fail_next}
        if delay is not None:
            body["delay"] = delay
        if amount is not None:
            body["amount"] = amount
        self._call("POST", "/refunds/behaviour", body)

    def fault(self, kind: str, *, gateway: str = "*", op: str = "*", when: str = "before", count: int = 1,
              seconds: float = 0, fields: dict[str, Any] | None = None) -> None:
        """`fields`: for kind "rewrite" (when "after"), what the answer says instead."""
        self._call("POST", "/faults", {"kind": kind, "gateway": gateway, "op": op, "when": when,
                                       "count": count, "seconds": seconds, "fields": fields or {}})

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def advance(self, seconds: float) -> float:
        return self._call("POST", "/clock/advance", {"seconds": seconds})["now"]

    def add_merchant(self, gateway: str, merchant_id: str, secret: str, *, app_id: str = "",
                     refund_enabled: bool = True) -> None:
        self._call("POST", "/merchants", {"gateway": gateway, "merchant_id": merchant_id, "secret": secret,
                                          "app_id": app_id, "refund_enabled": refund_enabled})

    def notify(self, gateway: str, out_trade_no: str, *, out_refund_no: str | None = None, forge: bool = False,
               amount: str | None = None, url: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"forge": forge}
        if out_refund_no:
            body["out_refund_no"] = out_refund_no
        if amount is not None:
            body["amount"] = amount
        if url:
            body["url"] = url
        return self._call("POST", f"/notify/{gateway}/{out_trade_no}", body)


class SimControlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
