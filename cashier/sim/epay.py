"""Simulated epay 易支付 site (彩虹易支付 family, V1 MD5), below /epay/.

Speaks what the public PHP sources of the family speak (docs/gateways/epay.md):
  * `mapi.php` (GET or POST, signed over every received parameter but sign, sign_type
    and empty ones): code 1 + trade_no + exactly one of payurl / qrcode / urlscheme;
    validation errors are code -1 with the site's words ("签名校验失败，请返回重试！",
    "订单号(out_trade_no)格式不正确", ...), channel errors code -2. The same
    out_trade_no with the same parameters reuses the unpaid order; different ones are
    refused ("支付参数有变化"), a paid one too ("已完成支付"). With `method=scan` and
    `auth_code` (newer sites) it charges a payment code through the SimState
    micropay behaviours: code 1 + status 1 (paid) or status 0 (the customer is
    confirming), code -2 + the channel's words for a decline or a system error.
  * `submit.php` (GET or POST, signed; `type` optional, return_url required): opening
    it creates the order (or reuses the unpaid one) and shows the site's cashier page
    (HTML) where the payer picks a wallet; errors are HTML pages with the message.
    `cashier.php?trade_no=..&type=wxpay&pay=1` is the simulated payer paying there.
  * `api.php?act=query|order|orders|refund` with pid + key in clear (the key in the
    query string for GETs): -3 "商户ID不存在" / "商户密钥错误", -1 "订单号不存在",
    -4 "订单号不能为空", -2 "商户未开启订单退款API接口", -5 "No Act!". Refunds are
    synchronous, answer code 0 (`refund_success_code`, 1 like the seed if set), and
    have no out_refund_no: every accepted request is a new refund.
  * No close, no reverse, no refund query, no expiry parameter. The channel's QR
    stops being payable after `order_ttl` seconds (default 30 minutes); the site
    still reports such an order as unpaid (status 0), as a real site does.
  * Payment notifications are GETs to notify_url with pid, trade_no, out_trade_no,
    type, name, money, trade_status, [param,] sign, sign_type=MD5; money as PHP
    prints a float ("1" for 1.00) unless `notify_money_style` is "db" ("1.00").

Knobs for tests and the demo (attributes of the instance, `sim.gateways["epay"]`):
order_ttl, rate_interval (seconds between two calls of one op per merchant, 0 = no
limit; a too-fast call gets HTTP 429 like a site behind a rate-limiting proxy),
user_refund (the site-wide refund switch), scan_supported (False = an older site that
ignores method=scan), scan_reply ("status": answers a payment code with code 1 and a
`status`, as some forks do; "echojson": 彩虹易支付 V1's real form, code 1 + trade_no +
payurl after the charge, because its `Payment::echoJson` has no branch for it),
disabled_types (types switched off in the admin: mapi.php answers the HTML page
"支付方式(type)不存在", as the real site does from deep inside its PHP),
pages_after_charge (messages: the next payment codes are charged, then answered with a
PHP error page), errors_after_charge (the same, answered as code -1 with the words
mapi.php's catch around the channel plugin prints), paid_status_lag (seconds a charged payment-code order still shows status 0: the real
site's Alipay channel marks it paid only when Alipay's own notice arrives), link_field (which answer field carries each type's link),
refund_success_code, refund_money (the refund answer's `money` as printed), notify_money_style, banned (merchant ids), frozen (out_trade_nos,
status 3), max_money, min_money.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from cashier.gateways.signing import epay_sign, signature_equal
from cashier.sim.core import (
    CLOSED,
    NOTPAY,
    PAYERROR,
    REFUND_FAILED,
    SUCCESS,
    USERPAYING,
    Merchant,
    SimError,
    SimOrder,
    SimRefund,
)
from cashier.sim.protocol import GatewaySim, OutgoingNotification, SimRequest, SimResponse

FEN = Decimal("0.01")
DEFAULT_ORDER_TTL = 30 * 60.0
REUSE_WINDOW = 864000.0  # the site reuses an unpaid order number for 10 days

TYPE_WALLET = {"wxpay": "wechat", "alipay": "alipay", "qqpay": "qq", "bank": "unionpay"}
WALLET_TYPE = {w: t for t, w in TYPE_WALLET.items()}
TYPE_TITLE = {"wxpay": "微信支付", "alipay": "支付宝", "qqpay": "QQ钱包", "bank": "云闪付"}

_OUT_TRADE_NO_RE = re.compile(r"^[a-zA-Z0-9._\-|]+$")  # mapi.php / submit.php
_API_TOKEN_RE = re.compile(r"^[a-zA-Z0-9_.:-]{1,128}$")  # newer api.php order / refund
_MONEY_RE = re.compile(r"^[0-9.]+$")
_REFUND_MONEY_RE = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")
_AUTH_CODE_RE = re.compile(r"^\d{16,24}$")

RATE_LIMITED_OPS = ("create", "micropay", "query", "refund", "balance", "orders")


@dataclass
class EpayOrderInfo:
    """What the site keeps about an order beyond the shared books."""

    type: str  # "" until the payer picked a wallet on the cashier page
    name: str
    return_url: str = ""
    param: str = ""
    clientip: str = ""
    link: str = ""
    link_type: str = ""
    api_trade_no: str = ""
    buyer: str = ""
    via: str = "mapi"  # or "submit"


def _intval(value: Any) -> int:
    """PHP intval() of a request string: leading digits, else 0."""
    match = re.match(r"\s*([+-]?\d+)", str(value or ""))
    return int(match.group(1)) if match else 0


def _token(*parts: str, length: int = 16) -> str:
    return hashlib.md5("|".join(parts).encode("utf-8")).hexdigest()[:length]


def _beijing(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts + 8 * 3600))


def _php_float(value: Decimal) -> str:
    """How PHP prints a float: 1.00 -> "1", 1.50 -> "1.5", 0.01 -> "0.01"."""
    text = format(value.quantize(FEN).normalize(), "f")
    return text


def _truncate_name(name: str) -> str:
    raw = name.encode("utf-8")
    if len(raw) <= 127:
        return name
    return raw[:127].decode("utf-8", "ignore")  # mb_strcut: whole characters only


def _page(title: str, body: str) -> SimResponse:
    text = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body>{body}</body></html>")
    return SimResponse(200, text.encode("utf-8"), "text/html; charset=utf-8")


def _sysmsg(message: str) -> SimResponse:
    """The site's error page (sysmsg): HTTP 200 with the message."""
    return _page("站点提示信息", f"<div class=\"sysmsg\"><h3>站点提示信息</h3><p>{html.escape(message)}</p></div>")


