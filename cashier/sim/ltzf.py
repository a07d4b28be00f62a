"""LTZF 蓝兔支付, simulated: the same paths, fields, answers and rules as api.ltzf.cn
(docs/gateways/ltzf.md).

  * POST form only; answers {code, msg, data?, request_id}, unsigned.
  * A request is verified over ONLY the endpoint's required fields (uppercase MD5,
    "&key="): a sign that also covered attach / time_expire fails with "签名错误".
  * get_pay_order: 1 request per 5 s per merchant; get_refund_order: 1 per 10 s
    (both taken per merchant number across the wxpay and alipay paths, the
    conservative reading); a refund of one order at least 60 s after the previous
    one (wxpay) or 3 s (alipay); at most 50 partial refunds (wxpay, as the seed says);
    no refund a year after payment.
  * 一码付 (merged) orders: created below the 聚合商户号. How the real gateway files
    them is not documented; here the order waits for a wallet: until the customer
    paid, neither get_pay_order path knows it ("商户订单号不存在"); once paid, the
    paying wallet's path answers it (trade_type JSAPI inside WeChat, H5 inside
    Alipay) and refunds go through that path. The notification's pay_channel names
    the wallet.
  * Messages the seed does not give (too frequent, unknown merchant, refund number
    unknown, format errors) are made up in the seed's style.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from cashier.gateways.signing import signature_equal, wx_v2_sign
from cashier.sim.core import (
    REFUND_FAILED,
    REFUND_PROCESSING,
    REFUND_SUCCESS,
    SUCCESS,
    SimError,
    SimOrder,
    SimRefund,
)
from cashier.sim.protocol import GatewaySim, OutgoingNotification, SimRequest, SimResponse

BEIJING = timezone(timedelta(hours=8))
GATEWAY = "ltzf"

QUERY_INTERVAL = 5.0
REFUND_QUERY_INTERVAL = 10.0
REFUND_SPACING = {"wxpay": 60.0, "alipay": 3.0}
REFUND_MAX_COUNT = {"wxpay": 50, "alipay": None}
REFUND_MAX_AGE = 365 * 24 * 3600
DEFAULT_EXPIRE = {"wxpay": 2 * 3600, "alipay": 2 * 3600, "merge": 2 * 3600}
EXPIRE_RANGE = {"wxpay": (60, 2 * 3600, "mh"), "merge": (60, 2 * 3600, "mh"), "alipay": (60, 15 * 86400, "mhd")}

# The simulator's own copy of the signed-field table (not the client's: a client that
# signs the wrong fields must fail here).
_CREATE = ("mch_id", "out_trade_no", "total_fee", "body", "timestamp", "notify_url")
SIGNED_FIELDS = {
    "/api/wxpay/native": _CREATE,
    "/api/alipay/native": _CREATE,
    "/api/merge/native": _CREATE,
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

_OPS = {
    "native": "create",
    "get_pay_order": "query",
    "refund_order": "refund",
    "get_refund_order": "refund_query",
}
_PATH_RE = re.compile(r"^/api/(wxpay|alipay|merge)/(native|get_pay_order|refund_order|get_refund_order)$")
_NO_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_AMOUNT_RE = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
_WALLET_OF = {"wxpay": "wechat", "alipay": "alipay"}
_CHANNEL_OF = {"wechat": "wxpay", "alipay": "alipay"}
_METHOD_OF = {"wxpay": "wechat", "alipay": "alipay", "merge": "merged"}


class _Answer(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class LtzfSim(GatewaySim):
    name = GATEWAY

    def __init__(self, state) -> None:
        super().__init__(state)
        # Every request as received (path and form): tests read it to check signing.
        self.received: list[dict] = []

    # ------------------------------------------------------------------ routing
    def op_of(self, request: SimRequest) -> str:
        m = _PATH_RE.match(request.path)
        return _OPS[m.group(2)] if m else "other"

    def handle(self, request: SimRequest) -> SimResponse:
        m = _PATH_RE.match(request.path)
        if m is None or (m.group(1) == "merge" and m.group(2) != "native"):
            return SimResponse.text("404 Not Found", 404)
        family, endpoint = m.group(1), m.group(2)
        with self.state.lock:
            self.received.append({"path": request.path, "method": request.method, "form": dict(request.form)})
            if len(self.received) > 2000:
                del self.received[:-1000]
        if request.method != "POST":
            return self._fail("请求方式错误，请使用POST请求")
        fields = dict(request.form)
        try:
            merchant = self._verify(request.path, fields)
            handler = getattr(self, "_" + endpoint)
            return handler(family, merchant, fields)
        except _Answer as answer:
            return self._fail(answer.msg)

    # ---------------------------------------------------------------- envelope
    @staticmethod
    def _request_id() -> str:
        return str(uuid.uuid4())

    def _ok(self, data, msg: str) -> SimResponse:
        return SimResponse.json({"code": 0, "data": data, "msg": msg, "request_id": self._request_id()})

    def _fail(self, msg: str) -> SimResponse:
        return SimResponse.json({"code": 1, "msg": msg, "request_id": self._request_id()})

    def _verify(self, path: str, fields: dict[str, str]):
        for key in SIGNED_FIELDS[path]:
            if not fields.get(key):
                raise _Answer(f"{key}参数不能为空")
        if not fields.get("sign"):
            raise _Answer("sign参数不能为空")
        merchant = self.state.merchant(GATEWAY, fields["mch_id"])
        if merchant is None:
            raise _Answer("商户号不存在")
        expected = wx_v2_sign(fields, merchant.secret, SIGNED_FIELDS[path])
        if not signature_equal(expected, fields["sign"]):
            raise _Answer("签名错误")
        if not fields["timestamp"].isdigit() or len(fields["timestamp"]) != 10:
            raise _Answer("timestamp参数格式错误")
        return merchant

    # ------------------------------------------------------------------ helpers
    def _now(self):
        return self.state.clock.now()

    @staticmethod
    def _fmt_time(t) -> str:
        return datetime.fromtimestamp(t, tz=BEIJING).strftime("%Y-%m-%d %H:%M:%S")

    @staticmethod
    def _amount(text: str, what: str) -> Decimal:
        if not _AMOUNT_RE.match(text or ""):
            raise _Answer(f"{what}格式错误")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise _Answer(f"{what}格式错误") from None
        if value <= 0:
            raise _Answer(f"{what}必须大于0")
        return value.quantize(Decimal("0.01"))

    @staticmethod
    def _digits(seed: str, n: int) -> str:
        out = ""
        counter = 0
        while len(out) < n:
            out += str(int(hashlib.sha256(f"{seed}:{counter}".encode()).hexdigest(), 16))
            counter += 1
        return out[:n]

    @staticmethod
    def _channel(order: SimOrder) -> str:
        """wxpay / alipay: the wallet an order is (or, merged, was paid) with."""
        if order.method == "merged":
            return _CHANNEL_OF.get(order.wallet, "wxpay")
        return _CHANNEL_OF.get(order.method, "wxpay")

    def _pay_no(self, order: SimOrder) -> str:
        day = datetime.fromtimestamp(order.paid_at or order.created, tz=BEIJING).strftime("%Y%m%d")
        if self._channel(order) == "alipay":
            return day + "2200" + self._digits(order.trade_no, 16)
        return "4200" + self._digits(order.trade_no, 6) + day + self._digits(order.trade_no + "w", 10)

    def _openid(self, order: SimOrder) -> str:
        if self._channel(order) == "alipay":
            return "vip***@ltzf.cn"
        return "o5wq46" + hashlib.sha256(order.trade_no.encode()).hexdigest()[:22]

    def _trade_type(self, order: SimOrder) -> str:
        if order.method == "merged":
            return "H5" if self._channel(order) == "alipay" else "JSAPI"
        return "NATIVE"

    def _find_order(self, family: str, mch_id: str, out_trade_no: str) -> SimOrder:
        """The order as the `family` path sees it, or 商户订单号不存在."""
        order = self.state.get(GATEWAY, out_trade_no)
        if order is None or order.merchant_id != mch_id:
            raise _Answer("商户订单号不存在")
        if order.method == "merged":
            # Filed under a wallet only once the customer paid with it.
            if order.status != SUCCESS or self._channel(order) != family:
                raise _Answer("商户订单号不存在")
        elif self._channel(order) != family:
            raise _Answer("商户订单号不存在")
        return order

    # ------------------------------------------------------------------ create
    def _native(self, family: str, merchant, fields: dict[str, str]) -> SimResponse:
        out_trade_no = fields["out_trade_no"]
        if not _NO_RE.match(out_trade_no):
            raise _Answer("商户订单号格式错误，只能是数字、大小写字母_-")
        amount = self._amount(fields["total_fee"], "支付金额")
        notify_url = fields["notify_url"]
        if not re.match(r"^https?://[^\s?#]+$", notify_url):
            raise _Answer("notify_url格式错误，必须为http或https地址且不允许携带查询串")
        now = self._now()
        expire = DEFAULT_EXPIRE[family]
        if fields.get("time_expire"):
            expire = self._expire(family, fields["time_expire"])
        link_type = fields.get("type") or "qrcode_url"
        if family != "wxpay" and link_type not in ("qrcode_url", "link_url"):
            raise _Answer("type参数错误")
        prefix = {"wxpay": "WX", "alipay": "AL", "merge": "MG"}[family]
        order = SimOrder(
            gateway=GATEWAY,
            merchant_id=fields["mch_id"],
            out_trade_no=out_trade_no,
            amount=amount,
            pay_amount=amount,
            method=_METHOD_OF[family],
            wallet=_WALLET_OF.get(family, "unknown"),
            kind="qr",
            trade_no=self.state.new_trade_no(prefix),
            created=now,
            expires_at=now + expire,
            subject=fields["body"],
            notify_url=notify_url,
            attach=fields.get("attach", ""),
        )
        try:
            self.state.create_order(order)
        except SimError:
            raise _Answer("商户订单号重复") from None
        token = hashlib.sha256(order.trade_no.encode()).hexdigest()
        stamp = int(now * 1000)
        if family == "wxpay":
            data = {
                "code_url": "weixin://wxpay/bizpayurl?pr=" + token[:9],
                "QRcode_url": f"https://api.ltzf.cn/uploads/QRcode/wxpay/{stamp}.png",
            }
            return self._ok(data, "微信Native下单成功")
        if family == "alipay":
            if link_type == "link_url":
                data = "https://qr.alipay.com/bax0" + token[:20]
            else:
                data = f"https://api.ltzf.cn/uploads/QRcode/alipay/{order.trade_no}.png"
            return self._ok(data, "支付宝Native下单成功")
        if link_type == "link_url":
            data = "https://api.ltzf.cn/api/merge/order?state=" + token[:32].upper()
        else:
            data = f"https://api.ltzf.cn/uploads/QRcode/merge/{token[:32].upper()}.png"
        return self._ok(data, "一码付下单成功")

    @staticmethod
    def _expire(family: str, text: str) -> int:
        low, high, units = EXPIRE_RANGE[family]
        m = re.match(r"^(\d{1,6})([mhd])$", text)
        if m is None or m.group(2) not in units:
            raise _Answer("time_expire参数格式错误")
        seconds = int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)]
        if not low <= seconds <= high:
            raise _Answer("time_expire取值超出范围")
        return seconds

    # ------------------------------------------------------------------- query
    def _get_pay_order(self, family: str, merchant, fields: dict[str, str]) -> SimResponse:
        if not self.state.rate_ok(GATEWAY, merchant.merchant_id, "query", QUERY_INTERVAL):
            raise _Answer("请求过于频繁，查询订单接口5秒钟请求限制为1次")
        order = self._find_order(family, merchant.merchant_id, fields["out_trade_no"])
        paid = order.status == SUCCESS
        data = {
            "add_time": self._fmt_time(order.created),
            "mch_id": order.merchant_id,
            "order_no": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "body": order.subject,
            "total_fee": format(order.pay_amount, "f"),
            "trade_type": self._trade_type(order),
            "attach": order.attach,
            "pay_status": 1 if paid else 0,
        }
        if paid:
            data["pay_no"] = self._pay_no(order)
            data["success_time"] = self._fmt_time(order.paid_at)
            data["openid"] = self._openid(order)
        return self._ok(data, "查询成功")

    # ------------------------------------------------------------------ refund
    def _refund_order(self, family: str, merchant, fields: dict[str, str]) -> SimResponse:
        out_refund_no = fields["out_refund_no"]
        if not _NO_RE.match(out_refund_no):
            raise _Answer("商户退款单号格式错误，只能是数字、大小写字母_-")
        amount = self._amount(fields["refund_fee"], "退款金额")
        notify_url = fields.get("notify_url", "")
        if notify_url and not re.match(r"^https?://[^\s?#]+$", notify_url):
            raise _Answer("notify_url格式错误，必须为http或https地址且不允许携带查询串")
        with self.state.lock:
            order = self._find_order(family, merchant.merchant_id, fields["out_trade_no"])
            if not merchant.refund_enabled:
                raise _Answer("商户未开通退款权限")
            if order.status == SUCCESS and order.paid_at is not None and self._now() - order.paid_at > REFUND_MAX_AGE:
                raise _Answer("交易时间超过一年的订单无法提交退款")
            try:
                refund, created = self.state.refund(order, out_refund_no, amount, notify_url=notify_url,
                                                    spacing=REFUND_SPACING[family],
                                                    max_count=REFUND_MAX_COUNT[family])
            except SimError as exc:
                raise _Answer(self._refund_message(exc, family)) from None
            if not created:
                raise _Answer("退款单号重复")
        data = {
            "mch_id": order.merchant_id,
            "out_trade_no": order.out_trade_no,
            "out_refund_no": refund.out_refund_no,
            "order_no": refund.refund_no,
        }
        if family == "wxpay":
            data["pay_refund_no"] = "503" + self._digits(refund.refund_no, 26)
        return self._ok(data, "发起退款成功")

    @staticmethod
    def _refund_message(exc: SimError, family: str) -> str:
        if exc.code == "refund_no_reused":
            return "退款单号重复"
        if exc.code == "not_paid":
            return "订单未支付，无法退款"
        if exc.code == "too_soon":
            return ("同一笔订单多次退款的请求需相隔1分钟" if family == "wxpay"
                    else "同一笔交易的退款至少间隔3s后发起")
        if exc.code == "too_many":
            return "每个支付订单的部分退款次数不能超过50次"
        return exc.message

    # ------------------------------------------------------------ refund query
    def _get_refund_order(self, family: str, merchant, fields: dict[str, str]) -> SimResponse:
        if not self.state.rate_ok(GATEWAY, merchant.merchant_id, "refund_query", REFUND_QUERY_INTERVAL):
            raise _Answer("请求过于频繁，查询退款结果接口10秒钟请求限制为1次")
        found = self.state.find_refund(GATEWAY, fields["out_refund_no"])
        if found is None:
            raise _Answer("商户退款单号不存在")
        order, refund = found
        if order.merchant_id != merchant.merchant_id or self._channel(order) != family:
            raise _Answer("商户退款单号不存在")
        status = {REFUND_PROCESSING: 0, REFUND_SUCCESS: 1, REFUND_FAILED: -1}[refund.status]
        data = {
            "refund_status": status,
            "mch_id": order.merchant_id,
            "out_trade_no": order.out_trade_no,
            "pay_no": self._pay_no(order),
            "order_no": refund.refund_no,
            "out_refund_no": refund.out_refund_no,
            "refund_fee": format(refund.amount, "f"),
        }
        if family == "wxpay":
            data["pay_refund_no"] = "503" + self._digits(refund.refund_no, 26)
            data["user_received_account"] = "支付用户零钱"
        if refund.status == REFUND_SUCCESS:
            data["success_time"] = self._fmt_time(refund.done_at or refund.created)
        return self._ok(data, "查询成功")

    # ----------------------------------------------------------- notifications
    def notification(self, order: SimOrder, refund: SimRefund | None = None, *, forge: bool = False,
                     amount: Decimal | None = None) -> OutgoingNotification:
        merchant = self.state.merchant(GATEWAY, order.merchant_id)
        secret = merchant.secret if merchant is not None else ""
        key = ("forged-" + secret) if forge else secret
        now = self._now()
        channel = self._channel(order)
        if refund is None:
            fields = {
                "code": "0" if order.status == SUCCESS else "1",
                "timestamp": str(int(now)),
                "mch_id": order.merchant_id,
                "order_no": order.trade_no,
                "out_trade_no": order.out_trade_no,
                "pay_no": self._pay_no(order),
                "total_fee": format(amount if amount is not None else order.pay_amount, "f"),
                "pay_channel": channel,
                "trade_type": self._trade_type(order),
                "success_time": self._fmt_time(order.paid_at or now),
                "attach": order.attach,
                "openid": self._openid(order),
            }
            fields["sign"] = wx_v2_sign(fields, key, PAYMENT_NOTIFY_SIGNED)
            return OutgoingNotification("POST", order.notify_url, form=fields)
        fields = {
            "code": "0" if refund.status == REFUND_SUCCESS else "1",
            "timestamp": str(int(now)),
            "mch_id": order.merchant_id,
            "order_no": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "pay_no": self._pay_no(order),
            "refund_no": refund.refund_no,
            "out_refund_no": refund.out_refund_no,
            "pay_channel": channel,
            "refund_fee": format(amount if amount is not None else refund.amount, "f"),
            "success_time": self._fmt_time(refund.done_at or now),
        }
        fields["sign"] = wx_v2_sign(fields, key, REFUND_NOTIFY_SIGNED)
        return OutgoingNotification("POST", refund.notify_url or order.notify_url, form=fields)
