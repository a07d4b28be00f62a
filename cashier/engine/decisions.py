"""What to do next, as pure functions of an order (or refund), the time, the
gateway's answer and the gateway's limits. No I/O, no clock, no locks: the engine
(cashier.engine.core) asks, writes the answer to the ledger and sends what it says.

Each function returns a `Decision`: the state machine's event to write (None: no
state change), the fields to write with it, and what to send right after writing
(`then`): the state is always on disk before the request that depends on it leaves.
Reasons are message keys with parameters (`why`), turned into text only when shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Collection, Iterable, Mapping

from cashier.gateways.base import (
    AlreadyExists,
    GatewayError,
    GatewayLimits,
    PaymentState,
    PayStatus,
    RefundNotFound,
    RefundState,
    RefundStatus,
    ReverseResult,
    Wallet,
)
from cashier.ledger import states as S
from cashier.money import format_yuan

# `then`: what the engine sends right after writing the decision.
SEND_REVERSE = "reverse"
RESEND_REFUND = "resend_refund"
# Paid, but the payment site holds (froze) the money (epay status 3): the event's
# action (the day's report lists them) and the reason shown.
from cashier.ledger.db import HELD_ACTION  # noqa: E402  (the report finds them by it)
# A refund the gateway reports for another amount than ours (the ledger holds its order's
# whole refundable rest back while it is open).
from cashier.ledger.states import REFUND_AMOUNT_MISMATCH  # noqa: E402
HELD_REASON = "reason.held"
# How many order-level answers ("the number exists, no status") before a person looks.
REFUND_EVIDENCE_CHECKS = 3
# How many times a refund the gateway does not know is sent again with its number.
REFUND_RESENDS = 3


@dataclass(frozen=True)
class Decision:
    event: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    then: str | None = None
    # Write an audit row even without a state change (a gateway error is worth one).
    audit: bool = False
    detail: Mapping[str, Any] | None = None
    # The audit row's action when it matters to a reader of the log (e.g. HELD_ACTION).
    action: str | None = None

    @property
    def quiet(self) -> bool:
        """Only rescheduling: no event row (a poll every few seconds would flood the log)."""
        return self.event is None and not self.audit and set(self.fields) <= {"next_check_at", "check_count"}


def why(key: str, note: str | None = None, **params: Any) -> dict[str, Any]:
    """A reason as stored: a message key, its parameters as text, and the gateway's own words."""
    return {"reason_code": key, "reason_params": {k: _text(v) for k, v in params.items()}, "note": note}


def why_error(exc: GatewayError) -> dict[str, Any]:
    return why(exc.key, **exc.params)


def refund_why(key: str, note: str | None = None, **params: Any) -> dict[str, Any]:
    reason = why(key, note, **params)
    return {"failure_code": reason["reason_code"], "failure_params": reason["reason_params"],
            "failure_note": reason["note"]}


def refund_why_error(exc: GatewayError) -> dict[str, Any]:
    return refund_why(exc.key, **exc.params)


def error_detail(exc: BaseException | None) -> dict | None:
    if exc is None:
        return None
    out: dict[str, Any] = {"error": type(exc).__name__}
    if isinstance(exc, GatewayError):
        out["message"] = exc.message("en")
        if exc.gateway_code:
            out["gateway_code"] = exc.gateway_code
    return out


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_yuan(value)
    return str(getattr(value, "value", value))


def backoff(count: int, max_backoff: float) -> float:
    return min(max_backoff, 2.0 * (2 ** min(count, 6)))


def reschedule(at: float | None, **fields: Any) -> Decision:
    return Decision(fields={"next_check_at": at, **fields})


# ------------------------------------------------------------------------ orders


def create_answered(now: float, query_interval: float) -> dict[str, Any]:
    """Fields written with QR_SHOWN (the QR itself is added by the engine)."""
    return {"next_check_at": now + query_interval}


