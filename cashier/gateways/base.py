"""The one interface every gateway implements, and the normalised results it returns.

Gateways know wire formats and nothing of orders: no database, no Qt, no clock
beyond what a request needs (timestamps). The engine asks a gateway what it can do
(`capabilities`, `qr_methods`, `limits`) rather than knowing gateway names.

Errors are typed by what they mean for money:
  * `DefiniteError` and subclasses: the request surely did not take effect
    (rejected, bad signature reported, invalid parameter, connection refused
    before anything was sent). A new attempt needs a new out_trade_no.
  * `UnknownOutcome` and subclasses: it may or may not have taken effect
    (timeout after sending, connection dropped, unparseable answer, HTTP 5xx).
    Query before doing anything else.

Nothing else leaves a gateway operation: `Gateway.__init_subclass__` wraps each
operation a gateway defines (`GUARDED_OPERATIONS`), so that an answer the code could
not digest (a KeyError, a RecursionError, a decimal.InvalidOperation...) is a
BadResponse, i.e. an unknown outcome to query, never a crash. The same wrapper
redacts the key out of every error and reason it returns, and refuses a created QR
whose payload is not one of the URL forms the gateway documents (`qr_schemes`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import urlsplit

from cashier.i18n import EN, UserError, define
from cashier.money import MAX_FEN, WireAmountError, from_fen, parse_wire_amount

log = logging.getLogger("cashier.gateways")

define({
    "gw.rejected": ("支付网关拒绝了请求：{reason}", "The gateway refused the request: {reason}"),
    "gw.bad_signature": ("签名错误：请检查商户密钥（{reason}）", "Bad signature: check the merchant key ({reason})"),
    "gw.invalid_parameter": ("参数错误：{reason}", "Invalid parameter: {reason}"),
    "gw.not_supported": ("此网关不支持该操作：{operation}", "This gateway does not support: {operation}"),
    "gw.rate_limited": ("请求过于频繁，请稍后再试（{reason}）", "Too many requests, try again shortly ({reason})"),
    "gw.not_sent": ("无法连接支付网关，请求未发出：{reason}", "Could not reach the gateway; nothing was sent: {reason}"),
    "gw.timeout": ("支付网关响应超时，结果未知，正在查询", "The gateway did not answer in time; outcome unknown, querying"),
    "gw.connection_lost": ("与支付网关的连接中断，结果未知，正在查询", "The connection to the gateway dropped; outcome unknown, querying"),
    "gw.bad_response": ("支付网关返回了无法识别的内容，结果未知：{reason}", "The gateway answered something unreadable; outcome unknown: {reason}"),
    "gw.server_error": ("支付网关内部错误（HTTP {status}），结果未知", "Gateway server error (HTTP {status}); outcome unknown"),
    "gw.insecure_url": ("网关地址必须使用 https（本机地址除外）：{url}", "The gateway address must use https (except loopback): {url}"),
    "gw.bad_url": ("网关地址无效：{url}", "Invalid gateway address: {url}"),
    "gw.bad_amount": ("金额无效：{value}", "Invalid amount: {value}"),
    "gw.bad_answer_amount": ("支付网关返回的{what}无法作为金额记账（{value}），请人工核对这笔订单",
                             "The gateway answered a {what} that cannot be booked as an amount ({value}): "
                             "check this order by hand"),
    "gw.bad_qr": ("支付网关返回的收款码不是它使用的链接形式，未展示（{value}），结果未知",
                  "The gateway's payment code is not a link form it uses; not shown ({value}); outcome unknown"),
    "gw.amount_range": ("金额必须在 {minimum} 与 {maximum} 元之间", "The amount must be between ¥{minimum} and ¥{maximum}"),
    "gw.bad_trade_no": ("单号 {value} 不符合该网关的格式（{pattern}）", "Number {value} does not fit this gateway's format ({pattern})"),
    "gw.refund_not_found": ("网关没有这笔退款（{reason}）", "The gateway has no such refund ({reason})"),
    "gw.already_exists": ("网关已有这个单号，正在查询它的状态（{reason}）",
                          "The gateway already has this number; asking for its status ({reason})"),
    "gw.notify_bad_signature": ("通知签名无效", "Notification signature is invalid"),
    "gw.notify_malformed": ("通知内容无效：{reason}", "Notification is malformed: {reason}"),
    "gw.notify_unknown_order": ("通知的订单不是本店的：{out_trade_no}", "Notification for an order that is not ours: {out_trade_no}"),
    "gw.notify_amount_mismatch": ("通知金额 {got} 与订单金额 {expected} 不符", "Notification amount {got} differs from the order's {expected}"),
})


# --------------------------------------------------------------------------- enums


class Method(str, enum.Enum):
    """What the clerk chose at the counter."""

    MERGED = "merged"  # one code both wallets can scan (一码付)
    WECHAT = "wechat"  # WeChat native QR
    ALIPAY = "alipay"  # Alipay native QR
    QQ = "qq"  # QQ wallet QR
    MICROPAY = "micropay"  # the clerk scans the customer's payment code (付款码)


class Wallet(str, enum.Enum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    QQ = "qq"
    UNIONPAY = "unionpay"
    UNKNOWN = "unknown"  # a merged code before we know which wallet paid


class Capability(str, enum.Enum):
    MERGED_QR = "merged_qr"
    WECHAT_QR = "wechat_qr"
    ALIPAY_QR = "alipay_qr"
    QQ_QR = "qq_qr"
    MICROPAY = "micropay"
    QUERY = "query"
    CLOSE = "close"
    REVERSE = "reverse"
    REFUND = "refund"
    REFUND_QUERY = "refund_query"
    NOTIFY_VERIFY = "notify_verify"
    CHECK_CONNECTION = "check_connection"
    LIST_ORDERS = "list_orders"  # pages of the merchant's orders, newest first (for reconciliation)


QR_CAPABILITY: dict[Method, Capability] = {
    Method.MERGED: Capability.MERGED_QR,
    Method.WECHAT: Capability.WECHAT_QR,
    Method.ALIPAY: Capability.ALIPAY_QR,
    Method.QQ: Capability.QQ_QR,
}


class PayStatus(str, enum.Enum):
    PENDING = "pending"  # created, not paid yet (includes "customer is entering a password")
    PAID = "paid"
    CLOSED = "closed"  # never paid and will never be (closed, expired, revoked/reversed)
    FAILED = "failed"  # definite failure (declined, insufficient funds...)
    REFUNDED = "refunded"  # paid, then (partly) refunded: gateways that report it
    NOT_FOUND = "not_found"  # the gateway does not know the order (yet)
    UNKNOWN = "unknown"  # the gateway answered but the state is not one we know


class RefundStatus(str, enum.Enum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# ------------------------------------------------------------------------- results


@dataclass(frozen=True)
class OrderRef:
    """What a gateway needs to address an existing order."""

    out_trade_no: str
    amount: Decimal  # what we asked for, yuan
    method: Method
    wallet: Wallet = Wallet.UNKNOWN
    gateway_trade_no: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class QrOrder:
    """A QR order created at the gateway: `qr` is the text to encode locally."""

    out_trade_no: str
    qr: str
    amount_to_pay: Decimal  # its500 discounts the price; everyone else: the amount asked
    expires_at: datetime
    gateway_trade_no: str | None = None
    wallet: Wallet = Wallet.UNKNOWN
    # Only when the gateway gives no link at all (its500's WeChat personal code):
    # an image to download and show; `qr` is then "".
    qr_image_url: str | None = None


@dataclass(frozen=True)
class PaymentState:
    status: PayStatus
    out_trade_no: str
    paid_amount: Decimal | None = None
    paid_at: datetime | None = None
    gateway_trade_no: str | None = None
    wallet: Wallet = Wallet.UNKNOWN
    reason: str | None = None  # the gateway's words for a failure or an odd state
    # micropay only: the customer must confirm on the phone (USERPAYING)
    user_paying: bool = False
    # paid, but the site holds the money (epay status 3, frozen): `reason` says so
    held: bool = False


@dataclass(frozen=True)
class ListedOrder:
    """One order as the gateway's order list gives it (`Gateway.list_orders`)."""

    out_trade_no: str
    gateway_trade_no: str | None
    amount: Decimal | None
    status: PayStatus
    created_at: datetime | None = None
    paid_at: datetime | None = None
    wallet: Wallet = Wallet.UNKNOWN


