"""Fengniao-style open gateway (docs/gateways/fengniao.md): one URL, `method` picks the operation.

Every request is a form POST of `app_id`, `method`, `version=1.0`, `content` (the
business parameters as one JSON string), `sign_type=MD5` and `sign`. The signature
is MD5 (lowercase hex) over the sorted non-empty fields except sign/sign_type,
joined `k=v` with `&`, plus `&key=SECRET`. `content` is serialised once and the
same string is signed and sent: compact, ASCII-only (`\\uXXXX`, as the seed's
PHP example), amounts as JSON numbers with exactly two decimals written from the
Decimal (never through float).

Answers are JSON: a flat object with `error_code` (0 = ok), `error_msg` and the
fields; a nested `data` object is accepted too. Answers carry no signature.

Decisions where the seed is silent (see also `unverified`):
  * No refund query exists: the seed documents `trade.refund` and `trade.query` (the
    order) only. The one way to learn one refund's status is to re-send `trade.refund`
    with the same out_refund_no and amount: the gateway keeps refund numbers unique,
    so the re-send refunds nothing twice and is answered with that refund's status.
    The amount is the one `refund` sent in this process, or the `amount` argument;
    without either the re-send is refused (never send a refund without its amount:
    the gateway would take that as "refund in full").
  * An answer 12003 ("refund number exists", no status) raises AlreadyExists from
    `refund`; in `refund_query` it leads to the real status check there is:
    `trade.query` of the order, whose refunded total (total_amount minus
    net_receipt_amount, when the status shows a refund) comes back as
    `RefundState.order_refunded` for the engine to weigh against the order's other
    refunds. 12004 ("no such refund") raises RefundNotFound; 12001 ("order number
    exists") raises AlreadyExists.
  * Micropay answers: `trade_status` (SUCCESS / TRADE_SUCCESS paid, USERPAYING /
    WAIT_BUYER_PAY / NOTPAY waiting for the customer, PAYERROR / TRADE_CLOSED /
    CLOSED / REVOKED declined), else `pay_time` means paid; neither: outcome unknown.
  * `trade.reverse` may ask to be called again with `recall=Y` or `retry_flag=Y`.
  * `trade.reverse` needs the platform's trade_no: taken from the OrderRef, else
    remembered from an earlier answer, else learnt by one `trade.query`.
  * No expiry parameter and no close method exist: `expires_at` is our own
    deadline (at most 2 h, the wallets' order lifetime); the engine keeps querying.
  * No documented query rate: `query_interval` 2 s.
  * Codes not in the seed's table are "outcome unknown", never a definite refusal.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import parse_qsl

from cashier.gateways.base import (
    AlreadyExists,
    BadResponse,
    answer_amount,
    BadSignature,
    Capability,
    Gateway,
    GatewayLimits,
    IncomingRequest,
    InvalidParameter,
    Method,
    NotificationError,
    NotSupported,
    Notification,
    OrderRef,
    PaymentState,
    PayStatus,
    QrOrder,
    RefundNotFound,
    RefundState,
    RefundStatus,
    Rejected,
    ReverseResult,
    UnknownOutcome,
    Wallet,
    parse_china_time,
)
from cashier.gateways.signing import canonical, md5_hex, signature_equal
from cashier.i18n import define, tr
from cashier.money import format_yuan, parse_wire_amount

log = logging.getLogger("cashier.gateways.fengniao")

define({
    "fengniao.system_error": ("蜂鸟网关系统错误（{code}），结果未知：{reason}",
                              "Gateway system error ({code}); outcome unknown: {reason}"),
    "fengniao.unknown_code": ("蜂鸟网关返回了未知的状态码 {code}，结果未知：{reason}",
                              "The gateway answered an unknown code {code}; outcome unknown: {reason}"),
    "fengniao.refund_no_exists": ("退款单号已存在，网关未给出这笔退款的状态",
                                  "The refund number exists; the gateway gave no status for this refund"),
    "fengniao.refund_amount_unknown": ("无法查询退款：本机不记得该退款的金额，请用原退款单号和原金额重新提交退款",
                                       "Cannot check the refund: its amount is not known here; re-send the refund with the same number and amount"),
    "fengniao.field.sub_appid": ("公众号 AppID（微信需要时填写）", "WeChat official account AppID (if required)"),
    "fengniao.field.client_ip": ("本机 IP（默认 127.0.0.1）", "This machine's IP (default 127.0.0.1)"),
    "fengniao.connected": ("连接正常：商户 {merchant}，余额 {balance} 元",
                           "Connected: merchant {merchant}, balance ¥{balance}"),
})

VERSION = "1.0"
SIGN_TYPE = "MD5"
# The seed's table (3.4). Everything else is "outcome unknown".
SYSTEM_ERROR = "1000"
BAD_SIGNATURE = "10002"
BAD_PARAMETER = "10008"
ORDER_EXISTS = "12001"
ORDER_NOT_FOUND = "12002"
REFUND_NO_EXISTS = "12003"
REFUND_NOT_FOUND = "12004"
REJECTED_CODES = frozenset({
    "10001", "10003", "10005", "10006", "10007", "10009", "10010", "10011", "10012",
    ORDER_NOT_FOUND, "13001", "14001", "14500",
    "15001", "15002", "15501", "15502", "15503",
})

# Codes of the seed's table (3.4) that say nothing definite about a payment-code charge:
# "12001 订单号已存在" means an order with our number exists (our own request, seen
# twice: it may be paid), "14001 订单还未支付" is the customer still confirming, the
# refund and withdrawal codes do not belong to a charge. Outcome unknown: query.
MICROPAY_NOT_REFUSALS = frozenset({ORDER_EXISTS, ORDER_NOT_FOUND, REFUND_NO_EXISTS, "12004", "14001", "14500",
                                   "15501", "15502", "15503"})

QR_METHODS = {Method.WECHAT: "weixin.qr_code_pay", Method.ALIPAY: "alipay.qr_code_pay", Method.QQ: "qq.unified"}
QR_WALLETS = {Method.WECHAT: Wallet.WECHAT, Method.ALIPAY: Wallet.ALIPAY, Method.QQ: Wallet.QQ}
MICROPAY_METHODS = {Wallet.WECHAT: "weixin.scan_qr_code_pay", Wallet.ALIPAY: "alipay.scan_qr_code_pay"}

# trade.query / micropay / notification statuses. WeChat words (QQ wallet uses them too), then Alipay's.
PAID_STATUSES = frozenset({"SUCCESS", "TRADE_SUCCESS", "TRADE_FINISHED"})
WAITING_STATUSES = frozenset({"NOTPAY", "USERPAYING", "WAIT_BUYER_PAY"})
ALIPAY_STATUSES = frozenset({"WAIT_BUYER_PAY", "TRADE_CLOSED", "TRADE_SUCCESS", "TRADE_FINISHED"})
REFUND_STATUSES = {
    "REFUND_SUCCESS": RefundStatus.SUCCEEDED,
    "REFUND_PROCESSING": RefundStatus.PROCESSING,
    "REFUND_FAILER": RefundStatus.FAILED,  # sic, the seed's spelling
    "REFUND_FAILED": RefundStatus.FAILED,
}

SUBJECT_MAX = 64  # order_name


# ------------------------------------------------------------------ wire helpers


def encode_content(value: Any) -> str:
    """Compact JSON, ASCII-only; a Decimal becomes a number with two decimals (12.30)."""
    if isinstance(value, Decimal):
        return format_yuan(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(json.dumps(str(k)) + ":" + encode_content(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode_content(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("money must not be float")
    return json.dumps(value, ensure_ascii=True)


def sign_fields(fields: Mapping[str, object], secret: str) -> str:
    """The seed's signature: sorted non-empty fields but sign/sign_type, '&key=SECRET', MD5, lowercase."""
    return md5_hex(canonical(fields) + "&key=" + secret)


