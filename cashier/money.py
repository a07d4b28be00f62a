"""Money: `Decimal` yuan with exactly two decimals, stored and sent as integer fen
where a protocol wants fen. No float anywhere."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
})

_AMOUNT_RE = re.compile(r"^\d+(\.\d*)?$|^\.\d+$")


class AmountError(UserError, ValueError):
    """The text is not an amount the counter can charge."""


def parse_amount(
    text: str,
    *,
    minimum: Decimal = MIN_AMOUNT,
    maximum: Decimal = DEFAULT_MAX_AMOUNT,
) -> Decimal:
    """Parse what a clerk typed into a yuan amount with exactly two decimals.

    Accepts "12", "12.3", "12.34", "¥12.34", " 12.34 ", full-width digits.
    Raises AmountError with a message in the clerk's language otherwise.
    """
    if text is None:
        raise AmountError("amount.empty")
    cleaned = _normalise_text(text)
    if not cleaned:
        raise AmountError("amount.empty")
    negative = cleaned.startswith("-")
    body = cleaned[1:] if negative or cleaned.startswith("+") else cleaned
    if not _AMOUNT_RE.match(body):
        raise AmountError("amount.not_number", text=text.strip())
    if negative and Decimal(body) != 0:
        raise AmountError("amount.negative")
    value = Decimal(body)
    if value == 0:
        raise AmountError("amount.zero")
    if value > maximum:  # before quantize: 40 digits do not fit Decimal's precision
        raise AmountError("amount.too_large", maximum=format_yuan(maximum))
    if value != value.quantize(FEN, rounding=ROUND_HALF_UP):
        raise AmountError("amount.too_precise")
    value = value.quantize(FEN)
    if value > maximum:
        raise AmountError("amount.too_large", maximum=format_yuan(maximum))
    if value < minimum:
        raise AmountError("amount.too_small", minimum=format_yuan(minimum))
    return value


def _normalise_text(text: str) -> str:
    out = []
    for ch in text.strip():
        code = ord(ch)
        if 0xFF10 <= code <= 0xFF19:  # full-width digits from a Chinese IME
            ch = chr(code - 0xFF10 + ord("0"))
        elif ch in "．。":
            ch = "."
        elif ch in "¥￥元 ,，":
            continue
        out.append(ch)
    return "".join(out)


def check_amount(value: Decimal) -> Decimal:
    """Validate a Decimal given by code (not typed): positive, whole fen."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0 or value != value.quantize(FEN):
        raise AmountError("amount.too_precise" if value > 0 else "amount.zero")
    return value.quantize(FEN)


def to_fen(value: Decimal) -> int:
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
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


def parse_wire_amount(text: object) -> Decimal:
    """An amount as a gateway sent it ("0.01", "1", 1.5 is refused): yuan Decimal.

    Raises ValueError for anything that is not a plain decimal string or int.
    """
    if isinstance(text, bool) or isinstance(text, float):
        # JSON numbers are parsed with parse_float=Decimal, so a float here is a bug.
        raise ValueError("amount arrived as float")
    if isinstance(text, int):
        return Decimal(text).quantize(FEN)
    if isinstance(text, Decimal):
        value = text
    else:
        try:
            value = Decimal(str(text).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0 or value != value.quantize(FEN):
        raise ValueError(f"not an amount: {text!r}")
    return value.quantize(FEN)
