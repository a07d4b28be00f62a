"""The day's report against a hand-built day, with local-time day boundaries."""

from __future__ import annotations

import datetime
import json
import os
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from cashier.ledger import ReportLine

from .helpers import drive, drive_refund, new_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
DAY = datetime.date(2024, 3, 15)


def at(day: datetime.date, hh: int, mm: int = 0, ss: float = 0, tz=SHANGHAI) -> float:
    whole = int(ss)
    micro = round((ss - whole) * 1_000_000)
    return datetime.datetime(day.year, day.month, day.day, hh, mm, whole, micro, tzinfo=tz).timestamp()


def pay(ledger, no, amount, paid_at, *, gateway="ltzf", wallet="wechat", state="paid", created=None):
    new_order(ledger, no, gateway=gateway, wallet=wallet, amount=Decimal(amount))
    # paid_at set on a reversed or needs_check order: the gateway said paid, then the
    # money went back (reversed) or a person must look (needs_check).
    drive(ledger, no, state, paid_at=paid_at, paid_amount=Decimal(amount))


def refund(ledger, no, order, amount, state, finished_at):
    ledger.create_refund(out_refund_no=no, out_trade_no=order, amount=Decimal(amount), reason="", actor="boss")
    if state is not None:
        drive_refund(ledger, no, state, finished_at=finished_at)


@pytest.fixture
def day_ledger(ledger, clock):
    prev, nxt = DAY - datetime.timedelta(days=1), DAY + datetime.timedelta(days=1)
    clock.now = at(DAY, 12) - 7 * 86400
    new_order(ledger, "H-old-pending", gateway="ltzf", wallet="unknown", method="merged")
    ledger.update_order("H-old-pending", state="pending", expect="sending")
    clock.now = at(DAY, 12)
    pay(ledger, "A-first-instant", "10.00", at(DAY, 0, 0, 0))
    pay(ledger, "B-last-instant", "5.50", at(DAY, 23, 59, 59.999))
    pay(ledger, "C-previous-day", "7.00", at(prev, 23, 59, 59.5), wallet="alipay")
    pay(ledger, "D-next-day", "3.00", at(nxt, 0, 0, 0), wallet="alipay")
    pay(ledger, "E-noon", "20.00", at(DAY, 12), gateway="yipay", wallet="alipay")
    pay(ledger, "F-reversed", "8.00", at(DAY, 13), gateway="yipay", wallet="alipay", state="reversed")
    pay(ledger, "G-needs-check", "4.00", at(DAY, 14), gateway="yipay", wallet="wechat", state="needs_check")
    refund(ledger, "RC-in-day", "C-previous-day", "2.00", "succeeded", at(DAY, 9))
    refund(ledger, "RA-next-day", "A-first-instant", "1.00", "succeeded", at(nxt, 0, 0, 0))
    refund(ledger, "RE-failed", "E-noon", "5.00", "failed", at(DAY, 15))
    refund(ledger, "RE-processing", "E-noon", "1.00", "processing", None)
    return ledger


def test_report_sums_a_hand_built_day(day_ledger):
    report = day_ledger.daily_report(DAY, tz=SHANGHAI)
    assert report.start == at(DAY, 0) and report.end - report.start == 86400
    assert [o.out_trade_no for o in report.unresolved_orders] == ["H-old-pending", "G-needs-check"]
    assert [r.out_refund_no for r in report.unresolved_refunds] == ["RE-processing"]
    D = Decimal
    assert report.lines == (
        ReportLine("ltzf", "alipay", 0, D("0.00"), 1, D("2.00")),
        ReportLine("ltzf", "wechat", 2, D("15.50"), 0, D("0.00")),
        ReportLine("yipay", "alipay", 1, D("20.00"), 0, D("0.00")),
        ReportLine("yipay", "wechat", 1, D("4.00"), 0, D("0.00")),
    )
    assert report.lines[0].net == D("-2.00")
    assert report.totals == ReportLine("", "", 4, D("39.50"), 1, D("2.00"))
    assert report.totals.net == D("37.50")


def test_neighbouring_days(day_ledger):
    before = day_ledger.daily_report(DAY - datetime.timedelta(days=1), tz=SHANGHAI)
    assert [(l.gateway, l.wallet, l.paid_count, l.paid_sum) for l in before.lines] == [
        ("ltzf", "alipay", 1, Decimal("7.00"))]
    after = day_ledger.daily_report(DAY + datetime.timedelta(days=1), tz=SHANGHAI)
    assert after.totals == ReportLine("", "", 1, Decimal("3.00"), 1, Decimal("1.00"))
    # the same instants fall on other days in another time zone
    utc = day_ledger.daily_report(DAY, tz=datetime.timezone.utc)
    assert utc.totals.paid_count == 4  # B (15:59 UTC), D (16:00 UTC), E, G; not A (16:00 the day before)


def test_report_to_dict(day_ledger):
    data = day_ledger.daily_report(DAY, tz=SHANGHAI).to_dict()
    assert list(data)[:2] == ["unresolved_orders", "unresolved_refunds"]
    assert data["totals"] == {"gateway": "", "wallet": "", "paid_count": 4, "paid_sum": "39.50",
                              "refund_count": 1, "refund_sum": "2.00", "net": "37.50"}
    assert data["unresolved_orders"][1]["paid_amount"] == "4.00"
    assert data["day"] == "2024-03-15"
    json.dumps(data)  # plain JSON


def test_empty_day(ledger):
    report = ledger.daily_report(DAY, tz=SHANGHAI)
    assert report.lines == () and report.totals.paid_sum == Decimal("0.00")
    assert report.totals.net == Decimal("0.00")


def test_daylight_saving_days_are_23_and_25_hours(ledger, clock):
    spring, autumn = datetime.date(2024, 3, 10), datetime.date(2024, 11, 3)
    pay(ledger, "late-spring", "1.00", at(spring, 23, 30, tz=NEW_YORK))
    pay(ledger, "late-autumn", "2.00", at(autumn, 23, 30, tz=NEW_YORK))
    pay(ledger, "after-autumn", "4.00", at(autumn + datetime.timedelta(days=1), 0, 0, tz=NEW_YORK))
    spring_report = ledger.daily_report(spring, tz=NEW_YORK)
    autumn_report = ledger.daily_report(autumn, tz=NEW_YORK)
    assert spring_report.end - spring_report.start == 23 * 3600
    assert autumn_report.end - autumn_report.start == 25 * 3600
    assert spring_report.totals.paid_sum == Decimal("1.00")
    assert autumn_report.totals.paid_sum == Decimal("2.00")


@pytest.fixture
def system_tz_shanghai():
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_default_is_the_system_local_day(day_ledger, system_tz_shanghai):
    local = day_ledger.daily_report(DAY)
    assert local.start == at(DAY, 0)
    assert local.totals == day_ledger.daily_report(DAY, tz=SHANGHAI).totals
