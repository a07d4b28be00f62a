"""epay 易支付 (彩虹易支付 family): self-hosted PHP gateways, V1 MD5 protocol.

Protocol (docs/gateways/epay.md: the provider's document and the public PHP sources of the family):
  * The base URL is the merchant's own epay site (https://pay.example.com): every
    site is a separate installation, so nothing is fixed but the file names.
  * Sign (V1): all parameters except `sign`, `sign_type` and empty values, sorted by
    name, `k=v` joined by `&` with no URL-encoding, the KEY appended bare, MD5,
    lowercase (`signing.epay_sign`). The server compares exactly.
  * `mapi.php` (POST, signed): creates an order and answers `code` 1 with `trade_no`
    and exactly one of `payurl` / `qrcode` / `urlscheme`. We encode `qrcode` when
    present, else `payurl` (made absolute: a site with no channel for the type answers
    a relative `./cashier.php?...`). An answer with only `urlscheme` (a mini-program
    jump) cannot be scanned at a counter: Rejected. A retry with the same
    out_trade_no and the same parameters gets the same order back (the server
    dedupes); different parameters are refused ("支付参数有变化").
  * 一码付 (merged): `submit.php` WITHOUT `type` opens the site's own cashier page,
    where the payer picks the wallet. The QR payload is that signed submit.php URL
    (GET query string); nothing is sent when it is built. The site creates the order
    only when the customer's phone opens the URL, so until then the order query
    answers "not found" (code -1) = not scanned yet (PayStatus.NOT_FOUND), and the
    engine keeps polling until the QR expires. A wrong key is only discovered when
    the phone opens the page (the site shows "签名校验失败"): use check_connection.
  * `api.php?act=order` (GET): the merchant KEY travels in the query string. URLs are
    never logged (GatewayHttp logs paths only and strips query strings from httpx's
    own log lines) and never put into exception texts. `status` 0 unpaid, 1 paid,
    2 refunded (fully or partly), 3 frozen by the site (paid; funds held).
  * `api.php?act=refund` (POST pid, key, out_trade_no [, trade_no], money): success
    is `code` 0 on current servers (the seed says 1: both are accepted). Synchronous:
    a success answer means refunded, so `refund()` returns SUCCEEDED. Needs the
    merchant's refund switch ("商户未开启订单退款API接口" otherwise: Rejected).
  * `api.php?act=query`: merchant info, used by `check_connection`.
  * Notification: GET to notify_url, signed over exactly the received strings (money
    may arrive as "1" for 1.00). Only trade_status=TRADE_SUCCESS is paid. Reply
    "success".

What epay does NOT have, and what follows:
  * No close API and no expiry parameter: CLOSE is not a capability. An unpaid order
    stays "unpaid" at the site forever; `expires_at` is our own deadline.
  * No reverse API: REVERSE is not a capability (an unresolved micropay must be
    handed to a person, "needs checking").
  * No refund query and NO out_refund_no: a refund cannot be made idempotent at the
    gateway. Each refund request the site accepts is a new refund. The engine must
    NEVER auto-retry an epay refund whose outcome is unknown (timeout, dropped
    connection, 5xx): query the order instead (`status` 2 = refunded) and, if still
    in doubt, let a person decide. REFUND_QUERY is not a capability, and
    `limits.max_partial_refunds` is None (newer sites allow partial refunds up to
    the paid amount; older ones allow one refund per order: the site's answer says).

Decisions where the documents are silent (not confirmed):
  * 付款码 micropay: newer sites take `mapi.php` with `method=scan` and `auth_code`.
    彩虹易支付's V1 answer function has no branch for a payment-code result, so AFTER
    the channel charged it answers its default `code 1 + trade_no + payurl`; an old
    site that ignores `method=scan` answers the same form (charging nothing). So that
    form, and any code 1 without `status` 1 (paid) or `status` 0 (customer
    confirming), is an UnknownOutcome: query. `code` -2 (the channel's answer) is a
    definite decline only when its words say so (余额不足, 付款码已使用/无效/过期,
    ...); other -2 words are unknown. A -1 is a refusal only in the words of the
    site's own pre-charge checks (`is_refusal`): mapi.php prints what the channel
    plugin threw while charging as -1 too. An HTML page (`page_message`) saying
    支付方式(type)不存在 is a refusal (nothing reached a channel; use a QR); other
    pages are unknown, their words shown. Whether a site takes payment codes at all
    is found by `probe` (doctor), charging nothing, and kept on the profile
    (extra "scan"), never guessed from a live charge. See docs/refusals.md.
  * Refunds: only the site's own checks before the channel is asked are refusals;
    "退款失败：<channel words>" and anything unknown are UnknownOutcome.
  * Signing: a value that is empty once trimmed (PHP's trim) is left out, as current
    sites do; a notification signed the older way (keeping it) is accepted too.
  * Status 3 (frozen by the site) is PAID with `held` set: paid, money held.
  * "该订单已完成支付" on a create (a retry of an order that is paid meanwhile) is an
    UnknownOutcome, never a definite failure: the engine queries and finds it paid.
  * Error answers are classified by their words as well as their codes (the family's
    versions disagree on codes: mapi.php answers -1 for a bad signature on the
    public sources, -3 on others): 签名 / 密钥错误 -> BadSignature, 商户不存在 /
    不能为空 / 格式不正确 / 不合法 -> InvalidParameter, 频繁 -> RateLimited, anything
    else -> Rejected. HTTP 429 (a site behind a rate-limiting proxy) -> RateLimited.
  * out_trade_no: mapi.php allows `^[a-zA-Z0-9._\\-|]+$`, but newer api.php versions
    accept only `^[a-zA-Z0-9_.:-]{1,128}$` when querying or refunding, so we use the
    intersection `^[A-Za-z0-9._-]{6,64}$` (a "|" would make the order unqueryable).
  * Answers are parsed leniently: PHP notices printed before the JSON are skipped.
  * Older sites insert a new row each time submit.php is opened (newer ones reuse the
    unpaid order). On such a site, a merged code scanned twice makes two rows with one
    out_trade_no and the query may see the unpaid one; the payment notification still
    names the paid one. Nothing the client can do but report it.
  * `clientip` (required by mapi.php) is the profile's extra "clientip" or 127.0.0.1;
    submit.php's required `return_url` is the profile's extra "return_url" or the
    notify_url.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, NoReturn
from urllib.parse import quote, urlencode, urljoin, urlsplit


from cashier.gateways.base import (
    BadResponse,
    answer_amount,
    BadSignature,
    Capability,
    ConfigError,
    Gateway,
    GatewayError,
    GatewayLimits,
    HttpReply,
    IncomingRequest,
    InvalidParameter,
    ListedOrder,
    Method,
    Notification,
    NotificationError,
    NotSupported,
    OrderRef,
    PaymentState,
    PayStatus,
    Profile,
    QrOrder,
    RateLimited,
    RefundState,
    RefundStatus,
    Rejected,
    UnknownOutcome,
    Wallet,
    parse_china_time,
)
from cashier.gateways.http import GatewayHttp

if TYPE_CHECKING:
    import httpx
from cashier.gateways.signing import canonical, epay_sign, signature_equal
from cashier.i18n import define, tr
from cashier.money import format_yuan, parse_wire_amount

define({
    "epay.bad_pid": ("易支付商户ID必须是数字：{value}", "The epay merchant ID must be a number: {value}"),
    "epay.method_unsupported": ("易支付不支持此付款方式：{method}", "epay does not support this payment method: {method}"),
    "epay.bad_auth_code": ("无法识别的付款码", "Not a payment code this gateway can charge"),
    "epay.outcome_unknown": ("易支付返回：{reason}（结果未知，正在查询）",
                             "epay answered: {reason} (outcome unknown, querying)"),
    "epay.scan_answer_unknown": ("易支付对付款码返回了支付链接（{reason}），扣款结果未知，正在查询订单",
                                 "epay answered the payment code with a payment link ({reason}); outcome unknown, querying the order"),
    "epay.scheme_only": ("易支付只返回了小程序跳转链接，无法生成收款码：{link}",
                         "epay answered only a mini-program link, which cannot be shown as a QR: {link}"),
    "epay.type_missing": ("易支付站点未开通这种付款码的支付方式（{reason}），未扣款：请让顾客扫码支付",
                          "The epay site has no payment type for this code ({reason}); nothing was charged: "
                          "ask the customer to scan a QR code instead"),
    "epay.type_missing_qr": ("易支付站点未开通此支付方式：{reason}", "The epay site has not enabled this payment type: {reason}"),
    "epay.site_page": ("易支付站点返回了错误页面：{reason}（结果未知，正在查询）",
                       "The epay site answered with an error page: {reason} (outcome unknown, querying)"),
    "epay.refund_unknown": ("易支付退款结果未知：{reason}。请勿重复退款，请在易支付后台核对",
                            "epay refund outcome unknown: {reason}. Do not refund again: check the epay back office"),
    "epay.frozen": ("订单已被易支付站点冻结（已付款，资金暂扣）", "The epay site froze this order (paid; funds held)"),
    "epay.check_ok": ("易支付商户 {pid} 连接正常：余额 {money} 元，今日成交 {today} 笔",
                      "epay merchant {pid} reachable: balance ¥{money}, {today} paid orders today"),
    "epay.merchant_banned": ("商户已被易支付站点封禁（active=0）", "The epay site has banned this merchant (active=0)"),
    "epay.label_clientip": ("客户端 IP（可选，默认 127.0.0.1）", "Client IP (optional, default 127.0.0.1)"),
    "epay.label_return_url": ("一码付支付后跳转地址（可选，默认通知地址）",
                              "Page after a merged-QR payment (optional, default: the notify URL)"),
})


TYPE_OF_METHOD: dict[Method, str] = {Method.WECHAT: "wxpay", Method.ALIPAY: "alipay", Method.QQ: "qqpay"}
WALLET_OF_TYPE: dict[str, Wallet] = {
    "wxpay": Wallet.WECHAT,
    "alipay": Wallet.ALIPAY,
    "qqpay": Wallet.QQ,
    "bank": Wallet.UNIONPAY,
}
TYPE_OF_WALLET: dict[Wallet, str] = {w: t for t, w in WALLET_OF_TYPE.items()}

_LINK_FIELDS = ("payurl", "qrcode", "urlscheme", "html")

TRADE_NO_MIN = 6
TRADE_NO_MAX = 64
TRADE_NO_PATTERN = r"^[A-Za-z0-9._-]{6,64}$"
_PHP_FILE_RE = re.compile(r"/(submit|mapi|api|cashier)\.php$")

# Payment codes (counter-rules.md), to pick `type` when the engine did not say.
_AUTH_CODE_TYPES = (
    (re.compile(r"^1[0-5]\d{16}$"), "wxpay"),
    (re.compile(r"^(2[5-9]|30)\d{14,22}$"), "alipay"),
    (re.compile(r"^62\d{17}$"), "bank"),
    (re.compile(r"^91\d{16}$"), "qqpay"),
)

# The site's own checks, made before any order reaches a channel (mapi.php, submit.php
# and api.php of the 彩虹易支付 family): an answer in these words is a definite refusal.
_REFUSAL_WORDS = (
    "签名", "密钥", "RSA", "商户不存在", "商户ID", "PID不存在", "未传入任何参数", "不能为空", "格式不正确",
    "不合法", "封禁", "审核", "最大支付金额", "最小支付金额", "单笔最小限额", "单笔最大限额", "参数有变化",
    "未知的付款码类型", "实名认证", "联系QQ", "域名", "保证金", "禁止出售", "无法再发起支付", "安全验证",
    "并发量", "商户余额不足", "创建订单失败", "频繁", "No Act",
)
# api.php?act=refund's own checks, made before the channel is asked to refund.
_REFUND_REFUSALS = ("未开启", "不支持退款", "退款金额不能", "已退款", "已全额退款", "剩余可退款", "当前订单不存在",
                    "接口订单号不存在", "金额输入错误", "不支持API退款")
_MIN_AMOUNT_RE = re.compile(r"最小(?:支付金额|限额)\D{0,3}([0-9]{1,6}(?:\.[0-9]{1,2})?)")
_TYPE_MISSING_RE = re.compile(r"支付方式\(type\)不存在|支付方式不存在")


def is_refusal(msg: str) -> bool:
    """True when an epay error answer is one of the site's own pre-charge checks."""
    return any(w in msg for w in _REFUSAL_WORDS)


