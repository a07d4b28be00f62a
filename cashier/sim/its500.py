"""Simulated 站长付 its500: the wire protocol `cashier.gateways.its500` speaks.

Paths (below the `/its500` prefix; the real ones are the same below
admin.zhanzhangfu.com, the host every public client calls):
* `POST /order/createOrder` (form; seed 004): credentials in the `Payment-Key` /
  `Payment-Secret` headers, no signature. Answers code "10001" with a price lowered by
  a random 0.01..0.99 yuan (a seeded RNG, so runs repeat; never below 0.01 and never
  equal to another pending order's price of the same merchant) and, like the seed's
  sample, several answer keys with a stray trailing space. `zfbuseridcode` is a link
  to `/zfbuserid?zfbuserid=...&price=<amount to pay>` (an Alipay transfer with the
  amount filled in), unless the merchant has not set it up
  (`missing_codes[merchant_id]` holds "zfbuserid").
* `GET|POST /order/onlinePayFindResult?orderId=` (public clients): "10001" paid,
  "10002" not paid yet, "10003" expired or unknown. Answered without credentials, as
  the public demo page asks it; credential headers, right or wrong, change nothing.
* `GET /codes/<code id>/<wx|zfb|qq>.png`: the merchant's personal payment codes, real
  PNGs drawn with `qrcode` (its pypng writer) from made-up links, so the UI can show them.
* `GET /zfbuserid?...`: a stand-in for the page the `zfbuseridcode` link opens.

Orders live five minutes (what public demo pages count down). The notification is a
JSON POST, unsigned, exactly the seed's sample; `forge` changes nothing since there is
no signature to get wrong: the client must confirm every notification by a query.
Merchants can be put in a failing state for tests: `account_state[merchant_id] =
"10007"` (frozen), "10008" (no balance), "10009" / "10010" (callback problems).
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from cashier.sim.core import CLOSED, NOTPAY, SUCCESS, SimError, SimOrder, SimRefund
from cashier.sim.protocol import GatewaySim, OutgoingNotification, SimRequest, SimResponse

NAME = "its500"
QR_LIFETIME = 300.0
SEED = 500
FEN = Decimal("0.01")
PRICE_RE = re.compile(r"^\d+(\.\d{1,2})?$")

MESSAGES = {
    "10002": "下单失败，支付金额有误",
    "10003": "下单失败，支付金额格式错误",
    "10004": "下单失败，支付金额必须大于等于1元",
    "10005": "下单失败，AppKey或者AppSecret不合法",
    "10006": "下单失败，商户不存在，请联系客服",
    "10007": "下单失败，您的账户被冻结，请联系客服",
    "10008": "下单失败，您的账户余额不足",
    "10009": "下单失败，您还未设置回调接口",
    "10010": "下单失败，回调接口异常",
}
PAYTYPES = {"wx": "wechat", "ali": "alipay", "qq": "qq"}
NOTIFY_PAYTYPE = {"wechat": "0", "alipay": "1", "qq": "6"}
CODE_KINDS = {"wx": "wechat", "zfb": "alipay", "qq": "qq"}


def code_id(merchant_id: str) -> str:
    """Public id of a merchant's code images (never the AppKey itself in a URL)."""
    return hashlib.sha256(("its500-code:" + merchant_id).encode()).hexdigest()[:16]


def code_link(merchant_id: str, kind: str) -> str:
    """The made-up link inside a merchant's personal code image."""
    digest = hashlib.sha256((kind + ":" + merchant_id).encode()).hexdigest()
    if kind == "wx":
        return "wxp://f2f0" + digest[:40]
    if kind == "qq":
        return ("https://i.qianbao.qq.com/wallet/sqrcode.htm?m=tenpay&f=wallet&a=1&ac="
                + digest[:32].upper() + "&u=10000" + str(int(digest[:6], 16)))
    return "https://qr.alipay.com/fkx" + digest[:20]


def alipay_user_id(merchant_id: str) -> str:
    """A made-up 16-digit Alipay user id (2088...) for a merchant."""
    return "2088" + str(int(hashlib.sha256(("uid:" + merchant_id).encode()).hexdigest()[:16], 16))[:12].zfill(12)