def create_failed(exc: GatewayError, now: float, max_backoff: float) -> Decision:
    """The create or pay request did not get a usable answer."""
    from cashier.gateways.base import DefiniteError

    if isinstance(exc, DefiniteError):
        return Decision(S.REJECTED, {**why_error(exc), "next_check_at": None}, detail=error_detail(exc))
    # Unknown outcome, or "that number exists" (an earlier request arrived): ask.
    return Decision(S.ANSWER_LOST, {**why_error(exc), "next_check_at": now + backoff(0, max_backoff)},
                    detail=error_detail(exc))


def paid(order, answer: PaymentState, now: float, twin: str | None) -> Decision:
    """The gateway says paid. Wrong amount or a second payment of one sale: a person
    looks; money on a sale the clerk cancelled goes to a person too (the table)."""
    amount = answer.paid_amount if answer.paid_amount is not None else order.amount_to_pay
    fields: dict[str, Any] = {
        "paid_amount": amount,
        "paid_at": answer.paid_at.timestamp() if answer.paid_at else now,
        "gateway_trade_no": answer.gateway_trade_no or order.gateway_trade_no,
        "next_check_at": None,
    }
    if answer.wallet != Wallet.UNKNOWN:
        fields["wallet"] = answer.wallet.value
    flag = None
    if amount != order.amount_to_pay:
        flag = why("reason.amount_mismatch", paid=amount, expected=order.amount_to_pay)
    elif twin is not None:
        flag = why("reason.double_payment", other=twin)
    if flag is not None:
        event = None if order.state == S.NEEDS_CHECK else S.FLAGGED
        return Decision(event, {**fields, **flag}, audit=True)
    if answer.held:  # paid, but the site holds the money: paid, with a warning
        return Decision(S.PAID_EVENT, {**fields, **why(HELD_REASON)}, action=HELD_ACTION)
    if order.state in (S.EXPIRED, S.CANCELLED, S.NEEDS_CHECK):
        fields.update(why("reason.late_payment"))
    else:  # paid on time: what was said while it was unsettled ("outcome unknown…") no longer holds
        fields.update(reason_code=None, reason_params={}, note=None)
    return Decision(S.PAID_EVENT, fields)


def payable_until(order, limits: GatewayLimits) -> float | None:
    """Until when the gateway may still take payment for this unpaid order (None: our expiry)."""
    lifetime = getattr(limits, "unpaid_order_lifetime", None)
    return order.created_at + lifetime if lifetime else None


def give_up_qr(now: float, *, cancelled: bool, query_interval: float, settings,
               payable_until: float | None = None) -> Decision:
    """No gateway here closes orders: the QR is given up locally and watched for a
    late payment (at least as long as the gateway still takes one). Cancelled (by
    the clerk, or never shown) is watched quietly."""
    key = "reason.cancelled" if cancelled else "reason.expired"
    return Decision(S.CANCEL if cancelled else S.EXPIRE, {
        **why(key),
        "watch_until": max(now + settings.late_payment_watch_seconds, payable_until or 0.0),
        "next_check_at": now + max(settings.late_payment_poll_seconds, query_interval),
    })


def qr_next(order, answer: PaymentState | None, now: float, limits: GatewayLimits, settings,
            twin: str | None = None) -> Decision:
    """A QR order after a query (answer None: this gateway cannot be queried)."""
    if answer is not None:
        if answer.status in (PayStatus.PAID, PayStatus.REFUNDED):
            return paid(order, answer, now, twin)
        if answer.status in (PayStatus.CLOSED, PayStatus.FAILED):
            fields: dict[str, Any] = {"next_check_at": None}
            if not order.reason_code:
                fields.update(why("reason.closed_by_gateway", note=answer.reason))
            return Decision(S.GATEWAY_CLOSED, fields)
    return unanswered(order, now, limits, settings,
                      not_found=answer is not None and answer.status == PayStatus.NOT_FOUND)


