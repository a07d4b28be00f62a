"""What a simulated gateway looks like to the simulator's HTTP server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from cashier.sim.core import SimOrder, SimRefund, SimState


@dataclass
class SimRequest:
    method: str
    path: str  # below the gateway's prefix, e.g. "/api/wxpay/native"
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    headers: Mapping[str, str]
    body: bytes
    client: str = "127.0.0.1"

    def params(self) -> dict[str, str]:
        """Query and form fields together (form wins), as a PHP gateway sees $_REQUEST."""
        merged = dict(self.query)
        merged.update(self.form)
        return merged


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> "SimResponse":
        text = json.dumps(payload, ensure_ascii=False, default=_default)
        return cls(status=status, body=text.encode("utf-8"))

    @classmethod
    def text(cls, text: str, status: int = 200) -> "SimResponse":
        return cls(status=status, body=text.encode("utf-8"), content_type="text/plain; charset=utf-8")


@dataclass
class OutgoingNotification:
    """A notification the simulator sends to the merchant's notify_url."""

    method: str  # "POST" or "GET"
    url: str
    form: dict[str, str] = field(default_factory=dict)  # POST form, or GET query
    json: Any = None  # JSON body instead of a form (its500)
    # Exact bytes to POST (Weidoufu signs the JSON text itself), with their type.
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"


class GatewaySim:
    """Base for one simulated gateway. Subclasses implement `op_of`, `handle` and
    `notification`, and enforce their gateway's own rules exactly (signature fields,
    rate limits, refund rules, answer shapes)."""

    name = ""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def op_of(self, request: SimRequest) -> str:
        """The operation a request asks for: create, micropay, query, close, reverse,
        refund, refund_query, balance... (used to target faults)."""
        raise NotImplementedError

    def handle(self, request: SimRequest) -> SimResponse:
        raise NotImplementedError

    def notification(self, order: SimOrder, refund: SimRefund | None = None, *, forge: bool = False,
                     amount: Decimal | None = None) -> OutgoingNotification:
        """Build the notification the real gateway would send for this order (or
        refund). `forge` signs it with a wrong key; `amount` overrides the amount."""
        raise NotImplementedError


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)
