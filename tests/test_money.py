import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashier.money import AmountError, format_yuan, from_fen, parse_amount, parse_wire_amount, to_fen


@pytest.mark.parametrize("text,expected", [
    ("12", "12.00"), ("12.3", "12.30"), ("12.34", "12.34"), ("0.01", "0.01"), (".5", "0.50"),
    ("¥8.80", "8.80"), (" 7 ", "7.00"), ("１２．３", "12.30"), ("12。5", "12.50"), ("１２。３４", "12.34"),
    ("1,234.56", "1234.56"), ("12,345", "12345.00"), ("1，234", "1234.00"), ("￥ 1,000元", "1000.00"),
    ("12元", "12.00"), ("+5", "5.00"), ("12.", "12.00"), ("\u3000８\u3000", "8.00"),
])
def test_parse_good(text, expected):
    assert parse_amount(text) == Decimal(expected)
    assert format_yuan(parse_amount(text)) == expected


@pytest.mark.parametrize("text,key", [
    ("", "amount.empty"), ("   ", "amount.empty"), ("abc", "amount.not_number"), ("1a", "amount.not_number"),
    ("-1", "amount.negative"), ("0", "amount.zero"), ("0.00", "amount.zero"), ("1.234", "amount.too_precise"),
    ("1e3", "amount.not_number"), ("NaN", "amount.not_number"),
    ("Infinity", "amount.not_number"), ("100000.01", "amount.too_large"),
    # issue 8: each of these was once charged as a different number
    ("12,34", "amount.bad_separator"), ("1,5", "amount.bad_separator"), ("1,23,456", "amount.bad_separator"),
    ("1234,567", "amount.bad_separator"), (",123", "amount.bad_separator"), ("1,234,56", "amount.bad_separator"),
    ("1.234,56", "amount.bad_separator"), ("1 5", "amount.space_inside"), ("1\u00a0234", "amount.space_inside"),
    ("٣", "amount.bad_digit"), ("1²", "amount.bad_digit"), ("①", "amount.bad_digit"), ("三", "amount.bad_digit"),
    ("१२", "amount.bad_digit"), ("1.2.3", "amount.two_points"), ("1。2.3", "amount.two_points"),
    ("12.340", "amount.too_precise"), ("1" * 40, "amount.too_large"), ("1" * 40 + ".5", "amount.too_large"),
    ("¥", "amount.not_number"), (".", "amount.not_number"), ("-", "amount.not_number"), ("1e3", "amount.not_number"),
    ("0x10", "amount.not_number"), ("1_000", "amount.not_number"), ("--5", "amount.not_number"),
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


@pytest.mark.parametrize("text,words", [
    ("12,34", ("千位分隔符", "thousands separator")),
    ("1 5", ("空格", "space")),
    ("٣", ("0-9", "0-9")),
    ("1.2.3", ("一个小数点", "one decimal point")),
])
def test_refusals_name_the_problem(text, words):
    with pytest.raises(AmountError) as info:
        parse_amount(text)
    assert words[0] in info.value.message("zh_CN")
    assert words[1] in info.value.message("en")


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


# -- property tests: no input is ever read as a different number than a person would read it

FULL = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def written_amounts(draw):
    """(value, how a person might write it): grouped or not, full-width or not, any
    point, a currency sign or 元, spaces around, one or two decimals shown."""
    value = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2))
    whole, fraction = format(value, "f").split(".")
    if draw(st.booleans()):
        whole = f"{int(whole):,}"
    if fraction == "00" and draw(st.booleans()):
        text = whole + draw(st.sampled_from(["", ".", "。"]))
    elif fraction.endswith("0") and draw(st.booleans()):
        text = whole + draw(st.sampled_from([".", "。", "．"])) + fraction[0]
    else:
        text = whole + draw(st.sampled_from([".", "。", "．"])) + fraction
    if draw(st.booleans()):
        text = text.translate(FULL)
    if draw(st.booleans()):
        text = text.replace(",", "，")
    text = draw(st.sampled_from(["", "¥", "￥", "¥ "])) + text + draw(st.sampled_from(["", "元", " 元"]))
    return value, draw(st.sampled_from(["", " ", "\u3000"])) + text + draw(st.sampled_from(["", " ", "\t"]))


