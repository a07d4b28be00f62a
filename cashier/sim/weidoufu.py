"""Simulated Weidoufu 微豆付: the wire protocol `cashier.gateways.weidoufu` speaks.

Paths (below the `/weidoufu` prefix): `POST /pay/miniapp` (the seed's only documented
endpoint), `POST /pay/native`, `POST /pay/micropay`, `GET /pay/query`,
`POST /pay/refund`. Bodies are JSON (a form is accepted too). Every request carries
`access_key` and `sign` = MD5(sorted non-empty fields except sign, `k=v&...`,
then `&secret_key=SECRET`), uppercase; the simulator checks it over exactly the
fields it received, so a client signing a different field set gets "签名错误".

Answers: `{"code": 1|0, "message": "...", "data": {...}}`. Rules the simulator applies
(from the public docs where they say something, our assumptions elsewhere). The query
follows the public docs: no access_key and no sign needed (ignored when sent), by
out_order_no or mch_trade_no, answering only mch_trade_no, out_order_no, notify and
status. A micropay paid at once answers code 1 with the documented fields plus
status (code 1 alone means paid).
out_order_no letters/digits, 18..32 chars; `/pay/native` takes `expire` in minutes
(default 30, at most 60: more is refused as a parameter error) and the order lapses
then; at most 10 partial refunds per order; the same order may not be queried more
than once a second ("请求过于频繁").

Refund (public docs): access_key, refund_fee (fen), out_order_no or mch_trade_no,
sign; the answer's data is mch_trade_no, out_order_no, refund_fee, total_fee (no
refund number). `refund_sign_form = "public_page"` makes the simulator verify refunds
the way the only public refund client signs them (MD5 of `access_key=..&refund_fee=..
&out_order_no=..`, unsorted, no secret), so that a client signing by the general rule
is refused with "签名错误" while its payments go through.

Notifications: a JSON POST `{"content":{...},"sign":"..."}` whose `content` is the
compact JSON of the order fields in the gateway's order (as the public C# client's
notification DTO lists them), and `sign` = uppercase MD5 of the lowercase hex of
HMAC-SHA256(secret, that exact text). The bytes are sent as written here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from cashier.sim.core import (
    CLOSED,
    NOTPAY,
    PAYERROR,
    REVOKED,
    SUCCESS,
    USERPAYING,
    SimError,
    SimOrder,
    SimRefund,
)
from cashier.sim.protocol import GatewaySim, OutgoingNotification, SimRequest, SimResponse

NAME = "weidoufu"
ORDER_NO_RE = re.compile(r"^[A-Za-z0-9]{18,32}$")
BEIJING = timezone(timedelta(hours=8))
DEFAULT_EXPIRE_MINUTES = 30
MAX_EXPIRE_MINUTES = 60
QUERY_SPACING = 1.0
MAX_REFUNDS = 10

WALLETS = {1: "wechat", 2: "alipay", 3: "unionpay"}
PAY_TYPES = {v: k for k, v in WALLETS.items()}
STATUS = {NOTPAY: 1, USERPAYING: 1, SUCCESS: 2, CLOSED: 3, REVOKED: 3, PAYERROR: 3}

OPS = {
    "/pay/miniapp": "create",
    "/pay/native": "create",
    "/pay/micropay": "micropay",
    "/pay/query": "query",
    "/pay/refund": "refund",
}


def sim_sign(fields: dict[str, Any], secret: str) -> str:
    """Weidoufu's signature, written independently of the client's."""
    parts = []
    for key in sorted(fields):
        if key == "sign":
            continue
        value = fields[key]
        if value is None:
            continue
        text = str(value)
        if text == "":
            continue
        parts.append(f"{key}={text}")
    raw = "&".join(parts) + "&secret_key=" + secret
    return hashlib.md5(raw.encode("utf-8")).hexdigest().upper()


def sim_notify_sign(content_text: str, secret: str) -> str:
    """The notification signature, written independently of the client's."""
    mac = hmac.new(secret.encode("utf-8"), content_text.encode("utf-8"), hashlib.sha256).hexdigest()
    return hashlib.md5(mac.encode("utf-8")).hexdigest().upper()


def public_page_refund_sign(fields: dict[str, Any]) -> str:
    """How the only public refund client signs: fixed order, no secret."""
    raw = (f"access_key={fields.get('access_key', '')}&refund_fee={fields.get('refund_fee', '')}"
           f"&out_order_no={fields.get('out_order_no', '')}")
    return hashlib.md5(raw.encode("utf-8")).hexdigest().upper()