@dataclass(frozen=True)
class ReverseResult:
    done: bool  # the order is reversed / cancelled (or was never paid)
    retry: bool = False  # the gateway asks us to call reverse again (recall=Y)
    reason: str | None = None


@dataclass(frozen=True)
class RefundState:
    status: RefundStatus
    out_refund_no: str
    amount: Decimal | None = None
    gateway_refund_no: str | None = None
    reason: str | None = None
    finished_at: datetime | None = None
    # A gateway that cannot report one refund may report how much of the whole order
    # it has refunded (Fengniao's order query); the engine weighs that against the
    # order's other refunds. None: not known.
    order_refunded: Decimal | None = None


@dataclass(frozen=True)
class Notification:
    """A verified notification, normalised. Never trusted before `verify_notification`
    checked its signature; the caller still checks it is ours and the amount matches
    (use `check_notification_against`)."""

    kind: str  # "payment" or "refund"
    out_trade_no: str
    paid: bool
    amount: Decimal | None
    gateway_trade_no: str | None = None
    out_refund_no: str | None = None
    wallet: Wallet = Wallet.UNKNOWN
    paid_at: datetime | None = None
    # its500's notification is unsigned: the engine must confirm it by a query
    needs_confirmation: bool = False


@dataclass(frozen=True)
class IncomingRequest:
    """A raw HTTP request as received by the notification receiver."""

    method: str
    path: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class GatewayLimits:
    """Rules a gateway imposes; the engine reads them instead of knowing names.

    All intervals in seconds. None means "no limit known".
    """

    min_amount: Decimal = Decimal("0.01")
    max_amount: Decimal = Decimal("100000.00")
    # Minimum spacing between two order queries for one merchant (LTZF: 5 s).
    query_interval: float = 2.0
    # Minimum spacing between two refund queries for one merchant (LTZF: 10 s).
    refund_query_interval: float = 5.0
    # How long after a refund is accepted before its first query (LTZF: ~60 s).
    refund_first_query_after: float = 5.0
    # Minimum spacing between two refunds of the same order, per wallet.
    refund_spacing: Mapping[Wallet, float] = field(default_factory=dict)
    max_partial_refunds: int | None = None
    refund_max_age_days: int | None = None
    # How long a QR order lives unless the shop configured otherwise, and the range.
    default_qr_expiry: float = 300.0
    min_qr_expiry: float = 60.0
    max_qr_expiry: float = 7200.0
    # How long after its creation the gateway still takes payment for an unpaid order
    # it was sent no expiry for and cannot close (Fengniao: the wallets' ~2 h). A given-up
    # QR is watched at least that long. None: the order ends at our expiry.
    unpaid_order_lifetime: float | None = None
    # Characters allowed in out_trade_no / out_refund_no.
    trade_no_pattern: str = r"^[A-Za-z0-9_-]{6,32}$"
    trade_no_min_length: int = 6
    trade_no_max_length: int = 32


