"""Money: `Decimal` yuan with exactly two decimals, stored and sent as integer fen
where a protocol wants fen. No float anywhere."""

from __future__ import annotations

import re
from decimal import Decimal

from cashier.i18n import UserError, define

FEN = Decimal("0.01")
ONE_YUAN = Decimal("1.00")
MIN_AMOUNT = FEN
# A counter never takes more than this in one payment, whatever the gateway allows.
DEFAULT_MAX_AMOUNT = Decimal("100000.00")

define({
    "amount.empty": ("请输入金额", "Enter an amount"),
    "amount.not_number": ("金额只能包含数字和小数点：{text}", "The amount may hold only digits and a decimal point: {text}"),
    "amount.negative": ("金额不能为负数", "The amount cannot be negative"),
    "amount.zero": ("金额必须大于 0", "The amount must be more than 0"),
    "amount.too_precise": ("金额最多两位小数（分）", "The amount can have at most two decimals (fen)"),
    "amount.too_large": ("金额不能超过 {maximum} 元", "The amount cannot exceed ¥{maximum}"),
    "amount.too_small": ("金额不能少于 {minimum} 元", "The amount must be at least ¥{minimum}"),
    "amount.bad_digit": ("金额只能使用数字 0-9，不能使用“{char}”", "The amount may use only the digits 0-9, not '{char}'"),
    "amount.space_inside": ("金额中间不能有空格：{text}", "The amount cannot have a space inside it: {text}"),
    "amount.two_points": ("金额只能有一个小数点：{text}", "The amount can have only one decimal point: {text}"),
    "amount.out_of_range": ("金额超出账本能记录的范围：{value}", "The amount is beyond what the books can hold: {value}"),
    "amount.bad_separator": ("千位分隔符的位置不对（应为 1,234.56 的形式）：{text}",
                             "The thousands separator is in the wrong place (write 1,234.56): {text}"),
})

# What a clerk may type, once full-width forms are mapped to ASCII: digits with at most
# one point, or digits grouped by three with commas (1,234.56) and at most one point.
_PLAIN_RE = re.compile(r"[0-9]*(?:\.[0-9]*)?")
_GROUPED_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_FULL_WIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}
_POINTS = ".。．"  # ASCII, the ideographic full stop an IME gives, the full-width full stop
_COMMAS = ",，"
_SIGNS = {"-": "-", "－": "-", "+": "+", "＋": "+"}
_AFFIX_RE = re.compile(r"([-+－＋]?)\s*[¥￥]?\s*(.*?)\s*元?", re.S)


class AmountError(UserError, ValueError):
    """The text is not an amount the counter can charge."""


def parse_amount(
    text: str,
    *,
    minimum: Decimal = MIN_AMOUNT,
    maximum: Decimal = DEFAULT_MAX_AMOUNT,
) -> Decimal:
    """Parse what a clerk typed into a yuan amount with exactly two decimals.

    Accepts "12", "12.3", "12.34", "¥12.34", " 12.34 ", "12元", "1,234.56", full-width
    digits and points ("１２。３"). Refuses, with a message naming the problem, anything a
    person could read two ways or that is not plainly a number: "12,34" and "1,5"
    (a comma that is not a thousands separator), "1 5" (a space inside), "1.2.3",
    "12.340" (three decimals: 12.34 or twelve thousand?), digits other than 0-9 and
    full-width ０-９ ("٣", "²", "三"), exponents, NaN.
    Raises AmountError with a message in the clerk's language.
    """
    if text is None:
        raise AmountError("amount.empty")
    stripped = text.strip()
    if not stripped:
        raise AmountError("amount.empty")
    shown = stripped[:40]
    match = _AFFIX_RE.fullmatch(stripped)
    sign, body = (match.group(1), match.group(2)) if match else ("", stripped)
    chars = []
    for ch in body:
        if ch in _FULL_WIDTH:
            ch = _FULL_WIDTH[ch]
        elif ch in _POINTS:
            ch = "."
        elif ch in _COMMAS:
            ch = ","
        elif ch.isspace():
            raise AmountError("amount.space_inside", text=shown)
        elif not "0" <= ch <= "9" and (ch.isdigit() or ch.isnumeric()):
            raise AmountError("amount.bad_digit", char=ch)
        chars.append(ch)
    body = "".join(chars)
    if body.count(".") > 1:
        raise AmountError("amount.two_points", text=shown)
    if "," in body:
        if not _GROUPED_RE.fullmatch(body):
            raise AmountError("amount.bad_separator", text=shown)
        body = body.replace(",", "")
    if not _PLAIN_RE.fullmatch(body) or not any(c.isdigit() for c in body):
        raise AmountError("amount.not_number", text=shown)
    whole, _, fraction = body.partition(".")
    if len(fraction) > 2:
        raise AmountError("amount.too_precise")
    value = Decimal((whole or "0") + "." + (fraction or "0"))
    if value == 0:
        raise AmountError("amount.zero")
    if _SIGNS.get(sign) == "-":
        raise AmountError("amount.negative")
    if value > maximum:
        raise AmountError("amount.too_large", maximum=format_yuan(maximum))
    value = value.quantize(FEN)
    if value < minimum:
        raise AmountError("amount.too_small", minimum=format_yuan(minimum))
    return value


