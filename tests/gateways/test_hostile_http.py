"""The gateway HTTP layer against a hostile server on 127.0.0.1 (tests/gateways/hostile.py):
every request ends within its total deadline, no answer is held beyond the size cap, no
JSON beyond the nesting cap, and each of these is an "outcome unknown" error, never a
crash and never a value."""

from __future__ import annotations

import gzip
import time

import pytest

from cashier.gateways.base import BadResponse, NotSent, Timeout, UnknownOutcome
from cashier.gateways.http import GatewayHttp, parse_json, redact_runs
from tests.gateways.hostile import HostileServer, answer, endless_body, head, slow_body, slow_headers

DEADLINE = 0.6
# Generous: the property is "it ends, near its deadline" rather than a timing figure.
SLACK = 5.0


def _http(server: HostileServer, **kwargs) -> GatewayHttp:
    return GatewayHttp(server.base_url, secrets=("k3y-0123456789abcdef",), deadline=DEADLINE, **kwargs)


@pytest.mark.parametrize("script", [slow_headers(), slow_body()], ids=["slow headers", "slow body"])
def test_a_gateway_sending_one_byte_at_a_time_is_cut_at_the_deadline(script):
    with HostileServer(script) as server:
        http = _http(server)
        started = time.monotonic()
        with pytest.raises(Timeout):
            http.get("/api", {"q": "1"})
        elapsed = time.monotonic() - started
        http.close()
    assert elapsed < DEADLINE + SLACK  # without the deadline it would run until the server stops


def test_the_deadline_covers_each_request_not_the_client():
    """A second request on the same client gets its own full deadline."""
    with HostileServer(answer({"code": 0})) as server:
        http = _http(server)
        assert http.get("/a", {}) == {"code": 0}
        time.sleep(DEADLINE)  # longer than one deadline in total
        assert http.get("/b", {}) == {"code": 0}
        http.close()


def test_an_endless_answer_stops_at_the_cap():
    with HostileServer(endless_body()) as server:
        http = _http(server, max_bytes=256 * 1024)
        with pytest.raises(BadResponse) as info:
            http.get("/api", {})
        http.close()
    assert "larger than" in info.value.params["reason"]


def test_a_declared_huge_answer_is_refused_before_reading_it():
    def script(conn):
        conn.send(head(length=50_000_000) + b"{")
        conn.drip(b" ", 0.05)  # it would take hours: only the header is needed

    with HostileServer(script) as server:
        http = _http(server)
        with pytest.raises(BadResponse) as info:
            http.get("/api", {})
        http.close()
    assert "50000000" in info.value.params["reason"]


def test_a_compressed_bomb_is_not_inflated_past_the_cap():
    bomb = gzip.compress(b'{"pad": "' + b"0" * 30_000_000 + b'"}')
    assert len(bomb) < 100_000

    def script(conn):
        conn.send(head(length=len(bomb), extra="Content-Encoding: gzip") + bomb)

    with HostileServer(script) as server:
        http = _http(server, max_bytes=64 * 1024)
        with pytest.raises(BadResponse) as info:
            http.get("/api", {})
        http.close()
    assert "larger than" in info.value.params["reason"]


def test_a_small_compressed_answer_is_read():
    body = gzip.compress('{"code": 0, "msg": "成功"}'.encode())

    def script(conn):
        conn.send(head(length=len(body), extra="Content-Encoding: gzip") + body)

    with HostileServer(script) as server:
        http = _http(server)
        assert http.get("/api", {}) == {"code": 0, "msg": "成功"}
        http.close()


@pytest.mark.parametrize("body", [
    "[" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    '{"code": 0, "data": ' + "[" * 40 + "]" * 40 + "}",
    '{"money": NaN}',
    '{"money": Infinity}',
    '{"money": ' + "9" * 5000 + "}",
    "\xff\xfe not utf-8",
    "<html>502 Bad Gateway</html>",
    "",
])
def test_unreadable_answers_are_unknown_outcomes(body):
    raw = body.encode("latin-1") if body.startswith("\xff") else body.encode()
    with HostileServer(answer(raw)) as server:
        http = _http(server)
        with pytest.raises(BadResponse) as info:
            http.get("/api", {})
        http.close()
    assert isinstance(info.value, UnknownOutcome)


def test_nesting_inside_strings_does_not_count():
    assert parse_json('{"a": "' + "[" * 1000 + '"}') == {"a": "[" * 1000}
    with pytest.raises(ValueError):
        parse_json("[" * 33 + "]" * 33)
    assert parse_json("[" * 32 + "]" * 32) is not None


def test_a_closed_port_is_not_sent():
    with HostileServer(answer("")) as server:
        url = server.base_url
    http = GatewayHttp(url, deadline=DEADLINE)
    with pytest.raises(NotSent):
        http.get("/api", {})
    http.close()


def test_images_go_through_the_same_layer():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    with HostileServer(answer(png, content_type="image/png")) as server:
        http = _http(server)
        assert http.get_image(server.base_url + "/code.png") == png
        http.close()
    with HostileServer(answer(b"<script>alert(1)</script>", content_type="image/png")) as server:
        http = _http(server)
        with pytest.raises(BadResponse):
            http.get_image(server.base_url + "/code.png")
        http.close()
    with HostileServer(slow_body()) as server:
        http = _http(server)
        with pytest.raises(Timeout):
            http.get_image(server.base_url + "/code.png")
        http.close()
    with HostileServer(endless_body()) as server:
        http = _http(server)
        with pytest.raises(BadResponse):
            http.get_image(server.base_url + "/code.png", max_bytes=100_000)
        http.close()
    http = GatewayHttp("http://127.0.0.1:9", deadline=DEADLINE)
    for url in ("http://example.com/code.png", "javascript:alert(1)", "file:///etc/passwd", "//x/y.png"):
        with pytest.raises(BadResponse):
            http.get_image(url)
    http.close()


# ---------------------------------------------------------------- redaction

KEY = "Zx9QmP4tRw7LkV2bNc8HdY6sFj3Ga5Ue"


@pytest.mark.parametrize("text", [
    f"sign error, key={KEY}",
    f"echo {KEY[:8]} and {KEY[-9:]}",
    f"{KEY[5:20]}",
    f"cut {KEY.lower()[3:14]}",
])
def test_no_run_of_eight_key_characters_survives(text):
    shown = redact_runs(text, [KEY])
    for i in range(len(KEY) - 7):
        assert KEY[i:i + 8].lower() not in shown.lower()
    assert "***" in shown


def test_short_runs_and_other_text_are_kept():
    assert redact_runs(f"code {KEY[:7]} ok", [KEY]) == f"code {KEY[:7]} ok"
    assert redact_runs("签名错误 sign error", [KEY]) == "签名错误 sign error"
    assert redact_runs("key=abc123 here", ["abc123"]) == "key=*** here"


def test_an_excerpt_is_redacted_before_it_is_cut():
    """The key starts just before the 80th character: cutting first would keep a piece of it."""
    text = "x" * 70 + KEY + "y" * 20
    with HostileServer(answer(text, content_type="text/html")) as server:
        http = GatewayHttp(server.base_url, secrets=(KEY,), deadline=DEADLINE)
        with pytest.raises(BadResponse) as info:
            http.get("/api", {})
        http.close()
    message = info.value.message("en")
    for i in range(len(KEY) - 7):
        assert KEY[i:i + 8] not in message
    assert http.excerpt(text).startswith("x" * 70 + "***")