# ------------------------------------------------------------------- wire helpers

# Every gateway stamps times in China's local time, without a zone.
CHINA_TZ = timezone(timedelta(hours=8))


def parse_china_time(text: object) -> datetime | None:
    """"2022-11-22 11:55:42" or "20221122115542" (China time) -> aware UTC datetime.
    None when absent, zero ("0000-00-00 ...") or not a time."""
    if not isinstance(text, str) or not text.strip() or text.strip().startswith("0000"):
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=CHINA_TZ).astimezone(timezone.utc)
        except ValueError:
            continue
    return None


# -------------------------------------------------------------------------- errors


class GatewayError(UserError):
    """Base class: something went wrong talking to a gateway."""

    key = "gw.rejected"

    def __init__(self, key: str | None = None, /, *, gateway_code: str | None = None, **params: object):
        self.gateway_code = gateway_code
        params.setdefault("reason", "")
        super().__init__(key, **params)


class DefiniteError(GatewayError):
    """The request surely did not take effect."""


class Rejected(DefiniteError):
    key = "gw.rejected"


class BadSignature(DefiniteError):
    key = "gw.bad_signature"


class InvalidParameter(DefiniteError):
    key = "gw.invalid_parameter"


class NotSupported(DefiniteError):
    key = "gw.not_supported"