@given(written_amounts())
def test_every_way_a_person_writes_an_amount_reads_as_that_amount(case):
    value, text = case
    assert parse_amount(text) == value


def _person_reading(text: str) -> Decimal | None:
    """How a person reads an accepted amount: the digits before the point are the yuan
    (commas only mark thousands), the digits after it are the decimals."""
    digits = text.translate(str.maketrans("０１２３４５６７８９。．，", "0123456789..,"))
    kept = "".join(ch for ch in digits if ch in "0123456789.")
    whole, _, fraction = kept.partition(".")
    return Decimal((whole or "0") + "." + (fraction or "0"))


ALPHABET = "0123456789０１２３４５６７８９.。．,， ¥元-+٣²①三e\u00a0\u3000"


@given(st.text(alphabet=ALPHABET, max_size=14) | st.text(max_size=10))
def test_whatever_is_accepted_is_read_as_a_person_reads_it(text):
    try:
        value = parse_amount(text)
    except AmountError:
        return
    assert value == _person_reading(text)
    body = text.strip()
    # only the digits a person reads as digits
    assert not any(ch.isnumeric() and ch not in "0123456789０１２３４５６７８９" for ch in body)
    # no space inside the number, at most one point, at most two decimals
    core = body.lstrip("+¥￥ \u3000").rstrip("元 \u3000")
    assert not any(ch.isspace() for ch in core)
    points = [i for i, ch in enumerate(core) if ch in ".。．"]
    assert len(points) <= 1
    if points:
        assert len(core) - points[0] - 1 <= 2
    # every comma marks thousands: three digits after it, up to the point or the end
    whole = core[:points[0]] if points else core
    groups = whole.replace("，", ",").split(",")
    if len(groups) > 1:
        assert 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


@given(st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=999).filter(lambda n: n % 1000),
       st.sampled_from([1, 2, 4, 5]))
def test_a_comma_that_is_not_a_thousands_separator_is_refused(head, tail, width):
    text = f"{head},{str(tail).zfill(width)[-width:]}"
    with pytest.raises(AmountError) as info:
        parse_amount(text)
    assert info.value.key == "amount.bad_separator"


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


@pytest.mark.parametrize("bad", ["1e9999", "1E2", Decimal("1E+400"), "99999999999999999999999.00", 10**30,
                                 Decimal("92233720368547758.08"), "٣", "１", "+1", " - 1", "1,000", "NaN",
                                 Decimal("NaN"), Decimal("-0.01"), "0x10", "", None, [1], {"v": 1}])
def test_wire_amounts_the_books_cannot_hold_are_refused(bad):
    with pytest.raises(ValueError):
        parse_wire_amount(bad)


@given(st.text(alphabet="0123456789.e+-E ,٣", max_size=30) | st.decimals(allow_nan=True, allow_infinity=True)
       | st.integers())
def test_a_wire_amount_is_read_as_written_or_refused(value):
    try:
        got = parse_wire_amount(value)
    except ValueError:
        return
    assert got == Decimal(str(value).strip()) and got == got.quantize(Decimal("0.01"))
    assert to_fen(got) <= 2**63 - 1  # always fits the books


def test_parse_amount_or_zero_takes_nothing_as_zero_and_nothing_else_loosely():
    from cashier.money import AmountError, parse_amount_or_zero

    assert parse_amount_or_zero("0") == Decimal("0.00") == parse_amount_or_zero("0.00")
    assert parse_amount_or_zero("100") == Decimal("100.00")
    for bad in ("12,34", "", "-1", "abc"):
        with pytest.raises(AmountError):
            parse_amount_or_zero(bad)
