"""Weidoufu 微豆付 (`weidoufu`): amounts in integer fen, MD5 "secret_key" signatures.

What rests on what (docs/gateways/weidoufu.md has the full table)
----------------------------------------------------------------
The seed documents only `/pay/miniapp` (mini-program pay), which a counter cannot
use. The rest comes from the gateway's public documentation pages and from public
clients; none of it is confirmed against the live gateway (the UI says so):

* `POST /pay/native` (JSON) -> `data.code_url`, `data.mch_trade_no`. A public C#
  client that credits payments in production signs exactly `access_key, body,
  notify_url, out_order_no, pay_type, total_fee`, sorted, joined `k=v&...`, then
  `&secret_key=SECRET`, MD5, uppercase: byte for byte our string. `expire` (minutes,
  default 30, at most 60; public docs of the sibling endpoints) is sent to match the
  QR countdown, so this gateway's QR expiry is clamped to 60 minutes.
* `POST /pay/micropay` (JSON): auth_code; pay_type 1 WeChat, 2 Alipay, 3 UnionPay.
  The public docs say code 1 means paid and list only mch_trade_no, out_order_no,
  total_fee in the answer: code 1 without a status is PAID.
* `GET /pay/query?out_order_no=` -> `data.status` 1 pending, 2 paid, 3 failed/closed.
  The public docs list neither access_key nor sign for it (we send both anyway: an
  unsigned gateway ignores them) and only mch_trade_no, out_order_no, notify, status
  in the answer: a paid answer without total_fee is PAID at the amount asked.
  Because the query may well need no key, it proves nothing about the keys: the
  connection check creates a 0.01 yuan order that lapses after one minute instead.
* `POST /pay/refund` (JSON): the public docs list access_key, refund_fee (fen),
  out_order_no (or mch_trade_no) and sign "see the signature algorithm"; at most 10
  partial refunds. We send exactly those fields, signed by the general rule.

Rules this client follows (our decisions where nothing is documented):

* Signature: every non-empty field we send except `sign`, sorted by key, `k=v`
  joined with `&`, then `&secret_key=SECRET`, MD5, uppercase (`weidoufu_sign`).
* Answers: `code` 1 ok / 0 fail, `message`, `data`. A failure carries only words, so
  they are classified by keyword (`_raise_for`): signature or credential words ->
  BadSignature; "too frequent" -> RateLimited; "duplicate" -> Rejected; parameter
  words -> InvalidParameter; "system busy / bank / network" -> outcome unknown
  (`UnclearAnswer`). In micropay, decline words (balance, expired/used code...) ->
  PaymentState(FAILED); anything not recognised is outcome unknown, never a decline:
  calling an unrecognised answer a decline could charge a customer twice.
* Query status 3 is FAILED for a micropay order and CLOSED for a QR order (the public
  notification DTO calls it 关闭).
* No close and no reverse are documented: none are offered. The engine therefore
  marks a micropay it cannot resolve by polling "needs checking".
* Refund: no refund number is documented (the only public refund client sends none
  either), so none is sent and a refund is not idempotent: the engine never re-sends
  one whose outcome is unknown (no refund query exists), it asks the clerk to check.
  code 1 = the refund is accepted AND treated as done (SUCCEEDED). A signature
  refusal of a refund while a signed payment request with the same key is accepted
  (earlier in the session, or a test order made on the spot) means the
  refund's signature form is what is unconfirmed (`RefundSignatureUnconfirmed`), not
  the key: the message says what to ask the provider.
* Notifications: JSON POST `{"content": {...order fields...}, "sign": "..."}`. The
  public C# client verifies `sign` = uppercase MD5 of the lowercase hex of
  HMAC-SHA256(key = secret, message = the JSON text of `content`). We take that text
  exactly as received (the raw bytes of the `content` member; when `content` arrives
  as a JSON string, its value), and fall back to the compact re-serialisation the C#
  client makes (separators "," ":", characters unescaped, order as received). The seed
  documents no notification form. Reply: HTTP 200 "success" (see
  `notification_reply`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping

from cashier.gateways.base import (
    BadResponse,
    answer_fen,
    BadSignature,
    Capability,
    DefiniteError,
    Gateway,
    GatewayError,
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
    RefundState,
    RefundStatus,
    Rejected,
    UnknownOutcome,
    Wallet,
    parse_china_time,
)
from cashier.gateways.http import parse_json
from cashier.gateways.signing import canonical, md5_hex, signature_equal
from cashier.i18n import define, tr
from cashier.money import from_fen, to_fen

define({
    "gw.weidoufu_unclear": ("微豆付返回“{reason}”，结果未知，正在查询",
                            "Weidoufu answered \u201c{reason}\u201d; outcome unknown, querying"),
    "gw.weidoufu_check_ok": ("微豆付已接受密钥。为核验密钥创建了一笔 0.01 元的测试订单（没有展示给任何人，1 分钟后自动失效，请勿支付）。",
                             "Weidoufu accepted the keys. To check them a 0.01 yuan test order was created "
                             "(shown to nobody; it lapses after one minute, do not pay it)."),
    "gw.weidoufu_refund_sign_unconfirmed": (
        "微豆付拒绝了退款请求的签名（“{reason}”），而同一密钥签名的收款请求被接受：密钥没有问题，"
        "是本网关退款接口的签名方式尚未得到确认。退款没有执行。请在微豆付商户后台手动退款，"
        "并请微豆付客服确认 /pay/refund 的签名规则：我们发送 access_key、out_order_no、refund_fee 三个字段，"
        "按字段名排序拼成 k=v&…，末尾加 &secret_key=密钥，取 MD5 转大写；请对方说明签名包含哪些字段、"
        "顺序如何、是否拼接 secret_key。",
        "Weidoufu refused the signature of the refund (\u201c{reason}\u201d) while a payment request signed with "
        "the same key was accepted: the key is fine, it is this gateway's refund signature form that is unconfirmed. "
        "Nothing was refunded. Refund by hand in the Weidoufu merchant back office, and ask Weidoufu support "
        "for the exact signature rule of /pay/refund: we send access_key, out_order_no and refund_fee, sorted "
        "by name and joined as k=v&..., then &secret_key=KEY, MD5, uppercase; ask which fields are signed, in "
        "what order, and whether secret_key is appended."),
})

DEFAULT_BASE_URL = "https://open.weidoufu.com"
ORDER_NO_RE = re.compile(r"^[A-Za-z0-9]{18,32}$")

PAY_TYPE = {Wallet.WECHAT: 1, Wallet.ALIPAY: 2, Wallet.UNIONPAY: 3}
WALLET_OF_PAY_TYPE = {1: Wallet.WECHAT, 2: Wallet.ALIPAY, 3: Wallet.UNIONPAY}
QR_PAY_TYPE = {Method.WECHAT: 1, Method.ALIPAY: 2}

# Payment-code prefixes (WeChat 10..15, Alipay 25..30, UnionPay 62), used when the caller did not say.
_CODE_WALLETS = (
    (re.compile(r"^1[0-5]\d{16}$"), Wallet.WECHAT),
    (re.compile(r"^(2[5-9]|30)\d{14,22}$"), Wallet.ALIPAY),
    (re.compile(r"^62\d{17}$"), Wallet.UNIONPAY),
)

# Keyword classes for `message` of a code-0 answer. Order of checks matters.
_SIGN_WORDS = ("签名", "sign", "access_key", "accesskey", "secret", "密钥", "商户不存在", "应用不存在")
_RATE_WORDS = ("频繁", "频率", "too many", "too frequent")
_UNCLEAR_WORDS = ("系统", "繁忙", "银行", "网络", "超时", "稍后查询", "处理中", "异常", "system", "busy")
_DECLINE_WORDS = ("余额不足", "付款码", "授权码", "条码", "过期", "已使用", "已撤销", "限额", "超限", "超出",
                  "风控", "风险", "不支持", "支付失败", "交易失败", "已关闭", "用户取消", "密码错误")
_DUPLICATE_WORDS = ("重复", "已存在")
_PARAM_WORDS = ("参数", "不能为空", "格式", "必须", "长度", "必填", "非法", "错误", "invalid")
_NOT_FOUND_WORDS = ("订单不存在", "不存在该订单", "未找到", "查无")
# A refund refused before anything moved: not paid, not enabled, over a limit, no such order.
_REFUND_REFUSAL_WORDS = ("未支付", "不能退款", "未开通", "不能超过", "超过可退", "不足") + _NOT_FOUND_WORDS


class UnclearAnswer(UnknownOutcome):
    """Weidoufu said something like "system busy": the request may have taken effect."""

    key = "gw.weidoufu_unclear"


class RefundSignatureUnconfirmed(DefiniteError):
    """The refund's signature was refused while the same key signs other requests
    that are accepted: nothing was refunded, and the key is not the problem."""

    key = "gw.weidoufu_refund_sign_unconfirmed"


def weidoufu_sign(fields: Mapping[str, object], secret: str) -> str:
    """canonical(fields without sign, empty dropped) + '&secret_key=SECRET', MD5, uppercase."""
    return md5_hex(sign_string(fields, secret)).upper()


def sign_string(fields: Mapping[str, object], secret: str) -> str:
    return canonical(fields, skip=("sign",)) + "&secret_key=" + secret


def notify_sign(content_text: str, secret: str) -> str:
    """The notification signature of the public C# client: HMAC-SHA256(secret, text)
    as lowercase hex, MD5 of that hex, uppercase."""
    digest = hmac.new(secret.encode("utf-8"), content_text.encode("utf-8"), hashlib.sha256).hexdigest()
    return md5_hex(digest).upper()


_WS = re.compile(r"[ \t\n\r]*")


def raw_members(text: str) -> dict[str, str]:
    """The raw text of each top-level member of a JSON object, exactly as received
    (ValueError when `text` is not one object, or names a member twice)."""
    decoder = json.JSONDecoder()
    i = _WS.match(text, 0).end()
    if not text.startswith("{", i):
        raise ValueError("not an object")
    i = _WS.match(text, i + 1).end()
    members: dict[str, str] = {}
    if text.startswith("}", i):
        i += 1
    else:
        while True:
            if not text.startswith('"', i):
                raise ValueError("member name expected")
            name, i = decoder.raw_decode(text, i)
            i = _WS.match(text, i).end()
            if not text.startswith(":", i):
                raise ValueError("':' expected")
            i = _WS.match(text, i + 1).end()
            _, end = decoder.raw_decode(text, i)
            name = name.strip()
            if name in members:
                raise ValueError("member named twice")
            members[name] = text[i:end]
            i = _WS.match(text, end).end()
            if text.startswith(",", i):
                i = _WS.match(text, i + 1).end()
                continue
            if text.startswith("}", i):
                i += 1
                break
            raise ValueError("',' or '}' expected")
    if _WS.match(text, i).end() != len(text):
        raise ValueError("text after the object")
    return members


def wallet_of_code(auth_code: str) -> Wallet:
    for pattern, wallet in _CODE_WALLETS:
        if pattern.match(auth_code):
            return wallet
    return Wallet.UNKNOWN


def _has(message: str, words: tuple[str, ...]) -> bool:
    low = message.lower()
    return any(w.lower() in low for w in words)


def _fen(value: object, what: str) -> int:
    """An integer fen amount from an answer (int, or a digit string), within the
    ledger's range; BadAmount otherwise."""
    return to_fen(answer_fen(value, what))


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return None