class RateLimited(DefiniteError):
    """The gateway refused because we asked too often: nothing happened, wait and retry."""

    key = "gw.rate_limited"


class NotSent(DefiniteError):
    """The connection could not be opened: the request never left."""

    key = "gw.not_sent"


class RefundNotFound(DefiniteError):
    """The gateway has no refund with this number: our request never reached it (or
    it refused it without keeping it). Sending it again with the same number is safe."""

    key = "gw.refund_not_found"


class AlreadyExists(GatewayError):
    """The gateway already has this order or refund number: an earlier request with it
    reached the gateway. Neither a success nor a refusal: its status must be asked."""

    key = "gw.already_exists"


class UnknownOutcome(GatewayError):
    """The request may or may not have taken effect: query before anything else."""


class Timeout(UnknownOutcome):
    key = "gw.timeout"


class ConnectionLost(UnknownOutcome):
    key = "gw.connection_lost"


class BadResponse(UnknownOutcome):
    """Unparseable, unexpected or unsigned-when-it-should-be answer."""

    key = "gw.bad_response"


class BadAmount(BadResponse):
    """The answer names an amount that cannot be booked: not a number ("1e9999",
    "abc"), finer than a fen, or beyond the ledger's range ("99999999999999999999999.00").
    An unknown outcome that a person must look at: the engine flags the order at once
    (asking again would get the same answer) and keeps watching it."""

    key = "gw.bad_answer_amount"


def answer_amount(value: object, what: str) -> Decimal:
    """A yuan amount read from a gateway's answer, or BadAmount."""
    try:
        return parse_wire_amount(value)
    except WireAmountError:
        raise BadAmount(what=what, value=str(value)[:30]) from None


def answer_fen(value: object, what: str) -> Decimal:
    """An amount a gateway gives in integer fen (an int, a JSON integer, a digit string):
    yuan, or BadAmount."""
    fen: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        fen = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        fen = int(value) if value.adjusted() < 30 else None
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,30}", value.strip()):
        fen = int(value.strip())
    if fen is None or not 0 <= fen <= MAX_FEN:
        raise BadAmount(what=what, value=str(value)[:30])
    return from_fen(fen)


class ServerError(UnknownOutcome):
    key = "gw.server_error"


class NotificationError(UserError):
    """A notification that must not be applied (forged, malformed, not ours, wrong amount)."""


class ConfigError(UserError):
    """A merchant profile that cannot work (bad URL, missing field)."""


