"""A hostile gateway through the real gateway client, the engine, a real SQLite ledger
and `cashier-cli`: an epay site on 127.0.0.1 (a raw socket server, tests/gateways/
hostile.py) that answers what no document shows. Nothing crashes, nothing unreadable
is ever "paid", an amount the books cannot hold never reaches them (the order is
flagged for a person at once), a failed create never stays "sending", a QR payload of
a form the gateway does not use is never drawn, and no run of the key leaks."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from cashier.engine import Engine, EngineSettings, FakeClock
from cashier.gateways import build_gateway, gateway_class
from cashier.gateways.base import BadAmount, BadResponse, Method, Profile, UnknownOutcome
from cashier.gateways.http import GatewayHttp
from cashier.ledger import Ledger
from cashier.ledger import states as S
from tests.gateways.hostile import Conn, HostileServer, head, slow_headers

KEY = "Hq7ZkR2vLm9XbT4wNc6PdS8fGy3JuA5e"
DEADLINE = 0.6
QR = "weixin://wxpay/bizpayurl?pr=Ab3dE5f"


class Site:
    """What the hostile epay site answers, per file it is asked for."""

    def __init__(self, create: bytes | str | dict | None = None, query: bytes | str | dict | None = None) -> None:
        self.create = create if create is not None else {"code": 1, "trade_no": "T0001", "qrcode": QR}
        self.query = query if query is not None else {"code": 1, "status": 0, "trade_no": "T0001", "money": "1.00"}
        self.slow_create = False
        self.asked: list[str] = []

    def __call__(self, conn: Conn) -> None:
        line = conn.request.split(b"\r\n", 1)[0].decode("latin-1")
        path = urlsplit(line.split(" ")[1])
        self.asked.append(path.path.rsplit("/", 1)[-1] + ("?act=" + parse_qs(path.query).get("act", [""])[0]
                                                           if path.query else ""))
        if path.path.endswith("mapi.php") and self.slow_create:
            slow_headers()(conn)
            return
        body = self.create if path.path.endswith("mapi.php") else self.query
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False)
        raw = body.encode("utf-8") if isinstance(body, str) else body
        conn.send(head(length=len(raw)) + raw)


@pytest.fixture
def site():
    script = Site()
    with HostileServer(script) as server:
        script.server = server
        yield script


def _profile(site) -> Profile:
    return Profile(name="hostile", gateway="epay", base_url=site.server.base_url, merchant_id="1001")


@pytest.fixture
def engine(site, tmp_path):
    clock = FakeClock()
    profile = _profile(site)
    http = GatewayHttp(profile.base_url, secrets=(KEY,), deadline=DEADLINE)
    gw = build_gateway(profile, KEY, http=http)
    ledger = Ledger(tmp_path / "ledger.sqlite3", clock=clock.now)
    engine = Engine(ledger, {"hostile": gw}, settings=EngineSettings(), clock=clock)
    yield engine
    gw.close_transport()
    ledger.close()


def _run(engine: Engine, seconds: float) -> None:
    for _ in range(int(seconds)):
        engine.run_due()
        engine.clock.advance(1.0)
    engine.run_due()


def _states(engine: Engine, out_trade_no: str) -> list[str]:
    """Every state the order passed through, from the audit trail."""
    return [e.new_state for e in engine.ledger.events(out_trade_no, "order")]


# ------------------------------------------------------------------ amounts


HOSTILE_MONEY = ['"1e9999"', "1e400", '"99999999999999999999999.00"', "99999999999999999999999.00",
                 '"abc"', '"-1.00"', '"\u0663"', '"1.001"', "true", "[1]", '{"v": 1}',
                 "1" + "0" * 4000]


@pytest.mark.parametrize("money", HOSTILE_MONEY)
def test_a_paid_answer_with_an_amount_the_books_cannot_hold_is_flagged_at_once(site, engine, money, caplog):
    site.query = '{"code": 1, "status": 1, "trade_no": "T0001", "money": ' + money + "}"
    order = engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    assert order.state == S.PENDING and order.qr == QR
    with caplog.at_level(logging.WARNING):
        _run(engine, 10)
    after = engine.order(order.out_trade_no)
    assert after.state == S.NEEDS_CHECK, after
    assert after.paid_amount is None
    assert "money" in after.reason and ("核对" in after.reason or "check" in after.reason)
    assert S.PAID not in _states(engine, order.out_trade_no)
    assert not [r for r in caplog.records if "crashed" in r.getMessage()]
    # still watched: a readable answer later settles it
    site.query = {"code": 1, "status": 1, "trade_no": "T0001", "money": "1.00"}
    _run(engine, 70)
    assert engine.order(order.out_trade_no).state == S.PAID


def test_a_micropay_answered_with_an_impossible_amount_is_flagged_not_paid(site, engine):
    site.create = '{"code": 1, "trade_no": "T0002", "status": 1, "money": 1e400}'
    site.query = '{"code": 1, "status": 1, "trade_no": "T0002", "money": "99999999999999999999999.00"}'
    order = engine.start_micropay("hostile", Decimal("2.00"), "134567890123456789")
    assert order.state == S.UNKNOWN  # the answer could not be read: query it
    _run(engine, 10)
    after = engine.order(order.out_trade_no)
    assert after.state == S.NEEDS_CHECK and after.paid_amount is None
    assert S.PAID not in _states(engine, order.out_trade_no)


def test_the_ledger_is_never_handed_an_out_of_range_amount():
    from cashier.money import AmountError, MAX_FEN, from_fen, to_fen

    assert to_fen(from_fen(MAX_FEN)) == MAX_FEN
    with pytest.raises(AmountError):
        to_fen(Decimal("99999999999999999999999.00"))
    with pytest.raises(AmountError):
        to_fen(Decimal("1E+400"))


# ------------------------------------------------------------------ creates


UNREADABLE_CREATES = {
    "deep": "[" * 100_000,
    "deep object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "html": "<html><body>502 Bad Gateway</body></html>",
    "nan": '{"code": 1, "trade_no": NaN, "qrcode": "' + QR + '"}',
    "not utf-8": b"\xff\xfe\x00{",
    "no link": '{"code": 1, "trade_no": "T1"}',
    "list": "[1, 2, 3]",
}


@pytest.mark.parametrize("body", UNREADABLE_CREATES.values(), ids=UNREADABLE_CREATES.keys())
def test_an_unreadable_create_is_unknown_never_left_sending(site, engine, body):
    site.create = body
    with pytest.raises(UnknownOutcome):
        engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    [order] = engine.ledger.unresolved_orders()
    assert order.state == S.UNKNOWN and not order.qr
    _run(engine, 5)  # it is followed: queried, not crashed
    assert engine.order(order.out_trade_no).state != S.SENDING


def test_a_create_answered_one_byte_a_second_ends_at_the_deadline(site, engine):
    site.slow_create = True
    with pytest.raises(UnknownOutcome):
        engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    [order] = engine.ledger.unresolved_orders()
    assert order.state == S.UNKNOWN


@pytest.mark.parametrize("payload", [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "http://pay.evil.example/qr",
    "https:///no-host",
    "weixin:alert",
    "weixin://wxpay/bizpayurl?pr=a b",
    "weixin://wxpay/bizpayurl?pr=\u202eab",
    "alipays://platformapi/startapp?saId=1000\x0707",  # a form epay passes on, but with a control character
])
def test_a_qr_payload_the_gateway_does_not_use_is_not_drawn(site, engine, payload):
    site.create = {"code": 1, "trade_no": "T0003", "qrcode": payload}
    with pytest.raises(BadResponse):
        engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    [order] = engine.ledger.unresolved_orders()
    assert order.state == S.UNKNOWN and not order.qr


@pytest.mark.parametrize("gateway,good,bad", [
    ("ltzf", ["weixin://wxpay/bizpayurl?pr=x1", "https://qr.alipay.com/bax01234"], ["alipays://x", "wxp://f2f0"]),
    ("epay", ["weixin://wxpay/bizpayurl?pr=x1", "wxp://f2f0abc", "https://qpay.qq.com/qr/1", "alipays://platformapi/x",
              "http://127.0.0.1:8080/epay/submit.php?a=1", "https://pay.example.com/cashier.php?sitename=小店"],
     ["javascript:alert(1)", "http://example.com/x", "https://pay.example.com/\u202egpj.exe"]),
    ("fengniao", ["weixin://wxpay/bizpayurl?pr=x1", "https://qr.alipay.com/bax0"], ["alipays://x", "tel:123"]),
    ("weidoufu", ["weixin://wxpay/bizpayurl?pr=x1", "https://qr.alipay.com/bax0"], ["wxp://f2f0", "sms:1"]),
    ("its500", ["https://qr.alipay.com/fkx1", "https://www.example.com/common/zfbuserid?price=1.00"],
     ["weixin://wxpay/bizpayurl?pr=x1", "alipayqr://platformapi/startapp"]),
])
def test_each_gateway_draws_only_the_link_forms_it_documents(gateway, good, bad):
    cls = gateway_class(gateway)
    base = "http://127.0.0.1:9/x"
    profile = Profile(name="p", gateway=gateway, base_url=base, merchant_id="1001", app_id="a")
    gw = cls(profile, KEY)
    try:
        for payload in good:
            assert gw.qr_payload_ok(payload), payload
        for payload in bad + ["javascript:alert(1)", "", "x" * 3000]:
            assert not gw.qr_payload_ok(payload), payload
    finally:
        gw.close_transport()


# ------------------------------------------------------------------ secrets


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [KEY[i:i + 8] for i in range(len(KEY) - 7) if KEY[i:i + 8].lower() in low]


def test_an_answer_echoing_the_key_leaves_no_piece_of_it_anywhere(site, engine, tmp_path):
    # the key starts at the 75th character: cut at 80 first, then redacted, 5 of its characters stayed
    site.create = "<pre>" + "x" * 70 + "key=" + KEY + " sign=" + KEY[::-1] + "</pre>"
    with pytest.raises(BadResponse) as info:
        engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    assert not _leaks(info.value.message("zh_CN")) and not _leaks(info.value.message("en"))
    site.create = {"code": -1, "msg": "签名错误 " + KEY[4:20] + " 请检查"}
    with pytest.raises(Exception) as info:
        engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    assert not _leaks(str(info.value)) and "签名错误" in str(info.value)
    site.create = {"code": 1, "trade_no": "T0001", "qrcode": QR}
    site.query = {"code": 1, "status": 7, "trade_no": "T0001", "msg": "echo " + KEY}  # an odd state, with words
    order = engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    _run(engine, 12)
    assert [e for e in engine.ledger.events(order.out_trade_no) if e.action != "created"]  # the answers were written
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    text = " ".join(repr(row) for table in ("orders", "events") for row in conn.execute(f"SELECT * FROM {table}"))
    conn.close()
    assert not _leaks(text), _leaks(text)


# ------------------------------------------------------------------ the command line


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cashier.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


@pytest.mark.parametrize("money", ['"99999999999999999999999.00"', "1e400"])
def test_pay_wait_against_a_hostile_site_ends_needs_check_without_a_traceback(site, money):
    site.query = '{"code": 1, "status": 1, "trade_no": "T0001", "money": ' + money + "}"
    added = _cli("profile", "add", "hostile", "--gateway", "epay", "--base-url", site.server.base_url,
                 "--merchant-id", "1001", "--key-stdin", stdin=KEY + "\n")
    assert added.returncode == 0, added.stderr
    paid = _cli("--json", "--lang", "en", "pay", "hostile", "--amount", "1.00", "--method", "wechat", "--wait", "20")
    assert "Traceback" not in paid.stderr + paid.stdout
    assert paid.returncode == 3, (paid.stdout, paid.stderr)  # not paid
    shown = json.loads([line for line in paid.stdout.splitlines() if line.strip()][-1])
    assert shown["status"] == S.NEEDS_CHECK and shown["paid_amount"] is None
    history = _cli("--lang", "en", "history")
    assert "Traceback" not in history.stderr and history.returncode == 0
    assert not _leaks(paid.stdout + paid.stderr + history.stdout + history.stderr)


def test_a_bad_amount_is_an_unknown_outcome_for_a_person():
    assert issubclass(BadAmount, BadResponse) and issubclass(BadAmount, UnknownOutcome)


# ------------------------------------------------------------------ the notification receiver


@pytest.mark.parametrize("length", ["99999999999", "-5", "abc", "１２"])
def test_the_notification_receiver_refuses_a_body_it_should_not_read(engine, length, caplog):
    import socket

    from cashier.engine.notify import NotificationReceiver

    receiver = NotificationReceiver(engine, port=0, path="/notify").start()
    try:
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
            sock.sendall(f"POST /notify/epay HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
                         f"Content-Type: application/json\r\n\r\n{{".encode())
            reply = sock.recv(4096)
    finally:
        receiver.stop()
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert not [r for r in caplog.records if r.exc_info]


# ------------------------------------------------------------------ refunds (LTZF's refund query)


class LtzfSite:
    """A hostile LTZF: creates, reports paid, accepts the refund, then answers the
    refund query with `refund_fee`."""

    def __init__(self, refund_fee: str) -> None:
        self.refund_fee = refund_fee

    def __call__(self, conn: Conn) -> None:
        path = conn.request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[1]
        if path.endswith("/native"):
            body = {"code": 0, "data": {"code_url": QR, "QRcode_url": "https://x.example/q.png"}}
        elif path.endswith("/get_pay_order"):
            body = {"code": 0, "data": {"pay_status": 1, "total_fee": "3.00", "order_no": "W1",
                                        "success_time": "2026-01-01 10:00:00"}}
        elif path.endswith("/refund_order"):
            body = {"code": 0, "data": {"order_no": "RF1"}}
        else:
            body = '{"code": 0, "data": {"refund_status": 1, "refund_fee": ' + self.refund_fee + "}}"
        raw = (json.dumps(body) if isinstance(body, dict) else body).encode()
        conn.send(head(length=len(raw)) + raw)


@pytest.mark.parametrize("refund_fee", ['"1e9999"', "1e400", '"99999999999999999999999.00"'])
def test_a_refund_query_with_an_impossible_amount_is_handed_to_a_person(tmp_path, refund_fee):
    with HostileServer(LtzfSite(refund_fee)) as server:
        clock = FakeClock()
        profile = Profile(name="lt", gateway="ltzf", base_url=server.base_url, merchant_id="1230000109")
        gw = build_gateway(profile, KEY, http=GatewayHttp(profile.base_url, secrets=(KEY,), deadline=DEADLINE))
        ledger = Ledger(tmp_path / "ledger.sqlite3", clock=clock.now)
        engine = Engine(ledger, {"lt": gw}, settings=EngineSettings(), clock=clock)
        try:
            order = engine.start_qr("lt", Decimal("3.00"), Method.WECHAT)
            _run(engine, 10)
            assert engine.order(order.out_trade_no).state == S.PAID
            refund = engine.refund(order.out_trade_no, Decimal("1.00"), "test", actor="t")
            assert refund.state == S.REFUND_PROCESSING
            for _ in range(90):
                engine.run_due()
                clock.advance(1.0)
            after = ledger.get_refund(refund.out_refund_no)
            assert after.state == S.REFUND_NEEDS_CHECK, after
            assert "refund_fee" in after.failure_reason
        finally:
            gw.close_transport()
            ledger.close()


def test_half_a_megabyte_of_words_is_not_written_to_the_books_on_every_poll(site, engine):
    site.query = {"code": -3, "msg": "系统繁忙" + "很长" * 100_000}
    order = engine.start_qr("hostile", Decimal("1.00"), Method.WECHAT)
    _run(engine, 12)
    after = engine.order(order.out_trade_no)
    stored = [after.reason or ""] + [json.dumps(e.detail, ensure_ascii=False) for e in engine.ledger.events(
        order.out_trade_no)]
    assert max(len(text) for text in stored) < 2000
