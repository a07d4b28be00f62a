"""What a clerk types into the history search, read strictly into an OrderQuery (no Qt).

A customer says "I paid 12.34 around three o'clock": the clerk types `12.34 15:00` and
presses Enter. Words are separated by spaces, in any order:

- an amount has a decimal point or a currency sign: `12.34`, `12.`, `¥12`, `12元`;
- a time has a colon or a clock word: `15:00`, `15点`, `3点半`, `下午3点`, `3pm`; alone it
  means "around then" (an hour either side); `14:00-16:00` is a range;
- a day: `今天`/`today`, `昨天`/`yesterday`, `前天`, `12-01`, `2026-12-01`, `12月1日`;
  a time without a day means today;
- a wallet: `微信`/`wechat`, `支付宝`/`alipay`, `云闪付`/`unionpay`, `QQ`;
- anything else of 6 or more letters and digits is an order or refund number.

A bare number such as `12` could be an amount or a time, so it is refused with a hint
rather than guessed. Times are read on the 24-hour clock unless a word says otherwise.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal

from cashier.i18n import UserError, define, tr
from cashier.ledger.records import OrderQuery
from cashier.money import AmountError, format_yuan, parse_amount

define({
    "search.ambiguous": ("“{text}”可能是金额也可能是时间：金额请输入 {text}.00，时间请输入 {text}:00",
                         "'{text}' could be an amount or a time: type {text}.00 for an amount, {text}:00 for a time"),
    "search.unknown": ("看不懂“{text}”：可以输入订单号、金额（12.34）、时间（15:00）、日期（12-01）或钱包（微信）",
                       "Cannot read '{text}': type an order number, an amount (12.34), a time (15:00), "
                       "a day (12-01) or a wallet (WeChat)"),
    "search.twice": ("只能输入一个{what}", "Only one {what} at a time"),
    "search.bad_time": ("没有这个时间：{text}", "No such time: {text}"),
    "search.bad_day": ("没有这一天：{text}", "No such day: {text}"),
    "search.what.amount": ("金额", "amount"),
    "search.what.time": ("时间", "time"),
    "search.what.day": ("日期", "day"),
    "search.what.wallet": ("钱包", "wallet"),
    "search.what.number": ("订单号", "order number"),
    "search.all": ("全部订单", "All orders"),
    "search.number": ("订单号 {no}", "Order number {no}"),
    "search.amount": ("金额 ¥{amount}", "Amount ¥{amount}"),
    "search.today": ("今天", "today"),
    "search.yesterday": ("昨天", "yesterday"),
    "search.around": ("{time} 前后（{low}–{high}）", "around {time} ({low}–{high})"),
    "wallet.wechat": ("微信", "WeChat"),
    "wallet.alipay": ("支付宝", "Alipay"),
    "wallet.unionpay": ("云闪付", "UnionPay"),
    "wallet.qq": ("QQ 钱包", "QQ Wallet"),
})

AROUND = datetime.timedelta(hours=1)  # "15:00" alone: 14:00 to 16:00

WALLET_WORDS = {
    "微信": "wechat", "wechat": "wechat", "wx": "wechat", "weixin": "wechat",
    "支付宝": "alipay", "alipay": "alipay", "zfb": "alipay",
    "云闪付": "unionpay", "银联": "unionpay", "unionpay": "unionpay",
    "qq": "qq", "qq钱包": "qq",
}
WALLETS = ("wechat", "alipay", "unionpay", "qq")

_DAY_WORDS = {"今天": 0, "today": 0, "昨天": 1, "yesterday": 1, "前天": 2}
_NUMBER_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_BARE_RE = re.compile(r"^\d{1,5}$")
_TIME_RE = re.compile(
    r"^(?P<pre>上午|早上|中午|下午|晚上|am|pm)?"
    r"(?P<h>\d{1,2})(?:(?::|：)(?P<m>\d{2})|(?P<dian>点|时|h)(?P<half>半|(?P<m2>\d{1,2})分?)?)"
    r"(?P<post>am|pm)?$|"
    r"^(?P<pre3>上午|早上|中午|下午|晚上)?(?P<h3>\d{1,2})(?P<post3>am|pm)$"
)
_DAY_RES = (
    re.compile(r"^(?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})$"),
    re.compile(r"^(?P<mo>\d{1,2})[-/](?P<d>\d{1,2})$"),
    re.compile(r"^(?:(?P<y>\d{4})年)?(?P<mo>\d{1,2})月(?P<d>\d{1,2})[日号]?$"),
)
_RANGE_SPLIT = re.compile(r"^(.+?)(?:-|~|～|到|至|—|–)(.+)$")
_SEPARATORS = re.compile(r"[\s,，、;；]+")


@dataclass(frozen=True)
class ParsedSearch:
    query: OrderQuery
    description: str  # what was understood, in the clerk's language


def _time(text: str) -> datetime.time | None:
    m = _TIME_RE.match(text.lower())
    if not m:
        return None
    if m.group("h3") is not None:
        hour, minute = int(m.group("h3")), 0
        pre, post = m.group("pre3"), m.group("post3")
    else:
        hour = int(m.group("h"))
        if m.group("m") is not None:
            minute = int(m.group("m"))
        elif m.group("half"):
            minute = 30 if m.group("half") == "半" else int(m.group("m2"))
        else:
            minute = 0
        pre, post = m.group("pre"), m.group("post")
    afternoon = (pre in ("下午", "晚上", "pm") or post == "pm")
    morning = (pre in ("上午", "早上", "am") or post == "am")
    if afternoon or morning:
        if not 1 <= hour <= 12:
            raise UserError("search.bad_time", text=text)
        hour = hour % 12 + (12 if afternoon else 0)
    elif pre == "中午" and hour < 6:
        hour += 12
    if not (0 <= hour <= 24 and 0 <= minute <= 59) or (hour == 24 and minute):
        raise UserError("search.bad_time", text=text)
    return datetime.time(23, 59, 59) if hour == 24 else datetime.time(hour, minute)


def _day(text: str, today: datetime.date) -> datetime.date | None:
    lowered = text.lower()
    if lowered in _DAY_WORDS:
        return today - datetime.timedelta(days=_DAY_WORDS[lowered])
    for pattern in _DAY_RES:
        m = pattern.match(text)
        if m:
            year = int(m.group("y")) if m.groupdict().get("y") else today.year
            try:
                day = datetime.date(year, int(m.group("mo")), int(m.group("d")))
            except ValueError:
                raise UserError("search.bad_day", text=text) from None
            if not m.groupdict().get("y") and day > today:
                day = day.replace(year=year - 1)  # "12-31" typed on 1 January: last year's
            return day
    return None


def _amount(text: str) -> Decimal | None:
    if not any(c in text for c in ".．。¥￥元块"):
        return None
    cleaned = text.replace("块", "")
    try:
        return parse_amount(cleaned)
    except AmountError:
        if re.search(r"\d", cleaned) and not re.search(r"[A-Za-z]", cleaned):
            raise
        return None


def parse_search(text: str, *, now: float, wallet: str | None = None, status: str | None = None) -> ParsedSearch:
    """Read `text` (see the module's docstring) into a query; `wallet` and `status`
    come from the page's pickers and are overridden by a wallet word in the text.
    `now` (unix time) fixes what "today" is. Raises UserError for what it cannot read."""
    today = datetime.datetime.fromtimestamp(now).date()
    amount: Decimal | None = None
    number: str | None = None
    day: datetime.date | None = None
    times: tuple[datetime.time, datetime.time | None] | None = None
    said_wallet: str | None = None

    def once(current, what: str):
        if current is not None:
            raise UserError("search.twice", what=tr("search.what." + what))

    for token in (t for t in _SEPARATORS.split((text or "").strip()) if t):
        lowered = token.lower()
        if lowered in WALLET_WORDS:
            once(said_wallet, "wallet")
            said_wallet = WALLET_WORDS[lowered]
            continue
        found_day = _day(token, today)
        if found_day is not None:
            once(day, "day")
            day = found_day
            continue
        found_time = _time(token)
        if found_time is None:
            split = _RANGE_SPLIT.match(token)
            if split and not _day(token, today):
                first, second = _time(split.group(1)), _time(split.group(2))
                if first is None and second is not None and _BARE_RE.match(split.group(1)):
                    first = _time(split.group(1) + ("点" if "点" in split.group(2) else ":00"))
                if first is not None and second is not None:
                    once(times, "time")
                    times = (first, second)
                    continue
        else:
            once(times, "time")
            times = (found_time, None)
            continue
        found_amount = _amount(token)
        if found_amount is not None:
            once(amount, "amount")
            amount = found_amount
            continue
        if _BARE_RE.match(token):
            raise UserError("search.ambiguous", text=token)
        if _NUMBER_RE.match(token):
            once(number, "number")
            number = token
            continue
        raise UserError("search.unknown", text=token)

    use_wallet = said_wallet or wallet
    if number is not None:
        return ParsedSearch(OrderQuery(number=number), tr("search.number", no=number))
    since = until = None
    parts: list[str] = []
    if amount is not None:
        parts.append(tr("search.amount", amount=format_yuan(amount)))
    if day is None and times is not None:
        day = today
    if day is not None:
        try:
            since, until = _bounds(day, times, today, parts)
        except (OverflowError, ValueError, OSError):  # 9999-12-31 has no next day, year 1 no local time
            raise UserError("search.bad_day", text=day.isoformat()) from None
    if use_wallet is not None:
        parts.append(tr("wallet." + use_wallet) if use_wallet in WALLETS else use_wallet)
    query = OrderQuery(amount=amount, since=since, until=until, wallet=use_wallet, status=status)
    return ParsedSearch(query, " · ".join(parts) if parts else tr("search.all"))


def _bounds(day: datetime.date, times, today: datetime.date, parts: list[str]) -> tuple[float, float]:
    """Unix times of the searched span of `day` (local time); appends its description."""
    start = datetime.datetime.combine(day, datetime.time())
    end = start + datetime.timedelta(days=1)
    day_text = (tr("search.today") if day == today
                else tr("search.yesterday") if day == today - datetime.timedelta(days=1)
                else day.isoformat())
    if times is None:
        since, until = start.timestamp(), end.timestamp()
        parts.append(day_text)
    else:
        first, second = times
        if second is None:
            centre = datetime.datetime.combine(day, first)
            low, high = max(centre - AROUND, start), min(centre + AROUND, end)
            parts.append(day_text + " " + tr("search.around", time=first.strftime("%H:%M"),
                                             low=low.strftime("%H:%M"), high=high.strftime("%H:%M")))
        else:
            low = datetime.datetime.combine(day, first)
            high = datetime.datetime.combine(day, second)
            if high <= low:
                raise UserError("search.bad_time", text=f"{first.strftime('%H:%M')}–{second.strftime('%H:%M')}")
            parts.append(f"{day_text} {low.strftime('%H:%M')}–{high.strftime('%H:%M')}")
        since, until = low.timestamp(), high.timestamp()
    return since, until