# ------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class Profile:
    """A merchant's settings for one gateway. The secret is not part of it: it lives
    in the OS keyring and is handed to the gateway when one is built."""

    name: str
    gateway: str
    base_url: str
    merchant_id: str
    app_id: str = ""
    notify_url: str = "http://127.0.0.1/notify"
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "gateway": self.gateway,
            "base_url": self.base_url,
            "merchant_id": self.merchant_id,
            "app_id": self.app_id,
            "notify_url": self.notify_url,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Profile":
        return cls(
            name=str(data["name"]),
            gateway=str(data["gateway"]),
            base_url=str(data["base_url"]),
            merchant_id=str(data["merchant_id"]),
            app_id=str(data.get("app_id") or ""),
            notify_url=str(data.get("notify_url") or "http://127.0.0.1/notify"),
            extra={str(k): str(v) for k, v in (data.get("extra") or {}).items()},
        )


# ------------------------------------------------------------------------ gateway


# The operations a gateway implements; each is wrapped by `_guarded` (see the module
# docstring). verify_notification is not: it raises NotificationError by design.
GUARDED_OPERATIONS = ("create_qr", "micropay", "query", "close", "reverse", "refund", "refund_query",
                      "check_connection", "fetch_qr_image")
# A QR payload is at most this long (a version-40 QR holds 2,953 bytes).
MAX_QR_PAYLOAD = 2048


def _link_text_ok(text: object) -> bool:
    """A link as text: not empty, not too long, no space, no control or format
    character (a right-to-left override would show one link and open another).
    Non-ASCII is allowed: a site may leave its Chinese name unencoded in a query."""
    return (isinstance(text, str) and 0 < len(text) <= MAX_QR_PAYLOAD and text.isprintable()
            and not any(ch.isspace() for ch in text))


# A gateway's words kept in a message or a reason (and so in the ledger): at most this long.
MAX_REASON = 300


def _clean_words(gateway: "Gateway", text: str) -> str:
    """The gateway's words, redacted and cut to MAX_REASON (redacted before cutting)."""
    excerpt = getattr(gateway.http, "excerpt", None)
    return excerpt(text, MAX_REASON) if excerpt is not None else text[:MAX_REASON]


def _redact_error(gateway: "Gateway", exc: GatewayError) -> GatewayError:
    exc.params = {k: _clean_words(gateway, v) if isinstance(v, str) else v for k, v in exc.params.items()}
    exc.args = (exc.message(EN),)
    return exc


