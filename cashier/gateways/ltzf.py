"""LTZF 蓝兔支付 (https://api.ltzf.cn): WeChat / Alipay native QR, 一码付 merged QR,
order query, refund, refund query and the payment / refund notifications.

Protocol (docs/gateways/ltzf.md, from LTZF's own document):
  * POST application/x-www-form-urlencoded, JSON answer {code: 0|1, msg, data, request_id},
    answers carry no signature.
  * Sign = uppercase MD5 of the canonical string of the endpoint's REQUIRED fields
    plus "&key=SECRET" (WeChat Pay V2 style). Optional fields (attach, time_expire,
    type, return_url, refund_desc, notify_url of a refund...) are sent but never
    signed: see `SIGNED_FIELDS`.
  * Limits: get_pay_order 1 / 5 s, get_refund_order 1 / 10 s (taken per merchant),
    refunds of one order 60 s apart (WeChat) / 3 s (Alipay), at most 50 partial
    refunds, none after a year. A refund accepted is not a refund done: `refund()`
    returns PROCESSING and `refund_query()` tells the outcome (0 / 1 / -1).

Merchant numbers: an LTZF account has one merchant number per signed product. The
profile's `merchant_id` is used for everything unless the profile's `extra` holds
  * "merge_mch_id": the 聚合商户号 used for 一码付 orders (create, query, refund);
  * "alipay_mch_id": the Alipay merchant number, when it differs from WeChat's.
All of them are signed with the profile's one key.

Decisions where the seed is silent (not confirmed by any document):
  * 一码付 (merged) orders: the seed names no query endpoint for them. A merged order
    is asked about on the path of the wallet that paid it. While the wallet is
    unknown (`OrderRef.wallet` is UNKNOWN), each `query()` makes ONE call, so the
    engine's spacing of `limits.query_interval` keeps the 1-per-5-s limit: first
    /api/wxpay/get_pay_order; unless that says paid, the next query asks
    /api/alipay/get_pay_order, and so on, alternating (the turn is kept per gateway
    object; a new one starts again with wxpay). A merged order that neither
    path knows yet is reported NOT_FOUND ("not scanned yet"), as the counter rules
    say for Alipay orders. Once a path answers, `PaymentState.wallet` tells the
    wallet and refunds / refund queries of that order use that wallet's path.
  * A too-frequent answer is recognised by its words (频繁 / 频率 / 过快; 间隔 for the
    refund spacing) and raised as RateLimited: the exact text is not documented.
  * "退款单号重复" on a refund means a refund with that number exists (maybe ours,
    from an attempt whose answer was lost): returned as PROCESSING, to be confirmed
    with `refund_query()`, never as a definite failure.
  * A refund query answered "...退款单号不存在" means the refund never reached the
    gateway: returned as FAILED (the engine may send it again with the same number).
  * A refund of a merged order whose wallet is still unknown is refused locally
    (InvalidParameter, nothing sent): query it first.
  * Refund notifications: `Notification.paid` is True when the refund succeeded
    (code 0); `amount` is the refund_fee. The refund's pay_channel is signed.
  * time_expire is sent in whole minutes ("5m"), rounded down and clamped to the
    gateway's range (1m..2h for WeChat and 一码付, 1m..15d for Alipay; beyond 2 h,
    whole hours or days), and `expires_at` is computed from what was sent.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from numbers import Real
from typing import Any, Callable, ClassVar, Mapping, NoReturn

from cashier.gateways.base import (
    AlreadyExists,
    BadResponse,
    answer_amount,
    BadSignature,
    Capability,
    Gateway,
    GatewayLimits,
    HttpReply,
    IncomingRequest,
    InvalidParameter,
    Method,
    Notification,
    NotificationError,
    NotSupported,
    OrderRef,
    PaymentState,
    PayStatus,
    QrOrder,
    RateLimited,
    RefundNotFound,
    RefundState,
    RefundStatus,
    Rejected,
    Wallet,
    parse_china_time,
)
from cashier.gateways.signing import canonical, signature_equal, wx_v2_sign
from cashier.i18n import define, tr
from cashier.money import format_yuan, parse_wire_amount

define({
    "ltzf.refund_too_much": ("退款金额 {amount} 超过订单金额 {total}", "The refund {amount} exceeds the order's {total}"),
    "ltzf.refund_too_old": ("交易时间超过一年的订单无法退款", "An order paid more than a year ago cannot be refunded"),
    "ltzf.merged_wallet_unknown": ("一码付订单尚不知道由哪个钱包支付，请先查询订单",
                                   "Not yet known which wallet paid this merged-QR order: query it first"),
    "ltzf.method_unsupported": ("蓝兔支付不支持此付款方式：{method}", "LTZF does not support this payment method: {method}"),
    "ltzf.check_ok": ("连接正常：商户号 {mch_ids} 的密钥有效", "Connected: the key is valid for merchant {mch_ids}"),
    "ltzf.merged_not_found": ("一码付订单尚未被扫码支付（{path}：{msg}）",
                              "The merged-QR order has not been paid yet ({path}: {msg})"),
    "ltzf.label_merge_mch_id": ("一码付聚合商户号（可选）", "Any-wallet QR merchant no. (optional)"),
    "ltzf.label_alipay_mch_id": ("支付宝商户号（可选，与微信不同时填写）", "Alipay merchant no. (optional, if not WeChat's)"),
})


# The fields each endpoint signs (its required ones). Everything else is sent unsigned.
_CREATE_SIGNED = ("mch_id", "out_trade_no", "total_fee", "body", "timestamp", "notify_url")
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "/api/wxpay/native": _CREATE_SIGNED,
    "/api/alipay/native": _CREATE_SIGNED,
    "/api/merge/native": _CREATE_SIGNED,
    "/api/wxpay/refund_order": ("mch_id", "out_trade_no", "out_refund_no", "timestamp", "refund_fee"),
    "/api/alipay/refund_order": ("mch_id", "out_trade_no", "out_refund_no", "timestamp", "refund_fee"),
    "/api/wxpay/get_pay_order": ("mch_id", "out_trade_no", "timestamp"),
    "/api/alipay/get_pay_order": ("mch_id", "out_trade_no", "timestamp"),
    "/api/wxpay/get_refund_order": ("mch_id", "out_refund_no", "timestamp"),
    "/api/alipay/get_refund_order": ("mch_id", "out_refund_no", "timestamp"),
}
PAYMENT_NOTIFY_SIGNED = ("code", "timestamp", "mch_id", "order_no", "out_trade_no", "pay_no", "total_fee")
REFUND_NOTIFY_SIGNED = ("code", "timestamp", "mch_id", "order_no", "out_trade_no", "pay_no", "refund_no",
                        "out_refund_no", "pay_channel", "refund_fee")

# time_expire ranges in minutes, per create path
_EXPIRE_RANGE = {"wxpay": (1, 120), "merge": (1, 120), "alipay": (1, 15 * 24 * 60)}

_CHANNEL_WALLET = {"wxpay": Wallet.WECHAT, "alipay": Wallet.ALIPAY}
_WALLET_PATH = {Wallet.WECHAT: "wxpay", Wallet.ALIPAY: "alipay"}

_RATE_WORDS = ("频繁", "频率", "过快", "间隔", "相隔")
_SYSTEM_WORDS = ("系统繁忙", "系统错误", "系统异常", "服务器", "内部错误", "网络异常", "超时")
_PARAM_WORDS = ("参数", "格式", "不能为空", "必填", "不正确", "无效", "非法", "范围", "不允许")


def _sign(fields: Mapping[str, object], key: str, path: str) -> str:
    return wx_v2_sign(fields, key, SIGNED_FIELDS[path])


def sign_string(fields: Mapping[str, object], path: str) -> str:
    """The string that is signed for `path` (without "&key=..."): for tests and support."""
    return canonical(fields, SIGNED_FIELDS[path])


def time_expire_for(expire_seconds: Real, path: str) -> tuple[str, int]:
    """The time_expire text for a create path and the minutes it stands for."""
    low, high = _EXPIRE_RANGE[path]
    minutes = int(expire_seconds) // 60
    minutes = max(low, min(high, minutes))
    if minutes <= 120:
        return f"{minutes}m", minutes
    hours = minutes // 60
    if hours % 24 == 0:
        return f"{hours // 24}d", hours * 60
    return f"{hours}h", hours * 60


class LtzfGateway(Gateway):
    name = "ltzf"
    title_zh = "蓝兔支付"
    title_en = "LTZF"
    capabilities = frozenset({
        Capability.MERGED_QR,
        Capability.WECHAT_QR,
        Capability.ALIPAY_QR,
        Capability.QUERY,
        Capability.REFUND,
        Capability.REFUND_QUERY,
        Capability.NOTIFY_VERIFY,
        Capability.CHECK_CONNECTION,
    })
    # Only one public SDK confirms that /api/merge/native signs the same six fields.
    unverified = frozenset({Capability.MERGED_QR})
    limits = GatewayLimits(
        min_amount=Decimal("0.01"),
        max_amount=Decimal("100000.00"),
        query_interval=5.0,
        refund_query_interval=10.0,
        refund_first_query_after=60.0,
        refund_spacing={Wallet.WECHAT: 60.0, Wallet.ALIPAY: 3.0},
        max_partial_refunds=50,
        refund_max_age_days=365,
        default_qr_expiry=300.0,
        min_qr_expiry=60.0,
        max_qr_expiry=7200.0,
        trade_no_pattern=r"^[A-Za-z0-9_-]{6,32}$",
        trade_no_min_length=6,
        trade_no_max_length=32,
    )
    profile_fields = ("base_url", "merchant_id", "notify_url")
    # Optional settings kept in Profile.extra, with their labels (message keys).
    profile_extra_fields: ClassVar[dict[str, str]] = {
        "merge_mch_id": "ltzf.label_merge_mch_id",
        "alipay_mch_id": "ltzf.label_alipay_mch_id",
    }
    default_base_url = "https://api.ltzf.cn"

    def __init__(self, profile, secret: str, *, http=None, clock: Callable[[], Real] = time.time) -> None:
        super().__init__(profile, secret, http=http)
        self._clock = clock
        # merged orders whose wallet is unknown: which path the next query asks
        self._merged_next: OrderedDict[str, str] = OrderedDict()

    # ------------------------------------------------------------------ helpers
    def _mch_id(self, path: str) -> str:
        """The merchant number for a path family: wxpay, alipay or merge."""
        extra = self.profile.extra or {}
        if path == "merge":
            return (extra.get("merge_mch_id") or "").strip() or self.profile.merchant_id
        if path == "alipay":
            return (extra.get("alipay_mch_id") or "").strip() or self.profile.merchant_id
        return self.profile.merchant_id

    def _timestamp(self) -> str:
        return str(int(self._clock()))

    def _post(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        """Sign the endpoint's required fields, POST everything, check the envelope."""
        fields = {k: v for k, v in fields.items() if v is not None and v != ""}
        fields["sign"] = _sign(fields, self._secret, path)
        answer = self.http.post_form(path, fields)
        code = answer.get("code")
        if isinstance(code, bool) or code not in (0, 1, "0", "1"):
            raise BadResponse(reason=f"code={str(code)[:20]}")
        return answer

    @staticmethod
    def _ok(answer: Mapping[str, Any]) -> bool:
        return answer.get("code") in (0, "0")

    @staticmethod
    def _msg(answer: Mapping[str, Any]) -> str:
        msg = answer.get("msg")
        return str(msg).strip()[:200] if msg is not None else ""

    def _fail(self, answer: Mapping[str, Any]) -> NoReturn:
        """Raise the typed error for a code=1 answer."""
        msg = self._msg(answer)
        if "签名" in msg:
            raise BadSignature(reason=msg, gateway_code="1")
        if any(w in msg for w in _RATE_WORDS):
            raise RateLimited(reason=msg, gateway_code="1")
        if any(w in msg for w in _SYSTEM_WORDS):
            raise BadResponse(reason=msg, gateway_code="1")
        if "重复" not in msg and "商户号" not in msg and any(w in msg for w in _PARAM_WORDS):
            raise InvalidParameter(reason=msg, gateway_code="1")
        raise Rejected(reason=msg or "code=1", gateway_code="1")

    def _order_path(self, order: OrderRef) -> tuple[str, str]:
        """(path family for query/refund, merchant number) of an existing order."""
        if order.method == Method.MERGED:
            mch_id = self._mch_id("merge")
            path = _WALLET_PATH.get(order.wallet)
            if path is None:
                raise InvalidParameter("ltzf.merged_wallet_unknown")
            return path, mch_id
        if order.method == Method.WECHAT:
            return "wxpay", self._mch_id("wxpay")
        if order.method == Method.ALIPAY:
            return "alipay", self._mch_id("alipay")
        raise NotSupported("ltzf.method_unsupported", method=str(getattr(order.method, "value", order.method)),
                           operation=str(order.method))

    @staticmethod
    def _data(answer: Mapping[str, Any]) -> dict[str, Any]:
        data = answer.get("data")
        if not isinstance(data, dict):
            raise BadResponse(reason="data is not an object")
        return data

    @staticmethod
    def _amount(value: object, what: str) -> Decimal:
        return answer_amount(value, what)

    # --------------------------------------------------------------- create QR
    def create_qr(self, out_trade_no: str, amount: Decimal, method: Method, subject: str,
                  expire_seconds: Real) -> QrOrder:
        path_of = {Method.WECHAT: "wxpay", Method.ALIPAY: "alipay", Method.MERGED: "merge"}
        family = path_of.get(method)
        if family is None:
            raise NotSupported("ltzf.method_unsupported", method=str(getattr(method, "value", method)),
                               operation="create_qr")
        self._require({"wxpay": Capability.WECHAT_QR, "alipay": Capability.ALIPAY_QR,
                       "merge": Capability.MERGED_QR}[family])
        self._check_trade_no(out_trade_no)
        total_fee = format_yuan(self._wire_amount(amount))
        time_expire, minutes = time_expire_for(expire_seconds, family)
        now = self._clock()
        body = (subject or "").strip()[:64] or "收款"
        path = f"/api/{family}/native"
        fields = {
            "mch_id": self._mch_id(family),
            "out_trade_no": out_trade_no,
            "total_fee": total_fee,
            "body": body,
            "timestamp": str(int(now)),
            "notify_url": self.profile.notify_url,
            "time_expire": time_expire,
        }
        if family != "wxpay":
            fields["type"] = "link_url"
        answer = self._post(path, fields)
        if not self._ok(answer):
            self._fail(answer)
        expires_at = datetime.fromtimestamp(int(now) + minutes * 60, tz=timezone.utc)
        wallet = {"wxpay": Wallet.WECHAT, "alipay": Wallet.ALIPAY, "merge": Wallet.UNKNOWN}[family]
        qr, image = self._qr_payload(family, answer.get("data"))
        return QrOrder(out_trade_no=out_trade_no, qr=qr, amount_to_pay=amount, expires_at=expires_at,
                       wallet=wallet, qr_image_url=image)

    @staticmethod
    def _qr_payload(family: str, data: object) -> tuple[str, str | None]:
        """(link to encode, image URL only when no link came)."""
        if family == "wxpay":
            if not isinstance(data, dict):
                raise BadResponse(reason="data is not an object")
            link = data.get("code_url")
            if isinstance(link, str) and link.strip():
                return link.strip(), None
            image = data.get("QRcode_url")
            if isinstance(image, str) and image.startswith("https://"):
                return "", image
            raise BadResponse(reason="no code_url")
        if not isinstance(data, str) or not data.strip():
            raise BadResponse(reason="data is not a link")
        link = data.strip()
        if re.search(r"\.(png|jpe?g|gif)(\?.*)?$", link, re.IGNORECASE):
            # type=link_url was ignored: only the gateway's picture is available.
            return "", link
        return link, None

    # ------------------------------------------------------------------- query
    def query(self, order: OrderRef) -> PaymentState:
        if order.method == Method.MERGED and order.wallet not in _WALLET_PATH:
            path = self._merged_next.get(order.out_trade_no, "wxpay")
            state = self._query_path(order, path, self._mch_id("merge"))
            if state.status == PayStatus.PAID:
                self._merged_next.pop(order.out_trade_no, None)
                return state
            # Not paid on this wallet's path (yet): ask the other one next time.
            self._remember_next(order.out_trade_no, "alipay" if path == "wxpay" else "wxpay")
            if state.status == PayStatus.NOT_FOUND:
                return PaymentState(PayStatus.NOT_FOUND, order.out_trade_no,
                                    reason=tr("ltzf.merged_not_found", path=path, msg=state.reason or ""))
            return state
        path, mch_id = self._order_path(order)
        return self._query_path(order, path, mch_id)

    def _remember_next(self, out_trade_no: str, path: str) -> None:
        self._merged_next[out_trade_no] = path
        self._merged_next.move_to_end(out_trade_no)
        while len(self._merged_next) > 512:
            self._merged_next.popitem(last=False)

    def _query_path(self, order: OrderRef, path: str, mch_id: str) -> PaymentState:
        answer = self._post(f"/api/{path}/get_pay_order", {
            "mch_id": mch_id,
            "out_trade_no": order.out_trade_no,
            "timestamp": self._timestamp(),
        })
        if not self._ok(answer):
            msg = self._msg(answer)
            if "订单号不存在" in msg or msg == "订单不存在":
                return PaymentState(PayStatus.NOT_FOUND, order.out_trade_no, reason=msg)
            self._fail(answer)
        data = self._data(answer)
        echoed = data.get("out_trade_no")
        if echoed is not None and str(echoed) != order.out_trade_no:
            raise BadResponse(reason="out_trade_no differs")
        wallet = _CHANNEL_WALLET[path]
        trade_no = str(data["order_no"]) if data.get("order_no") else None
        status = data.get("pay_status")
        if status in (1, "1"):
            return PaymentState(
                PayStatus.PAID, order.out_trade_no,
                paid_amount=self._amount(data.get("total_fee"), "total_fee"),
                paid_at=parse_china_time(data.get("success_time")),
                gateway_trade_no=trade_no, wallet=wallet,
            )
        if status in (0, "0"):
            return PaymentState(PayStatus.PENDING, order.out_trade_no, gateway_trade_no=trade_no,
                                wallet=wallet if order.method != Method.MERGED else Wallet.UNKNOWN)
        if status is None:
            raise BadResponse(reason="no pay_status")
        return PaymentState(PayStatus.UNKNOWN, order.out_trade_no, gateway_trade_no=trade_no, wallet=wallet,
                            reason=f"pay_status={str(status)[:10]}")

    # ------------------------------------------------------------------ refund
    def refund(self, order: OrderRef, out_refund_no: str, amount: Decimal, reason: str) -> RefundState:
        path, mch_id = self._order_path(order)
        self._check_trade_no(out_refund_no)
        refund_fee = format_yuan(self._wire_amount(amount))
        if amount > order.amount:
            raise InvalidParameter("ltzf.refund_too_much", amount=format_yuan(amount), total=format_yuan(order.amount))
        if order.created_at is not None:
            created = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=timezone.utc)
            age = datetime.fromtimestamp(int(self._clock()), tz=timezone.utc) - created
            if age > timedelta(days=self.limits.refund_max_age_days or 365):
                raise Rejected("ltzf.refund_too_old")
        answer = self._post(f"/api/{path}/refund_order", {
            "mch_id": mch_id,
            "out_trade_no": order.out_trade_no,
            "out_refund_no": out_refund_no,
            "timestamp": self._timestamp(),
            "refund_fee": refund_fee,
            "refund_desc": (reason or "").strip()[:80],
            "notify_url": self.profile.notify_url,
        })
        if not self._ok(answer):
            msg = self._msg(answer)
            if "退款单号重复" in msg or "退款单号已存在" in msg:
                # A refund with this number exists: maybe ours whose answer was lost.
                raise AlreadyExists(reason=msg)
            self._fail(answer)
        data = self._data(answer)
        echoed = data.get("out_refund_no")
        if echoed is not None and str(echoed) != out_refund_no:
            raise BadResponse(reason="out_refund_no differs")
        status = _refund_status(data.get("refund_status"), default=RefundStatus.PROCESSING)
        return RefundState(status, out_refund_no, amount=amount,
                           gateway_refund_no=str(data["order_no"]) if data.get("order_no") else None,
                           finished_at=parse_china_time(data.get("success_time")))

    def refund_query(self, order: OrderRef, out_refund_no: str, amount: Decimal | None = None) -> RefundState:
        path, mch_id = self._order_path(order)
        answer = self._post(f"/api/{path}/get_refund_order", {
            "mch_id": mch_id,
            "out_refund_no": out_refund_no,
            "timestamp": self._timestamp(),
        })
        if not self._ok(answer):
            msg = self._msg(answer)
            if "退款单号不存在" in msg or msg == "退款单不存在":
                raise RefundNotFound(reason=msg)
            self._fail(answer)
        data = self._data(answer)
        echoed = data.get("out_refund_no")
        if echoed is not None and str(echoed) != out_refund_no:
            raise BadResponse(reason="out_refund_no differs")
        status = _refund_status(data.get("refund_status"), default=None)
        if status is None:
            raise BadResponse(reason=f"refund_status={str(data.get('refund_status'))[:10]}")
        if data.get("refund_fee") is not None:
            amount = self._amount(data["refund_fee"], "refund_fee")
        return RefundState(status, out_refund_no, amount=amount,
                           gateway_refund_no=str(data["order_no"]) if data.get("order_no") else None,
                           reason=str(data.get("user_received_account") or "") or None,
                           finished_at=parse_china_time(data.get("success_time")))

    # ------------------------------------------------------------ notifications
    def verify_notification(self, request: IncomingRequest) -> Notification:
        fields = {str(k): str(v) for k, v in (request.form or request.query or {}).items()}
        if not fields.get("out_trade_no") or not fields.get("sign") or fields.get("code") is None:
            raise NotificationError("gw.notify_malformed", reason="missing out_trade_no, code or sign")
        refund = bool(fields.get("out_refund_no") or fields.get("refund_no"))
        signed = REFUND_NOTIFY_SIGNED if refund else PAYMENT_NOTIFY_SIGNED
        expected = wx_v2_sign(fields, self._secret, signed)
        if not signature_equal(expected, fields.get("sign")):
            raise NotificationError("gw.notify_bad_signature")
        ours = {self.profile.merchant_id, self._mch_id("alipay"), self._mch_id("merge")}
        if fields.get("mch_id") not in ours:
            raise NotificationError("gw.notify_malformed", reason="mch_id is not ours")
        try:
            amount = parse_wire_amount(fields["refund_fee" if refund else "total_fee"])
        except (KeyError, ValueError):
            raise NotificationError("gw.notify_malformed", reason="amount") from None
        wallet = _CHANNEL_WALLET.get(fields.get("pay_channel", ""), Wallet.UNKNOWN)
        return Notification(
            kind="refund" if refund else "payment",
            out_trade_no=fields["out_trade_no"],
            paid=fields["code"] == "0",
            amount=amount,
            gateway_trade_no=fields.get("order_no") or None,
            out_refund_no=fields.get("out_refund_no") or None,
            wallet=wallet,
            paid_at=parse_china_time(fields.get("success_time")),
        )

    def notification_reply(self, ok: bool) -> HttpReply:
        # "接收成功：HTTP 200 + SUCCESS（大写）；接收失败：FAIL"
        return HttpReply(200, "SUCCESS" if ok else "FAIL")

    # -------------------------------------------------------- check connection
    def check_connection(self) -> str:
        """Ask for an order that cannot exist: "商户订单号不存在" proves the merchant
        number and the key; "签名错误" raises BadSignature. One call per merchant number."""
        checked = []
        for mch_id in dict.fromkeys((self._mch_id("wxpay"), self._mch_id("merge"))):
            probe = "CHK" + self._timestamp() + "x0"
            path = "wxpay"
            answer = self._post(f"/api/{path}/get_pay_order", {
                "mch_id": mch_id, "out_trade_no": probe, "timestamp": self._timestamp(),
            })
            if not self._ok(answer) and "订单号不存在" not in self._msg(answer):
                self._fail(answer)
            checked.append(mch_id)
        return tr("ltzf.check_ok", mch_ids=", ".join(checked))


def _refund_status(value: object, *, default: RefundStatus | None) -> RefundStatus | None:
    if value in (1, "1"):
        return RefundStatus.SUCCEEDED
    if value in (0, "0"):
        return RefundStatus.PROCESSING
    if value in (-1, "-1"):
        return RefundStatus.FAILED
    return default
