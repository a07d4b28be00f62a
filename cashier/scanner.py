"""Barcode scanners that type like a keyboard ("keyboard wedge"), and payment codes.

Pure Python, no Qt: `cashier.ui.scanfilter` feeds this detector every key press of the
whole application, as (text, timestamp in ms), and replays the keys it gives back.

How a scan is told from a person (see docs/counter.md, "Barcode scanners"):

* Keys are held back while they come fast (gap <= `max_gap_ms`, 50 ms by default,
  configurable up to 150). The first key of a burst is held until the next key, or
  the idle timeout, shows whether it was alone: a person's key reaches the widget
  at most `max_gap_ms` late, and a scanned digit never reaches it at all.
* A burst ends with a suffix key (Enter/Tab, as configured), a pause longer than
  `max_gap_ms` (the caller polls `flush(now)`), or any other input (`end()`).
* A burst is a scan when its keys came at scanner speed: every gap <= `max_gap_ms`
  and the mean gap <= `mean_gap_limit_ms` (60 % of the maximum: 30 ms by default).
  People type with gaps above 30 ms, so their typing is never a scan, whatever
  they type; scanners type at 1-10 ms.
* A scan is a payment code when, after stripping control characters, ECI designators
  (`\\000026`) and an AIM symbology identifier (`]Q1`), it is digits only and at
  least `min_length` (16) long. A scanner-speed burst of at least `min_burst` keys
  that is not a payment code is swallowed and reported as invalid: a product
  barcode scanned at the counter must not land in the amount field either.
* Keys typed by a person just before the scanner started (a slower gap in front of
  the burst) are given back, in order.
* While an input method (IME) is composing, nothing is held or taken for a scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cashier.i18n import UserError, define

if TYPE_CHECKING:
    from cashier.gateways.base import Wallet

define({
    "scanner.bad_gap": ("扫码枪按键间隔必须在 5 到 150 毫秒之间", "The scanner key gap must be 5 to 150 ms"),
    "scanner.bad_min_length": ("付款码最短长度必须在 16 到 32 位之间", "The minimum payment-code length must be 16 to 32"),
    "scanner.bad_suffix": ("扫码枪结束键必须是 auto、enter、tab 或 none", "The scanner suffix must be auto, enter, tab or none"),
    # What was scanned is never shown (it may be a key or a password): its kind and length only.
    "scanner.not_payment_code": ("这不是付款码（{kind}，{length} 位），未扣款。请让顾客打开微信或支付宝的付款码再扫。",
                                 "This is not a payment code ({kind}, {length} characters); nothing was charged. Ask the customer to show the WeChat or Alipay payment code."),
    "scanner.kind.order": ("一张小票上的订单号", "an order number from a receipt"),
    "scanner.kind.digits": ("一串数字，例如商品条码", "a number, such as a product barcode"),
    "scanner.kind.link": ("一个网址", "a web address"),
    "scanner.kind.text": ("一段文字", "some text"),
})

SUFFIXES = ("auto", "enter", "tab", "none")
MACHINE_GAP_MS = 15  # scanners type at 1-10 ms a key; people, even rolling, above 20
ENTER = "enter"
TAB = "tab"

_WECHAT = re.compile(r"^1[0-5]\d{16}$")
_ALIPAY = re.compile(r"^(2[5-9]|30)\d{14,22}$")
_UNIONPAY = re.compile(r"^62\d{17}$")
_ECI = re.compile(r"\\\d{6}")
_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
# Our order and refund numbers (cashier.engine.numbers.make_number): P or R, the
# counter id, 14 digits of local time and a 6-digit sequence. Never a payment code.
ORDER_NUMBER = re.compile(r"^[PR][A-Z0-9]{1,4}\d{20}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def classify_payment_code(code: str) -> Wallet | None:
    """Which wallet issued a payment code (付款码), or None when it is not one."""
    if not isinstance(code, str) or not code.isascii():
        return None
    from cashier.gateways.base import Wallet  # imported when first needed: quick start-up

    if _WECHAT.fullmatch(code):
        return Wallet.WECHAT
    if _ALIPAY.fullmatch(code):
        return Wallet.ALIPAY
    if _UNIONPAY.fullmatch(code):
        return Wallet.UNIONPAY
    return None


def clean_code(raw: str) -> str:
    """Strip what scanners add around a code: control characters, ECI designators
    (`\\000026`), an AIM symbology identifier, surrounding spaces."""
    text = _CONTROL.sub("", raw)
    text = _ECI.sub("", text)
    text = _AIM.sub("", text)
    return text.strip()


class NotAPaymentCode(UserError):
    """kind: digits, link or text (see Scan.kind), named in the reader's language."""

    key = "scanner.not_payment_code"

    def message(self, lang: str | None = None) -> str:
        from cashier.i18n import tr

        params = dict(self.params)
        params["kind"] = tr("scanner.kind." + str(params.get("kind", "text")), lang=lang)
        return tr(self.key, lang=lang, **params)