class _PageText(HTMLParser):
    """The visible text of a page, without scripts and styles, and its title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.in_title = False
        self.title: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "title":
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        elif tag == "title":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skip:
            self.text.append(data)


def page_message(text: str) -> str | None:
    """The message of an HTML error page ("站点提示信息 ... 支付方式(type)不存在"), or
    None when `text` is not an HTML page or shows no words."""
    if not re.search(r"<\s*(html|body|h[1-6]|p|div|br|b|title)\b", text[:4000], re.I):
        return None
    parser = _PageText()
    try:
        parser.feed(text[:200_000])
        parser.close()
    except Exception:  # a page too broken to read: no message
        return None
    words = " ".join(" ".join(parser.text).split())
    title = " ".join(" ".join(parser.title).split())
    for heading in filter(None, (title, "站点提示信息", "跳转提示")):
        if words.startswith(heading):
            words = words[len(heading):].strip()
    return words[:200] or None


# Words of a micropay answer: "still confirming", "definitely declined", "unknown".
_PAYING_WORDS = ("USERPAYING", "支付中", "输入密码", "输入支付密码", "等待用户")
_UNKNOWN_WORDS = ("SYSTEMERROR", "BANKERROR", "系统", "繁忙", "超时", "稍后", "网络", "异常", "未知", "查询")
_DECLINE_WORDS = ("余额不足", "付款码", "条码", "过期", "失效", "无效", "已使用", "已撤销", "限额", "超出",
                  "风控", "拒绝", "冻结", "不支持", "NOTENOUGH", "AUTHCODEEXPIRE", "AUTH_CODE_INVALID")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value).strip()


class EpayGateway(Gateway):
    name: ClassVar[str] = "epay"
    title_zh: ClassVar[str] = "易支付（彩虹易支付）"
    title_en: ClassVar[str] = "epay (self-hosted)"
    # The family passes its upstream channel's link through: WeChat (weixin://, a
    # personal code's wxp://), Alipay (https://qr.alipay.com, alipays://), QQ (https).
    qr_schemes = frozenset({"https", "weixin", "wxp", "alipays"})
    capabilities = frozenset({
        Capability.MERGED_QR,
        Capability.WECHAT_QR,
        Capability.ALIPAY_QR,
        Capability.QQ_QR,
        Capability.MICROPAY,
        Capability.QUERY,
        Capability.REFUND,
        Capability.NOTIFY_VERIFY,
        Capability.CHECK_CONNECTION,
        Capability.LIST_ORDERS,
    })
    unverified = frozenset({Capability.MICROPAY})
    # NB: epay refunds are NOT idempotent (no out_refund_no, no refund query): never
    # auto-retry one whose outcome is unknown; query the order (status 2 = refunded).
    limits = GatewayLimits(
        min_amount=Decimal("0.01"),
        max_amount=Decimal("100000.00"),
        query_interval=3.0,  # no documented limit: be gentle with a small self-hosted site
        refund_query_interval=5.0,  # no refund query: unused
        refund_first_query_after=5.0,  # unused
        refund_spacing={},
        max_partial_refunds=None,
        refund_max_age_days=None,
        default_qr_expiry=300.0,
        min_qr_expiry=60.0,
        max_qr_expiry=1800.0,
        trade_no_pattern=TRADE_NO_PATTERN,
        trade_no_min_length=TRADE_NO_MIN,
        trade_no_max_length=TRADE_NO_MAX,
    )
    profile_fields = ("base_url", "merchant_id", "notify_url")
    # Optional settings kept in Profile.extra, with their labels (message keys).
    profile_extra_fields: ClassVar[dict[str, str]] = {
        "clientip": "epay.label_clientip",
        "return_url": "epay.label_return_url",
    }
    default_base_url = ""  # self-hosted: every merchant has their own site

    def __init__(self, profile: Profile, secret: str, *, http=None, clock: Callable[[], float] | None = None) -> None:
        base = profile.base_url.strip().rstrip("/")
        site = _PHP_FILE_RE.sub("", base)
        if http is None and site != base and secret:
            # A pasted ".../submit.php" or ".../mapi.php": the site is the folder.
            http = GatewayHttp(site, secrets=(secret,))
        super().__init__(profile, secret, http=http)
        pid = profile.merchant_id.strip()
        if not pid.isdigit():
            raise ConfigError("epay.bad_pid", value=profile.merchant_id)
        self._pid = pid
        self._clock = clock or time.time
        self._apply(profile.extra)  # {"scan": "no"}: found by doctor, never guessed from a charge

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    def sign(self, fields: Mapping[str, object]) -> str:
        """The V1 signature of `fields` (sign / sign_type / empty values left out)."""
        return epay_sign(fields, self._secret)

    def signed(self, fields: Mapping[str, object]) -> dict[str, str]:
        out = {k: _text(v) for k, v in fields.items() if v is not None}
        out["sign"] = self.sign(out)
        out["sign_type"] = "MD5"
        return out

    @staticmethod
    def signing_string(fields: Mapping[str, object]) -> str:
        """What is hashed, without the key (for tests and support)."""
        return canonical(fields)

    def _expires_at(self, expire_seconds: float) -> datetime:
        seconds = float(expire_seconds) if expire_seconds else self.limits.default_qr_expiry
        seconds = max(self.limits.min_qr_expiry, min(self.limits.max_qr_expiry, seconds))
        return self._now() + timedelta(seconds=seconds)

    @staticmethod
    def _name(subject: str) -> str:
        name = " ".join((subject or "").split())
        return name or "收款"

    def _clientip(self) -> str:
        return self.profile.extra.get("clientip") or "127.0.0.1"

    def _return_url(self) -> str:
        return self.profile.extra.get("return_url") or self.profile.notify_url

    # -- transport: lenient JSON (PHP notices may precede it), never a URL in a message
    def _call(self, method: str, path: str, *, operation: str, **kwargs: Any) -> dict[str, Any]:
        # GatewayHttp maps transport failures and HTTP 429 / 4xx / 5xx to typed errors.
        return self._parse(self.http.request(method, path, **kwargs), operation=operation)

    def _parse(self, response: httpx.Response, *, operation: str) -> dict[str, Any]:
        try:
            text = response.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadResponse(reason="not UTF-8") from None
        data: Any = None
        try:
            data = self.http.parse_json(text)
        except ValueError:
            start, end = text.find("{"), text.rfind("}")
            if 0 < start < end:  # "<br /><b>Notice</b>: ... {json}"
                try:
                    data = self.http.parse_json(text[start:end + 1])
                except ValueError:
                    data = None
        if data is None:
            message = page_message(text)
            if message:
                self._page(message, operation=operation)
            raise BadResponse(reason="not JSON: " + self.http.excerpt(text)) from None
        if not isinstance(data, dict):
            raise BadResponse(reason="JSON is not an object")
        return data

    def _page(self, message: str, *, operation: str) -> NoReturn:
        """An HTML page instead of JSON: the site's error page (sysmsg), which PHP code
        deep inside the site prints even for its JSON APIs. Its words are shown."""
        reason = self.http.redact(message)
        if _TYPE_MISSING_RE.search(message):
            # Channel::submit found no enabled payment type: nothing was created at the
            # channel, nothing charged.
            raise Rejected("epay.type_missing" if operation == "micropay" else "epay.type_missing_qr",
                           reason=reason, gateway_code="page")
        if is_refusal(message):
            self._fail(None, message, operation=operation)
        raise BadResponse("epay.site_page", reason=reason, gateway_code="page")

    def _fail(self, code: int | None, msg: str, *, operation: str) -> NoReturn:
        """Raise the typed error an error answer means (see the module docstring)."""
        reason = self.http.redact(msg or f"code {code}")
        gateway_code = None if code is None else str(code)
        if code == -5 or "No Act" in msg:
            raise NotSupported(operation=operation, reason=reason, gateway_code=gateway_code)
        if "频繁" in msg or "频率" in msg or "too many" in msg.lower():
            raise RateLimited(reason=reason, gateway_code=gateway_code)
        if "RSA" in msg:  # "该商户只能使用RSA签名类型": the site wants V2
            raise Rejected(reason=reason, gateway_code=gateway_code)
        if "签名" in msg or "密钥" in msg or "verify sign" in msg.lower():
            raise BadSignature(reason=reason, gateway_code=gateway_code)
        if any(w in msg for w in ("商户不存在", "商户ID不存在", "PID不存在", "商户ID不能为空", "不能为空", "格式不正确",
                                  "不合法", "金额输入错误", "最大支付金额", "最小支付金额", "单笔最小限额",
                                  "单笔最大限额")):
            raise InvalidParameter(reason=reason, gateway_code=gateway_code)
        if code == -3 and not msg:
            raise BadSignature(reason=reason, gateway_code=gateway_code)
        if code == -4 and not msg:
            raise InvalidParameter(reason=reason, gateway_code=gateway_code)
        raise Rejected(reason=reason, gateway_code=gateway_code)

    def _mapi_common(self, out_trade_no: str, money: str, subject: str, type_: str) -> dict[str, str]:
        return {
            "pid": self._pid,
            "type": type_,
            "out_trade_no": out_trade_no,
            "notify_url": self.profile.notify_url,
            "name": self._name(subject),
            "money": money,
            "clientip": self._clientip(),
            "device": "pc",
        }

    def _mapi(self, fields: Mapping[str, str], *, operation: str) -> dict[str, Any]:
        answer = self._call("POST", "mapi.php", operation=operation, data=self.signed(fields))
        code = _int_or_none(answer.get("code"))
        msg = _text(answer.get("msg"))
        if code == 1:
            return answer
        if "已完成支付" in msg:
            # A retry of an order paid meanwhile: not a failure, query it.
            raise UnknownOutcome("epay.outcome_unknown", reason=self.http.redact(msg), gateway_code=str(code))
        if code is None:
            raise BadResponse(reason="no code in the answer")
        if code == -2 and operation == "micropay":
            return answer  # the caller reads a channel answer of a payment code
        if operation == "micropay" and not (is_refusal(msg) or (code == -3 and not msg)):
            # mapi.php also answers code -1 with whatever the channel's plugin threw
            # while charging: only the site's own checks (made before any charge) are
            # definite refusals.
            raise UnknownOutcome("epay.outcome_unknown", reason=self.http.redact(msg or f"code {code}"),
                                 gateway_code=str(code))
        self._fail(code, msg, operation=operation)

    def _link(self, answer: Mapping[str, Any]) -> str:
        qrcode, payurl, scheme = (_text(answer.get(k)) for k in ("qrcode", "payurl", "urlscheme"))
        link = qrcode or payurl
        if not link:
            if scheme:
                raise Rejected("epay.scheme_only", link=scheme[:60], reason=scheme[:60])
            raise BadResponse(reason="code 1 without payurl / qrcode")
        if link.startswith("./") or link.startswith("/") or not urlsplit(link).scheme:
            link = urljoin(self.http.base_url + "/", link)
        if not urlsplit(link).scheme:
            raise BadResponse(reason="payment link is not a URL")
        return link

    # ---------------------------------------------------------------- create QR
    def create_qr(self, out_trade_no: str, amount: Decimal, method: Method, subject: str,
                  expire_seconds: float) -> QrOrder:
        self._check_trade_no(out_trade_no)
        money = format_yuan(self._wire_amount(amount))
        if method == Method.MERGED:
            return self._merged_qr(out_trade_no, amount, money, subject, expire_seconds)
        type_ = TYPE_OF_METHOD.get(method)
        if type_ is None:
            raise NotSupported("epay.method_unsupported", method=getattr(method, "value", method),
                               operation="create_qr")
        expires_at = self._expires_at(expire_seconds)
        answer = self._mapi(self._mapi_common(out_trade_no, money, subject, type_), operation="create")
        link = self._link(answer)
        trade_no = _text(answer.get("trade_no")) or None
        return QrOrder(out_trade_no=out_trade_no, qr=link, amount_to_pay=amount, expires_at=expires_at,
                       gateway_trade_no=trade_no, wallet=WALLET_OF_TYPE[type_])

    def merged_url(self, out_trade_no: str, money: str, subject: str) -> str:
        """The signed submit.php URL (no `type`): the site's cashier page, the payer
        picks the wallet there. Opening it creates the order at the site."""
        fields = self.signed({
            "pid": self._pid,
            "out_trade_no": out_trade_no,
            "notify_url": self.profile.notify_url,
            "return_url": self._return_url(),
            "name": self._name(subject),
            "money": money,
        })
        return self.http.base_url + "/submit.php?" + urlencode(fields, quote_via=quote)

    def _merged_qr(self, out_trade_no: str, amount: Decimal, money: str, subject: str,
                   expire_seconds: float) -> QrOrder:
        return QrOrder(out_trade_no=out_trade_no, qr=self.merged_url(out_trade_no, money, subject),
                       amount_to_pay=amount, expires_at=self._expires_at(expire_seconds),
                       gateway_trade_no=None, wallet=Wallet.UNKNOWN)

    # ----------------------------------------------------------------- micropay
    @staticmethod
    def _type_for_code(auth_code: str, wallet: Wallet) -> str:
        if wallet in TYPE_OF_WALLET:
            return TYPE_OF_WALLET[wallet]
        for pattern, type_ in _AUTH_CODE_TYPES:
            if pattern.match(auth_code):
                return type_
        raise InvalidParameter("epay.bad_auth_code", reason="auth_code")

    def micropay(self, out_trade_no: str, amount: Decimal, auth_code: str, wallet: Wallet,
                 subject: str) -> PaymentState:
        self._check_trade_no(out_trade_no)
        money = format_yuan(self._wire_amount(amount))
        code_text = (auth_code or "").strip()
        if not code_text.isdigit():
            raise InvalidParameter("epay.bad_auth_code", reason="auth_code")
        type_ = self._type_for_code(code_text, wallet)
        fields = self._mapi_common(out_trade_no, money, subject, type_)
        fields.update({"method": "scan", "auth_code": code_text})
        answer = self._mapi(fields, operation="micropay")
        code = _int_or_none(answer.get("code"))
        msg = _text(answer.get("msg"))
        trade_no = _text(answer.get("trade_no")) or None
        paid_wallet = WALLET_OF_TYPE.get(_text(answer.get("type")), WALLET_OF_TYPE.get(type_, Wallet.UNKNOWN))
        if code == -2:
            reason = self.http.redact(msg or "code -2")
            if any(w in msg for w in _PAYING_WORDS):
                return PaymentState(PayStatus.PENDING, out_trade_no, gateway_trade_no=trade_no, wallet=paid_wallet,
                                    reason=reason, user_paying=True)
            if msg and not any(w in msg for w in _UNKNOWN_WORDS) and any(w in msg for w in _DECLINE_WORDS):
                return PaymentState(PayStatus.FAILED, out_trade_no, gateway_trade_no=trade_no, wallet=paid_wallet,
                                    reason=reason)
            raise UnknownOutcome("epay.outcome_unknown", reason=reason, gateway_code="-2")
        # code 1
        status = _int_or_none(answer.get("status"))
        if status == 1:
            # No `money`: the engine books the amount asked. One that is there must read
            # strictly ("" is not "as asked").
            paid_amount = answer_amount(answer["money"], "money") if "money" in answer else None
            return PaymentState(PayStatus.PAID, out_trade_no, paid_amount=paid_amount,
                                paid_at=parse_china_time(_text(answer.get("endtime"))) or self._now(),
                                gateway_trade_no=trade_no, wallet=paid_wallet)
        if status == 0 and not any(_text(answer.get(k)) for k in _LINK_FIELDS):
            # The customer is confirming on the phone.
            return PaymentState(PayStatus.PENDING, out_trade_no, gateway_trade_no=trade_no, wallet=paid_wallet,
                                reason=self.http.redact(msg) or None, user_paying=True)
        # 彩虹易支付's V1 mapi.php has no answer form for a payment-code result: after the
        # channel has charged the customer it answers its default "code 1 + trade_no +
        # payurl". A site that ignored method=scan answers the same form (and charged
        # nothing). Only the order's status can tell: outcome unknown, query it.
        shown = ", ".join(k for k in _LINK_FIELDS if _text(answer.get(k))) or f"status {status}"
        raise UnknownOutcome("epay.scan_answer_unknown", reason="code 1, " + shown, gateway_code="1")

    # -------------------------------------------------------------------- query
    def query(self, order: OrderRef) -> PaymentState:
        no = order.out_trade_no
        answer = self._call("GET", "api.php", operation="query",
                            params={"act": "order", "pid": self._pid, "key": self._secret, "out_trade_no": no})
        code = _int_or_none(answer.get("code"))
        msg = _text(answer.get("msg"))
        if code == -1:  # "订单号不存在": not created yet (a merged code nobody opened)
            return PaymentState(PayStatus.NOT_FOUND, no, reason=self.http.redact(msg) or None)
        if code is None:
            raise BadResponse(reason="no code in the answer")
        if code != 1:
            self._fail(code, msg, operation="query")
        answered_no = _text(answer.get("out_trade_no"))
        if answered_no and answered_no != no:
            raise BadResponse(reason="the answer is about another order")
        status = _int_or_none(answer.get("status"))
        if status is None:
            raise BadResponse(reason="no status in the answer")
        money: Decimal | None = None
        if "money" in answer and (status in (1, 2, 3) or answer.get("money") not in (None, "")):
            # A paid order's `money` must read strictly: "" is not "as asked".
            money = answer_amount(answer.get("money"), "money")
        trade_no = _text(answer.get("trade_no")) or order.gateway_trade_no
        wallet = WALLET_OF_TYPE.get(_text(answer.get("type")), order.wallet)
        paid_at = parse_china_time(_text(answer.get("endtime")))
        if status == 0:
            return PaymentState(PayStatus.PENDING, no, gateway_trade_no=trade_no, wallet=wallet)
        if status == 1:
            return PaymentState(PayStatus.PAID, no, paid_amount=money, paid_at=paid_at, gateway_trade_no=trade_no,
                                wallet=wallet)
        if status == 2:
            return PaymentState(PayStatus.REFUNDED, no, paid_amount=money, paid_at=paid_at,
                                gateway_trade_no=trade_no, wallet=wallet)
        if status == 3:
            return PaymentState(PayStatus.PAID, no, paid_amount=money, paid_at=paid_at, gateway_trade_no=trade_no,
                                wallet=wallet, reason=tr("epay.frozen"), held=True)
        return PaymentState(PayStatus.UNKNOWN, no, paid_amount=money, gateway_trade_no=trade_no, wallet=wallet,
                            reason=f"status {status}")

    # ------------------------------------------------------------------- refund
    def refund(self, order: OrderRef, out_refund_no: str, amount: Decimal, reason: str) -> RefundState:
        """Synchronous and NOT idempotent (epay has no out_refund_no): `out_refund_no`
        is ours only. Never retry one whose outcome is unknown; query the order."""
        money = format_yuan(self._wire_amount(amount))
        data = {"pid": self._pid, "key": self._secret, "out_trade_no": order.out_trade_no, "money": money}
        if order.gateway_trade_no:
            data["trade_no"] = order.gateway_trade_no  # the site prefers it when both are given
        answer = self._call("POST", "api.php?act=refund", operation="refund", data=data)
        code = _int_or_none(answer.get("code"))
        msg = _text(answer.get("msg"))
        if code is None:
            raise BadResponse(reason="no code in the answer")
        if code not in (0, 1):
            if "退款失败" not in msg and (is_refusal(msg) or any(w in msg for w in _REFUND_REFUSALS)):
                self._fail(code, msg, operation="refund")
            # "退款失败：<the channel's words>" comes after the site called the channel,
            # which may have refunded (a timeout reads the same): unknown, and an epay
            # refund is never re-sent (not idempotent).
            raise UnknownOutcome("epay.refund_unknown", reason=self.http.redact(msg or f"code {code}"),
                                 gateway_code=str(code))
        # The documented answer is `code` and `msg` only: without `money`, success means
        # the site refunded the money we sent (its own checks ran on that figure). A
        # `money` that is there but cannot be read is NOT "as asked": BadAmount, and a
        # person checks; one that reads as another amount goes back as the site's
        # figure, for the engine to hand to a person.
        refunded = amount
        if "money" in answer:
            refunded = answer_amount(answer["money"], "money")
        return RefundState(RefundStatus.SUCCEEDED, out_refund_no, amount=refunded,
                           gateway_refund_no=_text(answer.get("refund_no")) or None,
                           reason=self.http.redact(msg) or None, finished_at=self._now())

    # ------------------------------------------------------------ notifications
    def verify_notification(self, request: IncomingRequest) -> Notification:
        fields = {str(k): str(v) for k, v in (request.query or {}).items()}
        if not fields.get("sign"):
            fields.update({str(k): str(v) for k, v in (request.form or {}).items()})
        for required in ("pid", "trade_no", "out_trade_no", "money", "trade_status", "sign"):
            if not fields.get(required):
                raise NotificationError("gw.notify_malformed", reason=f"missing {required}")
        sign_type = fields.get("sign_type", "MD5")
        if sign_type and sign_type.upper() != "MD5":
            raise NotificationError("gw.notify_malformed", reason=f"sign_type {sign_type}")
        # Over exactly the strings received: never re-format money ("1" stays "1").
        # A whitespace-only value is left out as current sites do; an older site that
        # signed it (its emptiness check did not trim) is accepted too.
        if not any(signature_equal(epay_sign(fields, self._secret, blank_is_empty=blank), fields["sign"],
                                   case_insensitive=True) for blank in (True, False)):
            raise NotificationError("gw.notify_bad_signature")
        if fields["pid"].strip() != self._pid:
            raise NotificationError("gw.notify_malformed", reason="pid is another merchant's")
        try:
            amount = parse_wire_amount(fields["money"])
        except ValueError:
            raise NotificationError("gw.notify_malformed", reason="money") from None
        return Notification(
            kind="payment",
            out_trade_no=fields["out_trade_no"],
            paid=fields["trade_status"] == "TRADE_SUCCESS",
            amount=amount,
            gateway_trade_no=fields["trade_no"],
            wallet=WALLET_OF_TYPE.get(fields.get("type", ""), Wallet.UNKNOWN),
        )

    def notification_reply(self, ok: bool) -> HttpReply:
        # The site retries until the body contains "success".
        return HttpReply(200, "success") if ok else HttpReply(400, "fail")

    # ------------------------------------------------------------- order list
    LIST_LIMIT_MAX = 50

    def list_orders(self, page: int, limit: int = 50) -> list[ListedOrder]:
        """`api.php?act=orders` (pid, key, limit ≤ 50, page from 1): the merchant's orders,
        newest first. Some sites page by `offset` instead: both are sent."""
        limit = max(1, min(self.LIST_LIMIT_MAX, int(limit)))
        page = max(1, int(page))
        answer = self._call("GET", "api.php", operation="list_orders",
                            params={"act": "orders", "pid": self._pid, "key": self._secret,
                                    "limit": limit, "page": page, "offset": limit * (page - 1)})
        code = _int_or_none(answer.get("code"))
        if code is None:
            raise BadResponse(reason="no code in the answer")
        if code != 1:
            self._fail(code, _text(answer.get("msg")), operation="list_orders")
        data = answer.get("data") or []
        if not isinstance(data, list):
            raise BadResponse(reason="data is not a list")
        listed = []
        for item in data:
            if not isinstance(item, dict) or not _text(item.get("out_trade_no")):
                raise BadResponse(reason="an order without out_trade_no")
            money: Decimal | None = None
            if item.get("money") not in (None, ""):
                try:
                    money = parse_wire_amount(item.get("money"))
                except ValueError:
                    raise BadResponse(reason="money is not an amount") from None
            status = _int_or_none(item.get("status"))
            pay = {0: PayStatus.PENDING, 1: PayStatus.PAID, 2: PayStatus.REFUNDED, 3: PayStatus.PAID}.get(
                status, PayStatus.UNKNOWN)
            listed.append(ListedOrder(
                out_trade_no=_text(item.get("out_trade_no")), gateway_trade_no=_text(item.get("trade_no")) or None,
                amount=money, status=pay, created_at=parse_china_time(_text(item.get("addtime"))),
                paid_at=parse_china_time(_text(item.get("endtime"))),
                wallet=WALLET_OF_TYPE.get(_text(item.get("type")), Wallet.UNKNOWN)))
        return listed

    # ---------------------------------------------------------------- probe
    def probe(self) -> dict[str, str]:
        """Does this site take payment codes (`method=scan`)? Asked once, by doctor,
        charging nothing: a payment-code request WITHOUT its auth_code. A site that
        knows method=scan refuses it at once ("付款码支付时授权码(auth_code)不能为空");
        an old site ignores method=scan and creates a plain QR order (0.01, or the
        site's minimum) that nobody is shown (it stays unpaid). Returns {"scan": "yes"
        | "no"} to keep on the profile, {} when the answers do not tell. A refused
        signature is raised (the key is wrong); other trouble is "does not tell"."""
        for type_ in ("alipay", "wxpay", "qqpay"):  # a type the site has switched on
            money = "0.01"
            for _ in range(2):  # a second time at the site's own minimum amount
                no = "PROBE" + format(int(self._clock() * 1000), "d")
                fields = self._mapi_common(no, money, "连接检测（不收款）", type_)
                fields["method"] = "scan"
                try:
                    answer = self._call("POST", "mapi.php", operation="probe", data=self.signed(fields))
                except BadSignature:
                    raise
                except Rejected as exc:
                    if exc.key == "epay.type_missing_qr":
                        break  # this type is switched off: try the next
                    return {}
                except GatewayError:
                    return {}
                code = _int_or_none(answer.get("code"))
                msg = _text(answer.get("msg"))
                if code != 1 and ("auth_code" in msg or "付款码" in msg):
                    found = {"scan": "yes"}
                elif code == 1:
                    found = {"scan": "no"}
                else:
                    if "签名" in msg:
                        self._fail(code, msg, operation="probe")
                    minimum = _MIN_AMOUNT_RE.search(msg)
                    if minimum and money == "0.01":
                        money = minimum.group(1)
                        continue
                    return {}
                self._apply(found)
                return found
        return {}

    def _apply(self, found: Mapping[str, str]) -> None:
        """What a probe found, applied to this client (and read from the profile)."""
        if found.get("scan") == "no":
            self.capabilities = type(self).capabilities - {Capability.MICROPAY}
        elif found.get("scan") == "yes":
            self.capabilities = type(self).capabilities

    # ---------------------------------------------------------------- check
    def check_connection(self) -> str:
        answer = self._call("GET", "api.php", operation="check_connection",
                            params={"act": "query", "pid": self._pid, "key": self._secret})
        code = _int_or_none(answer.get("code"))
        if code is None:
            raise BadResponse(reason="no code in the answer")
        if code != 1:
            self._fail(code, _text(answer.get("msg")), operation="check_connection")
        if _int_or_none(answer.get("active")) == 0:
            raise Rejected("epay.merchant_banned", reason="active=0")
        balance = _text(answer.get("money")) or "?"
        today = _text(answer.get("orders_today", answer.get("order_today"))) or "0"
        # The answer echoes the key: nothing of it but these fields is used.
        return tr("epay.check_ok", pid=self._pid, money=balance, today=today)