class Its500Sim(GatewaySim):
    name = NAME

    def __init__(self, state) -> None:
        super().__init__(state)
        self.rng = random.Random(SEED)
        self.account_state: dict[str, str] = {}
        self.missing_codes: dict[str, set[str]] = {}  # merchant_id -> {"wx", "zfb", "qq", "zfbuserid"} not set up
        self.extras: dict[str, dict[str, str]] = {}  # orderId -> what the merchant sent
        self.answers: dict[str, dict[str, Any]] = {}  # orderId -> the createOrder answer given (tests)
        self.received: list[dict[str, Any]] = []  # what clients sent, for tests

    def op_of(self, request: SimRequest) -> str:
        if request.path == "/order/createOrder":
            return "create"
        if request.path == "/order/onlinePayFindResult":
            return "query"
        if request.path.startswith("/codes/"):
            return "code_image"
        if request.path == "/zfbuserid":
            return "userid_page"
        return "unknown"

    # -- helpers ------------------------------------------------------------------
    @staticmethod
    def _header(request: SimRequest, name: str) -> str:
        for key, value in request.headers.items():
            if key.lower() == name.lower():
                return value
        return ""

    @staticmethod
    def _error(code: str, msg: str | None = None) -> SimResponse:
        return SimResponse.json({"msg": msg or MESSAGES.get(code, "失败"), "code": code})

    def _merchant(self, request: SimRequest):
        """(merchant, None) or (None, error answer) from the credential headers."""
        key = self._header(request, "Payment-Key")
        secret = self._header(request, "Payment-Secret")
        if not key or not secret:
            return None, self._error("10005")
        merchant = self.state.merchant(NAME, key)
        if merchant is None:
            return None, self._error("10006")
        if secret != merchant.secret:
            return None, self._error("10005")
        return merchant, None

    def handle(self, request: SimRequest) -> SimResponse:
        op = self.op_of(request)
        if op in ("create", "query"):
            with self.state.lock:
                self.received.append({"path": request.path, "method": request.method, "fields": request.params(),
                                      "headers": dict(request.headers)})
        if op == "create":
            if request.method != "POST":
                return SimResponse.text("Method Not Allowed", 405)
            return self._create(request)
        if op == "query":
            return self._query(request)
        if op == "code_image" and request.method == "GET":
            return self._code_image(request)
        if op == "userid_page" and request.method == "GET":
            return SimResponse(200, "<html><body>支付宝转账（模拟）：金额已填好</body></html>".encode("utf-8"),
                               "text/html; charset=utf-8")
        return SimResponse.text("Not Found", 404)

    # -- createOrder ------------------------------------------------------------------
    def _discounted(self, merchant_id: str, price: Decimal) -> Decimal | None:
        taken = set()
        with self.state.lock:
            for order in self.state.orders.values():
                if order.gateway == NAME and order.merchant_id == merchant_id:
                    self.state.refresh(order)
                    if order.status == NOTPAY:
                        taken.add(order.pay_amount)
        max_cut = min(99, int(price / FEN) - 1)
        for _ in range(200):
            candidate = price - FEN * self.rng.randint(1, max_cut)
            if candidate not in taken:
                return candidate
        for cut in range(1, max_cut + 1):
            if price - FEN * cut not in taken:
                return price - FEN * cut
        return None

    def _create(self, request: SimRequest) -> SimResponse:
        merchant, failure = self._merchant(request)
        if failure is not None:
            return failure
        state_code = self.account_state.get(merchant.merchant_id)
        if state_code:
            return self._error(state_code)
        fields = request.params()
        raw_price = (fields.get("price") or "").strip()
        if not raw_price:
            return self._error("10002")
        if not PRICE_RE.match(raw_price):
            return self._error("10003")
        price = Decimal(raw_price).quantize(FEN)
        if price < Decimal(1):
            return self._error("10004")
        paytype = (fields.get("paytype") or "").strip()
        wallet = PAYTYPES.get(paytype.lower(), "unknown")
        to_pay = self._discounted(merchant.merchant_id, price)
        if to_pay is None:
            return self._error("10002")
        order_id = "oderpay-" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        now = self.state.clock.now()
        order = SimOrder(
            gateway=NAME,
            merchant_id=merchant.merchant_id,
            out_trade_no=order_id,  # its500 has no merchant order number: the orderId is the key
            amount=price,
            pay_amount=to_pay,
            method=wallet if wallet != "unknown" else "merged",
            wallet=wallet,
            kind="qr",
            trade_no=order_id,
            created=now,
            expires_at=now + QR_LIFETIME,
            subject=fields.get("name", ""),
            notify_url=fields.get("callbackurl", ""),
            attach=fields.get("thirduid", ""),
        )
        try:
            self.state.create_order(order)
        except SimError:
            return self._error("10002")
        extras = {k: fields.get(k, "") for k in ("other", "remarks", "reurl", "thirduid")}
        extras["originalprice"] = raw_price
        self.extras[order_id] = extras
        host = self._header(request, "Host") or "127.0.0.1"
        base = f"http://{host}/{NAME}/codes/{code_id(merchant.merchant_id)}"
        missing = self.missing_codes.get(merchant.merchant_id, set())
        answer: dict[str, Any] = {
            "msg": "下单成功",
            "other": extras["other"],
            "code": "10001",
            "orderId": order_id,
            "price": format(to_pay, "f"),
            "name": order.subject,
            "reurl": extras["reurl"],
            "thirduid": extras["thirduid"],
            "originalprice ": raw_price,
            "remarks ": extras["remarks"],
        }
        if "wx" not in missing:
            answer["wxcode "] = base + "/wx.png"
        if "zfb" not in missing:
            answer["zfbcode "] = base + "/zfb.png"
            answer["qrcode "] = ("alipayqr://platformapi/startapp?saId=10000007&qrcode="
                                 + quote(code_link(merchant.merchant_id, "zfb"), safe=""))
        if "qq" not in missing:
            answer["qqcode "] = base + "/qq.png"
        if "zfbuserid" not in missing:
            answer["zfbuseridcode "] = (f"http://{host}/{NAME}/zfbuserid?zfbuserid={alipay_user_id(merchant.merchant_id)}"
                                        f"&price={format(to_pay, 'f')}")
        with self.state.lock:
            self.answers[order_id] = {k.strip(): v for k, v in answer.items()}
        return SimResponse.json(answer)

    # -- onlinePayFindResult ----------------------------------------------------------
    def _query(self, request: SimRequest) -> SimResponse:
        # No credentials needed: the public demo page asks with none.
        fields = request.params()
        if isinstance(request.json, dict):
            fields.update({k: str(v) for k, v in request.json.items()})
        order_id = (fields.get("orderId") or "").strip()
        order = self.state.get(NAME, order_id) if order_id else None
        if order is None:
            return self._error("10003", "订单不存在或已失效")
        if order.status == SUCCESS:
            extras = self.extras.get(order_id, {})
            return SimResponse.json({
                "msg": "支付成功",
                "code": "10001",
                "orderId": order_id,
                "price": format(order.pay_amount, "f"),
                "originalprice ": extras.get("originalprice", format(order.amount, "f")),
                "paytype": NOTIFY_PAYTYPE.get(order.wallet, "0"),
                "name": order.subject,
            })
        if order.status == CLOSED:
            return self._error("10003", "订单已失效")
        return self._error("10002", "订单未支付")

    # -- personal code images -----------------------------------------------------------
    def _code_image(self, request: SimRequest) -> SimResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or not parts[2].endswith(".png"):
            return SimResponse.text("Not Found", 404)
        kind = parts[2][:-4]
        if kind not in CODE_KINDS:
            return SimResponse.text("Not Found", 404)
        for merchant in self.state.merchants_of(NAME):
            if code_id(merchant.merchant_id) == parts[1]:
                break
        else:
            return SimResponse.text("Not Found", 404)
        import qrcode  # only when an image is asked for
        from qrcode.image.pure import PyPNGImage  # qrcode's own PNG writer (pypng): no Pillow

        image = qrcode.make(code_link(merchant.merchant_id, kind), box_size=8, border=2, image_factory=PyPNGImage)
        buffer = io.BytesIO()
        image.save(buffer)
        return SimResponse(200, buffer.getvalue(), "image/png")

    # -- notifications ------------------------------------------------------------------
    def notification(self, order: SimOrder, refund: SimRefund | None = None, *, forge: bool = False,
                     amount: Decimal | None = None) -> OutgoingNotification:
        extras = self.extras.get(order.out_trade_no, {})
        paid = amount if amount is not None else order.pay_amount
        return OutgoingNotification(method="POST", url=order.notify_url, json={
            "code": 10001,
            "msg": "回调成功",
            "other": extras.get("other", ""),
            "orderId": order.trade_no,
            "price": format(paid.quantize(FEN), "f"),
            "originalprice": extras.get("originalprice", format(order.amount, "f")),
            "name": order.subject,
            "reurl": extras.get("reurl", ""),
            "thirduid": extras.get("thirduid", ""),
            "paytype": NOTIFY_PAYTYPE.get(order.wallet, "0"),
            "remarks": extras.get("remarks", ""),
        })