def _amount(fields: Mapping[str, Any], key: str) -> Decimal | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    return answer_amount(value, key)


def _text(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    return "" if value is None else str(value).strip()


def _about(fields: Mapping[str, Any], method: str, **ours: str) -> None:
    """An answer naming another order (or refund) than ours is not about ours: unknown."""
    for key, value in ours.items():
        echoed = _text(fields, key)
        if echoed and echoed != value:
            raise BadResponse(reason=f"{method}: the answer is about another {key}")


# --------------------------------------------------------------------- gateway


class FengniaoGateway(Gateway):
    name = "fengniao"
    title_zh = "蜂鸟开放网关"
    title_en = "Fengniao open gateway"
    capabilities = frozenset({
        Capability.WECHAT_QR, Capability.ALIPAY_QR, Capability.QQ_QR, Capability.MICROPAY,
        Capability.QUERY, Capability.REVERSE, Capability.REFUND, Capability.REFUND_QUERY,
        Capability.NOTIFY_VERIFY, Capability.CHECK_CONNECTION,
    })
    # The seed lists these methods' fields but not how they answer: how micropay says
    # USERPAYING / declined, how reverse asks to be repeated, and the refund "query"
    # (a re-sent refund) are our reading, not confirmed.
    unverified = frozenset({Capability.MICROPAY, Capability.REVERSE, Capability.REFUND_QUERY})
    limits = GatewayLimits(
        min_amount=Decimal("0.01"),
        max_amount=Decimal("100000.00"),
        query_interval=2.0,  # not documented: a sane pace
        refund_query_interval=10.0,  # a refund "query" is a re-sent refund: keep it rare
        refund_first_query_after=10.0,
        refund_spacing={},
        max_partial_refunds=None,  # not documented: the wallets' own caps apply at the gateway
        refund_max_age_days=None,
        default_qr_expiry=300.0,
        min_qr_expiry=60.0,
        max_qr_expiry=7200.0,  # no expiry parameter exists; the wallets keep orders about 2 h
        unpaid_order_lifetime=7200.0,  # so a given-up QR is watched that long
        trade_no_pattern=r"^[A-Za-z0-9_]{1,64}$",
        trade_no_min_length=1,
        trade_no_max_length=64,
    )
    profile_fields = ("base_url", "app_id", "merchant_id", "notify_url")
    # Profile.extra keys the settings form offers (key -> label message).
    profile_extra_fields = {"sub_appid": "fengniao.field.sub_appid", "client_ip": "fengniao.field.client_ip"}
    default_base_url = "https://api.jzpay.cn/gateway"  # one known deployment; ask the provider

    def __init__(self, profile, secret, *, http=None) -> None:
        super().__init__(profile, secret, http=http)
        self._memo_lock = threading.Lock()
        self._trade_nos: dict[str, str] = {}  # out_trade_no -> trade_no (trade.reverse needs it)
        self._refund_amounts: dict[str, Decimal] = {}  # out_refund_no -> amount sent

    # -- the one call ---------------------------------------------------------------
    def build_request(self, method: str, business: Mapping[str, Any]) -> dict[str, str]:
        """The form to POST: `content` serialised once, signed as sent."""
        form = {
            "app_id": self.profile.app_id,
            "method": method,
            "version": VERSION,
            "content": encode_content({k: v for k, v in business.items() if v not in (None, "")}),
            "sign_type": SIGN_TYPE,
        }
        form["sign"] = sign_fields(form, self._secret)
        return form

    def _call(self, method: str, business: Mapping[str, Any], *, accept: frozenset[str] = frozenset(),
              unknown: frozenset[str] = frozenset()) -> tuple[str, str, dict[str, Any]]:
        """POST one method; return (code, message, fields) for code 0 or a code in `accept`,
        raise the typed error otherwise (a code in `unknown`: outcome unknown)."""
        answer = self.http.post_form(self.http.base_url, self.build_request(method, business))
        if "error_code" not in answer:
            raise BadResponse(reason=f"{method}: no error_code")
        code = str(answer.get("error_code")).strip()
        message = _text(answer, "error_msg")
        fields = dict(answer)
        nested = answer.get("data")
        if isinstance(nested, dict):
            fields.update(nested)
        log.info("fengniao %s -> error_code %s", method, code)
        if code == "0" or code in accept:
            return code, message, fields
        reason = f"{message} ({code})" if message else code
        if code == SYSTEM_ERROR:
            raise UnknownOutcome("fengniao.system_error", gateway_code=code, code=code, reason=message)
        if code in unknown:
            raise UnknownOutcome("fengniao.unknown_code", gateway_code=code, code=code, reason=message)
        if code == BAD_SIGNATURE:
            raise BadSignature(gateway_code=code, reason=reason)
        if code == BAD_PARAMETER:
            raise InvalidParameter(gateway_code=code, reason=reason)
        if code in (ORDER_EXISTS, REFUND_NO_EXISTS):
            raise AlreadyExists(gateway_code=code, reason=reason)
        if code == REFUND_NOT_FOUND:
            raise RefundNotFound(gateway_code=code, reason=reason)
        if code in REJECTED_CODES:
            raise Rejected(gateway_code=code, reason=reason)
        raise UnknownOutcome("fengniao.unknown_code", gateway_code=code, code=code, reason=message)

    # -- checks before sending -----------------------------------------------------
    def _remember_trade_no(self, out_trade_no: str, trade_no: str) -> None:
        if trade_no:
            with self._memo_lock:
                self._trade_nos[out_trade_no] = trade_no

    @property
    def _sub_appid(self) -> str:
        return self.profile.extra.get("sub_appid", "")

    @property
    def _client_ip(self) -> str:
        return self.profile.extra.get("client_ip", "127.0.0.1")

    # -- native QR ---------------------------------------------------------------------
    def create_qr(self, out_trade_no: str, amount: Decimal, method: Method, subject: str,
                  expire_seconds: float) -> QrOrder:
        if method not in QR_METHODS:
            raise NotSupported(operation=f"create_qr:{method.value}")
        self._check_trade_no(out_trade_no)
        amount = self._wire_amount(amount)
        subject = subject[:SUBJECT_MAX]
        common = {"out_trade_no": out_trade_no, "order_name": subject, "total_amount": amount}
        if method is Method.WECHAT:
            business = {"merchant_no": self.profile.merchant_id, **common, "sub_appid": self._sub_appid,
                        "spbill_create_ip": self._client_ip, "body": subject, "goods_id": out_trade_no,
                        "is_online": 0, "notify_url": self.profile.notify_url}
        elif method is Method.ALIPAY:
            business = {"merchant_no": self.profile.merchant_id, **common, "goods_id": out_trade_no,
                        "client_ip": self._client_ip, "notify_url": self.profile.notify_url}
        else:  # qq.unified: the seed lists no merchant_no
            business = {**common, "spbill_create_ip": self._client_ip, "notify_url": self.profile.notify_url}
        _, _, fields = self._call(QR_METHODS[method], business)
        qr = _text(fields, "qr_code") or _text(fields, "code_url")
        if not qr:
            raise BadResponse(reason="no qr_code / code_url")
        trade_no = _text(fields, "trade_no")
        self._remember_trade_no(out_trade_no, trade_no)
        lifetime = min(max(expire_seconds, self.limits.min_qr_expiry), self.limits.max_qr_expiry)
        return QrOrder(
            out_trade_no=out_trade_no,
            qr=qr,
            amount_to_pay=amount,
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=lifetime),
            gateway_trade_no=trade_no or None,
            wallet=QR_WALLETS[method],
        )

    # -- 付款码 -------------------------------------------------------------------------
    def micropay(self, out_trade_no: str, amount: Decimal, auth_code: str, wallet: Wallet,
                 subject: str) -> PaymentState:
        if wallet not in MICROPAY_METHODS:
            raise NotSupported(operation=f"micropay:{wallet.value}")
        self._check_trade_no(out_trade_no)
        amount = self._wire_amount(amount)
        if not auth_code or not auth_code.isdigit():
            raise InvalidParameter(reason="auth_code")
        subject = subject[:SUBJECT_MAX]
        business: dict[str, Any] = {"merchant_no": self.profile.merchant_id, "out_trade_no": out_trade_no,
                                    "order_name": subject, "body": subject, "total_amount": amount}
        if wallet is Wallet.WECHAT:
            business.update(sub_appid=self._sub_appid, auth_code=auth_code, spbill_create_ip=self._client_ip)
        else:
            business.update(auth_code=auth_code, scene="bar_code", client_ip=self._client_ip,
                            notify_url=self.profile.notify_url)
        _, message, fields = self._call(MICROPAY_METHODS[wallet], business, unknown=MICROPAY_NOT_REFUSALS)
        _about(fields, "micropay", out_trade_no=out_trade_no)
        trade_no = _text(fields, "trade_no")
        self._remember_trade_no(out_trade_no, trade_no)
        status = _text(fields, "trade_status")
        paid_at = parse_china_time(fields.get("pay_time"))
        reason = _text(fields, "trade_state_desc") or message or status or None
        base = dict(out_trade_no=out_trade_no, gateway_trade_no=trade_no or None, wallet=wallet)
        if status in PAID_STATUSES or (not status and paid_at is not None):
            # Without total_amount the engine books the amount asked; with one (even 0.00)
            # it compares: `or amount` here once turned a paid 0.00 into ours.
            return PaymentState(PayStatus.PAID, paid_amount=_amount(fields, "total_amount"),
                                paid_at=paid_at, **base)
        if status in WAITING_STATUSES:
            return PaymentState(PayStatus.PENDING, user_paying=True, reason=reason, **base)
        if status in ("PAYERROR", "CLOSED", "REVOKED") or (status == "TRADE_CLOSED" and paid_at is None):
            return PaymentState(PayStatus.FAILED, reason=reason, **base)
        # (TRADE_CLOSED with a pay time reads "paid, then refunded" in trade.query: not a decline)
        raise BadResponse(reason=f"micropay answer without a known trade_status: {status or '-'}")

    # -- query ----------------------------------------------------------------------------
    def query(self, order: OrderRef) -> PaymentState:
        code, message, fields = self._call(
            "trade.query", {"merchant_no": self.profile.merchant_id, "out_trade_no": order.out_trade_no},
            accept=frozenset({ORDER_NOT_FOUND}))
        if code == ORDER_NOT_FOUND:
            return PaymentState(PayStatus.NOT_FOUND, order.out_trade_no, wallet=order.wallet, reason=message or None)
        _about(fields, "trade.query", out_trade_no=order.out_trade_no)
        status = _text(fields, "trade_status")
        if not status:
            raise BadResponse(reason="trade.query: no trade_status")
        trade_no = _text(fields, "trade_no")
        self._remember_trade_no(order.out_trade_no, trade_no)
        paid_at = parse_china_time(fields.get("pay_time"))
        wallet = order.wallet
        if wallet is Wallet.UNKNOWN:
            wallet = Wallet.ALIPAY if status in ALIPAY_STATUSES else Wallet.WECHAT
        base = dict(out_trade_no=order.out_trade_no, gateway_trade_no=trade_no or None, wallet=wallet,
                    reason=_text(fields, "trade_state_desc") or status)
        total = _amount(fields, "total_amount")
        if status in PAID_STATUSES:
            return PaymentState(PayStatus.PAID, paid_amount=total, paid_at=paid_at, **base)
        if status == "REFUND" or (status == "TRADE_CLOSED" and paid_at is not None):
            return PaymentState(PayStatus.REFUNDED, paid_amount=total, paid_at=paid_at, **base)
        if status in WAITING_STATUSES:
            user_paying = status == "USERPAYING" or (status == "WAIT_BUYER_PAY" and order.method is Method.MICROPAY)
            return PaymentState(PayStatus.PENDING, user_paying=user_paying, **base)
        if status in ("CLOSED", "REVOKED", "TRADE_CLOSED"):
            return PaymentState(PayStatus.CLOSED, **base)
        if status == "PAYERROR":
            return PaymentState(PayStatus.FAILED, **base)
        return PaymentState(PayStatus.UNKNOWN, **base)

    # -- reverse ----------------------------------------------------------------------------
    def reverse(self, order: OrderRef) -> ReverseResult:
        trade_no = order.gateway_trade_no or self._trade_nos.get(order.out_trade_no)
        if not trade_no:  # trade.reverse needs the platform's number: learn it
            state = self.query(order)
            if state.status is PayStatus.NOT_FOUND:
                return ReverseResult(done=True, reason=state.reason or ORDER_NOT_FOUND)
            trade_no = state.gateway_trade_no
            if not trade_no:
                raise BadResponse(reason="trade.query gave no trade_no")
        code, message, fields = self._call("trade.reverse", {"out_trade_no": order.out_trade_no, "trade_no": trade_no},
                                           accept=frozenset({ORDER_NOT_FOUND}))
        if code == ORDER_NOT_FOUND:
            return ReverseResult(done=True, reason=message or ORDER_NOT_FOUND)
        _about(fields, "trade.reverse", out_trade_no=order.out_trade_no, trade_no=trade_no)
        if _text(fields, "recall").upper() == "Y" or _text(fields, "retry_flag").upper() == "Y":
            return ReverseResult(done=False, retry=True, reason=message or None)
        return ReverseResult(done=True, reason=message or None)

    # -- refunds ----------------------------------------------------------------------------
    def refund(self, order: OrderRef, out_refund_no: str, amount: Decimal, reason: str) -> RefundState:
        self._check_trade_no(out_refund_no)
        amount = self._wire_amount(amount)
        with self._memo_lock:
            self._refund_amounts[out_refund_no] = amount
        return self._send_refund(order, out_refund_no, amount)

    def refund_query(self, order: OrderRef, out_refund_no: str, amount: Decimal | None = None) -> RefundState:
        """No refund query exists: re-send the same refund (same number, same amount);
        when the gateway answers only "that number exists" (12003), ask the order."""
        if amount is None:
            with self._memo_lock:
                amount = self._refund_amounts.get(out_refund_no)
        if amount is None:
            raise NotSupported("fengniao.refund_amount_unknown", operation="refund_query")
        try:
            return self._send_refund(order, out_refund_no, self._wire_amount(amount))
        except AlreadyExists as exists:
            return self._refund_from_order(order, out_refund_no, amount, exists)

    def _refund_from_order(self, order: OrderRef, out_refund_no: str, amount: Decimal,
                           exists: AlreadyExists) -> RefundState:
        """The order's refunded total, from `trade.query`: all the gateway will say."""
        _, _, fields = self._call(
            "trade.query", {"merchant_no": self.profile.merchant_id, "out_trade_no": order.out_trade_no})
        _about(fields, "trade.query", out_trade_no=order.out_trade_no)
        status = _text(fields, "trade_status")
        total = _amount(fields, "total_amount")
        net = _amount(fields, "net_receipt_amount")
        refunded = None
        shows_refund = status == "REFUND" or (status == "TRADE_CLOSED" and parse_china_time(fields.get("pay_time")))
        if total is not None and net is not None and net <= total:
            refunded = (total - net) if (shows_refund or net < total) else Decimal("0.00")
        return RefundState(RefundStatus.PROCESSING, out_refund_no, amount,
                           reason=tr("fengniao.refund_no_exists") + f" ({exists.gateway_code})",
                           order_refunded=refunded)

    def _send_refund(self, order: OrderRef, out_refund_no: str, amount: Decimal) -> RefundState:
        # refund_fee is always sent: without it the gateway refunds the whole order.
        _, message, fields = self._call(
            "trade.refund", {"out_trade_no": order.out_trade_no, "out_refund_no": out_refund_no, "refund_fee": amount})
        _about(fields, "trade.refund", out_trade_no=order.out_trade_no, out_refund_no=out_refund_no)
        status = _text(fields, "refund_status")
        if not status:
            raise BadResponse(reason="trade.refund: no refund_status")
        self._remember_trade_no(order.out_trade_no, _text(fields, "trade_no"))
        mapped = REFUND_STATUSES.get(status)
        if mapped is None:
            return RefundState(RefundStatus.PROCESSING, out_refund_no, amount, reason=status)
        return RefundState(mapped, out_refund_no, amount, reason=message if mapped is RefundStatus.FAILED else None,
                           finished_at=datetime.now(timezone.utc) if mapped is RefundStatus.SUCCEEDED else None)

    # -- notifications ----------------------------------------------------------------------
    def verify_notification(self, request: IncomingRequest) -> Notification:
        fields = {str(k): str(v) for k, v in request.form.items()}
        if not fields and request.body:
            fields = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        if not fields:
            raise NotificationError("gw.notify_malformed", reason="empty form")
        if not signature_equal(sign_fields(fields, self._secret), fields.get("sign"), case_insensitive=True):
            raise NotificationError("gw.notify_bad_signature")
        out_trade_no = fields.get("out_trade_no", "").strip()
        if not out_trade_no:
            raise NotificationError("gw.notify_malformed", reason="no out_trade_no")
        try:
            amount = parse_wire_amount(fields.get("total_amount", ""))
        except ValueError:
            raise NotificationError("gw.notify_malformed", reason="total_amount") from None
        status = fields.get("trade_status", "").strip()
        if status in ALIPAY_STATUSES or fields.get("buyer_logon_id"):
            wallet = Wallet.ALIPAY
        elif fields.get("openid") or fields.get("bank_type"):
            wallet = Wallet.WECHAT
        else:
            wallet = Wallet.UNKNOWN
        return Notification(
            kind="payment",
            out_trade_no=out_trade_no,
            paid=status in ("SUCCESS", "TRADE_SUCCESS"),
            amount=amount,
            gateway_trade_no=fields.get("trade_no") or None,
            wallet=wallet,
            paid_at=parse_china_time(fields.get("pay_time")),
        )

    # notification_reply: the base class's "SUCCESS" is what this gateway waits for
    # (it retries 4m, 10m, 10m, 1h, 2h, 6h, 15h until it reads it).

    # -- connection test ----------------------------------------------------------------------
    def check_connection(self) -> str:
        _, _, fields = self._call("merchant.balance", {"merchant_no": self.profile.merchant_id})
        balance = _amount(fields, "balance")
        if balance is None:
            raise BadResponse(reason="merchant.balance: no balance")
        return tr("fengniao.connected", merchant=self.profile.merchant_id, balance=format_yuan(balance))
