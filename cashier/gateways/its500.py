"""站长付 its500 (`its500`): personal payment codes, a randomly discounted price, no refund.

Protocol (seed 004 and public clients; docs/gateways/its500.md says which point rests
on which evidence):

* Host: every public client (Java, Android, egg.js, the demo page) calls
  `https://admin.zhanzhangfu.com`; the seed names `https://pay.its500.com`. The
  default is the former, the seed's host stays selectable as the profile's base_url.
* `POST {base}/order/createOrder`, form fields price (yuan, >= 1.00), name, paytype
  (wx / ali / QQ), reurl, thirduid, remarks, other, callbackurl. Credentials travel in
  HTTP headers `Payment-Key: AppKey` (= Profile.merchant_id) and `Payment-Secret:
  AppSecret` (= the secret); there is no signature.
* Answer: `code` "10001" ok, with `orderId`, `price` (what the customer must pay: the
  asked price minus a random amount below 1 yuan, so that the amount identifies the
  order), `originalprice`, `wxcode` / `zfbcode` / `qqcode` (image URLs of the
  merchant's own personal codes), `qrcode` (`alipayqr://platformapi/startapp?
  saId=10000007&qrcode=<url-encoded https://qr.alipay.com/...>`) and, when the
  merchant set it up in the back office, `zfbuseridcode`: a link that opens an Alipay
  transfer with the amount already filled in. Key names may carry a trailing space:
  GatewayHttp.parse_json strips them.
* Errors 10002..10010 (seed). Mapping (our decision): 10002/10003/10004 (price) ->
  InvalidParameter; 10005 (AppKey or AppSecret wrong) and 10006 (merchant does not
  exist; the seed's remedy is "check the AppKey") -> BadSignature, the error whose
  message tells the clerk to check the keys; everything else -> Rejected.

QrOrder: amount_to_pay = the discounted `price` (the UI shows it big), gateway_trade_no
= orderId. Alipay: `qr` is the `zfbuseridcode` link when the answer has one (the
customer pays without typing the amount), else the https://qr.alipay.com/... link
decoded from `qrcode` (the customer must type the amount). A `zfbuseridcode` link whose
own `price` differs from the amount to pay is not used: paying any other amount loses
the order (seed). WeChat / QQ: there is no link, only the image of the merchant's
personal code: `qr` is "" and `qr_image_url` = wxcode / qqcode.

Our out_trade_no travels in `thirduid` (the seed strongly recommends filling it; it
comes back in the notification), so the back office shows which counter order it is.

Status (public clients only): `{host}/order/onlinePayFindResult` with `orderId`; we
send the credential headers as the Android and egg.js clients do, but the demo page
asks with none, so the answer proves nothing about the keys. code "10001" = paid,
"10003" = expired / invalid (the demo page offers a new order on it; its countdown is
5 minutes); "10002" not paid yet; any other code is UNKNOWN (the engine keeps asking).
The query goes to the createOrder host, except for the seed's host, whose query path
no client shows: then admin.zhanzhangfu.com. Profile.extra["query_url"] overrides it.
The query needs the orderId: after a create whose answer was lost there is none, and
query() answers NOT_FOUND without calling (no QR was shown, so nothing can have been
paid for it).

Connection check: createOrder is the only call known to need the keys, so the check
creates a real 1.00 yuan order that is never shown to anyone (it lapses after 5
minutes) and says so; it also surfaces a frozen account, no balance, no callback set
(10007..10010) and the codes missing from the back office.

Notification: a JSON POST, unsigned. It is never trusted on its own:
verify_notification returns Notification(needs_confirmation=True) and the engine
confirms it with a query. Reply: "success" (the seed says nothing).

No refund API (refunds are manual, in the merchant's own wallet), no close, no
reverse, no micropay.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, Mapping
from urllib.parse import parse_qs, urlsplit

from cashier.gateways.base import (
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
    Rejected,
    Wallet,
)
from cashier.gateways.http import check_base_url, parse_json
from cashier.i18n import ZH, define, language, tr
from cashier.money import ONE_YUAN, format_yuan, parse_wire_amount

define({
    "gw.its500_min_amount": ("站长付的金额必须大于等于 1 元", "its500 needs an amount of at least ¥1.00"),
    "gw.its500_no_code": ("站长付没有返回该钱包的收款码（paytype={paytype}），请在站长付后台上传",
                          "its500 returned no payment code for this wallet (paytype={paytype}); upload one in its back office"),
    "gw.its500_label_query_url": ("订单查询地址（默认与下单同一主机；pay.its500.com 时用 admin.zhanzhangfu.com）",
                                  "Order status URL (default: the order host; admin.zhanzhangfu.com for pay.its500.com)"),
    "gw.its500_check_ok": ("站长付已接受 AppKey 和 AppSecret。为核验密钥创建了一笔 1.00 元的测试订单"
                           "（没有展示给任何人，5 分钟后自动失效，请勿支付）。{codes}",
                           "its500 accepted the AppKey and AppSecret. To check them a 1.00 yuan test order was "
                           "created (shown to nobody; it lapses after 5 minutes, do not pay it). {codes}"),
    "gw.its500_code_wxcode": ("微信", "WeChat"),
    "gw.its500_code_zfbcode": ("支付宝", "Alipay"),
    "gw.its500_code_qqcode": ("QQ", "QQ"),
    "gw.its500_codes_ok": ("后台已上传微信、支付宝、QQ 收款码。", "WeChat, Alipay and QQ codes are uploaded."),
    "gw.its500_codes_missing": ("后台未上传：{missing}（这些方式无法收款）。",
                                "Not uploaded in the back office: {missing} (those methods cannot take payments)."),
    "gw.its500_no_order_id": ("下单结果未知，没有站长付订单号；未展示收款码，不会被支付",
                              "The order's creation is unknown and there is no its500 orderId; no code was shown, so it cannot be paid"),
})

# The host every public client calls; the seed's own host is SEED_BASE_URL.
DEFAULT_BASE_URL = "https://admin.zhanzhangfu.com"
SEED_BASE_URL = "https://pay.its500.com"
QUERY_PATH = "/order/onlinePayFindResult"
DEFAULT_QUERY_URL = DEFAULT_BASE_URL + QUERY_PATH
OK = "10001"

PAYTYPE = {Method.WECHAT: "wx", Method.ALIPAY: "ali", Method.QQ: "QQ"}
WALLET_OF_METHOD = {Method.WECHAT: Wallet.WECHAT, Method.ALIPAY: Wallet.ALIPAY, Method.QQ: Wallet.QQ}
# paytype in notifications and query answers: 0 WeChat, 1 Alipay, 6 QQ
WALLET_OF_PAYTYPE = {"0": Wallet.WECHAT, "1": Wallet.ALIPAY, "6": Wallet.QQ,
                     "wx": Wallet.WECHAT, "ali": Wallet.ALIPAY, "qq": Wallet.QQ}

INVALID_PARAMETER_CODES = {"10002", "10003", "10004"}
BAD_KEY_CODES = {"10005", "10006"}


def _code(data: Mapping[str, Any]) -> str:
    code = data.get("code")
    if code is None or isinstance(code, bool):
        raise BadResponse(reason="no code in the answer")
    return str(code).strip()


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())


def alipay_link(qrcode: str) -> str:
    """The https://qr.alipay.com/... link inside an alipayqr:// launcher URL."""
    qrcode = qrcode.strip()
    if qrcode.startswith("https://"):
        return qrcode
    parts = urlsplit(qrcode)
    if parts.scheme != "alipayqr":
        return ""
    inner = parse_qs(parts.query).get("qrcode", [""])[0].strip()
    return inner if inner.startswith("https://") else ""