@dataclass(frozen=True)
class ScannerConfig:
    max_gap_ms: float = 50.0
    min_length: int = 16
    suffix: str = "auto"  # auto (Enter or Tab), enter, tab, none (idle timeout only)
    min_burst: int = 6  # a scanner-speed burst this long is a scan even when invalid

    def __post_init__(self) -> None:
        if not 5 <= float(self.max_gap_ms) <= 150:
            raise UserError("scanner.bad_gap")
        if not 16 <= int(self.min_length) <= 32:
            raise UserError("scanner.bad_min_length")
        if self.suffix not in SUFFIXES:
            raise UserError("scanner.bad_suffix")

    @property
    def mean_gap_limit_ms(self) -> float:
        return self.max_gap_ms * 0.6

    def ends_burst(self, kind: str) -> bool:
        return self.suffix == "auto" or self.suffix == kind


@dataclass(frozen=True)
class Key:
    """One key press: `text` as the keyboard produced it, `ts` in ms, and whatever the
    caller needs to replay it (`payload`, opaque here)."""

    text: str
    ts: float
    payload: Any = None

    @property
    def terminator(self) -> str | None:
        if self.text in ("\r", "\n"):
            return ENTER
        if self.text == "\t":
            return TAB
        return None


@dataclass(frozen=True)
class Scan:
    """A burst typed at scanner speed. `code` is cleaned; `wallet` is None when it
    is not a payment code (then nothing may be charged)."""

    code: str
    raw: str
    wallet: Wallet | None
    broken: bool = False  # the tail of a scan that paused: its first keys may have reached the amount

    @property
    def is_payment_code(self) -> bool:
        return self.wallet is not None

    @property
    def kind(self) -> str:
        """order, digits, link or text: what a clerk may be told about a code that is
        not a payment code (never the code itself). "order" is one of our own order or
        refund numbers (a printed receipt's code)."""
        if ORDER_NUMBER.match(self.code):
            return "order"
        if self.code.isdigit():
            return "digits"
        if "://" in self.code or self.code.lower().startswith("www."):
            return "link"
        return "text"

    def not_a_payment_code(self) -> "NotAPaymentCode":
        return NotAPaymentCode(kind=self.kind, length=len(self.code))


@dataclass
class Outcome:
    """What the caller must do now: replay `release` (in order) as ordinary typing,
    then handle `scan` if any."""

    release: list[Key] = field(default_factory=list)
    scan: Scan | None = None

    def extend(self, other: "Outcome") -> "Outcome":
        self.release.extend(other.release)
        if other.scan is not None:
            self.scan = other.scan
        return self

    def __bool__(self) -> bool:
        return bool(self.release) or self.scan is not None