def unanswered(order, now: float, limits: GatewayLimits, settings, *, not_found: bool = False) -> Decision:
    """Not paid (yet): the next step by the order's state and clock."""
    expires = order.expires_at or now
    if order.state == S.PENDING:
        if now < expires:
            return reschedule(min(expires, now + limits.query_interval), check_count=0)
        return give_up_qr(now, cancelled=False, query_interval=limits.query_interval, settings=settings,
                          payable_until=payable_until(order, limits))
    if order.state == S.UNKNOWN:
        # The create's answer was lost, so no QR was shown.
        if not_found:
            if now >= expires:
                return Decision(S.NEVER_CREATED, {**why("reason.never_created"), "next_check_at": None})
            return reschedule(now + max(limits.query_interval, 5.0), check_count=0)
        decision = give_up_qr(now, cancelled=True, query_interval=limits.query_interval, settings=settings,
                              payable_until=payable_until(order, limits))
        return Decision(decision.event, {**decision.fields, **why("reason.never_shown")})
    if order.state in (S.EXPIRED, S.CANCELLED, S.NEEDS_CHECK):
        watch_until = order.watch_until or expires
        if now >= watch_until:
            if order.state == S.NEEDS_CHECK:
                return reschedule(None)
            return Decision(S.WATCH_ENDED, {"next_check_at": None})
        interval = (settings.needs_check_poll_seconds if order.state == S.NEEDS_CHECK
                    else settings.late_payment_poll_seconds)
        return reschedule(min(watch_until, now + max(interval, limits.query_interval)))
    return reschedule(now + limits.query_interval)


def error_next(order, exc: GatewayError | None, now: float, settings) -> Decision:
    """The gateway could not be asked: try again later, a person after too many tries."""
    from cashier.gateways.base import BadAmount

    if isinstance(exc, BadAmount) and order.state != S.NEEDS_CHECK:
        # An amount that cannot be booked: asking again gets the same answer, so a
        # person looks now; the order stays watched.
        return Decision(S.FLAGGED, {**why_error(exc), "watch_until": now + settings.late_payment_watch_seconds,
                                    "next_check_at": now + settings.needs_check_poll_seconds},
                        detail=error_detail(exc), action="bad_amount")
    count = order.check_count + 1
    if count >= settings.max_error_checks and order.state != S.NEEDS_CHECK:
        return Decision(S.FLAGGED, {**why("reason.unreachable"), "check_count": count,
                                    "watch_until": now + settings.late_payment_watch_seconds,
                                    "next_check_at": now + settings.needs_check_poll_seconds},
                        detail=error_detail(exc))
    return Decision(fields={"check_count": count, "next_check_at": now + backoff(count, settings.max_backoff)},
                    audit=exc is not None, detail=error_detail(exc))


def micropay_answer(order, answer: PaymentState, now: float, settings, twin: str | None = None) -> Decision:
    """The pay request's own answer (or a query's, on the same terms)."""
    if answer.status in (PayStatus.PAID, PayStatus.REFUNDED):
        return paid(order, answer, now, twin)
    if answer.status == PayStatus.FAILED:
        return Decision(S.DECLINED, {"note": answer.reason, "reason_code": None, "next_check_at": None})
    if answer.status == PayStatus.CLOSED:
        return Decision(S.GATEWAY_CLOSED, {"note": answer.reason, "reason_code": None, "next_check_at": None})
    fields = {"gateway_trade_no": answer.gateway_trade_no or order.gateway_trade_no,
              "next_check_at": now + settings.micropay_query_interval}
    if answer.reason:
        fields["note"] = answer.reason
    if answer.user_paying and order.state in (S.SENDING, S.UNKNOWN):
        return Decision(S.USER_PAYING, fields)
    if order.state == S.SENDING:
        return Decision(S.ANSWER_LOST, fields)
    return Decision(fields=fields, audit=True)