def userid_link(url: str, to_pay: Decimal) -> str:
    """The `zfbuseridcode` link if it can be shown for this order, else "".

    It must be an http(s) URL; when it names a `price`, that must be the amount to pay
    (a customer paying any other amount loses the order)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return ""
    prices = parse_qs(parts.query).get("price")
    if prices:
        try:
            if len(prices) != 1 or parse_wire_amount(prices[0].strip()) != to_pay:
                return ""
        except ValueError:
            return ""
    return url


def default_query_url(base_url: str) -> str:
    """Where orders are asked about: the createOrder host, except the seed's host."""
    base = base_url.rstrip("/")
    if urlsplit(base).hostname == urlsplit(SEED_BASE_URL).hostname:
        return DEFAULT_QUERY_URL
    return base + QUERY_PATH


def _wallet_of_paytype(value: object) -> Wallet:
    return WALLET_OF_PAYTYPE.get(str(value).strip().lower() if value is not None else "", Wallet.UNKNOWN)


class Its500Gateway(Gateway):
    name = "its500"
    title_zh = "站长付"
    title_en = "Zhanzhangfu"
    # Alipay links only (qr.alipay.com, the zfbuseridcode page); WeChat and QQ are pictures.
    qr_schemes = frozenset({"https"})
    # The seed's sample answer gives the merchant's code pictures as plain http URLs.
    qr_image_schemes = frozenset({"https", "http"})
    capabilities = frozenset({
        Capability.WECHAT_QR,
        Capability.ALIPAY_QR,
        Capability.QQ_QR,
        Capability.QUERY,
        Capability.NOTIFY_VERIFY,
        Capability.CHECK_CONNECTION,
    })
    # The query endpoint is known only from public clients (the connection check uses
    # createOrder, which the seed documents).
    unverified = frozenset({Capability.QUERY})
    limits = GatewayLimits(
        min_amount=ONE_YUAN,
        query_interval=3.0,
        max_partial_refunds=0,
        default_qr_expiry=300.0,
        min_qr_expiry=60.0,
        max_qr_expiry=300.0,
        trade_no_pattern=r"^[A-Za-z0-9_-]{6,64}$",
        trade_no_min_length=6,
        trade_no_max_length=64,
    )
    profile_fields = ("base_url", "merchant_id", "notify_url")
    # Optional settings kept in Profile.extra, with their labels (message keys).
    profile_extra_fields: ClassVar[dict[str, str]] = {"query_url": "gw.its500_label_query_url"}
    default_base_url = DEFAULT_BASE_URL

    def __init__(self, profile, secret, *, http=None) -> None:
        super().__init__(profile, secret, http=http)
        self.query_url = check_base_url(profile.extra.get("query_url") or default_query_url(profile.base_url))

    # -- plumbing ---------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Payment-Key": self.profile.merchant_id, "Payment-Secret": self._secret}

    def _raise_for(self, data: Mapping[str, Any], code: str) -> None:
        reason = _text(data, "msg") or f"code {code}"
        if code in INVALID_PARAMETER_CODES:
            raise InvalidParameter(reason=reason, gateway_code=code)
        if code in BAD_KEY_CODES:
            raise BadSignature(reason=reason, gateway_code=code)
        raise Rejected(reason=reason, gateway_code=code)

    def _callback_url(self) -> str:
        """The notify URL, unless it is a loopback one its500 could never reach (then
        its500 uses the callback address set in its back office)."""
        url = (self.profile.notify_url or "").strip()
        host = urlsplit(url).hostname or ""
        if not url or host in ("localhost",) or host.startswith("127.") or host == "::1":
            return ""
        return url

    # -- operations ---------------------------------------------------------------
    def create_qr(self, out_trade_no: str, amount: Decimal, method: Method, subject: str,
                  expire_seconds: float) -> QrOrder:
        paytype = PAYTYPE.get(method)
        if paytype is None:
            raise NotSupported(operation=method.value)
        if amount < ONE_YUAN:
            raise InvalidParameter("gw.its500_min_amount")
        form = {
            "price": format_yuan(amount),
            "name": (subject or "商品")[:100],
            "paytype": paytype,
            "thirduid": out_trade_no,
        }
        callback = self._callback_url()
        if callback:
            form["callbackurl"] = callback
        data = self.http.post_form("/order/createOrder", form, headers=self._headers())
        code = _code(data)
        if code != OK:
            self._raise_for(data, code)
        order_id = _text(data, "orderId")
        if not order_id:
            raise BadResponse(reason="no orderId")
        to_pay = answer_amount(_text(data, "price"), "price")
        if not Decimal("0.01") <= to_pay <= amount or amount - to_pay >= ONE_YUAN:
            raise BadResponse(reason=f"price {to_pay} does not fit the asked {format_yuan(amount)}")
        original = _text(data, "originalprice")
        if original:
            try:
                if parse_wire_amount(original) != amount:
                    raise BadResponse(reason="originalprice differs from ours")
            except ValueError:
                raise BadResponse(reason="originalprice is not an amount") from None
        wallet = WALLET_OF_METHOD[method]
        qr, image = "", None
        if method == Method.ALIPAY:
            qr = userid_link(_text(data, "zfbuseridcode"), to_pay) or alipay_link(_text(data, "qrcode"))
            if not qr:
                image = _text(data, "zfbcode") or None
        else:
            image = _text(data, "wxcode" if method == Method.WECHAT else "qqcode") or None
        if not qr and not image:
            raise Rejected("gw.its500_no_code", paytype=paytype)
        return QrOrder(
            out_trade_no=out_trade_no,
            qr=qr,
            amount_to_pay=to_pay,
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=expire_seconds),
            gateway_trade_no=order_id,
            wallet=wallet,
            qr_image_url=image,
        )

    def _find(self, order_id: str) -> Mapping[str, Any]:
        return self.http.get(self.query_url, {"orderId": order_id}, headers=self._headers())

    def query(self, order: OrderRef) -> PaymentState:
        if not order.gateway_trade_no:
            return PaymentState(PayStatus.NOT_FOUND, order.out_trade_no, reason=tr("gw.its500_no_order_id"))
        data = self._find(order.gateway_trade_no)
        code = _code(data)
        reason = _text(data, "msg") or None
        returned = _text(data, "orderId")
        if returned and returned != order.gateway_trade_no:
            raise BadResponse(reason="answer is for another order")
        if code in BAD_KEY_CODES:
            self._raise_for(data, code)
        wallet = _wallet_of_paytype(data.get("paytype"))
        if wallet == Wallet.UNKNOWN:
            wallet = order.wallet if order.wallet != Wallet.UNKNOWN else WALLET_OF_METHOD.get(order.method, Wallet.UNKNOWN)
        if code == OK:
            paid = None
            if _text(data, "price"):
                paid = answer_amount(_text(data, "price"), "price")
            return PaymentState(PayStatus.PAID, order.out_trade_no, paid_amount=paid,
                                gateway_trade_no=order.gateway_trade_no, wallet=wallet, reason=reason)
        if code == "10003":
            return PaymentState(PayStatus.CLOSED, order.out_trade_no, gateway_trade_no=order.gateway_trade_no,
                                wallet=wallet, reason=reason)
        if code == "10002":
            return PaymentState(PayStatus.PENDING, order.out_trade_no, gateway_trade_no=order.gateway_trade_no,
                                wallet=wallet, reason=reason)
        return PaymentState(PayStatus.UNKNOWN, order.out_trade_no, gateway_trade_no=order.gateway_trade_no,
                            wallet=wallet, reason=f"code {code}: {reason or ''}".strip())

    def verify_notification(self, request: IncomingRequest) -> Notification:
        """Unsigned: parse it, and say it must be confirmed by a query."""
        if request.method.upper() != "POST":
            raise NotificationError("gw.notify_malformed", reason="not a POST")
        data: Any = None
        if request.body and not request.form:
            try:
                data = parse_json(request.body.decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError):
                raise NotificationError("gw.notify_malformed", reason="body is not JSON") from None
        elif request.form:
            data = dict(request.form)
        if not isinstance(data, dict):
            raise NotificationError("gw.notify_malformed", reason="empty body")
        order_id = _text(data, "orderId")
        out_trade_no = _text(data, "thirduid")
        if not order_id:
            raise NotificationError("gw.notify_malformed", reason="orderId")
        if not out_trade_no:
            raise NotificationError("gw.notify_malformed", reason="thirduid")
        try:
            amount = parse_wire_amount(_text(data, "price"))
        except ValueError:
            raise NotificationError("gw.notify_malformed", reason="price") from None
        return Notification(
            kind="payment",
            out_trade_no=out_trade_no,
            paid=str(data.get("code", "")).strip() == OK,
            amount=amount,
            gateway_trade_no=order_id,
            wallet=_wallet_of_paytype(data.get("paytype")),
            needs_confirmation=True,
        )

    def notification_reply(self, ok: bool) -> HttpReply:
        return HttpReply(200 if ok else 400, "success" if ok else "fail")

    def check_connection(self) -> str:
        """Create a 1.00 yuan order that is shown to nobody: createOrder is the only call
        known to need the keys (the status query is answered without them). It lapses
        after 5 minutes; the message says so."""
        form = {"price": "1.00", "name": "连接测试（请勿支付）", "paytype": "ali",
                "thirduid": "CHECK" + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")}
        data = self.http.post_form("/order/createOrder", form, headers=self._headers())
        code = _code(data)
        if code != OK:
            self._raise_for(data, code)
        if not _text(data, "orderId"):
            raise BadResponse(reason="no orderId")
        missing = [tr("gw.its500_code_" + key) for key in ("wxcode", "zfbcode", "qqcode") if not _text(data, key)]
        if missing:
            note = tr("gw.its500_codes_missing", missing=("、" if language() == ZH else ", ").join(missing))
        else:
            note = tr("gw.its500_codes_ok")
        return tr("gw.its500_check_ok", codes=note)