def _redact_result(gateway: "Gateway", result: Any) -> Any:
    if dataclasses.is_dataclass(result) and isinstance(getattr(result, "reason", None), str):
        clean = _clean_words(gateway, result.reason)
        if clean != result.reason:
            return dataclasses.replace(result, reason=clean)
    return result


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def operation(self: "Gateway", *args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(self, *args, **kwargs)
        except GatewayError as exc:
            _redact_error(self, exc)
            raise
        except UserError:
            raise
        except Exception as exc:  # an answer the code could not digest: unknown outcome
            shown = repr(exc)[:200]
            redact = getattr(self.http, "redact", None)
            log.warning("%s %s: unreadable answer: %s", self.name, name, redact(shown) if redact else type(exc).__name__)
            raise BadResponse(reason=f"unreadable answer ({type(exc).__name__})") from None
        if name == "create_qr":
            self.check_qr_order(result)
        return _redact_result(self, result)

    operation._guarded = True  # type: ignore[attr-defined]
    return operation


class Gateway:
    """Base class. Subclasses set the class attributes and implement what they can.

    Every network call uses `self.http` (see cashier.gateways.http), which applies
    explicit timeouts, maps transport failures to the typed errors above, and never
    logs a URL's query string or a secret.
    """

    name: ClassVar[str] = ""
    title_zh: ClassVar[str] = ""
    title_en: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    limits: ClassVar[GatewayLimits] = GatewayLimits()
    # Operations implemented from public, unconfirmed documents: the UI says so.
    unverified: ClassVar[frozenset[Capability]] = frozenset()
    # Which profile fields this gateway uses, with labels for the settings form.
    profile_fields: ClassVar[tuple[str, ...]] = ("base_url", "merchant_id")
    default_base_url: ClassVar[str] = ""
    # URL schemes this gateway's documents show for a QR payload. https (and http on
    # this machine: the simulator) needs a host; javascript:, data:, file: never pass.
    qr_schemes: ClassVar[frozenset[str]] = frozenset({"https", "weixin"})
    # Schemes of a QR picture's address, for a gateway that gives only pictures.
    qr_image_schemes: ClassVar[frozenset[str]] = frozenset({"https"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in GUARDED_OPERATIONS:
            fn = cls.__dict__.get(name)
            if callable(fn) and not getattr(fn, "_guarded", False):
                setattr(cls, name, _guarded(name, fn))

    def __init__(self, profile: Profile, secret: str, *, http=None) -> None:
        from cashier.gateways.http import GatewayHttp

        if not secret:
            raise ConfigError("profile.no_secret", name=profile.name)
        self.profile = profile
        self._secret = secret
        self.http = http or GatewayHttp(profile.base_url, secrets=(secret,))

    def __repr__(self) -> str:  # never shows the secret
        return f"<{type(self).__name__} profile={self.profile.name!r}>"

    def close_transport(self) -> None:
        self.http.close()

    def warm_up(self) -> None:
        """Make the HTTP client now rather than at the first request."""
        warm = getattr(self.http, "warm_up", None)  # a test's stand-in may have none
        if warm is not None:
            warm()

    # -- what it can do ---------------------------------------------------------
    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @classmethod
    def qr_methods(cls) -> tuple[Method, ...]:
        return tuple(m for m, c in QR_CAPABILITY.items() if c in cls.capabilities)

    def _wire_amount(self, amount: Decimal) -> Decimal:
        """A positive Decimal of whole fen within this gateway's limits, or InvalidParameter
        (nothing is sent)."""
        if (not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0
                or amount != amount.quantize(Decimal("0.01"))):
            raise InvalidParameter("gw.bad_amount", value=str(amount)[:20])
        if not self.limits.min_amount <= amount <= self.limits.max_amount:
            raise InvalidParameter("gw.amount_range", minimum=format(self.limits.min_amount, "f"),
                                   maximum=format(self.limits.max_amount, "f"))
        return amount.quantize(Decimal("0.01"))

    def _check_trade_no(self, value: str) -> str:
        """An out_trade_no / out_refund_no this gateway accepts, or InvalidParameter."""
        if not isinstance(value, str) or not re.fullmatch(self.limits.trade_no_pattern, value):
            raise InvalidParameter("gw.bad_trade_no", value=str(value)[:40], pattern=self.limits.trade_no_pattern)
        return value

    def qr_payload_ok(self, text: object) -> bool:
        """Whether `text` is a QR payload of a form this gateway uses."""
        from cashier.gateways.http import is_loopback_host

        if not _link_text_ok(text):
            return False
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme in ("https", "http"):
            host = parts.hostname or ""
            return bool(host) and (scheme == "https" or ("https" in self.qr_schemes and is_loopback_host(host)))
        return scheme in self.qr_schemes and text[len(scheme) + 1:].startswith("//") and len(text) > len(scheme) + 3

    def check_qr_order(self, order: "QrOrder") -> None:
        """BadResponse (unknown outcome: nothing is shown) unless the created order
        carries a payload of a documented form, or a picture address to fetch."""
        if not isinstance(order, QrOrder):
            raise BadResponse(reason="create_qr gave no order")
        if order.qr and not self.qr_payload_ok(order.qr):
            raise BadResponse("gw.bad_qr", value=order.qr[:40])
        if order.qr_image_url and not _image_url_ok(order.qr_image_url, self.qr_image_schemes):
            raise BadResponse("gw.bad_qr", value=order.qr_image_url[:40])
        if not order.qr and not order.qr_image_url:
            raise BadResponse("gw.bad_qr", value="")

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise NotSupported(operation=capability.value)

    # -- operations (override what the gateway supports) -----------------------
    def create_qr(
        self,
        out_trade_no: str,
        amount: Decimal,
        method: Method,
        subject: str,
        expire_seconds: float,
    ) -> QrOrder:
        raise NotSupported(operation="create_qr")

    def micropay(
        self, out_trade_no: str, amount: Decimal, auth_code: str, wallet: Wallet, subject: str
    ) -> PaymentState:
        """Charge a scanned payment code. PAID, FAILED (definite), or PENDING with
        user_paying=True. Transport trouble raises UnknownOutcome."""
        raise NotSupported(operation="micropay")

    def query(self, order: OrderRef) -> PaymentState:
        raise NotSupported(operation="query")

    def close(self, order: OrderRef) -> bool:
        """Close an unpaid order. True when the gateway confirmed it is closed."""
        raise NotSupported(operation="close")

    def reverse(self, order: OrderRef) -> ReverseResult:
        raise NotSupported(operation="reverse")

    def refund(self, order: OrderRef, out_refund_no: str, amount: Decimal, reason: str) -> RefundState:
        raise NotSupported(operation="refund")

    def refund_query(self, order: OrderRef, out_refund_no: str, amount: Decimal | None = None) -> RefundState:
        """Where the refund stands. `amount` is what was asked (a gateway without a
        refund query answers by re-sending the same refund idempotently)."""
        raise NotSupported(operation="refund_query")

    def fetch_qr_image(self, url: str) -> bytes:
        """The picture of a payment code a gateway gave only as an image (its500's
        personal codes): through this gateway's HTTP layer, with its deadline and a
        size cap. PNG, JPEG or GIF bytes; BadResponse otherwise."""
        if not _image_url_ok(url, self.qr_image_schemes):
            raise BadResponse("gw.bad_qr", value=str(url)[:40])
        return self.http.get_image(url, schemes=self.qr_image_schemes)

    def verify_notification(self, request: IncomingRequest) -> Notification:
        """Check signature (constant time) and parse. Raises NotificationError."""
        raise NotSupported(operation="notify_verify")

    def notification_reply(self, ok: bool) -> HttpReply:
        return HttpReply(200 if ok else 400, "SUCCESS" if ok else "FAIL")

    def list_orders(self, page: int, limit: int) -> list[ListedOrder]:
        """Page `page` (from 1) of the merchant's orders, newest first, `limit` a page."""
        raise NotSupported(operation="list_orders")

    def check_connection(self) -> str:
        """Reach the gateway and check the credentials. Returns a short description."""
        raise NotSupported(operation="check_connection")

    def probe(self) -> dict[str, str]:
        """Find out, charging nothing, what this merchant's site can do. Returns what to
        remember in the profile's `extra` ({} when there is nothing to learn or the
        answer was not conclusive); the gateway applies it to itself at once."""
        return {}


Gateway.fetch_qr_image = _guarded("fetch_qr_image", Gateway.fetch_qr_image)  # type: ignore[method-assign]


def _image_url_ok(url: object, schemes: frozenset[str]) -> bool:
    from cashier.gateways.http import is_loopback_host

    if not _link_text_ok(url):
        return False
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return False
    return parts.scheme in schemes or (parts.scheme == "http" and is_loopback_host(host))


def check_notification_against(note: Notification, our_out_trade_nos: Mapping[str, Decimal]) -> None:
    """Reject a verified notification unless the order is ours and the amount equals ours.

    `our_out_trade_nos` maps our order numbers to the amount the customer had to pay.
    """
    expected = our_out_trade_nos.get(note.out_trade_no)
    if expected is None:
        raise NotificationError("gw.notify_unknown_order", out_trade_no=note.out_trade_no)
    if note.kind == "payment" and note.amount is not None and note.amount != expected:
        raise NotificationError("gw.notify_amount_mismatch", got=note.amount, expected=expected)


define({
    "profile.no_secret": ("商户配置“{name}”缺少密钥", "Profile '{name}' has no secret key"),
})