def _fen(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value) if int(value) > 0 else None
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def _to_fen(amount: Decimal) -> int:
    return int(amount * 100)


class WeidoufuSim(GatewaySim):
    name = NAME

    def __init__(self, state) -> None:
        super().__init__(state)
        self.received: list[dict[str, Any]] = []  # what clients sent, for tests
        self.refund_sign_form = "general"  # or "public_page" (see the module docstring)

    def op_of(self, request: SimRequest) -> str:
        return OPS.get(request.path, "unknown")

    # -- helpers ------------------------------------------------------------------
    @staticmethod
    def _ok(message: str, data: dict[str, Any]) -> SimResponse:
        return SimResponse.json({"code": 1, "message": message, "data": data})

    @staticmethod
    def _fail(message: str, data: dict[str, Any] | None = None) -> SimResponse:
        return SimResponse.json({"code": 0, "message": message, "data": data or {}})

    def _fields(self, request: SimRequest) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query)
        if isinstance(request.json, dict):
            return dict(request.json)
        return request.params()

    def _check(self, fields: dict[str, Any], path: str = ""):
        """(merchant, None) when access_key and sign are good, else (None, failure)."""
        access_key = fields.get("access_key")
        merchant = self.state.merchant(NAME, str(access_key)) if access_key else None
        if merchant is None:
            return None, self._fail("access_key 无效")
        sign = fields.get("sign")
        if path == "/pay/refund" and self.refund_sign_form == "public_page":
            expected = public_page_refund_sign(fields)
        else:
            expected = sim_sign(fields, merchant.secret)
        if not isinstance(sign, str) or sign != expected:
            return None, self._fail("签名错误", {"out_order_no": fields.get("out_order_no", ""), "jsapi": ""})
        return merchant, None

    def _trade_no(self) -> str:
        return self.state.new_trade_no("")

    # -- dispatch -------------------------------------------------------------------
    def handle(self, request: SimRequest) -> SimResponse:
        op = self.op_of(request)
        if op == "unknown":
            return SimResponse.text("Not Found", 404)
        if request.path == "/pay/query":
            if request.method != "GET":
                return SimResponse.text("Method Not Allowed", 405)
        elif request.method != "POST":
            return SimResponse.text("Method Not Allowed", 405)
        fields = self._fields(request)
        with self.state.lock:
            self.received.append({"path": request.path, "method": request.method, "fields": dict(fields)})
        if request.path == "/pay/query":  # unsigned (public docs)
            return self._query(fields)
        merchant, failure = self._check(fields, request.path)
        if failure is not None:
            return failure
        handler = {
            "/pay/miniapp": self._miniapp,
            "/pay/native": self._native,
            "/pay/micropay": self._micropay,
            "/pay/refund": self._refund,
        }[request.path]
        return handler(merchant, fields)

    # -- orders ---------------------------------------------------------------------
    def _order_fields(self, fields: dict[str, Any], pay_types: tuple[int, ...]) -> tuple[Any, ...] | SimResponse:
        out_order_no = fields.get("out_order_no")
        if not isinstance(out_order_no, str) or not ORDER_NO_RE.match(out_order_no):
            return self._fail("商户订单号格式错误（字母、数字，至少18位）")
        body = fields.get("body")
        if not isinstance(body, str) or not body:
            return self._fail("body 参数不能为空")
        fee = _fen(fields.get("total_fee"))
        if fee is None:
            return self._fail("total_fee 参数错误（单位：分，正整数）")
        pay_type = _int(fields.get("pay_type"))
        if pay_type not in pay_types:
            return self._fail("pay_type 参数错误")
        return out_order_no, body, fee, pay_type

    def _new_order(self, merchant, out_order_no: str, body: str, fee: int, pay_type: int, *, kind: str,
                   notify_url: str = "", attach: str = "", auth_code: str = "",
                   expire_minutes: int = DEFAULT_EXPIRE_MINUTES) -> SimOrder:
        now = self.state.clock.now()
        order = SimOrder(
            gateway=NAME,
            merchant_id=merchant.merchant_id,
            out_trade_no=out_order_no,
            amount=_yuan(fee),
            pay_amount=_yuan(fee),
            method="micropay" if kind == "micropay" else WALLETS[pay_type],
            wallet=WALLETS[pay_type],
            kind=kind,
            trade_no=self._trade_no(),
            created=now,
            expires_at=None if kind == "micropay" else now + expire_minutes * 60,
            subject=body,
            notify_url=notify_url,
            attach=attach,
            auth_code=auth_code,
        )
        return self.state.create_order(order)

    def _miniapp(self, merchant, fields: dict[str, Any]) -> SimResponse:
        parsed = self._order_fields(fields, (1, 2))
        if isinstance(parsed, SimResponse):
            return parsed
        out_order_no, body, fee, pay_type = parsed
        if pay_type == 1 and not fields.get("openid"):
            return self._fail("微信支付 openid 必传")
        if pay_type == 2 and not fields.get("buyer_id"):
            return self._fail("支付宝支付 buyer_id 必传")
        if not fields.get("notify_url"):
            return self._fail("notify_url 参数不能为空")
        try:
            order = self._new_order(merchant, out_order_no, body, fee, pay_type, kind="qr",
                                    notify_url=str(fields["notify_url"]), attach=str(fields.get("attach") or ""))
        except SimError as exc:
            return self._fail(exc.message)
        digest = hashlib.md5(order.trade_no.encode()).hexdigest()
        if pay_type == 1:
            jsapi: dict[str, Any] = {
                "app_id": "wx369ab4160391bvbgg",
                "timestamp": str(int(order.created)),
                "nonce_str": digest,
                "package": "prepay_id=wx" + digest[:28],
                "sign_type": "MD5",
                "pay_sign": digest.upper(),
            }
        else:
            jsapi = {"trade_no": "2021" + str(int(digest[:20], 16))[:25]}
        return self._ok("成功", {"mch_trade_no": order.trade_no, "out_order_no": out_order_no, "jsapi": jsapi})

    def _native(self, merchant, fields: dict[str, Any]) -> SimResponse:
        parsed = self._order_fields(fields, (1, 2))
        if isinstance(parsed, SimResponse):
            return parsed
        out_order_no, body, fee, pay_type = parsed
        if not fields.get("notify_url"):
            return self._fail("notify_url 参数不能为空")
        expire = DEFAULT_EXPIRE_MINUTES
        if fields.get("expire") not in (None, ""):
            expire = _int(fields.get("expire"))
            if expire is None or not 1 <= expire <= MAX_EXPIRE_MINUTES:
                return self._fail(f"expire 参数错误（订单过期分钟，最大值 {MAX_EXPIRE_MINUTES}）")
        try:
            order = self._new_order(merchant, out_order_no, body, fee, pay_type, kind="qr",
                                    notify_url=str(fields["notify_url"]), attach=str(fields.get("attach") or ""),
                                    expire_minutes=expire)
        except SimError as exc:
            return self._fail(exc.message)
        digest = hashlib.sha256(order.trade_no.encode()).hexdigest()
        if pay_type == 1:
            code_url = "weixin://wxpay/bizpayurl?pr=" + digest[:7]
        else:
            code_url = "https://qr.alipay.com/bax0" + digest[:20]
        return self._ok("成功", {"mch_trade_no": order.trade_no, "out_order_no": out_order_no, "code_url": code_url})

    def _micropay(self, merchant, fields: dict[str, Any]) -> SimResponse:
        parsed = self._order_fields(fields, (1, 2, 3))
        if isinstance(parsed, SimResponse):
            return parsed
        out_order_no, body, fee, pay_type = parsed
        auth_code = fields.get("auth_code")
        if not isinstance(auth_code, str) or not auth_code.isdigit() or not 16 <= len(auth_code) <= 24:
            return self._fail("付款码格式错误，请扫描正确的付款码")
        try:
            order = self._new_order(merchant, out_order_no, body, fee, pay_type, kind="micropay",
                                    auth_code=auth_code)
        except SimError as exc:
            return self._fail(exc.message)
        self.state.start_micropay(order)
        behaviour = getattr(order, "_behaviour", "")
        if order.status == SUCCESS:
            if behaviour == "error_then_pay":
                return self._fail("系统繁忙，请稍后查询订单状态", {"out_order_no": out_order_no})
            return self._ok("支付成功", self._order_data(order))
        if order.status == USERPAYING:
            return self._ok("用户支付中，需要输入支付密码", self._order_data(order))
        return self._fail(order.fail_reason or "支付失败", {"out_order_no": out_order_no})

    def _order_data(self, order: SimOrder) -> dict[str, Any]:
        paid = order.status == SUCCESS
        return {
            "mch_trade_no": order.trade_no,
            "out_order_no": order.out_trade_no,
            "transaction_id": ("42000" + order.trade_no) if paid else "",
            "total_fee": _to_fen(order.pay_amount),
            "pay_type": PAY_TYPES.get(order.wallet, 1),
            "trade_type": 1 if order.kind == "micropay" else 2,
            "status": STATUS.get(order.status, 3),
            "pay_time": datetime.fromtimestamp(order.paid_at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
            if paid and order.paid_at else "",
            "attach": order.attach,
        }

    def _query(self, fields: dict[str, Any]) -> SimResponse:
        out_order_no = fields.get("out_order_no")
        mch_trade_no = fields.get("mch_trade_no")
        if isinstance(out_order_no, str) and out_order_no:
            key = out_order_no
            order = self.state.get(NAME, out_order_no)
        elif isinstance(mch_trade_no, str) and mch_trade_no:
            key = mch_trade_no
            with self.state.lock:
                order = next((o for o in self.state.orders.values()
                              if o.gateway == NAME and o.trade_no == mch_trade_no), None)
        else:
            return self._fail("mch_trade_no 或 out_order_no 必须有一个")
        if not self.state.rate_ok(NAME, "*", "query:" + key, QUERY_SPACING):
            return self._fail("请求过于频繁，请稍后再试")
        if order is None:
            return self._fail("订单不存在", {"out_order_no": out_order_no or ""})
        data = self._order_data(order)
        notified = any(n["gateway"] == NAME and n["out_trade_no"] == order.out_trade_no and n["status"] == 200
                       for n in self.state.notifications_sent)
        return SimResponse.json({"code": 1, "message": "查询成功", "status": "success", "data": {
            "mch_trade_no": data["mch_trade_no"], "out_order_no": data["out_order_no"],
            "notify": 2 if notified else 1, "status": data["status"]}})

    def _refund(self, merchant, fields: dict[str, Any]) -> SimResponse:
        out_order_no = fields.get("out_order_no")
        mch_trade_no = fields.get("mch_trade_no")
        order = None
        if isinstance(out_order_no, str) and out_order_no:
            order = self.state.get(NAME, out_order_no)
        elif isinstance(mch_trade_no, str) and mch_trade_no:
            with self.state.lock:
                order = next((o for o in self.state.orders.values()
                              if o.gateway == NAME and o.trade_no == mch_trade_no), None)
        else:
            return self._fail("mch_trade_no 或 out_order_no 必须有一个")
        fee = _fen(fields.get("refund_fee"))
        if fee is None:
            return self._fail("refund_fee 参数错误（单位：分，正整数）")
        if order is None or order.merchant_id != merchant.merchant_id:
            return self._fail("订单不存在", {"out_order_no": out_order_no or ""})
        if not merchant.refund_enabled:
            return self._fail("商户未开通退款功能")
        # No refund number is documented: each accepted request is a new refund.
        try:
            refund, _ = self.state.refund(order, self.state.new_trade_no("R"), _yuan(fee), max_count=MAX_REFUNDS)
        except SimError as exc:
            messages = {
                "not_paid": "订单未支付，不能退款",
                "too_many": f"部分退款次数不能超过{MAX_REFUNDS}次",
                "too_much": "退款金额超过可退金额",
            }
            return self._fail(messages.get(exc.code, exc.message), {"out_order_no": order.out_trade_no})
        return SimResponse.json({"code": 1, "message": "退款成功", "status": "success", "data": {
            "mch_trade_no": order.trade_no,
            "out_order_no": order.out_trade_no,
            "refund_fee": _to_fen(refund.amount),
            "total_fee": _to_fen(order.pay_amount),
        }})

    # -- notifications -----------------------------------------------------------------
    def notification(self, order: SimOrder, refund: SimRefund | None = None, *, forge: bool = False,
                     amount: Decimal | None = None) -> OutgoingNotification:
        merchant = self.state.merchant(NAME, order.merchant_id)
        secret = merchant.secret if merchant else ""
        data = self._order_data(order)
        content: dict[str, Any] = {
            "mch_trade_no": data["mch_trade_no"],
            "out_order_no": data["out_order_no"],
            "transaction_id": data["transaction_id"],
            "total_fee": _to_fen(amount) if amount is not None else data["total_fee"],
            "attach": data["attach"],
            "trade_type": data["trade_type"],
            "pay_type": data["pay_type"],
            "bank_type": "OTHERS" if order.status == SUCCESS else "",
            "pay_time": data["pay_time"],
            "status": data["status"],
            "nonce_str": hashlib.md5(f"{order.trade_no}{self.state.clock.now()}".encode()).hexdigest(),
        }
        text = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
        sign = sim_notify_sign(text, "forged-" + secret if forge else secret)
        body = ('{"content":' + text + ',"sign":' + json.dumps(sign) + "}").encode("utf-8")
        return OutgoingNotification(method="POST", url=order.notify_url, body=body)
