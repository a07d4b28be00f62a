"""Reading what a clerk types into the history search."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from cashier.history_search import parse_search
from cashier.i18n import UserError

NOW = datetime.datetime(2026, 12, 1, 15, 20).timestamp()  # a Tuesday afternoon, local time


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> float:
    return datetime.datetime(year, month, day, hour, minute).timestamp()


def test_amount_around_three_oclock():
    parsed = parse_search("12.34 15:00", now=NOW)
    q = parsed.query
    assert q.amount == Decimal("12.34") and q.number is None
    assert (q.since, q.until) == (at(1, 14), at(1, 16))
    assert parsed.description == "金额 ¥12.34 · 今天 15:00 前后（14:00–16:00）"


@pytest.mark.parametrize("text, since, until", [
    ("14:00-16:30", at(1, 14), at(1, 16, 30)),
    ("14-16点", at(1, 14), at(1, 16)),
    ("下午3点", at(1, 14), at(1, 16)),
    ("3点半", at(1, 2, 30), at(1, 4, 30)),
    ("3pm", at(1, 14), at(1, 16)),
    ("3:30pm", at(1, 14, 30), at(1, 16, 30)),
    ("昨天", at(30, 0, month=11), at(1, 0)),
    ("yesterday 9:00", at(30, 8, month=11), at(30, 10, month=11)),
    ("11-30 0:30", at(30, 0, month=11), at(30, 1, 30, month=11)),
    ("2026-11-02", at(2, 0, month=11), at(3, 0, month=11)),
    ("11月2日", at(2, 0, month=11), at(3, 0, month=11)),
    ("12-25", at(25, 0, year=2025), at(26, 0, year=2025)),  # not yet this year: last year's
])
def test_times_and_days(text, since, until):
    q = parse_search(text, now=NOW).query
    assert (q.since, q.until) == (since, until)


def test_amount_forms_wallet_words_and_pickers():
    assert parse_search("¥12", now=NOW).query.amount == Decimal("12.00")
    assert parse_search("12元", now=NOW).query.amount == Decimal("12.00")
    assert parse_search("12.", now=NOW).query.amount == Decimal("12.00")
    q = parse_search("微信 8.50", now=NOW, wallet="alipay", status="paid").query
    assert (q.wallet, q.amount, q.status) == ("wechat", Decimal("8.50"), "paid")
    q = parse_search("", now=NOW, wallet="alipay").query
    assert (q.wallet, q.amount, q.since) == ("alipay", None, None)
    assert parse_search("", now=NOW).description == "全部订单"


def test_order_number_wins():
    parsed = parse_search("P0120261201152000000001", now=NOW)
    assert parsed.query.number == "P0120261201152000000001"
    assert "P0120261201152000000001" in parsed.description


@pytest.mark.parametrize("text, words", [
    ("12", "可能是金额也可能是时间"),  # an amount or a time? refused, not guessed
    ("12.345", "两位小数"),
    ("12.34 5.00", "只能输入一个金额"),
    ("25:00", "没有这个时间"),
    ("13pm", "没有这个时间"),
    ("16:00-14:00", "没有这个时间"),
    ("02-30", "没有这一天"),
    ("吃饭", "看不懂"),
])
def test_what_cannot_be_read_is_refused_plainly(text, words):
    with pytest.raises(UserError) as raised:
        parse_search(text, now=NOW)
    assert words in raised.value.message("zh_CN")
    assert raised.value.message("en")


def test_english_description():
    from cashier import i18n

    i18n.set_language("en")
    try:
        assert parse_search("12.34 15:00 wechat", now=NOW).description == (
            "Amount ¥12.34 · today around 15:00 (14:00–16:00) · WeChat")
    finally:
        i18n.set_language("zh_CN")
