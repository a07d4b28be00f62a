import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashier.money import AmountError, format_yuan, from_fen, parse_amount, parse_wire_amount, to_fen


@pytest.mark.parametrize("text,expected", [
    ("12", "12.00"), ("12.3", "12.30"), ("12.34", "12.34"), ("0.01", "0.01"), (".5", "0.50"),
    ("¥8.80", "8.80"), (" 7 ", "7.00"), ("１２．３", "12.30"), ("12.340", "12.34"),
])
def test_parse_good(text, expected):
    assert parse_amount(text) == Decimal(expected)
    assert format_yuan(parse_amount(text)) == expected


@pytest.mark.parametrize("text,key", [
    ("", "amount.empty"), ("   ", "amount.empty"), ("abc", "amount.not_number"), ("1a", "amount.not_number"),
    ("-1", "amount.negative"), ("0", "amount.zero"), ("0.00", "amount.zero"), ("1.234", "amount.too_precise"),
    ("1e3", "amount.not_number"), ("1.2.3", "amount.not_number"), ("NaN", "amount.not_number"),
    ("Infinity", "amount.not_number"), ("100000.01", "amount.too_large"),
])
def test_parse_bad(text, key):
    with pytest.raises(AmountError) as info:
        parse_amount(text)
    assert info.value.key == key
    assert info.value.message("zh_CN") != key  # a real sentence, not the key


def test_minimum_for_its500():
    with pytest.raises(AmountError) as info:
        parse_amount("0.99", minimum=Decimal("1.00"))
    assert info.value.key == "amount.too_small"
    assert "1.00" in info.value.message("zh_CN")
    assert parse_amount("1", minimum=Decimal("1.00")) == Decimal("1.00")


def test_messages_in_both_languages():
    with pytest.raises(AmountError) as info:
        parse_amount("1.234")
    assert "两位小数" in info.value.message("zh_CN")
    assert "two decimals" in info.value.message("en")


@given(st.integers(min_value=1, max_value=10_000_000))
def test_fen_round_trip(fen):
    yuan = from_fen(fen)
    assert to_fen(yuan) == fen
    assert parse_amount(format_yuan(yuan)) == yuan


@given(st.text(max_size=12))
def test_parse_never_crashes_and_returns_two_decimals(text):
    try:
        value = parse_amount(text)
    except AmountError:
        return
    assert isinstance(value, Decimal)
    assert value == value.quantize(Decimal("0.01"))
    assert Decimal("0.01") <= value <= Decimal("100000.00")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2))
def test_parse_accepts_every_two_decimal_amount(value):
    assert parse_amount(format_yuan(value)) == value


def test_wire_amounts():
    assert parse_wire_amount("1") == Decimal("1.00")
    assert parse_wire_amount(Decimal("0.10")) == Decimal("0.10")
    for bad in (0.1, "x", "-1", "0.001", True):
        with pytest.raises(ValueError):
            parse_wire_amount(bad)


def test_no_float_in_payment_code():
    """Money is never float: no float() call or float literal in payment code."""
    root = Path(__file__).resolve().parent.parent / "cashier"
    offenders = []
    for path in root.rglob("*.py"):
        if "ui" in path.relative_to(root).parts:
            continue  # Qt geometry is float by nature; money never reaches it as float
        for lineno, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\bfloat\(\s*(amount|money|price|fee|total|refund|paid|value)", code, re.I):
                offenders.append(f"{path}:{lineno}: {line.strip()}")
            if re.search(r"(amount|money|price|fee|total)\w*\s*[:=]\s*\d+\.\d+\b", code, re.I):
                offenders.append(f"{path}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