REFUND_MONEY_ABSENT = object()  # EpaySim.refund_money: the refund answer has no `money`


class EpaySim(GatewaySim):
    name = "epay"

    def __init__(self, state) -> None:
        super().__init__(state)
        self.order_ttl = DEFAULT_ORDER_TTL
        self.rate_interval = 0.0
        self.user_refund = True
        self.scan_supported = True
        self.scan_reply = "status"
        self.disabled_types: set[str] = set()  # types switched off in the site's admin (an HTML error page)
        self.pages_after_charge: list[str] = []  # next payment codes: charged, then an HTML error page
        self.errors_after_charge: list[str] = []  # next payment codes: charged, then code -1 with these words
        self.paid_status_lag = 0.0
        self.link_field = {"wxpay": "qrcode", "alipay": "qrcode", "qqpay": "qrcode", "bank": "payurl"}
        self.refund_success_code = 0
        # The refund answer's `money` as printed (None: the amount refunded; REFUND_MONEY_ABSENT: left out).
        self.refund_money: Any = None
        self.notify_money_style = "php"
        self.banned: set[str] = set()
        self.frozen: set[str] = set()
        self.max_money = Decimal("100000.00")
        self.min_money = Decimal("0")  # the site's pay_minmoney (0: none)
        self.no_channel: set[str] = set()  # types the site has no channel for
        self.php_notice = False  # print a PHP notice before each JSON answer
        self.info: dict[str, EpayOrderInfo] = {}
        # (op, parameters) of every request handled, for tests (holds keys: memory only)
        self.received: list[tuple[str, dict[str, str]]] = []

    # ------------------------------------------------------------------ routing
    def op_of(self, request: SimRequest) -> str:
        path = request.path
        if path == "/mapi.php":
            return "micropay" if request.params().get("method") == "scan" else "create"
        if path == "/submit.php":
            return "submit"
        if path == "/cashier.php":
            return "cashier"
        if path == "/api.php":
            return {"order": "query", "refund": "refund", "query": "balance", "orders": "orders",
                    "settle": "settle"}.get(request.query.get("act", ""), "api")
        return "other"

    def handle(self, request: SimRequest) -> SimResponse:
        op = self.op_of(request)
        with self.state.lock:
            self.received.append((op, request.params()))
        if self.rate_interval > 0 and op in RATE_LIMITED_OPS:
            pid = request.params().get("pid", "")
            if not self.state.rate_ok(self.name, pid, op, self.rate_interval):
                return SimResponse.text("429 Too Many Requests", 429)
        if request.path == "/mapi.php":
            return self._mapi(request)
        if request.path == "/submit.php":
            return self._submit(request)
        if request.path == "/cashier.php":
            return self._cashier(request)
        if request.path == "/api.php":
            return self._api(request)
        return SimResponse.text("404 Not Found", 404)

    # ---------------------------------------------------------------- helpers
    def _site(self, request: SimRequest) -> str:
        host = request.headers.get("Host") or request.headers.get("host") or "127.0.0.1"
        return f"http://{host}/{self.name}"

    def _status(self, order: SimOrder) -> int:
        """epay's order status: 0 unpaid, 1 paid, 2 refunded, 3 frozen."""
        if order.status != SUCCESS:
            return 0
        if (order.kind == "micropay" and self.paid_status_lag and order.paid_at is not None
                and self.state.clock.now() < order.paid_at + self.paid_status_lag):
            return 0  # charged, but the channel's own notice has not reached the site yet
        if order.out_trade_no in self.frozen:
            return 3
        if order.refunded_amount(include_processing=False) > 0:
            return 2
        return 1

    def _order_of(self, merchant_id: str, *, out_trade_no: str = "", trade_no: str = "") -> SimOrder | None:
        order = (self.state.find_by_trade_no(self.name, trade_no) if trade_no
                 else self.state.get(self.name, out_trade_no))
        if order is None or order.merchant_id != merchant_id:
            return None
        return order

    def _verify(self, q: Mapping[str, str], *, need: tuple[str, ...]) -> tuple[Merchant | None, str | None]:
        """The checks mapi.php / submit.php make, in their order. (merchant, error)."""
        pid = _intval(q.get("pid"))
        if not pid:
            return None, "PID不存在"
        merchant = self.state.merchant(self.name, str(pid))
        if merchant is None:
            return None, "商户不存在！"
        if not signature_equal(epay_sign(q, merchant.secret), q.get("sign") or ""):
            return None, "签名校验失败，请返回重试！"
        if merchant.merchant_id in self.banned:
            return None, "商户已封禁，无法支付！"
        labels = {"out_trade_no": "订单号(out_trade_no)", "notify_url": "通知地址(notify_url)",
                  "return_url": "回调地址(return_url)", "name": "商品名称(name)", "money": "金额(money)",
                  "type": "支付方式(type)", "clientip": "用户IP地址(clientip)", "auth_code": "付款码支付时授权码(auth_code)"}
        for field in need:
            if not q.get(field):
                return None, labels[field] + "不能为空"
        money = q.get("money", "")
        try:
            value = Decimal(money)
        except InvalidOperation:
            value = Decimal(0)
        if not _MONEY_RE.match(money) or not value.is_finite() or value <= 0 or value != value.quantize(FEN):
            return None, "金额不合法"
        if value > self.max_money:
            return None, f"最大支付金额是{self.max_money}元"
        if self.min_money and value < self.min_money:
            return None, f"最小支付金额是{format(self.min_money.normalize(), 'f')}元"
        if not _OUT_TRADE_NO_RE.match(q["out_trade_no"]):
            return None, "订单号(out_trade_no)格式不正确"
        return merchant, None

    def _open_order(self, merchant: Merchant, q: Mapping[str, str], *, type_: str, kind: str,
                    via: str) -> tuple[SimOrder | None, str | None]:
        """Create the order, or reuse the unpaid one with the same number and parameters."""
        no = q["out_trade_no"]
        name = _truncate_name(q["name"])
        money = Decimal(q["money"]).quantize(FEN)
        state = self.state
        now = state.clock.now()
        with state.lock:
            old = state.get(self.name, no)
            if old is not None:
                if old.merchant_id != merchant.merchant_id:
                    return None, "创建订单失败，请返回重试！"
                info = self.info.setdefault(no, EpayOrderInfo(type=WALLET_TYPE.get(old.wallet, ""), name=old.subject))
                if now - old.created < REUSE_WINDOW:
                    if old.status == SUCCESS:
                        return None, f"该订单({no})已完成支付，请勿重复发起支付"
                    if (old.amount != money or info.name != name or old.notify_url != q.get("notify_url", "")
                            or info.return_url != q.get("return_url", "") or info.param != q.get("param", "")):
                        return None, f"该订单({no})支付参数有变化，请更换订单号重新发起支付"
                if type_ and type_ != info.type:
                    info.type = type_
                    old.wallet = TYPE_WALLET.get(type_, "unknown")
                    if old.method != "merged":
                        old.method = old.wallet
                if old.status == CLOSED and kind == "qr":
                    # The site calls the channel again: a fresh QR for the same order.
                    old.status = NOTPAY
                    old.expires_at = now + self.order_ttl
                return old, None
            wallet = TYPE_WALLET.get(type_, "unknown")
            order = SimOrder(
                gateway=self.name,
                merchant_id=merchant.merchant_id,
                out_trade_no=no,
                amount=money,
                pay_amount=money,
                method=("merged" if not type_ else ("micropay" if kind == "micropay" else wallet)),
                wallet=wallet,
                kind=kind,
                trade_no=state.new_trade_no(""),
                created=now,
                expires_at=(now + self.order_ttl) if kind == "qr" else None,
                subject=name,
                notify_url=q.get("notify_url", ""),
                attach=q.get("param", ""),
                auth_code=q.get("auth_code", "") if kind == "micropay" else "",
            )
            state.create_order(order)
            self.info[no] = EpayOrderInfo(type=type_, name=name, return_url=q.get("return_url", ""),
                                          param=q.get("param", ""), clientip=q.get("clientip", ""), via=via)
            return order, None

    def _link(self, request: SimRequest, order: SimOrder, type_: str) -> tuple[str, str]:
        """(answer field, link) for an order's channel QR, stable per order and type."""
        info = self.info[order.out_trade_no]
        if info.link and info.link_type == type_:
            return self.link_field.get(type_, "payurl"), info.link
        seed = order.trade_no + type_
        if type_ == "wxpay":
            link = "weixin://wxpay/bizpayurl?pr=" + _token(seed, length=7)
        elif type_ == "alipay":
            link = "https://qr.alipay.com/bax0" + _token(seed, length=20)
        elif type_ == "qqpay":
            link = "https://qpay.qq.com/qr/" + _token(seed, length=8)
        else:
            link = f"{self._site(request)}/pay/{type_}/{order.trade_no}/"
        field = self.link_field.get(type_, "payurl")
        if field == "payurl" and not link.startswith("http"):
            link = f"{self._site(request)}/pay/submit/{order.trade_no}/"
        elif field == "urlscheme":
            link = "weixin://dl/business/?t=" + _token(seed, length=12)
        info.link, info.link_type = link, type_
        return field, link

    def _json(self, payload: Any) -> SimResponse:
        response = SimResponse.json(payload)
        if self.php_notice:
            notice = b"<br />\n<b>Notice</b>:  Undefined index: sitename in <b>/www/wwwroot/pay/mapi.php</b>\n"
            response = SimResponse(response.status, notice + response.body, "text/html; charset=UTF-8")
        return response

    # ------------------------------------------------------------------ mapi.php
    def _mapi(self, request: SimRequest) -> SimResponse:
        if request.query.get("pid"):
            q = dict(request.query)
        elif request.form.get("pid"):
            q = dict(request.form)
        else:
            return self._json({"code": -4, "msg": "商户ID不能为空"})
        scan = self.scan_supported and q.get("method") == "scan"
        need = ("out_trade_no", "notify_url", "name", "money", "type", "clientip")
        if scan:
            need += ("auth_code",)
        merchant, error = self._verify(q, need=need)
        if error:
            return self._json({"code": -1, "msg": error})
        type_ = q["type"]
        if scan:
            return self._micropay(request, merchant, q, type_)
        order, error = self._open_order(merchant, q, type_=type_, kind="qr", via="mapi")
        if error:
            return self._json({"code": -1, "msg": error})
        if type_ in self.disabled_types:
            return _sysmsg("支付方式(type)不存在")  # Channel::submit, after the order row was written
        if type_ not in TYPE_WALLET or type_ in self.no_channel:
            # No channel for this type: the site sends the payer to its cashier page.
            return self._json({"code": 1, "payurl": f"./cashier.php?trade_no={order.trade_no}&sitename=&other=1"})
        field, link = self._link(request, order, type_)
        return self._json({"code": 1, "trade_no": order.trade_no, field: link})

    def _micropay(self, request: SimRequest, merchant: Merchant, q: Mapping[str, str], type_: str) -> SimResponse:
        order, error = self._open_order(merchant, q, type_=type_, kind="micropay", via="mapi")
        if error:
            return self._json({"code": -1, "msg": error})
        if type_ in self.disabled_types:
            return _sysmsg("支付方式(type)不存在")  # nothing reached a channel
        state = self.state
        with state.lock:
            if order.status == NOTPAY or (order.status in (PAYERROR, CLOSED) and order.auth_code != q["auth_code"]):
                order.auth_code = q["auth_code"]
                order.status = NOTPAY
                order.fail_reason = ""
                if not _AUTH_CODE_RE.match(order.auth_code):
                    order.status = PAYERROR
                    order.fail_reason = "付款码无效，请重新扫码"
                else:
                    state.start_micropay(order)
            state.refresh(order)
            behaviour = getattr(order, "_behaviour", "")
            if order.status == SUCCESS and self.errors_after_charge:
                # mapi.php's catch around the channel plugin: whatever it threw, code -1.
                return self._json({"code": -1, "msg": self.errors_after_charge.pop(0)})
            if order.status == SUCCESS and self.pages_after_charge:
                # PHP died after the channel charged (e.g. a database error while
                # recording it): the answer is an error page, the money has moved.
                return _page("Error", f"<b>Fatal error</b>: {html.escape(self.pages_after_charge.pop(0))}")
            if order.status == SUCCESS:
                if behaviour == "error_then_pay":
                    # The channel timed out towards the site, yet the money moved.
                    return self._json({"code": -2, "trade_no": order.trade_no, "msg": "系统繁忙，请稍后查询支付结果"})
                self._mark_channel(order)
                if self.scan_reply == "echojson":
                    return self._echojson_default(request, order)
                return self._json({"code": 1, "msg": "支付成功", "trade_no": order.trade_no, "status": 1,
                                   "type": type_, "money": format(order.amount, "f"),
                                   "endtime": _beijing(order.paid_at)})
            if order.status == USERPAYING:
                if self.scan_reply == "echojson":
                    # The real site's plugin waits for the customer itself, then answers
                    # its default form; the order is paid once the customer confirms.
                    return self._echojson_default(request, order)
                return self._json({"code": 1, "msg": "等待用户输入支付密码", "trade_no": order.trade_no,
                                   "status": 0})
            return self._json({"code": -2, "trade_no": order.trade_no, "msg": order.fail_reason or "支付失败"})

    def _echojson_default(self, request: SimRequest, order: SimOrder) -> SimResponse:
        """彩虹易支付 V1 `Payment::echoJson`: no branch for a payment-code result, so
        its default: code 1, trade_no and a payurl to the site's own submit page."""
        return self._json({"code": 1, "trade_no": order.trade_no,
                           "payurl": f"{self._site(request)}/pay/submit/{order.trade_no}/"})

    def _mark_channel(self, order: SimOrder) -> None:
        info = self.info.get(order.out_trade_no)
        if info is None or info.api_trade_no:
            return
        type_ = WALLET_TYPE.get(order.wallet, info.type or "wxpay")
        info.type = info.type or type_
        prefix = "4200" if type_ == "wxpay" else ("2024" if type_ == "alipay" else "9000")
        info.api_trade_no = prefix + order.trade_no[-20:]
        info.buyer = ("o" + _token(order.trade_no, "buyer", length=27)) if type_ == "wxpay" else (
            "2088" + str(int(_token(order.trade_no, "buyer", length=10), 16))[:12])

    # ---------------------------------------------------------------- submit.php
    def _submit(self, request: SimRequest) -> SimResponse:
        if request.query.get("pid"):
            q = dict(request.query)
        elif request.form.get("pid"):
            q = dict(request.form)
        else:
            return SimResponse(200, "你还未配置支付接口商户！".encode("utf-8"), "text/html; charset=utf-8")
        merchant, error = self._verify(q, need=("out_trade_no", "notify_url", "return_url", "name", "money"))
        if error:
            return _sysmsg(error)
        type_ = q.get("type", "")
        order, error = self._open_order(merchant, q, type_=type_ if type_ in TYPE_WALLET else "", kind="qr",
                                        via="submit")
        if error:
            return _sysmsg(error)
        if not type_ or type_ not in TYPE_WALLET:
            return self._cashier_page(order)
        field, link = self._link(request, order, type_)
        return _page("扫码支付", f"<p>请使用{TYPE_TITLE[type_]}扫码支付 ¥{order.amount}</p>"
                               f"<p class=\"qrcode\" data-{field}=\"{html.escape(link)}\">{html.escape(link)}</p>")

    def _cashier_page(self, order: SimOrder) -> SimResponse:
        choices = "".join(
            f"<li><a href=\"./cashier.php?trade_no={order.trade_no}&amp;type={t}&amp;pay=1\">{TYPE_TITLE[t]}</a></li>"
            for t in ("alipay", "wxpay", "qqpay"))
        return _page("收银台", f"<h3>收银台</h3><p>商品：{html.escape(order.subject)}</p>"
                             f"<p>订单号：<span id=\"trade_no\">{order.trade_no}</span></p>"
                             f"<p>金额：¥<span id=\"money\">{order.amount}</span></p>"
                             f"<ul class=\"types\">{choices}</ul><p>（模拟：点击即视为顾客已付款）</p>")

    def _cashier(self, request: SimRequest) -> SimResponse:
        trade_no = request.query.get("trade_no", "")
        order = self.state.find_by_trade_no(self.name, trade_no) if trade_no else None
        if order is None:
            return _sysmsg("该订单号不存在，请返回来源地重新发起请求！")
        type_ = request.query.get("type", "")
        if request.query.get("pay") and type_ in TYPE_WALLET:
            try:
                self.state.customer_pays(self.name, order.out_trade_no, TYPE_WALLET[type_])
            except SimError as exc:
                return _sysmsg(exc.message)
            info = self.info.get(order.out_trade_no)
            if info is not None:
                info.type = type_
            self._mark_channel(order)
            return _page("支付成功", f"<p>支付成功 ¥{order.amount}</p>")
        if order.status == SUCCESS:
            return _page("支付成功", "<p>该订单已完成支付</p>")
        return self._cashier_page(order)

    # ------------------------------------------------------------------- api.php
    def _api(self, request: SimRequest) -> SimResponse:
        act = request.query.get("act", "")
        if act == "query":
            return self._api_query(request.query)
        if act == "order":
            return self._api_order(request.query)
        if act == "orders":
            return self._api_orders(request.query)
        if act == "settle":
            merchant, error = self._auth(request.query)
            return error or self._json({"code": 1, "msg": "查询结算记录成功！", "data": []})
        if act == "refund":
            return self._api_refund(request.form)
        return self._json({"code": -5, "msg": "No Act!"})

    def _auth(self, q: Mapping[str, str]) -> tuple[Merchant | None, SimResponse | None]:
        pid = _intval(q.get("pid"))
        merchant = self.state.merchant(self.name, str(pid)) if pid else None
        if merchant is None:
            return None, self._json({"code": -3, "msg": "商户ID不存在"})
        if q.get("key", "") != merchant.secret:
            return None, self._json({"code": -3, "msg": "商户密钥错误"})
        return merchant, None

    def _merchant_orders(self, merchant_id: str) -> list[SimOrder]:
        with self.state.lock:
            orders = [o for (g, _), o in self.state.orders.items() if g == self.name and o.merchant_id == merchant_id]
            for order in orders:
                self.state.refresh(order)
            return orders

    def _api_query(self, q: Mapping[str, str]) -> SimResponse:
        merchant, error = self._auth(q)
        if error:
            return error
        orders = self._merchant_orders(merchant.merchant_id)
        now = self.state.clock.now()
        today = _beijing(now)[:10]
        lastday = _beijing(now - 86400)[:10]
        balance = Decimal("0.00")
        for order in orders:
            if order.status == SUCCESS:
                balance += order.pay_amount - order.refunded_amount(include_processing=False)
        paid = [o for o in orders if o.status == SUCCESS and o.paid_at is not None]
        return self._json({
            "code": 1,
            "pid": int(merchant.merchant_id),
            "key": merchant.secret,  # the real site echoes the key back
            "active": 0 if merchant.merchant_id in self.banned else 1,
            "money": format(balance.quantize(FEN), "f"),
            "type": 1,
            "account": "demo@example.com",
            "username": "演示商户",
            "orders": len(orders),
            "orders_today": sum(1 for o in paid if _beijing(o.paid_at)[:10] == today),
            "orders_lastday": sum(1 for o in paid if _beijing(o.paid_at)[:10] == lastday),
        })

    def _order_json(self, order: SimOrder) -> dict[str, Any]:
        info = self.info.get(order.out_trade_no) or EpayOrderInfo(type="", name=order.subject)
        status = self._status(order)
        if status:
            self._mark_channel(order)
        type_ = WALLET_TYPE.get(order.wallet) if (status or info.type) else None
        return {
            "trade_no": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "api_trade_no": info.api_trade_no or None,
            "type": type_,
            "pid": int(order.merchant_id),
            "addtime": _beijing(order.created),
            "endtime": _beijing(order.paid_at) if status else None,
            "name": info.name or order.subject,
            "money": format(order.amount, "f"),
            "param": info.param or None,
            "buyer": info.buyer or None,
            "status": status,
        }

    def _api_order(self, q: Mapping[str, str]) -> SimResponse:
        merchant, error = self._auth(q)
        if error:
            return error
        if q.get("trade_no"):
            if not _API_TOKEN_RE.match(q["trade_no"]):
                return self._json({"code": -4, "msg": "订单号不合法"})
            order = self._order_of(merchant.merchant_id, trade_no=q["trade_no"])
        elif q.get("out_trade_no"):
            if not _API_TOKEN_RE.match(q["out_trade_no"]):
                return self._json({"code": -4, "msg": "商户订单号不合法"})
            order = self._order_of(merchant.merchant_id, out_trade_no=q["out_trade_no"])
        else:
            return self._json({"code": -4, "msg": "订单号不能为空"})
        if order is None:
            return self._json({"code": -1, "msg": "订单号不存在"})
        answer = {"code": 1, "msg": "succ"}
        answer.update(self._order_json(order))
        answer["payurl"] = self.info[order.out_trade_no].link if order.out_trade_no in self.info else ""
        return self._json(answer)

    def _api_orders(self, q: Mapping[str, str]) -> SimResponse:
        merchant, error = self._auth(q)
        if error:
            return error
        limit = _intval(q.get("limit")) or 10
        limit = max(1, min(50, limit))
        page = _intval(q.get("page"))  # the documented form; older sites take offset
        offset = (page - 1) * limit if page >= 1 else max(0, _intval(q.get("offset")))
        orders = sorted(self._merchant_orders(merchant.merchant_id), key=lambda o: o.trade_no, reverse=True)
        if "status" in q:
            wanted = _intval(q.get("status"))
            orders = [o for o in orders if self._status(o) == wanted]
        data = [self._order_json(o) for o in orders[offset:offset + limit]]
        return self._json({"code": 1, "msg": "查询订单记录成功！", "count": len(data), "data": data})

    def _api_refund(self, form: Mapping[str, str]) -> SimResponse:
        if not self.user_refund:
            return self._json({"code": -4, "msg": "未开启商户后台自助退款"})
        merchant, error = self._auth(form)
        if error:
            return error
        if not merchant.refund_enabled:
            return self._json({"code": -2, "msg": "商户未开启订单退款API接口"})
        money_text = (form.get("money") or "").strip()
        if not _REFUND_MONEY_RE.match(money_text) or Decimal(money_text) <= 0:
            return self._json({"code": -1, "msg": "金额输入错误"})
        money = Decimal(money_text).quantize(FEN)
        if form.get("trade_no"):
            if not _API_TOKEN_RE.match(form["trade_no"]):
                return self._json({"code": -4, "msg": "订单号不合法"})
            order = self._order_of(merchant.merchant_id, trade_no=form["trade_no"])
        elif form.get("out_trade_no"):
            if not _API_TOKEN_RE.match(form["out_trade_no"]):
                return self._json({"code": -4, "msg": "商户订单号不合法"})
            order = self._order_of(merchant.merchant_id, out_trade_no=form["out_trade_no"])
        else:
            return self._json({"code": -4, "msg": "订单号不能为空"})
        if order is None:
            return self._json({"code": -1, "msg": "当前订单不存在！"})
        state = self.state
        with state.lock:
            state.refresh(order)
            if self._status(order) not in (1, 2, 3):
                return self._json({"code": -1, "msg": "该订单状态不支持退款！"})
            if money > order.pay_amount:
                return self._json({"code": -1, "msg": "退款金额不能大于订单金额"})
            refunded = order.refunded_amount()
            if refunded >= order.pay_amount:
                return self._json({"code": -1, "msg": "该订单已全额退款！"})
            if refunded > 0 and money > order.pay_amount - refunded:
                return self._json({"code": -1, "msg": "退款金额不能超过该订单剩余可退款金额！"})
            refund_no = state.new_trade_no("")
            try:
                refund, _ = state.refund(order, refund_no, money)
            except SimError as exc:
                return self._json({"code": -1, "msg": exc.message})
            # epay refunds synchronously: the answer is the outcome.
            refund.status = refund.final_status
            refund.done_at = state.clock.now()
            if refund.status == REFUND_FAILED:
                return self._json({"code": -1, "msg": "退款失败：渠道返回退款失败"})
        code = self.refund_success_code
        done = format(refund.amount, "f")  # what the site refunded (a careless one: not what was asked)
        answer: dict[str, Any] = {"code": code, "msg": f"退款成功！退款金额¥{done}", "refund_no": refund.refund_no,
                                  "out_refund_no": refund.out_refund_no, "trade_no": order.trade_no,
                                  "out_trade_no": order.out_trade_no, "uid": int(order.merchant_id),
                                  "money": done, "reducemoney": done}
        if self.refund_money is not None:  # a fork that prints `money` its own way (or not at all)
            answer["money"] = self.refund_money
            if self.refund_money is REFUND_MONEY_ABSENT:
                del answer["money"]
        return self._json(answer)

    # ------------------------------------------------------------- notifications
    def notification(self, order: SimOrder, refund: SimRefund | None = None, *, forge: bool = False,
                     amount: Decimal | None = None) -> OutgoingNotification:
        if refund is not None:
            raise SimError("not_supported", "易支付没有退款通知")
        merchant = self.state.merchant(self.name, order.merchant_id)
        if merchant is None:
            raise SimError("not_found", "merchant not found")
        info = self.info.get(order.out_trade_no) or EpayOrderInfo(type="", name=order.subject)
        self._mark_channel(order)
        money = amount if amount is not None else order.amount
        fields = {
            "pid": order.merchant_id,
            "trade_no": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "type": WALLET_TYPE.get(order.wallet, info.type or "alipay"),
            "name": info.name or order.subject,
            "money": _php_float(money) if self.notify_money_style == "php" else format(money.quantize(FEN), "f"),
            "trade_status": "TRADE_SUCCESS" if order.status == SUCCESS else "WAIT_BUYER_PAY",
        }
        if info.param:
            fields["param"] = info.param
        key = merchant.secret if not forge else "forged-" + merchant.secret[::-1]
        fields["sign"] = epay_sign(fields, key)
        fields["sign_type"] = "MD5"
        return OutgoingNotification(method="GET", url=order.notify_url, form=fields)