class WedgeDetector:
    """Feed every key press; replay what comes back in `Outcome.release`."""

    def __init__(self, config: ScannerConfig | None = None) -> None:
        self.config = config or ScannerConfig()
        self._buffer: list[Key] = []
        self._composing = False

    # -- state ------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    @property
    def composing(self) -> bool:
        return self._composing

    def deadline(self) -> float | None:
        """When (same clock as the timestamps) `flush` should be called next."""
        if not self._buffer:
            return None
        return self._buffer[-1].ts + self.config.max_gap_ms

    def reconfigure(self, config: ScannerConfig) -> Outcome:
        out = self.end()
        self.config = config
        return out

    # -- input ------------------------------------------------------------------
    def set_composing(self, composing: bool) -> Outcome:
        """An input method started or stopped composing: no scan while it does."""
        out = self.end() if composing else Outcome()
        self._composing = composing
        return out

    def feed(self, text: str, ts: float, payload: Any = None) -> Outcome:
        key = Key(text, float(ts), payload)
        if self._composing:
            return self.end().extend(Outcome([key]))
        out = Outcome()
        if self._buffer:
            gap = key.ts - self._buffer[-1].ts
            if gap < 0 or gap > self.config.max_gap_ms:
                out.extend(self._evaluate(None))
            elif key.terminator is not None:
                if self.config.ends_burst(key.terminator):
                    return out.extend(self._evaluate(key))
                out.extend(self._evaluate(None))
            else:
                self._buffer.append(key)
                return out
        if key.terminator is not None:
            # A lone Enter or Tab is never the start of a scan: no delay for it.
            out.release.append(key)
        else:
            self._buffer.append(key)
        return out

    def flush(self, now: float) -> Outcome:
        """Call when idle: ends a burst once `max_gap_ms` passed since its last key."""
        if self._buffer and now - self._buffer[-1].ts > self.config.max_gap_ms:
            return self._evaluate(None)
        return Outcome()

    def end(self) -> Outcome:
        """Other input arrived (a shortcut, a click): the burst is over, whatever it is."""
        if self._buffer:
            return self._evaluate(None)
        return Outcome()

    # -- decision ---------------------------------------------------------------
    def _scanner_speed(self, keys: list[Key]) -> bool:
        if len(keys) < 2:
            return False
        gaps = [b.ts - a.ts for a, b in zip(keys, keys[1:])]
        if max(gaps) > self.config.max_gap_ms:
            return False
        return sum(gaps) / len(gaps) <= self.config.mean_gap_limit_ms

    def _evaluate(self, terminator: Key | None) -> Outcome:
        keys, self._buffer = self._buffer, []
        timed = keys + ([terminator] if terminator is not None else [])
        limit = self.config.mean_gap_limit_ms
        # The scan may be preceded by a person's keys: a start is possible at 0 or
        # wherever the gap in front is slower than scanner speed. Preferred, in
        # order: a real payment code typed at scanner speed throughout, a payment
        # code, enough digits; the longest of equals.
        best: tuple[tuple[bool, bool], int, str, str] | None = None
        for start in range(len(keys)):
            if start and keys[start].ts - keys[start - 1].ts <= limit:
                continue
            raw = "".join(k.text for k in keys[start:])
            code = clean_code(raw)
            part = timed[start:]
            if not (code.isdigit() and code.isascii() and len(code) >= self.config.min_length
                    and self._scanner_speed(part)):
                continue
            steady = all(b.ts - a.ts <= limit for a, b in zip(part, part[1:]))
            rank = (classify_payment_code(code) is not None, steady)
            if best is None or rank > best[0]:
                best = (rank, start, code, raw)
        if best is not None:
            _, start, code, raw = best
            return Outcome(keys[:start], Scan(code, raw, classify_payment_code(code)))
        if len(keys) >= self.config.min_burst and self._scanner_speed(timed):
            raw = "".join(k.text for k in keys)
            return Outcome([], Scan(clean_code(raw), raw, None))
        if terminator is not None and len(keys) >= 2 and self._machine_speed(timed):
            # Keys and their Enter at a machine's pace but too short for a code: the tail
            # of a scan that paused (a busy computer, a scanner buffering). As typing, its
            # Enter would pay whatever digits reached the amount: it is a broken scan.
            raw = "".join(k.text for k in keys)
            return Outcome([], Scan(clean_code(raw), raw, None, broken=True))
        return Outcome(timed)

    @staticmethod
    def _machine_speed(keys: list[Key]) -> bool:
        """Every gap at most MACHINE_GAP_MS: no person types digits and Enter that fast."""
        return all(0 <= b.ts - a.ts <= MACHINE_GAP_MS for a, b in zip(keys, keys[1:]))