class WeidoufuGateway(Gateway):
    name = "weidoufu"
    title_zh = "微豆付"
    title_en = "Weidoufu"
    capabilities = frozenset({
        Capability.WECHAT_QR,
        Capability.ALIPAY_QR,
        Capability.MICROPAY,
        Capability.QUERY,
        Capability.REFUND,
        Capability.NOTIFY_VERIFY,
        Capability.CHECK_CONNECTION,
    })
    # The seed documents only mini-program pay, which a counter does not use:
    # every operation here comes from public clients, none is confirmed.
    unverified = capabilities
    limits = GatewayLimits(
        min_amount=Decimal("0.01"),
        query_interval=2.0,
        max_partial_refunds=10,
        refund_max_age_days=None,
        default_qr_expiry=300.0,
        min_qr_expiry=60.0,
        max_qr_expiry=3600.0,  # `expire` is at most 60 minutes
        trade_no_pattern=ORDER_NO_RE.pattern,
        trade_no_min_length=18,
        trade_no_max_length=32,
    )
    profile_fields = ("base_url", "merchant_id", "notify_url")
    default_base_url = DEFAULT_BASE_URL

    # -- plumbing ---------------------------------------------------------------
    def sign(self, fields: Mapping[str, object]) -> str:
        return weidoufu_sign(fields, self._secret)

    # True once a signed request was accepted in this session (the keys work).
    _keys_accepted = False

    def _signed(self, fields: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if v is not None and v != ""}
        body["access_key"] = self.profile.merchant_id
        body["sign"] = self.sign(body)
        return body

    @staticmethod
    def _answer(data: Any) -> tuple[bool, str, dict[str, Any]]:
        """(ok, message, data) from a Weidoufu answer; BadResponse if it is not one."""
        code = data.get("code")
        if isinstance(code, str) and code.strip() in ("0", "1"):
            code = int(code.strip())
        if isinstance(code, bool) or code not in (0, 1):
            raise BadResponse(reason="no code 0/1 in the answer")
        message = data.get("message", data.get("msg", ""))
        message = message if isinstance(message, str) else str(message)
        payload = data.get("data")
        return code == 1, message, payload if isinstance(payload, dict) else {}

    def _raise_for(self, message: str, *, unknown_default: bool = False) -> None:
        """Raise the typed error a code-0 message stands for."""
        reason = message or "code 0"
        if _has(message, _SIGN_WORDS):
            raise BadSignature(reason=reason, gateway_code="0")
        if _has(message, _RATE_WORDS):
            raise RateLimited(reason=reason, gateway_code="0")
        if _has(message, _UNCLEAR_WORDS):
            raise UnclearAnswer(reason=reason, gateway_code="0")
        if _has(message, _DUPLICATE_WORDS):
            raise Rejected(reason=reason, gateway_code="0")
        if _has(message, _PARAM_WORDS):
            raise InvalidParameter(reason=reason, gateway_code="0")
        if unknown_default:
            raise UnclearAnswer(reason=reason, gateway_code="0")
        raise Rejected(reason=reason, gateway_code="0")

    # -- operations ---------------------------------------------------------------
    def create_qr(self, out_trade_no: str, amount: Decimal, method: Method, subject: str,
                  expire_seconds: float) -> QrOrder:
        pay_type = QR_PAY_TYPE.get(method)
        if pay_type is None:
            raise NotSupported(operation=method.value)
        self._check_trade_no(out_trade_no)
        seconds = min(max(float(expire_seconds), self.limits.min_qr_expiry), self.limits.max_qr_expiry)
        body = self._signed({
            "body": (subject or "商品")[:32],
            "out_order_no": out_trade_no,
            "pay_type": pay_type,
            "total_fee": to_fen(amount),
            "notify_url": self.profile.notify_url,
            # whole minutes, rounded up: the order never lapses before the countdown ends
            "expire": min(60, max(1, math.ceil(seconds / 60 - 1e-9))),
        })
        ok, message, data = self._answer(self.http.post_json("/pay/native", body))
        if not ok:
            self._raise_for(message)
        self._keys_accepted = True
        code_url = data.get("code_url")
        if not isinstance(code_url, str) or not code_url.strip():
            raise BadResponse(reason="no code_url")
        if data.get("out_order_no") not in (None, out_trade_no):
            raise BadResponse(reason="answer is for another order")
        trade_no = data.get("mch_trade_no")
        return QrOrder(
            out_trade_no=out_trade_no,
            qr=code_url.strip(),
            amount_to_pay=amount,
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=seconds),
            gateway_trade_no=str(trade_no) if trade_no else None,
            wallet=Wallet.WECHAT if method == Method.WECHAT else Wallet.ALIPAY,
        )

    def micropay(self, out_trade_no: str, amount: Decimal, auth_code: str, wallet: Wallet,
                 subject: str) -> PaymentState:
        self._check_trade_no(out_trade_no)
        if wallet not in PAY_TYPE:
            wallet = wallet_of_code(auth_code)
        if wallet not in PAY_TYPE:
            raise InvalidParameter(reason="auth_code")
        body = self._signed({
            "auth_code": auth_code,
            "body": (subject or "商品")[:32],
            "out_order_no": out_trade_no,
            "pay_type": PAY_TYPE[wallet],
            "total_fee": to_fen(amount),
        })
        ok, message, data = self._answer(self.http.post_json("/pay/micropay", body))
        if not ok:
            reason = message or "code 0"
            if _has(message, _SIGN_WORDS):
                raise BadSignature(reason=reason, gateway_code="0")
            if _has(message, _RATE_WORDS):
                raise RateLimited(reason=reason, gateway_code="0")
            if _has(message, _UNCLEAR_WORDS):
                raise UnclearAnswer(reason=reason, gateway_code="0")
            if _has(message, _DECLINE_WORDS):
                return PaymentState(PayStatus.FAILED, out_trade_no, wallet=wallet, reason=reason)
            if _has(message, _DUPLICATE_WORDS):
                # An order with our number exists (our own request seen twice): it may be paid.
                raise UnclearAnswer(reason=reason, gateway_code="0")
            if _has(message, _PARAM_WORDS):
                raise InvalidParameter(reason=reason, gateway_code="0")
            raise UnclearAnswer(reason=reason, gateway_code="0")
        self._keys_accepted = True
        if data.get("out_order_no") not in (None, out_trade_no):  # about another order: not ours
            raise BadResponse(reason="answer is for another order")
        if "status" not in data:  # the public docs: code 1 means paid
            data = {**data, "status": 2, "pay_type": data.get("pay_type", PAY_TYPE[wallet])}
        state = self._state(out_trade_no, Method.MICROPAY, data, message)
        if state.status == PayStatus.UNKNOWN:
            raise BadResponse(reason="micropay answer without a known status")
        if state.status == PayStatus.PENDING:
            return PaymentState(PayStatus.PENDING, out_trade_no, gateway_trade_no=state.gateway_trade_no,
                                wallet=wallet, reason=message or None, user_paying=True)
        if state.wallet == Wallet.UNKNOWN:
            state = PaymentState(state.status, out_trade_no, state.paid_amount, state.paid_at,
                                 state.gateway_trade_no, wallet, state.reason, state.user_paying)
        return state

    def query(self, order: OrderRef) -> PaymentState:
        params = self._signed({"out_order_no": order.out_trade_no})
        ok, message, data = self._answer(self.http.get("/pay/query", params))
        if not ok:
            if _has(message, _NOT_FOUND_WORDS):
                return PaymentState(PayStatus.NOT_FOUND, order.out_trade_no, reason=message)
            self._raise_for(message)
        if data.get("out_order_no") not in (None, order.out_trade_no):
            raise BadResponse(reason="answer is for another order")
        state = self._state(order.out_trade_no, order.method, data, message)
        if state.wallet == Wallet.UNKNOWN and order.wallet != Wallet.UNKNOWN:
            state = PaymentState(state.status, state.out_trade_no, state.paid_amount, state.paid_at,
                                 state.gateway_trade_no, order.wallet, state.reason, state.user_paying)
        return state

    def _state(self, out_trade_no: str, method: Method, data: Mapping[str, Any], message: str) -> PaymentState:
        status = _int_or_none(data.get("status"))
        trade_no = data.get("mch_trade_no")
        trade_no = str(trade_no) if trade_no else None
        wallet = WALLET_OF_PAY_TYPE.get(_int_or_none(data.get("pay_type")) or 0, Wallet.UNKNOWN)
        if status == 2:
            # the documented query answer has no total_fee: the engine then takes the amount asked
            paid = from_fen(_fen(data.get("total_fee"), "total_fee")) if "total_fee" in data else None
            return PaymentState(
                PayStatus.PAID, out_trade_no,
                paid_amount=paid,
                paid_at=parse_china_time(data.get("pay_time")),
                gateway_trade_no=trade_no, wallet=wallet,
            )
        if status == 1:
            return PaymentState(PayStatus.PENDING, out_trade_no, gateway_trade_no=trade_no, wallet=wallet,
                                user_paying=method == Method.MICROPAY)
        if status == 3:
            final = PayStatus.FAILED if method == Method.MICROPAY else PayStatus.CLOSED
            return PaymentState(final, out_trade_no, gateway_trade_no=trade_no, wallet=wallet,
                                reason=message or None)
        return PaymentState(PayStatus.UNKNOWN, out_trade_no, gateway_trade_no=trade_no, wallet=wallet,
                            reason=f"status={data.get('status')!r}")

    def refund(self, order: OrderRef, out_refund_no: str, amount: Decimal, reason: str) -> RefundState:
        """The documented fields only: access_key, out_order_no, refund_fee (no refund
        number exists, so `out_refund_no` stays ours)."""
        self._check_trade_no(out_refund_no)
        fee = to_fen(amount)
        body = self._signed({"out_order_no": order.out_trade_no, "refund_fee": fee})
        ok, message, data = self._answer(self.http.post_json("/pay/refund", body))
        if not ok:
            if _has(message, _DUPLICATE_WORDS):  # "already refunded / duplicate": money may have moved
                raise UnclearAnswer(reason=message or "code 0", gateway_code="0")
            if _has(message, _REFUND_REFUSAL_WORDS) and not _has(message, _UNCLEAR_WORDS):
                raise Rejected(reason=message, gateway_code="0")
            try:
                # Words not recognised are no refusal: outcome unknown (a refund here is
                # not idempotent, so "failed" could lead to a second one).
                self._raise_for(message, unknown_default=True)
            except BadSignature as refused:
                self._refund_signature_refused(refused)
                raise
        self._keys_accepted = True
        if data.get("out_order_no") not in (None, "", order.out_trade_no):
            raise BadResponse(reason="answer is for another order")
        # Another refund_fee than ours goes back as the gateway's figure: the engine hands
        # it to a person with both amounts (never booked as ours).
        refunded = from_fen(_fen(data["refund_fee"], "refund_fee")) if "refund_fee" in data else amount
        refund_no = data.get("refund_no") or data.get("mch_refund_no")
        return RefundState(
            RefundStatus.SUCCEEDED,
            out_refund_no,
            amount=refunded,
            gateway_refund_no=str(refund_no) if refund_no else None,
            reason=message or None,
            finished_at=datetime.now(timezone.utc),
        )

    def _refund_signature_refused(self, refused: BadSignature) -> None:
        """A refund's signature was refused. If the same key signs requests the gateway
        accepts (seen in this session, or proved now by `_probe_keys`), the key is fine
        and the refund's signature form is what is unconfirmed: raise that. Otherwise
        return (the caller re-raises the key error)."""
        if not self._keys_accepted:
            try:
                self._probe_keys()
            except GatewayError:
                return
        raise RefundSignatureUnconfirmed(reason=refused.params.get("reason") or "",
                                         gateway_code=refused.gateway_code) from refused

    def _probe_keys(self) -> None:
        """Prove the keys with a call that needs them: a signed /pay/native order of
        0.01 yuan that is shown to nobody and lapses after one minute (the query may be
        answered without any key, so it proves nothing)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
        body = self._signed({
            "body": "连接测试（请勿支付）",
            "out_order_no": "CHECK" + stamp,  # never one of ours
            "pay_type": 1,
            "total_fee": 1,
            "notify_url": self.profile.notify_url,
            "expire": 1,
        })
        ok, message, data = self._answer(self.http.post_json("/pay/native", body))
        if not ok:
            self._raise_for(message)
        if not isinstance(data.get("code_url"), str):
            raise BadResponse(reason="no code_url")
        self._keys_accepted = True

    def verify_notification(self, request: IncomingRequest) -> Notification:
        content_text, fields, sign = self._notification_parts(request)
        if not self._notification_signed(content_text, fields, sign):
            raise NotificationError("gw.notify_bad_signature")
        out_trade_no = fields.get("out_order_no")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            raise NotificationError("gw.notify_malformed", reason="out_order_no")
        try:
            amount = from_fen(_fen(fields.get("total_fee"), "total_fee"))
        except BadResponse:
            raise NotificationError("gw.notify_malformed", reason="total_fee") from None
        status = _int_or_none(fields.get("status"))
        if status is None:
            raise NotificationError("gw.notify_malformed", reason="status")
        trade_no = fields.get("mch_trade_no")
        return Notification(
            kind="payment",
            out_trade_no=out_trade_no,
            paid=status == 2,
            amount=amount,
            gateway_trade_no=str(trade_no) if trade_no else None,
            wallet=WALLET_OF_PAY_TYPE.get(_int_or_none(fields.get("pay_type")) or 0, Wallet.UNKNOWN),
            paid_at=parse_china_time(fields.get("pay_time")),
        )

    def _notification_signed(self, content_text: str, fields: Mapping[str, Any], sign: object) -> bool:
        """The C# client's scheme over the text as received; then over the compact
        re-serialisation that client makes (order as received, characters unescaped)."""
        if signature_equal(notify_sign(content_text, self._secret), sign, case_insensitive=True):
            return True
        try:
            compact = json.dumps(json.loads(content_text), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return False
        return compact != content_text and signature_equal(notify_sign(compact, self._secret), sign,
                                                           case_insensitive=True)

    @staticmethod
    def _notification_parts(request: IncomingRequest) -> tuple[str, dict[str, Any], object]:
        """(the JSON text of `content` as received, its fields, sign)."""
        if request.method.upper() != "POST":
            raise NotificationError("gw.notify_malformed", reason="not a POST")
        sign: object = None
        if request.form:  # a form carrying the same two members
            content_text = request.form.get("content") or ""
            sign = request.form.get("sign")
        else:
            try:
                members = raw_members(request.body.decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError):
                raise NotificationError("gw.notify_malformed", reason="body is not a JSON object") from None
            raw = members.get("content")
            if raw is None:
                raise NotificationError("gw.notify_malformed", reason="content")
            if raw.startswith('"'):  # content sent as a JSON string: the text is its value
                content_text = json.loads(raw)
            else:
                content_text = raw
            if "sign" in members:
                sign = json.loads(members["sign"])
        try:
            fields = parse_json(content_text)
        except ValueError:
            raise NotificationError("gw.notify_malformed", reason="content") from None
        if not isinstance(fields, dict):
            raise NotificationError("gw.notify_malformed", reason="content")
        for key, value in fields.items():
            if isinstance(value, (dict, list)):
                raise NotificationError("gw.notify_malformed", reason=key)
        return content_text, fields, sign

    def notification_reply(self, ok: bool) -> HttpReply:
        """HTTP 200 and the word "success". Evidence: the one public receiver answers
        HTTP 200 with a JSON envelope containing `"success":true`; nothing shows that
        the gateway reads the body. The lowercase word passes a status check, an exact
        word check and a contains-"success" check alike (docs/gateways/weidoufu.md)."""
        return HttpReply(200, "success") if ok else HttpReply(400, "fail")

    def check_connection(self) -> str:
        """A 0.01 yuan test order that lapses after a minute (see `_probe_keys`)."""
        self._probe_keys()
        return tr("gw.weidoufu_check_ok")

