"""Which screen an order is shown on, and with which words: a pure function of the
order, the time and whether the clerk cancelled it. No Qt here; words are message
keys with parameters, rendered only when shown (`Text.render`).

Screens: "qr" (a code to scan), "waiting" (a payment code being confirmed or
reversed), "result" (paid, cancelled, expired, reversed, failed, needs checking).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from cashier.i18n import tr
from cashier.ui.checkout.texts import format_yuan, wallet_text

QR, WAITING, RESULT = "qr", "waiting", "result"
# Order states come from the state machine (no SQLite is loaded by this import).
from cashier.ledger.states import (  # noqa: E402
    CANCELLED,
    CLOSED,
    EXPIRED,
    FAILED,
    IN_FLIGHT_ORDER_STATES,
    NEEDS_CHECK,
    PAID,
    REVERSED,
    REVERSING,
)
QR_METHODS = ("merged", "wechat", "alipay", "qq")


@dataclass(frozen=True)
class Text:
    """A message key and its parameters; `raw` for text that came from outside
    (a gateway's own words)."""

    key: str = ""
    params: dict = field(default_factory=dict)
    raw: str = ""

    def render(self) -> str:
        if self.raw:
            return self.raw
        if not self.key:
            return ""
        params = {k: (v.render() if isinstance(v, Text) else v) for k, v in self.params.items()}
        return tr(self.key, **params)

    def __bool__(self) -> bool:
        return bool(self.key or self.raw)


NONE = Text()


@dataclass(frozen=True)
class Screen:
    panel: str  # QR, WAITING or RESULT
    kind: str = ""  # result: "success" or "failure"
    title: Text = NONE
    detail: Text = NONE
    next_step: Text = NONE
    status: Text = NONE
    countdown: bool = False  # show the time left / waited
    can_stop: bool = False  # 取消 / 停止等待 offered and enabled
    can_check: bool = False  # 查单 offered
    paid: bool = False


def _reason(order, fallback_key: str) -> Text:
    reason = (order.reason or "").rstrip("。.")
    return Text(raw=reason) if reason else Text(fallback_key)


def present(order, now: float, *, cancelled: bool = False) -> Screen:
    """The screen for `order` at `now`. `cancelled`: the clerk cancelled it here."""
    state = order.state
    if state == PAID:
        when = datetime.datetime.fromtimestamp(order.paid_at or order.updated_at).strftime("%H:%M:%S")
        # Paid, but the site froze the money (epay status 3): the warning stays shown.
        held = Text(raw="⚠ " + (order.reason or "")) if _held(order) else NONE
        return Screen(RESULT, "success", Text("ui.paid_title"),
                      Text("ui.paid_detail", {"amount": format_yuan(order.paid_amount or order.amount_to_pay),
                                              "wallet": wallet_text(order.wallet), "time": when}),
                      next_step=held, paid=True)
    if state in (EXPIRED, CLOSED, CANCELLED):
        watched = state == EXPIRED  # closed here only: still watched for a late payment
        if order.method == "micropay" or cancelled or state == CANCELLED or _said_cancelled(order) \
                or not _timed_out(order, now):
            # Cancelled is not expired: a cancelled QR is watched quietly.
            nxt = Text("ui.cancelled_next") if not watched else Text(
                "ui.pair", {"a": Text("ui.cancelled_next"), "b": Text("ui.watched_next")})
            return Screen(RESULT, "failure", Text("ui.cancelled_title"), next_step=nxt)
        nxt = Text("ui.expired_next") if not watched else Text(
            "ui.pair", {"a": Text("ui.expired_next"), "b": Text("ui.watched_next")})
        return Screen(RESULT, "failure", Text("ui.expired_title"), next_step=nxt, can_check=watched)
    if state == REVERSED:
        return Screen(RESULT, "failure", Text("ui.reversed_title"), next_step=Text("ui.reversed_next"))
    if state == FAILED:
        return Screen(RESULT, "failure", Text("ui.failed_title"),
                      next_step=Text("ui.failed_next", {"reason": _reason(order, "ui.state.failed")}))
    if state == NEEDS_CHECK:
        return Screen(RESULT, "failure", Text("ui.needs_check_title"),
                      next_step=Text("ui.needs_check_next", {"reason": _reason(order, "ui.state.needs_check")}),
                      can_check=True)
    status = Text("ui.state." + state)
    if order.method == "micropay":
        if state == REVERSING:  # one truth: no countdown, nothing to stop
            return Screen(WAITING, title=Text("ui.reversing_title"), status=status,
                          detail=Text("ui.reversing_detail"), can_check=True)
        if cancelled:  # the clerk stopped waiting: the engine asks, then reverses (no countdown)
            return Screen(WAITING, title=Text("ui.stopping_title"), status=Text("ui.stopping"),
                          detail=Text("ui.stopping_detail"), can_check=True)
        return Screen(WAITING, title=Text("ui.waiting_title"), status=status, countdown=True, can_stop=True,
                      can_check=True)
    return Screen(QR, status=status, countdown=True, can_stop=state not in IN_FLIGHT_ORDER_STATES, can_check=True)


def _held(order) -> bool:
    from cashier.engine.core import is_held

    return is_held(order)


def _timed_out(order, now: float) -> bool:
    if order.expires_at and now >= order.expires_at:
        return True
    return tr("reason.expired") == (order.reason or "")  # books written before reasons became codes


def _said_cancelled(order) -> bool:
    return tr("reason.cancelled") == (order.reason or "")  # books written before reasons became codes


def scan_with(order) -> Text:
    wallet = order.method if order.method in QR_METHODS else "merged"
    return Text("ui.scan_with." + wallet)


def waiting_detail(order, now: float) -> Text:
    elapsed = max(0, int(now - order.created_at))
    limit = round((order.expires_at or now) - order.created_at)
    return Text("ui.waiting_detail", {"wallet": wallet_text(order.wallet), "last4": order.auth_code_last4 or "",
                                      "elapsed": elapsed, "limit": limit})


def countdown(order, now: float) -> Text:
    if order.expires_at and now >= order.expires_at:
        # Time is up but the last query (at the gateway's rate) has not answered yet:
        # say that, not "0:00 left, waiting for the customer".
        return Text("ui.expiring")
    left = max(0, int((order.expires_at or now) - now))
    return Text("ui.countdown", {"m": left // 60, "s": left % 60})


def _clock(at: float) -> str:
    return datetime.datetime.fromtimestamp(at).strftime("%H:%M:%S")


def check_note(order, asked, last) -> Text:
    """What the clerk's 查单 (F5) on this order found, or when it goes out: `asked` the
    engine's CheckAnswer for the press, `last` its latest QueryNote of the order (a
    queued query answers later). Said on the checkout only, so it never lingers on
    another page; a paid order says so by its own screen."""
    if asked is None or asked.order.out_trade_no != order.out_trade_no:
        return NONE
    since = asked.queried_at if asked.queried_at is not None else asked.asked_at
    if last is not None and last.at >= since:
        at, answered = last.at, last.answered
    elif asked.queried_at is not None:
        at, answered = asked.queried_at, asked.answered
    elif asked.due_at is not None:
        return Text("ui.check.queued", {"time": _clock(asked.due_at)})
    else:
        return NONE
    if not answered:
        return Text("ui.check.no_answer", {"time": _clock(at)})
    if order.state == PAID:
        return NONE  # the paid screen says it all
    if order.paid_amount is not None:  # money came, but a person must look (the screen says why)
        return Text("ui.check.done", {"time": _clock(at)})
    return Text("ui.check.unpaid", {"time": _clock(at)})