def micropay_next(order, answer: PaymentState | float | None, now: float, settings, *, can_reverse: bool,
                  twin: str | None = None, limits: GatewayLimits | None = None) -> Decision:
    """A micropay after a query: `answer` is the state, the seconds to wait for the
    rate limit, or None (no answer). Past the deadline without "paid": reverse."""
    if isinstance(answer, PaymentState):
        if answer.status in (PayStatus.PAID, PayStatus.REFUNDED):
            return paid(order, answer, now, twin)
        if answer.status in (PayStatus.FAILED, PayStatus.CLOSED):
            event = S.DECLINED if answer.status == PayStatus.FAILED else S.GATEWAY_CLOSED
            return Decision(event, {"note": answer.reason or order.note, "next_check_at": None})
    if order.state == S.NEEDS_CHECK:  # keep watching: a late confirmation is money taken
        return unanswered(order, now, limits or GatewayLimits(), settings)
    if isinstance(answer, float):
        return reschedule(now + answer)  # not allowed to query yet; the reverse follows a query
    becomes_userpaying = (isinstance(answer, PaymentState) and answer.user_paying and order.state == S.UNKNOWN)
    deadline = order.expires_at or now
    if now < deadline:
        fields: dict[str, Any] = {"next_check_at": min(deadline, now + settings.micropay_query_interval)}
        if becomes_userpaying:
            fields["gateway_trade_no"] = answer.gateway_trade_no or order.gateway_trade_no
            return Decision(S.USER_PAYING, fields)
        return Decision(fields=fields)
    return begin_reverse(order, now, settings, can_reverse=can_reverse)


def begin_reverse(order, now: float, settings, *, can_reverse: bool) -> Decision:
    if not can_reverse:
        return Decision(S.FLAGGED, {**why("reason.cannot_reverse"),
                                    "watch_until": now + settings.late_payment_watch_seconds,
                                    "next_check_at": now + settings.needs_check_poll_seconds})
    if order.wallet == Wallet.WECHAT.value:
        earliest = order.created_at + settings.wechat_min_reverse_after
        if now < earliest:  # WeChat: never reverse earlier than 15 s after the pay call
            return reschedule(earliest)
    return Decision(S.REVERSE, {"check_count": 0, "next_check_at": now + settings.reverse_retry_interval},
                    then=SEND_REVERSE)


def reverse_next(order, result: ReverseResult | GatewayError, now: float, settings) -> Decision:
    attempts = order.check_count + 1
    if isinstance(result, ReverseResult) and result.done:
        return Decision(S.REVERSED_EVENT, {**why("reason.reversed"), "next_check_at": None,
                                           "check_count": attempts})
    words = (result.reason if isinstance(result, ReverseResult)
             else str(result.params.get("reason") or result.key)) or ""
    if attempts >= settings.max_reverse_attempts:
        return Decision(S.FLAGGED, {**why("reason.reverse_failed", reason=words), "check_count": attempts,
                                    "watch_until": now + settings.late_payment_watch_seconds,
                                    "next_check_at": now + settings.needs_check_poll_seconds},
                        detail=error_detail(result) if isinstance(result, GatewayError) else None)
    detail = (error_detail(result) if isinstance(result, GatewayError)
              else {"retry": result.retry, "reason": result.reason})
    return Decision(fields={"check_count": attempts, "next_check_at": now + settings.reverse_retry_interval},
                    audit=True, detail=detail)


# ------------------------------------------------------------------- the slot


# Only watched (for a late payment, or until a person looks): nobody stands waiting.
WATCHED_ORDER_STATES = frozenset({S.EXPIRED, S.CANCELLED, S.NEEDS_CHECK})


def query_rank(order, *, on_screen: str | None = None, asked: Collection[str] = ()) -> tuple:
    """Who gets a merchant's query slot first when several orders are due (LTZF: one
    order query per 5 s, shared by every order of the merchant). The scheduler steps
    due orders in this order, and a step that finds the slot taken waits for the next
    one, so the first in this order gets it:

    0. the order the clerk is waiting on: the live one on the checkout (`on_screen`),
       or one whose 查单 was pressed and waits for the slot (`asked`);
    1. other live orders (a QR shown, a payment code being confirmed or reversed),
       nearest their expiry first;
    2. orders only watched (cancelled, expired: a late payment; needs checking),
       longest due first.

    Ties go to the older order number. (Orders falling due together used to be taken
    oldest number first: three watched orders, each asked every 15 s, filled every
    slot and the QR on the screen was not asked again until they were done.)"""
    watched = order.state in WATCHED_ORDER_STATES
    if order.out_trade_no in asked or (order.out_trade_no == on_screen and not watched):
        return (0, 0.0, order.out_trade_no)
    if watched:
        return (2, order.next_check_at if order.next_check_at is not None else 0.0, order.out_trade_no)
    return (1, order.expires_at if order.expires_at is not None else float("inf"), order.out_trade_no)


