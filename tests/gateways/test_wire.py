"""The wire helpers every gateway shares: China-time stamps, amounts and numbers."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from cashier.gateways import GATEWAYS, build_gateway
from cashier.gateways.base import InvalidParameter, parse_china_time


def test_china_time():
    utc = datetime(2022, 11, 22, 3, 55, 42, tzinfo=timezone.utc)
    assert parse_china_time("2022-11-22 11:55:42") == utc
    assert parse_china_time(" 20221122115542 ") == utc
    for odd in ("", None, "0000-00-00 00:00:00", "22/11/2022", 1669089342):
        assert parse_china_time(odd) is None


@pytest.mark.parametrize("name", list(GATEWAYS))
def test_amounts_and_numbers_outside_a_gateways_limits_are_refused(name, demo_profile):
    profile, secret = demo_profile(name)
    gw = build_gateway(profile, secret)
    try:
        limits = gw.limits
        assert gw._wire_amount(limits.min_amount) == limits.min_amount
        for bad in (limits.min_amount - Decimal("0.01"), limits.max_amount + Decimal("0.01"), Decimal("1.001"),
                    Decimal("NaN"), Decimal("-1"), 1):
            with pytest.raises(InvalidParameter):
                gw._wire_amount(bad)
        assert gw._check_trade_no("P0120261122103000000001") == "P0120261122103000000001"
        for bad in ("", "has space 123456789012345", "P" * 100, None):
            with pytest.raises(InvalidParameter) as info:
                gw._check_trade_no(bad)
            assert info.value.message("zh_CN")
    finally:
        gw.close_transport()