def parse_amount_or_zero(text: str) -> Decimal:
    """`parse_amount` where nothing at all is a valid answer (a shift's float, a counted
    drawer): "0" and "0.00" are 0.00; everything else is read as strictly as ever."""
    try:
        return parse_amount(text)
    except AmountError as exc:
        if exc.key == "amount.zero":
            return Decimal("0.00")
        raise


def check_amount(value: Decimal) -> Decimal:
    """Validate a Decimal given by code (not typed): positive, whole fen."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0 or value != value.quantize(FEN):
        raise AmountError("amount.too_precise" if value > 0 else "amount.zero")
    return value.quantize(FEN)


# The ledger stores fen in SQLite INTEGER columns: 64-bit signed.
MAX_FEN = 2**63 - 1


def to_fen(value: Decimal) -> int:
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
    if not value.is_finite() or abs(value) > Decimal(MAX_FEN) / 100:
        raise AmountError("amount.out_of_range", value=str(value)[:30])
    fen = value * 100
    if fen != fen.to_integral_value():
        raise AmountError("amount.too_precise")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")
    return (Decimal(fen) / 100).quantize(FEN)


def format_yuan(value: Decimal) -> str:
    """'12.34': what gateways expect and what receipts show."""
    return f"{value.quantize(FEN):f}"


class WireAmountError(ValueError):
    """An amount in a gateway's answer that is not one: not a plain decimal, negative,
    finer than a fen, or beyond what the books can hold."""


_WIRE_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_wire_amount(text: object) -> Decimal:
    """An amount as a gateway sent it ("0.01", "1", a JSON number read as Decimal, an
    int): yuan Decimal. Refused with WireAmountError (a ValueError): floats, booleans,
    exponents ("1e9999"), signs, other digits than 0-9, more than two decimals that are
    not zeros, and anything beyond the ledger's range ("99999999999999999999999.00").
    """
    if isinstance(text, bool) or isinstance(text, float):
        # JSON numbers are parsed with parse_float=Decimal, so a float here is a bug.
        raise WireAmountError("amount arrived as float")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
    elif isinstance(text, str) and _WIRE_RE.fullmatch(text.strip()):
        value = Decimal(text.strip())
    else:
        raise WireAmountError(f"not an amount: {str(text)[:30]!r}")
    if not value.is_finite() or value < 0:
        raise WireAmountError(f"not an amount: {str(text)[:30]!r}")
    if value > Decimal(MAX_FEN) / 100:  # before quantize: 1E+400 has no fen to round to
        raise WireAmountError(f"amount out of range: {str(text)[:30]!r}")
    if value != value.quantize(FEN):
        raise WireAmountError(f"not whole fen: {str(text)[:30]!r}")
    return value.quantize(FEN)