# ----------------------------------------------------------------------- refunds


def refund_refusal(order, existing: Iterable, limits: GatewayLimits, now: float) -> tuple[str, dict] | None:
    """The gateway's refund rules, checked before anything is written: (key, params) of
    the refusal, or None."""
    live = [r for r in existing if r.state != S.REFUND_FAILED]
    if limits.max_partial_refunds is not None and len(live) >= limits.max_partial_refunds:
        return "engine.refund_too_many", {"count": limits.max_partial_refunds}
    if limits.refund_max_age_days is not None and order.paid_at is not None:
        if now - order.paid_at > limits.refund_max_age_days * 86400:
            return "engine.refund_too_old", {"days": limits.refund_max_age_days}
    spacing = limits.refund_spacing.get(Wallet(order.wallet), 0.0) if limits.refund_spacing else 0.0
    if spacing and live:
        last = max(r.created_at for r in live)
        if now - last < spacing:
            return "engine.refund_too_soon", {"seconds": int(spacing), "wait": int(spacing - (now - last)) + 1}
    return None


def refund_sent(refund, result: RefundState | GatewayError, now: float, limits: GatewayLimits,
                settings) -> Decision:
    """The refund request's own answer."""
    from cashier.gateways.base import BadAmount, DefiniteError

    if isinstance(result, AlreadyExists):  # an earlier send arrived: ask its status soon
        return Decision(S.R_ACCEPTED, {**refund_why_error(result),
                                       "next_check_at": now + limits.refund_query_interval},
                        detail=error_detail(result))
    if isinstance(result, DefiniteError):
        return Decision(S.R_FAILED, {**refund_why_error(result), "next_check_at": None},
                        detail=error_detail(result))
    if isinstance(result, BadAmount):  # refunded, for an amount the books cannot read: a person checks now
        return Decision(S.R_FLAGGED, {**refund_why_error(result), "next_check_at": None},
                        detail=error_detail(result), action="bad_amount")
    if isinstance(result, GatewayError):
        return Decision(S.R_ANSWER_LOST, {**refund_why_error(result),
                                          "next_check_at": now + settings.refund_retry_interval},
                        detail=error_detail(result))
    return refund_state(refund, result, now, limits)


def refund_state(refund, answer: RefundState, now: float, limits: GatewayLimits,
                 others: Iterable = ()) -> Decision:
    """A refund's status as the gateway reported it."""
    if (answer.amount is not None and answer.amount != refund.amount
            and answer.status in (RefundStatus.SUCCEEDED, RefundStatus.PROCESSING)):
        # The gateway refunds (or refunded) another amount than ours: neither figure is
        # booked as done; a person looks, and nothing more is refundable meanwhile.
        event = None if refund.state == S.REFUND_NEEDS_CHECK else S.R_FLAGGED
        return Decision(event, {**refund_why(REFUND_AMOUNT_MISMATCH, answer.reason, refunded=answer.amount,
                                             amount=refund.amount),
                                "gateway_refund_no": answer.gateway_refund_no or refund.gateway_refund_no,
                                "next_check_at": None}, audit=True,
                        detail={"gateway_amount": _text(answer.amount), "amount": _text(refund.amount),
                                "status": answer.status.value})
    if answer.status == RefundStatus.SUCCEEDED:
        return Decision(S.R_SUCCEEDED, {
            "gateway_refund_no": answer.gateway_refund_no or refund.gateway_refund_no,
            "finished_at": answer.finished_at.timestamp() if answer.finished_at else now,
            "next_check_at": None})
    if answer.status == RefundStatus.FAILED:
        return Decision(S.R_FAILED, {"failure_note": answer.reason or None, "failure_code": None,
                                     "next_check_at": None})
    if answer.order_refunded is not None:
        return refund_from_order(refund, answer, now, limits, others)
    first = refund.state in (S.REFUND_SENDING, S.REFUND_UNKNOWN)
    delay = limits.refund_first_query_after if first else limits.refund_query_interval
    fields = {"gateway_refund_no": answer.gateway_refund_no or refund.gateway_refund_no,
              "next_check_at": now + delay}
    return Decision(S.R_ACCEPTED if refund.state != S.REFUND_PROCESSING else None, fields,
                    audit=refund.state != S.REFUND_PROCESSING)


