"""The keyboard-wedge detector and the payment-code classifier (pure, no Qt)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashier.gateways.base import Wallet
from cashier.i18n import UserError
from cashier.scanner import ScannerConfig, WedgeDetector, classify_payment_code, clean_code

WECHAT = "134567890123456789"
ALIPAY = "2812345678901234"
UNIONPAY = "6212345678901234567"


# ----------------------------------------------------------------- classification

@pytest.mark.parametrize("code,wallet", [
    ("100000000000000000", Wallet.WECHAT),
    ("154567890123456789", Wallet.WECHAT),
    ("2512345678901234", Wallet.ALIPAY),  # 16 digits
    ("301234567890123456789012", Wallet.ALIPAY),  # 24 digits
    ("2912345678901234567", Wallet.ALIPAY),
    ("6212345678901234567", Wallet.UNIONPAY),
])
def test_classify_payment_codes(code, wallet):
    assert classify_payment_code(code) is wallet


@pytest.mark.parametrize("code", [
    "164567890123456789",  # WeChat codes are 10..15
    "13456789012345678",  # 17 digits
    "1345678901234567890",  # 19 digits
    "241234567890123456",  # Alipay starts 25..30
    "311234567890123456",
    "251234567890123",  # 15 digits
    "3012345678901234567890123",  # 25 digits
    "621234567890123456",  # UnionPay: 19 digits
    "6912345678901",  # EAN-13
    "", "abc", "13456789012345678x",
    "１３４５６７８９０１２３４５６７８９",  # full-width digits
    "134567890123456789\n",
])
def test_not_payment_codes(code):
    assert classify_payment_code(code) is None


def test_clean_code_strips_eci_aim_and_control():
    assert clean_code("\\000026" + WECHAT) == WECHAT
    assert clean_code("\x02" + WECHAT + "\x03") == WECHAT
    assert clean_code("]Q1" + ALIPAY) == ALIPAY


@pytest.mark.parametrize("kwargs", [{"max_gap_ms": 151}, {"max_gap_ms": 1}, {"min_length": 15},
                                    {"suffix": "space"}])
def test_config_is_validated(kwargs):
    with pytest.raises(UserError):
        ScannerConfig(**kwargs)


# ----------------------------------------------------------------------- helpers

def run(detector, events, idle_after=1000.0):
    """Feed (text, ts) events; returns (released texts, scans)."""
    released, scans = [], []
    last = 0.0
    for text, ts in events:
        out = detector.feed(text, ts)
        released += [k.text for k in out.release]
        if out.scan:
            scans.append(out.scan)
        last = ts
    out = detector.flush(last + idle_after)
    released += [k.text for k in out.release]
    if out.scan:
        scans.append(out.scan)
    assert not detector.pending
    return released, scans


def burst(text, start, gap=1.0):
    return [(ch, start + i * gap) for i, ch in enumerate(text)]


# ------------------------------------------------------------------------ detector

def test_fast_burst_with_enter_is_a_scan_and_nothing_leaks():
    released, scans = run(WedgeDetector(), burst(WECHAT + "\r", 1000))
    assert released == []
    assert [s.code for s in scans] == [WECHAT]
    assert scans[0].wallet is Wallet.WECHAT


def test_burst_without_suffix_ends_on_idle():
    d = WedgeDetector(ScannerConfig(suffix="none"))
    for ch, ts in burst(ALIPAY, 0, 2):
        assert not d.feed(ch, ts)
    assert d.deadline() == 30 + 50
    assert not d.flush(60)  # not idle long enough yet
    out = d.flush(81)
    assert out.scan.code == ALIPAY and out.release == []


def test_eci_prefix_and_control_characters_are_stripped():
    _, scans = run(WedgeDetector(), burst("\\000026" + UNIONPAY + "\x1d\r", 0))
    assert scans[0].code == UNIONPAY and scans[0].wallet is Wallet.UNIONPAY


def test_human_typing_is_released_in_order():
    d = WedgeDetector()
    out = d.feed("1", 0)
    assert out.release == [] and d.pending  # held until we know it is alone
    out = d.feed("2", 200)
    assert [k.text for k in out.release] == ["1"]
    out = d.flush(251)
    assert [k.text for k in out.release] == ["2"]


def test_lone_enter_is_not_delayed():
    out = WedgeDetector().feed("\r", 0)
    assert [k.text for k in out.release] == ["\r"]


def test_fast_human_pair_is_released_not_scanned():
    released, scans = run(WedgeDetector(), [("1", 0), ("2", 20), ("\r", 60)])
    assert released == ["1", "2", "\r"] and scans == []


def test_non_payment_barcode_is_swallowed_and_reported():
    released, scans = run(WedgeDetector(), burst("6901234567892\r", 0))
    assert released == []
    assert scans[0].wallet is None and scans[0].code == "6901234567892"


def test_short_fast_burst_below_min_burst_is_released():
    released, scans = run(WedgeDetector(), burst("12", 0, 5))
    assert released == ["1", "2"] and scans == []


def test_short_burst_ending_in_enter_at_machine_speed_is_a_broken_scan():
    """The tail of a scan that paused ("562" + Enter at 5 ms a key) must not reach the
    checkout as typing: its Enter would pay the digits that leaked into the amount."""
    released, scans = run(WedgeDetector(), burst("562\r", 0, 5))
    assert released == [] and len(scans) == 1
    assert scans[0].broken and scans[0].wallet is None and scans[0].code == "562"


def test_ime_composing_passes_everything_through():
    d = WedgeDetector()
    d.set_composing(True)
    released = []
    for ch, ts in burst(WECHAT + "\r", 0):
        out = d.feed(ch, ts)
        released += [k.text for k in out.release]
        assert out.scan is None
    assert "".join(released) == WECHAT + "\r"
    d.set_composing(False)
    _, scans = run(d, burst(WECHAT + "\r", 100))
    assert scans[0].code == WECHAT


def test_composing_start_releases_held_keys():
    d = WedgeDetector()
    d.feed("5", 0)
    out = d.set_composing(True)
    assert [k.text for k in out.release] == ["5"]


def test_end_on_other_input():
    d = WedgeDetector()
    d.feed("7", 0)
    assert [k.text for k in d.end().release] == ["7"]
    for ch, ts in burst(WECHAT, 100):
        d.feed(ch, ts)
    out = d.end()
    assert out.scan.code == WECHAT and out.release == []


def test_slow_scanner_with_wide_gap_setting():
    d = WedgeDetector(ScannerConfig(max_gap_ms=150))
    _, scans = run(d, burst(WECHAT + "\r", 0, 60))
    assert scans[0].code == WECHAT


def test_tab_suffix_only_when_configured():
    _, scans = run(WedgeDetector(ScannerConfig(suffix="tab")), burst(ALIPAY + "\t", 0))
    assert scans[0].code == ALIPAY
    released, scans = run(WedgeDetector(ScannerConfig(suffix="enter")), burst(ALIPAY + "\t", 0))
    assert scans[0].code == ALIPAY and released == ["\t"]


def test_person_typing_just_before_scan_is_given_back():
    events = [("8", 0), ("8", 40)] + burst(WECHAT + "\r", 80)
    released, scans = run(WedgeDetector(), events)
    assert released == ["8", "8"]
    assert scans[0].code == WECHAT


# ---------------------------------------------------------------------- properties

human_key = st.sampled_from(list("0123456789.") + ["\r", "\t", "a", "\x08"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(human_key, st.floats(30.001, 3000)), min_size=1, max_size=60))
def test_human_typing_never_becomes_a_scan(keys):
    events, ts = [], 0.0
    for text, gap in keys:
        ts += gap
        events.append((text, ts))
    released, scans = run(WedgeDetector(), events)
    assert scans == []
    assert released == [t for t, _ in events]


codes = st.one_of(
    st.from_regex(r"\A1[0-5][0-9]{16}\Z"),
    st.from_regex(r"\A(2[5-9]|30)[0-9]{14,22}\Z"),
    st.from_regex(r"\A62[0-9]{17}\Z"),
)


@settings(max_examples=300, deadline=None)
@given(
    code=codes,
    gaps=st.lists(st.floats(1, 10), min_size=25, max_size=25),
    before=st.lists(st.tuples(st.sampled_from(list("0123456789.")), st.floats(30.001, 2000)), max_size=8),
    lead=st.floats(30.001, 2000),
    suffix=st.sampled_from(["\r", "\t", ""]),
)
def test_fast_burst_of_valid_code_is_detected_whole(code, gaps, before, lead, suffix):
    events, ts = [], 0.0
    for text, gap in before:
        ts += gap
        events.append((text, ts))
    ts += lead
    for ch, gap in zip(code + suffix, gaps):
        events.append((ch, ts))
        ts += gap
    released, scans = run(WedgeDetector(), events)
    assert [s.code for s in scans] == [code]
    assert scans[0].wallet is classify_payment_code(code) is not None
    assert released == [t for t, _ in before]


def test_person_key_just_before_a_scan_does_not_make_another_valid_code():
    # "2" typed 31 ms before a UnionPay code would give a valid Alipay code "262...":
    # the steady scanner-speed part wins, and the "2" goes back to the person.
    events = [("2", 0)] + burst("6200000000000000000\r", 31)
    released, scans = run(WedgeDetector(), events)
    assert released == ["2"]
    assert scans[0].code == "6200000000000000000" and scans[0].wallet is Wallet.UNIONPAY
