"""Simulated Fengniao-style open gateway (docs/gateways/fengniao.md).

One URL (anything below /fengniao/), form POST of app_id, method, version, content,
sign_type, sign. The merchant is found by app_id, the signature checked over every
posted field but sign and sign_type (sorted, empty skipped, '&key=SECRET', MD5,
compared case-insensitively), then `content` is parsed (amounts must be JSON
numbers) and `method` dispatched. Answers are flat JSON objects with `error_code`
and `error_msg` (the seed's table 3.4) plus the seed's return fields.

Where the seed is silent the simulator decides (and the client must not rely on
more than it documents):
  * micropay answers carry `trade_status` (+ `trade_state_desc` for a decline);
  * `trade.reverse` of an order whose customer is still entering the password
    answers once with recall=Y (WeChat) / retry_flag=Y (Alipay) and does nothing;
  * a `trade.refund` re-sent with the same out_refund_no (and the same or no
    refund_fee) answers that refund's status; another amount or another order: 12003;
  * a flood guard in front of the gateway: one `trade.query` per order per second,
    else HTTP 429 (nothing of the kind is documented);
  * QR orders live 2 hours (no expiry parameter exists);
  * `fail_next(op)` makes the next request of that operation take effect and then
    answer error_code 1000 (system error): the "outcome unknown" case.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from cashier.gateways.fengniao import encode_content
from cashier.gateways.signing import canonical, md5_hex, signature_equal
from cashier.money import format_yuan
from cashier.sim.core import (
    NOTPAY,
    PAYERROR,
    REFUND_FAILED,
    REFUND_SUCCESS,
    SUCCESS,
    USERPAYING,
    Merchant,
    SimError,
    SimOrder,
    SimRefund,
)
from cashier.sim.protocol import GatewaySim, OutgoingNotification, SimRequest, SimResponse

GATEWAY = "fengniao"
CHINA = timezone(timedelta(hours=8))
QR_LIFETIME = 7200.0
QUERY_FLOOD_INTERVAL = 1.0

MESSAGES = {
    0: "成功",
    1000: "系统错误",
    10001: "无效的APPID",
    10002: "无效的签名",
    10003: "无效的商户号",
    10008: "无效的参数",
    12001: "订单号已存在",
    12002: "未找到订单信息",
    12003: "退款单号已存在",
    12004: "未找到退款信息",
    13001: "无权限访问该方法",
    14001: "订单还未支付",
    14500: "当前时间段不允许退款",
}

OPS = {
    "weixin.qr_code_pay": "create",
    "alipay.qr_code_pay": "create",
    "qq.unified": "create",
    "weixin.scan_qr_code_pay": "micropay",
    "alipay.scan_qr_code_pay": "micropay",
    "trade.query": "query",
    "trade.refund": "refund",
    "trade.reverse": "reverse",
    "merchant.balance": "balance",
}
QR_WALLET = {"weixin.qr_code_pay": "wechat", "alipay.qr_code_pay": "alipay", "qq.unified": "qq"}
MICROPAY_WALLET = {"weixin.scan_qr_code_pay": "wechat", "alipay.scan_qr_code_pay": "alipay"}
# Methods whose seed section lists merchant_no as required.
NEEDS_MERCHANT_NO = {"weixin.qr_code_pay", "alipay.qr_code_pay", "weixin.scan_qr_code_pay",
                     "alipay.scan_qr_code_pay", "trade.query", "merchant.balance"}
AUTH_CODE = {"wechat": re.compile(r"^1[0-5]\d{16}$"), "alipay": re.compile(r"^(2[5-9]|30)\d{14,22}$")}
TRADE_NO_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MAX_AMOUNT = Decimal("100000000")

REFUND_WORDS = {"PROCESSING": "REFUND_PROCESSING", REFUND_SUCCESS: "REFUND_SUCCESS", REFUND_FAILED: "REFUND_FAILER"}


class _Answer(Exception):
    """Stop handling and answer this (an error code, or a raw HTTP response)."""

    def __init__(self, code: int = 0, message: str = "", response: SimResponse | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message or MESSAGES.get(code, "")
        self.response = response


def _fail(code: int, detail: str = "") -> _Answer:
    base = MESSAGES.get(code, "")
    return _Answer(code, f"{base}:{detail}" if detail else base)


def sim_sign(fields: dict[str, str], secret: str) -> str:
    return md5_hex(canonical(fields) + "&key=" + secret)


class FengniaoSim(GatewaySim):
    name = GATEWAY

    def __init__(self, state) -> None:
        super().__init__(state)
        self.received: deque[dict[str, str]] = deque(maxlen=500)  # the latest forms as received (tests read them)
        self._reverse_asked: set[str] = set()
        self._system_error_ops: list[str] = []
        self._handlers: dict[str, Callable[[Merchant, dict, str], dict]] = {
            **{m: self._create for m in QR_WALLET},
            **{m: self._micropay for m in MICROPAY_WALLET},
            "trade.query": self._query,
            "trade.refund": self._refund,
            "trade.reverse": self._reverse,
            "merchant.balance": self._balance,
        }

    # -- control (tests) -------------------------------------------------------------
    def fail_next(self, op: str) -> None:
        """The next request of `op` takes effect, then answers error_code 1000."""
        with self.state.lock:
            self._system_error_ops.append(op)

    # -- protocol ------------------------------------------------------------------------
    def op_of(self, request: SimRequest) -> str:
        return OPS.get(request.params().get("method", ""), "other")

    def handle(self, request: SimRequest) -> SimResponse:
        form = request.params()
        with self.state.lock:
            self.received.append(dict(form))
            try:
                answer = self._dispatch(request.method, form)
            except _Answer as stop:
                if stop.response is not None:
                    return stop.response
                return self._json({"error_code": stop.code, "error_msg": stop.message})
        return self._json({"error_code": 0, "error_msg": MESSAGES[0], **answer})

    @staticmethod
    def _json(payload: dict) -> SimResponse:
        return SimResponse(200, encode_content(payload).encode("utf-8"), "application/json; charset=utf-8")

    def _dispatch(self, http_method: str, form: dict[str, str]) -> dict:
        if http_method != "POST":
            raise _fail(10008, "请使用POST")
        merchant = next((m for m in self.state.merchants_of(GATEWAY) if m.app_id and m.app_id == form.get("app_id")),
                        None)
        if merchant is None:
            raise _fail(10001)
        if not signature_equal(sim_sign(form, merchant.secret), form.get("sign"), case_insensitive=True):
            raise _fail(10002)
        if form.get("version") != "1.0" or form.get("sign_type", "").upper() != "MD5":
            raise _fail(10008, "version/sign_type")
        method = form.get("method", "")
        handler = self._handlers.get(method)
        if handler is None:
            raise _fail(13001)
        try:
            content = json.loads(form.get("content", ""), parse_float=Decimal)
        except ValueError:
            content = None
        if not isinstance(content, dict):
            raise _fail(10008, "content")
        merchant_no = content.get("merchant_no")
        if method in NEEDS_MERCHANT_NO and not merchant_no:
            raise _fail(10008, "merchant_no")
        if merchant_no and str(merchant_no) != merchant.merchant_id:
            raise _fail(10003)
        try:
            answer = handler(merchant, content, method)
        except SimError as exc:
            raise _fail(*self._sim_error_code(exc)) from None
        op = OPS[method]
        if op in self._system_error_ops:
            self._system_error_ops.remove(op)
            raise _fail(1000)
        return answer

    @staticmethod
    def _sim_error_code(exc: SimError) -> tuple[int, str]:
        return {
            "duplicate": (12001, ""),
            "not_found": (12002, ""),
            "refund_no_reused": (12003, ""),
            "not_paid": (14001, ""),
            "too_soon": (14500, exc.message),
            "too_many": (14500, exc.message),
            "refunded": (14500, exc.message),
            "too_much": (10008, exc.message),
        }.get(exc.code, (1000, exc.message))

    # -- field checks ------------------------------------------------------------------------
    @staticmethod
    def _required(content: dict, *keys: str) -> None:
        for key in keys:
            if content.get(key) in (None, ""):
                raise _fail(10008, key)

    @staticmethod
    def _number(content: dict, key: str, what: str) -> str:
        value = str(content.get(key) or "")
        if not TRADE_NO_RE.match(value):
            raise _fail(10008, what)
        return value

    @staticmethod
    def _money(content: dict, key: str) -> Decimal:
        value = content.get(key)
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise _fail(10008, key)  # the seed's type is a number, not a string
        value = Decimal(value)
        if not Decimal("0.01") <= value <= MAX_AMOUNT or value != value.quantize(Decimal("0.01")):
            raise _fail(10008, key)
        return value.quantize(Decimal("0.01"))

    def _order_of(self, merchant: Merchant, out_trade_no: str) -> SimOrder:
        order = self.state.get(GATEWAY, out_trade_no)
        if order is None or order.merchant_id != merchant.merchant_id:
            raise _fail(12002)
        return order

    def _new_order(self, merchant: Merchant, content: dict, *, wallet: str, kind: str) -> SimOrder:
        now = self.state.clock.now()
        order_name = str(content.get("order_name") or "")
        if len(order_name) > 64:
            raise _fail(10008, "order_name")
        amount = self._money(content, "total_amount")
        return SimOrder(
            gateway=GATEWAY, merchant_id=merchant.merchant_id,
            out_trade_no=self._number(content, "out_trade_no", "out_trade_no"),
            amount=amount, pay_amount=amount,
            method=wallet if kind == "qr" else "micropay", wallet=wallet, kind=kind,
            trade_no=self.state.new_trade_no("FN"), created=now,
            expires_at=now + QR_LIFETIME if kind == "qr" else None,
            subject=order_name, notify_url=str(content.get("notify_url") or ""),
            auth_code=str(content.get("auth_code") or ""),
        )

    def _stamp(self, ts: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        return datetime.fromtimestamp(ts, CHINA).strftime(fmt) if ts else ""

    # -- methods ------------------------------------------------------------------------------
    def _create(self, merchant: Merchant, content: dict, method: str) -> dict:
        wallet = QR_WALLET[method]
        self._required(content, "out_trade_no", "order_name", "total_amount", "notify_url")
        if wallet in ("wechat", "qq"):
            self._required(content, "spbill_create_ip")
        order = self.state.create_order(self._new_order(merchant, content, wallet=wallet, kind="qr"))
        token = hashlib.md5(order.trade_no.encode()).hexdigest()
        if wallet == "wechat":
            return {"out_trade_no": order.out_trade_no, "total_amount": order.amount,
                    "qr_code": f"weixin://wxpay/bizpayurl?pr={token[:7]}"}
        if wallet == "alipay":
            return {"out_trade_no": order.out_trade_no, "total_amount": order.amount,
                    "qr_code": f"https://qr.alipay.com/bax0{token[:20]}"}
        return {"out_trade_no": order.out_trade_no, "total_amount": order.amount,
                "code_url": f"https://qpay.qq.com/qr/{token[:8]}"}

    def _micropay(self, merchant: Merchant, content: dict, method: str) -> dict:
        wallet = MICROPAY_WALLET[method]
        self._required(content, "out_trade_no", "order_name", "total_amount", "auth_code")
        if wallet == "wechat":
            self._required(content, "spbill_create_ip")
        else:
            self._required(content, "notify_url")
            if content.get("scene") not in ("bar_code", "wave_code"):
                raise _fail(10008, "scene")
        order = self.state.create_order(self._new_order(merchant, content, wallet=wallet, kind="micropay"))
        if not AUTH_CODE[wallet].match(order.auth_code):
            order.status = PAYERROR
            order.fail_reason = "付款码无效，请刷新后重新扫码"
        else:
            self.state.start_micropay(order)
        if getattr(order, "_behaviour", "") == "error_then_pay":
            raise _fail(1000)
        answer: dict[str, Any] = {"out_trade_no": order.out_trade_no, "trade_no": order.trade_no,
                                  "total_amount": order.amount}
        if order.status == SUCCESS:
            answer["trade_status"] = "SUCCESS" if wallet == "wechat" else "TRADE_SUCCESS"
            answer.update(self._payer_fields(order))
            if wallet == "wechat":
                answer.update(fee_type="CNY", trade_type="MICROPAY",
                              pay_time=self._stamp(order.paid_at, "%Y%m%d%H%M%S"))
            else:
                answer["pay_time"] = self._stamp(order.paid_at)
        elif order.status == USERPAYING:
            answer["trade_status"] = "USERPAYING" if wallet == "wechat" else "WAIT_BUYER_PAY"
            answer["trade_state_desc"] = "需要用户输入支付密码"
        else:
            answer["trade_status"] = "PAYERROR" if wallet == "wechat" else "TRADE_CLOSED"
            answer["trade_state_desc"] = order.fail_reason or "支付失败"
        return answer

    def _payer_fields(self, order: SimOrder) -> dict[str, Any]:
        if order.wallet == "alipay":
            return {"buyer_logon_id": "159****5620", "buyer_user_id": "2088101117955611",
                    "receipt_amount": format_yuan(order.pay_amount),
                    "fund_bill_list": json.dumps([{"amount": format_yuan(order.pay_amount),
                                                   "fundChannel": "ALIPAYACCOUNT"}])}
        return {"bank_type": "CFT", "cash_fee": order.pay_amount, "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                "is_subscribe": "N"}

    def trade_status(self, order: SimOrder) -> str:
        """The order's status in its wallet's words."""
        refunds = [r for r in order.refunds if r.status != REFUND_FAILED]
        if order.wallet == "alipay":
            if order.status in (NOTPAY, USERPAYING):
                return "WAIT_BUYER_PAY"
            if order.status == SUCCESS:
                fully = order.refunded_amount(include_processing=False) >= order.pay_amount
                return "TRADE_CLOSED" if fully else "TRADE_SUCCESS"
            return "TRADE_CLOSED"
        if order.status == SUCCESS and refunds:
            return "REFUND"
        return order.status  # NOTPAY / USERPAYING / SUCCESS / CLOSED / REVOKED / PAYERROR

    def _query(self, merchant: Merchant, content: dict, method: str) -> dict:
        self._required(content, "out_trade_no")
        out_trade_no = str(content["out_trade_no"])
        if not self.state.rate_ok(GATEWAY, merchant.merchant_id, f"query:{out_trade_no}", QUERY_FLOOD_INTERVAL):
            raise _Answer(response=SimResponse.text("429 Too Many Requests", 429))
        order = self._order_of(merchant, out_trade_no)
        status = self.trade_status(order)
        paid = order.paid_at is not None
        answer: dict[str, Any] = {
            "out_trade_no": order.out_trade_no,
            "trade_no": order.trade_no,
            "net_receipt_amount": (order.pay_amount - order.refunded_amount(include_processing=False)) if paid
            else Decimal("0.00"),
            "total_amount": order.amount,
            "trade_status": status,
            "pay_time": self._stamp(order.paid_at),
        }
        if paid:
            answer.update(self._payer_fields(order))
        if order.wallet != "alipay":
            answer["trade_state_desc"] = {
                "USERPAYING": "需要用户输入支付密码", "PAYERROR": order.fail_reason, "NOTPAY": "订单未支付",
                "REVOKED": "订单已撤销", "CLOSED": "订单已关闭", "REFUND": "订单发生过退款",
            }.get(status, "支付成功")
        return answer

    def _refund(self, merchant: Merchant, content: dict, method: str) -> dict:
        self._required(content, "out_trade_no", "out_refund_no")
        out_refund_no = self._number(content, "out_refund_no", "out_refund_no")
        order = self._order_of(merchant, str(content["out_trade_no"]))
        if not merchant.refund_enabled:
            raise _fail(13001)
        if content.get("refund_fee") not in (None, ""):
            amount = self._money(content, "refund_fee")
        else:  # no refund_fee: the whole order (or, for a re-send, the refund as first sent)
            found = self.state.find_refund(GATEWAY, out_refund_no)
            if found is not None and found[0] is order:
                amount = found[1].amount
            else:
                amount = order.pay_amount - order.refunded_amount()
                if amount <= 0:
                    raise _fail(10008, "refund_fee")
        refund, _ = self.state.refund(order, out_refund_no, amount, notify_url=order.notify_url)
        self.state.refresh(order)
        return {
            "out_trade_no": order.out_trade_no,
            "trade_no": order.trade_no,
            "net_receipt_amount": order.pay_amount - order.refunded_amount(include_processing=False),
            "total_amount": order.amount,
            "refund_status": REFUND_WORDS[refund.status],
        }

    def _reverse(self, merchant: Merchant, content: dict, method: str) -> dict:
        self._required(content, "out_trade_no", "trade_no")
        order = self._order_of(merchant, str(content["out_trade_no"]))
        if str(content["trade_no"]) != order.trade_no:
            raise _fail(12002)
        flag = "recall" if order.wallet != "alipay" else "retry_flag"
        answer = {"out_trade_no": order.out_trade_no, "trade_no": order.trade_no}
        if order.status == USERPAYING and order.out_trade_no not in self._reverse_asked:
            # The customer is mid-password: the wallet asks for the reverse to be repeated.
            self._reverse_asked.add(order.out_trade_no)
            return {**answer, flag: "Y"}
        self.state.reverse_order(order)
        return {**answer, flag: "N"}

    def _balance(self, merchant: Merchant, content: dict, method: str) -> dict:
        total = Decimal("0.00")
        for order in list(self.state.orders.values()):
            if order.gateway == GATEWAY and order.merchant_id == merchant.merchant_id:
                self.state.refresh(order)
                if order.status == SUCCESS:
                    total += order.pay_amount - order.refunded_amount(include_processing=False)
        return {"balance": total, "freeze": Decimal("0.00"), "unliquidated": Decimal("0.00")}

    # -- notifications ------------------------------------------------------------------------
    def notification(self, order: SimOrder, refund: SimRefund | None = None, *, forge: bool = False,
                     amount: Decimal | None = None) -> OutgoingNotification:
        if refund is not None:
            raise SimError("not_supported", "this gateway sends no refund notification")
        merchant = self.state.merchant(GATEWAY, order.merchant_id)
        if merchant is None:
            raise SimError("not_found", "merchant not found")
        form: dict[str, str] = {
            "out_trade_no": order.out_trade_no,
            "trade_no": order.trade_no,
            "total_amount": format_yuan(amount if amount is not None else order.pay_amount),
            "pay_time": self._stamp(order.paid_at),
            "trade_status": self.trade_status(order),
        }
        if order.wallet == "alipay":
            form.update(buyer_logon_id="159****5620", buyer_pay_amount=format_yuan(order.pay_amount),
                        subject=order.subject, body=order.subject,
                        fund_bill_list=json.dumps([{"amount": format_yuan(order.pay_amount),
                                                    "fundChannel": "ALIPAYACCOUNT"}]))
        else:
            form.update(bank_type="CFT", cash_fee=format_yuan(order.pay_amount), fee_type="CNY",
                        is_subscribe="N", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                        trade_type="MICROPAY" if order.kind == "micropay" else "NATIVE")
        form["sign_type"] = "MD5"
        form["sign"] = sim_sign(form, merchant.secret + ("-forged" if forge else ""))
        return OutgoingNotification(method="POST", url=order.notify_url, form=form)