def refund_from_order(refund, answer: RefundState, now: float, limits: GatewayLimits, others: Iterable) -> Decision:
    """The gateway knows the number but reports only the order's refunded total.
    Settled when that total is exactly our succeeded refunds plus this one and no
    other refund of the order is open; otherwise asked again, then a person looks."""
    others = [r for r in others if r.out_refund_no != refund.out_refund_no]
    succeeded = sum((r.amount for r in others if r.state == S.REFUND_SUCCEEDED), Decimal("0.00"))
    open_others = [r for r in others if r.state not in S.FINAL_REFUND_STATES]
    if not open_others and answer.order_refunded == succeeded + refund.amount:
        return Decision(S.R_SUCCEEDED, {"finished_at": now, "next_check_at": None,
                                        **refund_why("reason.refund_settled_by_order",
                                                     refunded=answer.order_refunded)})
    count = refund.check_count + 1
    if count >= REFUND_EVIDENCE_CHECKS:
        return Decision(S.R_FLAGGED, {**refund_why("reason.refund_status_unavailable",
                                                   refunded=answer.order_refunded, amount=refund.amount),
                                      "check_count": count, "next_check_at": None})
    event = S.R_ACCEPTED if refund.state != S.REFUND_PROCESSING else None
    return Decision(event, {"check_count": count, "next_check_at": now + limits.refund_query_interval},
                    audit=True, detail={"order_refunded": answer.order_refunded})


def refund_queried(refund, result: RefundState | GatewayError, now: float, limits: GatewayLimits, settings,
                   others: Iterable = ()) -> Decision:
    """A refund after a status query."""
    if isinstance(result, RefundNotFound):
        if refund.state == S.REFUND_UNKNOWN and refund.check_count < REFUND_RESENDS:
            # The refund never reached the gateway: send it again with the SAME number,
            # so that it can only ever be refunded once.
            return Decision(S.R_RESEND, {"check_count": refund.check_count + 1}, then=RESEND_REFUND,
                            detail=error_detail(result))
        return refund_retry(refund, result, now, settings)
    if isinstance(result, GatewayError):
        return refund_retry(refund, result, now, settings)
    return refund_state(refund, result, now, limits, others)


def refund_retry(refund, exc: GatewayError, now: float, settings) -> Decision:
    from cashier.gateways.base import BadAmount

    count = refund.check_count + 1
    if isinstance(exc, BadAmount):  # an amount the books cannot hold: a person checks it now
        return Decision(S.R_FLAGGED, {**refund_why_error(exc), "check_count": count, "next_check_at": None},
                        detail=error_detail(exc), action="bad_amount")
    if count >= settings.max_error_checks:
        return Decision(S.R_FLAGGED, {**refund_why("reason.unreachable"), "check_count": count,
                                      "next_check_at": None}, detail=error_detail(exc))
    return Decision(fields={"check_count": count, "next_check_at": now + backoff(count, settings.max_backoff)},
                    audit=True, detail=error_detail(exc))


def refund_without_query(refund) -> Decision:
    return Decision(S.R_FLAGGED, {**refund_why("reason.refund_unknown_no_query"), "next_check_at": None})
