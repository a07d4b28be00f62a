"""epay 易支付: every operation over real HTTP against the simulated site, and each
failure class. No sleeping: the simulator's clock is advanced instead."""

from __future__ import annotations

import hashlib
import logging
import socket
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.gateways.endpoint import NotifyEndpoint
from cashier.gateways import build_gateway
from cashier.gateways.base import (
    BadResponse,
    BadSignature,
    Capability,
    ConnectionLost,
    DefiniteError,
    IncomingRequest,
    InvalidParameter,
    Method,
    NotificationError,
    NotSent,
    NotSupported,
    OrderRef,
    PayStatus,
    Profile,
    RateLimited,
    RefundStatus,
    Rejected,
    ServerError,
    Timeout,
    UnknownOutcome,
    Wallet,
    check_notification_against,
)
from cashier.gateways.epay import EpayGateway
from cashier.gateways.http import GatewayHttp
from cashier.sim.client import SimControlError

Y = Decimal


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@pytest.fixture
def gw(make_gateway) -> EpayGateway:
    return make_gateway("epay")


@pytest.fixture
def secret(demo_profile) -> str:
    return demo_profile("epay")[1]


@pytest.fixture
def site(sim):
    """The simulated epay site (its knobs and what it received)."""
    return sim.gateways["epay"]


def ref(no: str, amount: str = "1.00", method: Method = Method.WECHAT, **kw) -> OrderRef:
    return OrderRef(no, Y(amount), method, **kw)


def received(site, op: str) -> dict[str, str]:
    return [params for got, params in site.received if got == op][-1]


def gateway_with(demo_profile, *, secret: str | None = None, merchant_id: str | None = None,
                 base_url: str | None = None, timeout: httpx.Timeout | None = None) -> EpayGateway:
    profile, real_secret = demo_profile("epay")
    fields = profile.to_dict()
    if merchant_id:
        fields["merchant_id"] = merchant_id
    if base_url:
        fields["base_url"] = base_url
    profile = Profile.from_dict(fields)
    key = secret or real_secret
    http = GatewayHttp(profile.base_url, secrets=(key,), timeout=timeout) if timeout else None
    return build_gateway(profile, key, http=http)


def paid_order(gw, sim_client, no: str, amount: str = "1.00", method: Method = Method.WECHAT):
    gw.create_qr(no, Y(amount), method, "测试商品", 300)
    sim_client.pay("epay", no)
    return ref(no, amount, method)


# ------------------------------------------------------------------------ signing


def test_check_vector_through_the_gateway(demo_profile):
    gateway = gateway_with(demo_profile, secret="58b31d465652be856d7ed80977aa4ce4")
    fields = {"timestamp": "1548047628", "uid": "1000", "sign": "x", "sign_type": "MD5", "empty": ""}
    assert gateway.sign(fields) == "15540d3398e5ed2a37533e3fc032e1a0"
    gateway.close_transport()


def test_mapi_signature_by_hand(gw, site, secret):
    gw.create_qr("SIGN000001", Y("1.00"), Method.WECHAT, "测试 商品&A", 300)
    got = received(site, "create")
    expected = ("clientip=127.0.0.1&device=pc&money=1.00&name=测试 商品&A&notify_url=http://127.0.0.1/notify"
                "&out_trade_no=SIGN000001&pid=1001&type=wxpay")
    assert gw.signing_string(got) == expected
    assert got["sign"] == md5(expected + secret)
    assert got["sign_type"] == "MD5"
    assert "key" not in got


def test_merged_url_signature_by_hand(gw, secret, sim):
    qr = gw.create_qr("SIGN000002", Y("2.50"), Method.MERGED, "整单", 300)
    parts = urlsplit(qr.qr)
    assert parts.path == "/epay/submit.php"
    fields = dict(parse_qsl(parts.query))
    assert "type" not in fields and "key" not in fields
    expected = ("money=2.50&name=整单&notify_url=http://127.0.0.1/notify&out_trade_no=SIGN000002&pid=1001"
                "&return_url=http://127.0.0.1/notify")
    assert fields["sign"] == md5(expected + secret)
    assert fields["sign_type"] == "MD5"
    assert secret not in qr.qr


def test_micropay_signature_by_hand(gw, site, secret):
    gw.micropay("SIGN000003", Y("0.01"), "134567890123456789", Wallet.WECHAT, "付款码")
    got = received(site, "micropay")
    expected = ("auth_code=134567890123456789&clientip=127.0.0.1&device=pc&method=scan&money=0.01&name=付款码"
                "&notify_url=http://127.0.0.1/notify&out_trade_no=SIGN000003&pid=1001&type=wxpay")
    assert got["sign"] == md5(expected + secret)


def test_api_calls_carry_the_key_not_a_signature(gw, sim_client, site, secret):
    order = paid_order(gw, sim_client, "SIGN000004")
    gw.query(order)
    assert received(site, "query") == {"act": "order", "pid": "1001", "key": secret, "out_trade_no": "SIGN000004"}
    gw.refund(order, "R-SIGN000004", Y("0.10"), "test")
    got = received(site, "refund")
    assert got["key"] == secret and got["money"] == "0.10" and got["out_trade_no"] == "SIGN000004"
    assert "sign" not in got


def test_site_rejects_a_request_signed_over_other_fields(sim, secret):
    fields = {"pid": "1001", "type": "wxpay", "out_trade_no": "RAW0000001", "notify_url": "http://127.0.0.1/n",
              "name": "x", "money": "1.00", "clientip": "127.0.0.1"}
    signed_without_clientip = {k: v for k, v in fields.items() if k != "clientip"}
    sign = md5("&".join(f"{k}={signed_without_clientip[k]}" for k in sorted(signed_without_clientip)) + secret)
    answer = httpx.post(sim.gateway_url("epay") + "/mapi.php", data={**fields, "sign": sign, "sign_type": "MD5"}).json()
    assert answer == {"code": -1, "msg": "签名校验失败，请返回重试！"}
    good = md5("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + secret)
    answer = httpx.post(sim.gateway_url("epay") + "/mapi.php", data={**fields, "sign": good, "sign_type": "MD5"}).json()
    assert answer["code"] == 1 and answer["qrcode"].startswith("weixin://wxpay/bizpayurl?pr=")


def test_site_enforces_the_out_trade_no_pattern(sim, secret):
    fields = {"pid": "1001", "type": "alipay", "out_trade_no": "bad no!", "notify_url": "http://127.0.0.1/n",
              "name": "x", "money": "1.00", "clientip": "127.0.0.1"}
    fields["sign"] = md5("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + secret)
    answer = httpx.post(sim.gateway_url("epay") + "/mapi.php", data=fields).json()
    assert answer == {"code": -1, "msg": "订单号(out_trade_no)格式不正确"}


def test_pipe_numbers_are_creatable_but_not_queryable_so_the_client_refuses_them(gw, sim, secret):
    fields = {"pid": "1001", "type": "alipay", "out_trade_no": "A|B|0001", "notify_url": "http://127.0.0.1/n",
              "name": "x", "money": "1.00", "clientip": "127.0.0.1"}
    fields["sign"] = md5("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + secret)
    assert httpx.post(sim.gateway_url("epay") + "/mapi.php", data=fields).json()["code"] == 1
    answer = httpx.get(sim.gateway_url("epay") + "/api.php",
                       params={"act": "order", "pid": "1001", "key": secret, "out_trade_no": "A|B|0001"}).json()
    assert answer == {"code": -4, "msg": "商户订单号不合法"}
    with pytest.raises(InvalidParameter):
        gw.create_qr("A|B|0002", Y("1.00"), Method.ALIPAY, "x", 300)


# ---------------------------------------------------------------------- QR orders


@pytest.mark.parametrize("method, wallet, prefix", [
    (Method.WECHAT, Wallet.WECHAT, "weixin://wxpay/bizpayurl?pr="),
    (Method.ALIPAY, Wallet.ALIPAY, "https://qr.alipay.com/"),
    (Method.QQ, Wallet.QQ, "https://qpay.qq.com/qr/"),
])
def test_create_qr(gw, sim_client, method, wallet, prefix):
    before = datetime.now(timezone.utc)
    qr = gw.create_qr("QR" + method.value.upper()[:6] + "01", Y("12.34"), method, "商品", 300)
    assert qr.qr.startswith(prefix)
    assert qr.wallet == wallet and qr.amount_to_pay == Y("12.34") and qr.qr_image_url is None
    assert qr.gateway_trade_no
    assert qr.expires_at.tzinfo is not None and 290 <= (qr.expires_at - before).total_seconds() <= 310
    booked = sim_client.order("epay", qr.out_trade_no)
    assert booked["amount"] == "12.34" and booked["trade_no"] == qr.gateway_trade_no


def test_payurl_answer_is_encoded_when_there_is_no_qrcode(gw, site):
    site.link_field["alipay"] = "payurl"
    qr = gw.create_qr("PAYURL0001", Y("1.00"), Method.ALIPAY, "x", 300)
    assert qr.qr.startswith("https://qr.alipay.com/")


def test_relative_cashier_link_is_made_absolute(gw, site, sim):
    site.no_channel.add("qqpay")
    qr = gw.create_qr("NOCHAN0001", Y("1.00"), Method.QQ, "x", 300)
    assert qr.qr.startswith(sim.gateway_url("epay") + "/cashier.php?trade_no=")
    assert qr.gateway_trade_no is None


def test_mini_program_link_only_is_refused(gw, site):
    site.link_field["wxpay"] = "urlscheme"
    with pytest.raises(Rejected):
        gw.create_qr("SCHEME0001", Y("1.00"), Method.WECHAT, "x", 300)


def test_php_notice_before_the_json_is_skipped(gw, site):
    site.php_notice = True
    qr = gw.create_qr("NOTICE0001", Y("1.00"), Method.WECHAT, "x", 300)
    assert qr.qr.startswith("weixin://")
    assert gw.query(ref("NOTICE0001")).status == PayStatus.PENDING


def test_retry_with_same_parameters_gets_the_same_order(gw, sim_client):
    first = gw.create_qr("RETRY00001", Y("5.00"), Method.ALIPAY, "x", 300)
    again = gw.create_qr("RETRY00001", Y("5.00"), Method.ALIPAY, "x", 300)
    assert (again.gateway_trade_no, again.qr) == (first.gateway_trade_no, first.qr)
    assert len([o for o in sim_client.orders("epay") if o["out_trade_no"] == "RETRY00001"]) == 1


def test_duplicate_order_number_with_other_parameters_is_rejected(gw):
    gw.create_qr("DUP0000001", Y("5.00"), Method.ALIPAY, "x", 300)
    with pytest.raises(Rejected) as err:
        gw.create_qr("DUP0000001", Y("6.00"), Method.ALIPAY, "x", 300)
    assert "支付参数有变化" in str(err.value.params["reason"])


def test_create_again_after_payment_is_unknown_outcome_then_query_says_paid(gw, sim_client):
    order = paid_order(gw, sim_client, "PAIDAGAIN1")
    with pytest.raises(UnknownOutcome):
        gw.create_qr("PAIDAGAIN1", Y("1.00"), Method.WECHAT, "测试商品", 300)
    assert gw.query(order).status == PayStatus.PAID


def test_invalid_parameters(gw, site):
    with pytest.raises(InvalidParameter):
        gw.create_qr("short", Y("1.00"), Method.WECHAT, "x", 300)
    with pytest.raises(InvalidParameter):
        gw.create_qr("AMOUNT0001", Y("1.001"), Method.WECHAT, "x", 300)
    site.max_money = Y("10.00")
    with pytest.raises(InvalidParameter) as err:
        gw.create_qr("AMOUNT0002", Y("20.00"), Method.WECHAT, "x", 300)
    assert "最大支付金额是10.00元" in str(err.value.params["reason"])
    with pytest.raises(NotSupported):
        gw.create_qr("AMOUNT0003", Y("1.00"), Method.MICROPAY, "x", 300)


def test_bad_key_is_bad_signature_everywhere(demo_profile, gw, sim_client):
    order = paid_order(gw, sim_client, "BADKEY0001")
    wrong = gateway_with(demo_profile, secret="not-the-key-00000000000000000000")
    with pytest.raises(BadSignature):
        wrong.create_qr("BADKEY0002", Y("1.00"), Method.WECHAT, "x", 300)
    with pytest.raises(BadSignature):
        wrong.micropay("BADKEY0003", Y("1.00"), "134567890123456789", Wallet.WECHAT, "x")
    with pytest.raises(BadSignature):
        wrong.query(order)
    with pytest.raises(BadSignature):
        wrong.refund(order, "R-BADKEY", Y("1.00"), "x")
    with pytest.raises(BadSignature):
        wrong.check_connection()
    wrong.close_transport()
    assert sim_client.order("epay", "BADKEY0001")["refunded"] == "0.00"


def test_unknown_merchant(demo_profile):
    stranger = gateway_with(demo_profile, merchant_id="9999")
    with pytest.raises(InvalidParameter):
        stranger.create_qr("NOMERCH001", Y("1.00"), Method.WECHAT, "x", 300)
    with pytest.raises(InvalidParameter):
        stranger.query(ref("NOMERCH001"))
    stranger.close_transport()


# ------------------------------------------------------------------ 一码付 merged


def test_merged_code_not_scanned_is_not_found_then_pending_then_paid(gw, sim_client, sim):
    qr = gw.create_qr("MERGED0001", Y("8.80"), Method.MERGED, "整单", 300)
    assert qr.wallet == Wallet.UNKNOWN and qr.gateway_trade_no is None
    order = ref("MERGED0001", "8.80", Method.MERGED)
    assert gw.query(order).status == PayStatus.NOT_FOUND  # nobody opened it yet
    # The customer's phone opens the link: the site's cashier page, the order exists now.
    page = httpx.get(qr.qr)
    assert page.status_code == 200 and "收银台" in page.text and "8.80" in page.text
    state = gw.query(order)
    assert state.status == PayStatus.PENDING and state.gateway_trade_no
    # Opening it twice reuses the same order.
    httpx.get(qr.qr)
    assert len([o for o in sim_client.orders("epay") if o["out_trade_no"] == "MERGED0001"]) == 1
    # The payer picks Alipay on the page.
    paid_page = httpx.get(sim.gateway_url("epay") + "/cashier.php",
                          params={"trade_no": state.gateway_trade_no, "type": "alipay", "pay": "1"})
    assert "支付成功" in paid_page.text
    done = gw.query(order)
    assert done.status == PayStatus.PAID and done.wallet == Wallet.ALIPAY and done.paid_amount == Y("8.80")


def test_control_api_pays_a_merged_code_nobody_opened(gw, sim_client):
    qr = gw.create_qr("MERGED0002", Y("3.00"), Method.MERGED, "整单", 300)
    with pytest.raises(SimControlError):
        sim_client.pay("epay", "MERGED0002")  # the site has no such order yet
    sim_client.pay("epay", "MERGED0002", url=qr.qr, wallet="wechat")
    state = gw.query(ref("MERGED0002", "3.00", Method.MERGED))
    assert state.status == PayStatus.PAID and state.wallet == Wallet.WECHAT


def test_merged_code_with_a_bad_key_shows_the_site_error_page(demo_profile):
    wrong = gateway_with(demo_profile, secret="not-the-key-00000000000000000000")
    qr = wrong.create_qr("MERGED0003", Y("1.00"), Method.MERGED, "x", 300)  # nothing is sent
    assert "签名校验失败" in httpx.get(qr.qr).text
    wrong.close_transport()


def test_expired_order_cannot_be_paid_and_stays_unpaid(gw, sim_client, site):
    gw.create_qr("EXPIRE0001", Y("1.00"), Method.WECHAT, "x", 300)
    sim_client.advance(site.order_ttl + 1)
    with pytest.raises(SimControlError):
        sim_client.pay("epay", "EXPIRE0001")
    assert gw.query(ref("EXPIRE0001")).status == PayStatus.PENDING  # epay knows no expiry


def test_no_close_no_reverse_no_refund_query(gw):
    assert Capability.CLOSE not in gw.capabilities
    assert Capability.REVERSE not in gw.capabilities
    assert Capability.REFUND_QUERY not in gw.capabilities
    assert Capability.MICROPAY in gw.unverified
    assert gw.limits.max_partial_refunds is None
    for call in (lambda: gw.close(ref("NOCLOSE001")), lambda: gw.reverse(ref("NOCLOSE001")),
                 lambda: gw.refund_query(ref("NOCLOSE001"), "R1")):
        with pytest.raises(NotSupported):
            call()
    assert set(gw.qr_methods()) == {Method.MERGED, Method.WECHAT, Method.ALIPAY, Method.QQ}


# -------------------------------------------------------------------------- query


def test_query_states(gw, sim_client, site):
    assert gw.query(ref("QUERY00000")).status == PayStatus.NOT_FOUND
    gw.create_qr("QUERY00001", Y("2.00"), Method.ALIPAY, "x", 300)
    pending = gw.query(ref("QUERY00001", "2.00", Method.ALIPAY))
    assert pending.status == PayStatus.PENDING and pending.wallet == Wallet.ALIPAY
    sim_client.pay("epay", "QUERY00001", wallet="alipay")
    paid = gw.query(ref("QUERY00001", "2.00", Method.ALIPAY))
    assert paid.status == PayStatus.PAID and paid.paid_amount == Y("2.00")
    assert paid.paid_at is not None and paid.paid_at.tzinfo is not None
    assert abs((paid.paid_at - datetime.now(timezone.utc)).total_seconds()) < 120  # Beijing time read right
    site.frozen.add("QUERY00001")
    frozen = gw.query(ref("QUERY00001", "2.00", Method.ALIPAY))
    assert frozen.status == PayStatus.PAID and frozen.reason


def test_query_after_refund_says_refunded(gw, sim_client):
    order = paid_order(gw, sim_client, "QUERYREF01", "4.00")
    gw.refund(order, "R-QUERYREF01", Y("1.00"), "x")
    state = gw.query(order)
    assert state.status == PayStatus.REFUNDED and state.paid_amount == Y("4.00")


# ----------------------------------------------------------------------- micropay


def test_micropay_paid_at_once(gw, sim_client):
    state = gw.micropay("MICRO00001", Y("9.90"), "134567890123456789", Wallet.WECHAT, "付款码")
    assert state.status == PayStatus.PAID and state.paid_amount == Y("9.90") and state.wallet == Wallet.WECHAT
    assert sim_client.order("epay", "MICRO00001")["charged"] == 1


def test_micropay_wallet_from_the_code(gw, site):
    state = gw.micropay("MICRO00002", Y("1.00"), "2812345678901234", Wallet.UNKNOWN, "x")
    assert state.status == PayStatus.PAID and received(site, "micropay")["type"] == "alipay"
    with pytest.raises(InvalidParameter):
        gw.micropay("MICRO00003", Y("1.00"), "5512345678901234", Wallet.UNKNOWN, "x")


def test_micropay_customer_confirming_then_query(gw, sim_client):
    sim_client.micropay_behaviour("password", seconds=10)
    state = gw.micropay("MICRO00004", Y("1.00"), "134567890123456780", Wallet.WECHAT, "x")
    assert state.status == PayStatus.PENDING and state.user_paying
    order = ref("MICRO00004", method=Method.MICROPAY)
    assert gw.query(order).status == PayStatus.PENDING
    sim_client.advance(10)
    assert gw.query(order).status == PayStatus.PAID


def test_micropay_decline_is_a_definite_failure(gw, sim_client):
    sim_client.micropay_behaviour("decline", reason="余额不足")
    state = gw.micropay("MICRO00005", Y("1.00"), "134567890123456781", Wallet.WECHAT, "x")
    assert state.status == PayStatus.FAILED and state.reason == "余额不足"
    used = gw.micropay("MICRO00006", Y("1.00"), "134567890123456781", Wallet.WECHAT, "x")
    assert used.status == PayStatus.FAILED and "付款码" in used.reason


def test_micropay_system_error_is_unknown_and_the_query_tells(gw, sim_client):
    sim_client.micropay_behaviour("error_then_pay")
    with pytest.raises(UnknownOutcome):
        gw.micropay("MICRO00007", Y("1.00"), "134567890123456782", Wallet.WECHAT, "x")
    assert gw.query(ref("MICRO00007", method=Method.MICROPAY)).status == PayStatus.PAID
    # A retry of the same attempt does not charge again.
    with pytest.raises(UnknownOutcome):
        gw.micropay("MICRO00007", Y("1.00"), "134567890123456782", Wallet.WECHAT, "x")
    assert sim_client.order("epay", "MICRO00007")["charged"] == 1


def test_micropay_v1_default_answer_after_the_charge_is_unknown_never_a_refusal(gw, site, sim_client):
    """彩虹易支付 V1: after the channel charged, echoJson answers code 1 + payurl."""
    site.scan_reply = "echojson"
    with pytest.raises(UnknownOutcome) as err:
        gw.micropay("MICRO00010", Y("3.00"), "134567890123456784", Wallet.WECHAT, "x")
    assert not isinstance(err.value, DefiniteError)
    assert sim_client.order("epay", "MICRO00010")["charged"] == 1
    assert gw.query(ref("MICRO00010", "3.00", Method.MICROPAY)).status == PayStatus.PAID


def test_micropay_v1_alipay_channel_shows_unpaid_until_its_notice(gw, site, sim_client):
    """The site's Alipay channel marks a scanned payment paid only when Alipay's notice
    arrives: the order reads status 0 for a while after the charge."""
    site.scan_reply, site.paid_status_lag = "echojson", 20.0
    with pytest.raises(UnknownOutcome):
        gw.micropay("MICRO00011", Y("3.00"), "2812345678901234", Wallet.ALIPAY, "x")
    order = ref("MICRO00011", "3.00", Method.MICROPAY)
    assert gw.query(order).status == PayStatus.PENDING
    sim_client.advance(21)
    assert gw.query(order).status == PayStatus.PAID


def test_micropay_v1_decline_is_code_minus_2_with_trade_no(gw, site, sim_client):
    site.scan_reply = "echojson"
    sim_client.micropay_behaviour("decline", reason="余额不足")
    state = gw.micropay("MICRO00012", Y("1.00"), "134567890123456785", Wallet.WECHAT, "x")
    assert state.status == PayStatus.FAILED and state.reason == "余额不足"
    assert received(site, "micropay")["method"] == "scan"


def test_micropay_resubmitted_after_payment_is_unknown(gw, site):
    """code -1 该订单(...)已完成支付: a retry of an order paid meanwhile, never a failure."""
    site.scan_reply = "echojson"
    with pytest.raises(UnknownOutcome):
        gw.micropay("MICRO00013", Y("1.00"), "134567890123456786", Wallet.WECHAT, "x")
    with pytest.raises(UnknownOutcome) as err:
        gw.micropay("MICRO00013", Y("1.00"), "134567890123456786", Wallet.WECHAT, "x")
    assert "已完成支付" in err.value.message()


def test_micropay_on_a_site_without_scan_support_is_unknown_not_a_refusal(gw, site):
    """An old site ignores method=scan and answers a QR link: the same form as a V1
    success, so a live charge can never tell them apart. Unknown: query."""
    site.scan_supported = False
    with pytest.raises(UnknownOutcome):
        gw.micropay("MICRO00008", Y("1.00"), "134567890123456783", Wallet.WECHAT, "x")
    assert gw.query(ref("MICRO00008", method=Method.MICROPAY)).status == PayStatus.PENDING


def test_micropay_refuses_a_non_numeric_code(gw):
    with pytest.raises(InvalidParameter):
        gw.micropay("MICRO00009", Y("1.00"), "abc", Wallet.WECHAT, "x")


# ------------------------------------------------------------------------ refunds


def test_refund_succeeds_synchronously(gw, sim_client):
    order = paid_order(gw, sim_client, "REFUND0001", "10.00")
    result = gw.refund(order, "R-REFUND0001", Y("10.00"), "退货")
    assert result.status == RefundStatus.SUCCEEDED and result.amount == Y("10.00")
    assert result.out_refund_no == "R-REFUND0001" and "退款成功" in result.reason
    assert sim_client.order("epay", "REFUND0001")["refunded"] == "10.00"
    with pytest.raises(Rejected):  # "该订单已全额退款！"
        gw.refund(order, "R-REFUND0001b", Y("0.01"), "x")


def test_partial_refunds_up_to_the_rest(gw, sim_client):
    order = paid_order(gw, sim_client, "REFUND0002", "10.00")
    gw.refund(order, "R1", Y("3.00"), "x")
    gw.refund(order, "R2", Y("3.00"), "x")
    with pytest.raises(Rejected) as err:
        gw.refund(order, "R3", Y("5.00"), "x")
    assert "剩余可退款金额" in str(err.value.params["reason"])
    assert sim_client.order("epay", "REFUND0002")["refunded"] == "6.00"


def test_refund_is_not_idempotent_at_the_gateway(gw, sim_client):
    """Documented hazard: epay has no out_refund_no, a resent refund refunds again."""
    order = paid_order(gw, sim_client, "REFUND0003", "10.00")
    gw.refund(order, "R-SAME", Y("1.00"), "x")
    gw.refund(order, "R-SAME", Y("1.00"), "x")
    assert sim_client.order("epay", "REFUND0003")["refunded"] == "2.00"


def test_refund_switch_off_is_refused_with_the_sites_words(gw, sim_client, secret):
    order = paid_order(gw, sim_client, "REFUND0004")
    # (a new Merchant record: the demo one is shared by every simulator of the process)
    sim_client.add_merchant("epay", "1001", secret, refund_enabled=False)
    with pytest.raises(Rejected) as err:
        gw.refund(order, "R-REFUND0004", Y("1.00"), "x")
    assert err.value.params["reason"] == "商户未开启订单退款API接口"


def test_site_wide_refund_switch_off(gw, sim_client, site):
    order = paid_order(gw, sim_client, "REFUND0005")
    site.user_refund = False
    with pytest.raises(Rejected):
        gw.refund(order, "R-REFUND0005", Y("1.00"), "x")


def test_seed_style_success_code_1_is_accepted(gw, sim_client, site):
    order = paid_order(gw, sim_client, "REFUND0006")
    site.refund_success_code = 1
    assert gw.refund(order, "R-REFUND0006", Y("1.00"), "x").status == RefundStatus.SUCCEEDED


def test_refund_of_unpaid_or_unknown_order_is_rejected(gw):
    gw.create_qr("REFUND0007", Y("1.00"), Method.WECHAT, "x", 300)
    with pytest.raises(Rejected):
        gw.refund(ref("REFUND0007"), "R-REFUND0007", Y("1.00"), "x")
    with pytest.raises(Rejected):
        gw.refund(ref("REFUND0008"), "R-REFUND0008", Y("1.00"), "x")


def test_refund_channel_failure_is_unknown_not_a_refusal(gw, sim_client):
    """"退款失败：<channel words>" comes after the site asked the channel, which may have
    refunded (its timeout reads the same): not a definite refusal."""
    order = paid_order(gw, sim_client, "REFUND0009")
    sim_client.refund_behaviour(fail_next=True)
    with pytest.raises(UnknownOutcome) as err:
        gw.refund(order, "R-REFUND0009", Y("1.00"), "x")
    assert not isinstance(err.value, DefiniteError)
    assert "退款失败" in err.value.message()
    assert gw.query(order).status == PayStatus.PAID


def test_refund_answer_lost_then_query_shows_it_refunded(gw, sim_client):
    order = paid_order(gw, sim_client, "REFUND0010")
    sim_client.fault("http500", gateway="epay", op="refund", when="after")
    with pytest.raises(ServerError):
        gw.refund(order, "R-REFUND0010", Y("1.00"), "x")
    assert gw.query(order).status == PayStatus.REFUNDED  # what the engine must do: query, not resend


def test_refund_by_gateway_trade_no(gw, sim_client, site):
    qr = gw.create_qr("REFUND0011", Y("2.00"), Method.WECHAT, "x", 300)
    sim_client.pay("epay", "REFUND0011")
    gw.refund(ref("REFUND0011", "2.00", gateway_trade_no=qr.gateway_trade_no), "R-11", Y("2.00"), "x")
    assert received(site, "refund")["trade_no"] == qr.gateway_trade_no


# ---------------------------------------------------------------- check connection


def test_check_connection(gw, sim_client, secret):
    paid_order(gw, sim_client, "CHECK00001", "1.50")
    text = gw.check_connection()
    assert "1001" in text and "1.50" in text and secret not in text


def test_check_connection_banned_merchant(gw, site):
    site.banned.add("1001")
    with pytest.raises(Rejected):
        gw.check_connection()


# --------------------------------------------------------------------- failures


def test_rate_limited_then_fine_after_waiting(gw, site, sim_client):
    site.rate_interval = 5.0
    order = ref("RATE000001")
    gw.query(order)
    with pytest.raises(RateLimited):
        gw.query(order)
    sim_client.advance(5)
    assert gw.query(order).status == PayStatus.NOT_FOUND


def test_http_500_before_processing(gw, sim_client):
    sim_client.fault("http500", gateway="epay", op="create", when="before")
    with pytest.raises(ServerError):
        gw.create_qr("HTTP500001", Y("1.00"), Method.WECHAT, "x", 300)
    with pytest.raises(SimControlError):
        sim_client.order("epay", "HTTP500001")


def test_http_500_after_processing_then_retry_gets_the_same_order(gw, sim_client):
    sim_client.fault("http500", gateway="epay", op="create", when="after")
    with pytest.raises(ServerError):
        gw.create_qr("HTTP500002", Y("1.00"), Method.WECHAT, "x", 300)
    booked = sim_client.order("epay", "HTTP500002")
    again = gw.create_qr("HTTP500002", Y("1.00"), Method.WECHAT, "x", 300)
    assert again.gateway_trade_no == booked["trade_no"]


@pytest.mark.parametrize("when, exists", [("before", False), ("after", True)])
def test_connection_reset(gw, sim_client, when, exists):
    no = "RESET" + when.upper()[:5]
    sim_client.fault("reset", gateway="epay", op="create", when=when)
    with pytest.raises(ConnectionLost):
        gw.create_qr(no, Y("1.00"), Method.WECHAT, "x", 300)
    assert any(o["out_trade_no"] == no for o in sim_client.orders("epay")) is exists


def test_malformed_answer(gw, sim_client):
    sim_client.fault("malformed", gateway="epay", op="query", when="before")
    with pytest.raises(BadResponse):
        gw.query(ref("MALFORM001"))


def test_timeout(demo_profile, sim_client):
    slow = gateway_with(demo_profile, timeout=httpx.Timeout(0.3))
    sim_client.fault("delay", gateway="epay", op="micropay", seconds=1.0)
    with pytest.raises(Timeout):
        slow.micropay("TIMEOUT001", Y("1.00"), "134567890123456784", Wallet.WECHAT, "x")
    slow.close_transport()


def test_connection_refused_is_not_sent(demo_profile):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = gateway_with(demo_profile, base_url=f"http://127.0.0.1:{port}/epay")
    with pytest.raises(NotSent):
        closed.query(ref("REFUSED001"))
    closed.close_transport()


# ----------------------------------------------------------------- notifications


_Receiver = NotifyEndpoint


@pytest.fixture
def receiver(gw):
    r = _Receiver(gw)
    yield r
    r.close()


def test_notification_verified_and_replied_success(gw, sim_client, receiver):
    paid_order(gw, sim_client, "NOTIFY0001", "1.00")
    sent = sim_client.notify("epay", "NOTIFY0001", url=receiver.url)
    assert sent["status"] == 200 and sent["body"] == "success"
    got = receiver.requests[-1]
    assert got.query["money"] == "1"  # as PHP prints a float: verified over the raw string
    note = receiver.notes[-1]
    assert note.paid and note.kind == "payment" and note.amount == Y("1.00")
    assert note.out_trade_no == "NOTIFY0001" and note.wallet == Wallet.WECHAT and note.gateway_trade_no
    check_notification_against(note, {"NOTIFY0001": Y("1.00")})
    # A replay parses the same (idempotency is the engine's business).
    sim_client.notify("epay", "NOTIFY0001", url=receiver.url)
    assert receiver.notes[-1] == note


def test_notification_with_db_style_money(gw, sim_client, receiver, site):
    site.notify_money_style = "db"
    paid_order(gw, sim_client, "NOTIFY0002", "12.50")
    sim_client.notify("epay", "NOTIFY0002", url=receiver.url)
    assert receiver.requests[-1].query["money"] == "12.50"
    assert receiver.notes[-1].amount == Y("12.50")


def test_forged_notification_is_rejected(gw, sim_client, receiver):
    paid_order(gw, sim_client, "NOTIFY0003")
    sent = sim_client.notify("epay", "NOTIFY0003", url=receiver.url, forge=True)
    assert sent["body"] != "success"
    assert isinstance(receiver.notes[-1], NotificationError)
    assert receiver.notes[-1].key == "gw.notify_bad_signature"


def test_amount_mismatch_is_caught_by_the_order_check(gw, sim_client, receiver):
    paid_order(gw, sim_client, "NOTIFY0004", "5.00")
    sim_client.notify("epay", "NOTIFY0004", url=receiver.url, amount="0.50")
    note = receiver.notes[-1]
    assert note.amount == Y("0.50")  # the signature is right: the site said so
    with pytest.raises(NotificationError) as err:
        check_notification_against(note, {"NOTIFY0004": Y("5.00")})
    assert err.value.key == "gw.notify_amount_mismatch"
    with pytest.raises(NotificationError):
        check_notification_against(note, {"SOMEONEELS": Y("0.50")})


def _incoming(fields: dict[str, str]) -> IncomingRequest:
    return IncomingRequest("GET", "/notify", fields, {}, b"", {})


def test_notification_fields_by_hand(gw, secret):
    fields = {"pid": "1001", "trade_no": "2024010112345678901", "out_trade_no": "HAND000001", "type": "alipay",
              "name": "VIP会员", "money": "1.5", "trade_status": "TRADE_SUCCESS", "param": ""}
    signed = ("money=1.5&name=VIP会员&out_trade_no=HAND000001&pid=1001&trade_no=2024010112345678901"
              "&trade_status=TRADE_SUCCESS&type=alipay")
    fields.update(sign=md5(signed + secret), sign_type="MD5")
    note = gw.verify_notification(_incoming(fields))
    assert note.paid and note.amount == Y("1.50") and note.wallet == Wallet.ALIPAY
    # Re-formatting money ("1.50") breaks the signature: we must verify the raw strings.
    with pytest.raises(NotificationError):
        gw.verify_notification(_incoming({**fields, "money": "1.50"}))
    unpaid = {**fields, "trade_status": "WAIT_BUYER_PAY"}
    unpaid["sign"] = md5(signed.replace("TRADE_SUCCESS", "WAIT_BUYER_PAY") + secret)
    assert gw.verify_notification(_incoming(unpaid)).paid is False
    for broken in ({k: v for k, v in fields.items() if k != "out_trade_no"}, {**fields, "sign_type": "RSA"}):
        with pytest.raises(NotificationError) as err:
            gw.verify_notification(_incoming(broken))
        assert err.value.key in ("gw.notify_malformed", "gw.notify_bad_signature")
    other = {**fields, "pid": "1002"}
    other["sign"] = md5(signed.replace("pid=1001", "pid=1002") + secret)
    with pytest.raises(NotificationError):
        gw.verify_notification(_incoming(other))


def test_notification_reply(gw):
    assert gw.notification_reply(True).body == "success"
    assert "success" not in gw.notification_reply(False).body


def test_site_sends_no_refund_notification(gw, sim_client):
    order = paid_order(gw, sim_client, "NOTIFY0005")
    gw.refund(order, "R-NOTIFY0005", Y("1.00"), "x")
    with pytest.raises(SimControlError):
        sim_client.notify("epay", "NOTIFY0005", out_refund_no="R-NOTIFY0005")


# ------------------------------------------------------------------------- secrets


def test_the_key_never_appears_in_logs_or_errors(demo_profile, gw, sim_client, site, secret, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []

    def attempt(call):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - collected to check their texts
            errors.append(exc)

    order = paid_order(gw, sim_client, "SECRET0001")
    attempt(lambda: gw.query(order))
    attempt(lambda: gw.check_connection())
    attempt(lambda: gw.refund(order, "R-SECRET", Y("0.10"), "x"))
    for kind in ("http500", "malformed", "reset"):
        sim_client.fault(kind, gateway="epay", op="query", when="after")
        attempt(lambda: gw.query(order))
    site.rate_interval = 60.0
    attempt(lambda: gw.query(order))
    attempt(lambda: gw.query(order))
    site.rate_interval = 0.0
    slow = gateway_with(demo_profile, timeout=httpx.Timeout(0.3))
    sim_client.fault("delay", gateway="epay", op="query", seconds=1.0)
    attempt(lambda: slow.query(order))
    sim_client.fault("delay", gateway="epay", op="balance", seconds=1.0)
    attempt(lambda: slow.check_connection())
    slow.close_transport()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = gateway_with(demo_profile, base_url=f"http://127.0.0.1:{port}/epay")
    attempt(lambda: closed.query(order))
    closed.close_transport()
    assert {type(e) for e in errors} >= {ServerError, BadResponse, ConnectionLost, RateLimited, Timeout, NotSent}
    assert any("api.php" in r.getMessage() for r in caplog.records)  # the calls were logged...
    for record in caplog.records:
        assert secret not in record.getMessage()  # ...by path only
    assert secret not in caplog.text
    for exc in errors:
        assert secret not in str(exc) and secret not in repr(exc)
        assert secret not in " ".join(str(v) for v in getattr(exc, "params", {}).values())
    assert secret not in repr(gw)


# ------------------------------------------------------------------------ profile


def test_pasted_php_file_in_the_base_url_is_trimmed(demo_profile):
    gateway = gateway_with(demo_profile, base_url=demo_profile("epay")[0].base_url + "/mapi.php")
    assert gateway.http.base_url.endswith("/epay")
    assert gateway.query(ref("TRIMMED001")).status == PayStatus.NOT_FOUND
    gateway.close_transport()


def test_merchant_id_must_be_a_number(demo_profile):
    from cashier.gateways.base import ConfigError

    with pytest.raises(ConfigError):
        gateway_with(demo_profile, merchant_id="abc")


# ------------------------------------------- answer forms of real 彩虹易支付 sites


def test_error_page_type_missing_is_a_definite_refusal_with_its_words(gw, site, sim_client):
    """Channel::submit prints the HTML page 支付方式(type)不存在 (here: UnionPay `bank`
    switched off, which a 62… code asks for): nothing reached a channel."""
    site.disabled_types.add("bank")
    with pytest.raises(Rejected) as err:
        gw.micropay("PAGE000001", Y("2.00"), "6212345678901234567", Wallet.UNKNOWN, "x")
    assert received(site, "micropay")["type"] == "bank"
    assert "支付方式(type)不存在" in err.value.message() and "扫码" in err.value.message()
    assert sim_client.order("epay", "PAGE000001")["charged"] == 0
    site.disabled_types.add("wxpay")
    with pytest.raises(Rejected) as err:
        gw.create_qr("PAGE000002", Y("2.00"), Method.WECHAT, "x", 300)
    assert "支付方式(type)不存在" in err.value.message()


def test_error_page_after_the_charge_is_unknown_with_its_words(gw, site, sim_client):
    site.pages_after_charge.append("Uncaught PDOException: SQLSTATE[HY000] [2002] Connection refused")
    with pytest.raises(UnknownOutcome) as err:
        gw.micropay("PAGE000003", Y("2.00"), "134567890123450001", Wallet.WECHAT, "x")
    assert not isinstance(err.value, DefiniteError)
    assert "SQLSTATE" in err.value.message() and "<" not in err.value.message()
    assert gw.query(ref("PAGE000003", "2.00", Method.MICROPAY)).status == PayStatus.PAID


def test_code_minus_1_from_the_plugin_is_unknown_but_the_sites_checks_are_refusals(gw, site, secret):
    site.errors_after_charge.append("微信支付下单失败！cURL error 28: Operation timed out")
    with pytest.raises(UnknownOutcome):
        gw.micropay("MINUS10001", Y("2.00"), "134567890123450002", Wallet.WECHAT, "x")
    assert gw.query(ref("MINUS10001", "2.00", Method.MICROPAY)).status == PayStatus.PAID
    wrong = gateway_with_secret(gw, "0" * 32)
    with pytest.raises(BadSignature):  # 签名校验失败: checked before anything else
        wrong.micropay("MINUS10002", Y("2.00"), "134567890123450003", Wallet.WECHAT, "x")
    wrong.close_transport()


def gateway_with_secret(gw, key: str) -> EpayGateway:
    return EpayGateway(gw.profile, key)


def test_refund_refusals_are_the_sites_own_checks(gw, sim_client):
    order = paid_order(gw, sim_client, "REFUSE0001", "5.00")
    with pytest.raises(Rejected) as err:
        gw.refund(order, "R-REFUSE0001", Y("6.00"), "x")
    assert "不能大于" in err.value.message()
    with pytest.raises(Rejected):  # 当前订单不存在！
        gw.refund(ref("REFUSE0002", "5.00"), "R-REFUSE0002", Y("1.00"), "x")
    assert sim_client.order("epay", "REFUSE0001")["refunded"] == "0.00"


def test_notification_with_a_whitespace_only_value(gw, secret):
    """The site leaves out values that are empty once trimmed (param=" "); an older site
    that signed them is accepted too. Signatures computed here by hand."""
    fields = {"pid": "1001", "trade_no": "2026120100000001", "out_trade_no": "BLANK00001", "type": "alipay",
              "name": "x", "money": "1", "trade_status": "TRADE_SUCCESS", "param": " \t"}
    base = "money=1&name=x&out_trade_no=BLANK00001&pid=1001&trade_no=2026120100000001" \
           "&trade_status=TRADE_SUCCESS&type=alipay"
    for signed_string in (base, base.replace("&pid=", "&param= \t&pid=")):
        query = {**fields, "sign": md5(signed_string + secret), "sign_type": "MD5"}
        note = gw.verify_notification(IncomingRequest("GET", "/notify", query, {}, b"", {}))
        assert note.paid and note.amount == Y("1.00")
    forged = {**fields, "sign": md5(base + "wrong"), "sign_type": "MD5"}
    with pytest.raises(NotificationError):
        gw.verify_notification(IncomingRequest("GET", "/notify", forged, {}, b"", {}))


def test_request_whitespace_only_values_are_left_out_of_the_signature(gw, secret):
    fields = {"pid": "1001", "out_trade_no": "X1", "param": "  ", "name": "n"}
    assert gw.sign(fields) == md5("name=n&out_trade_no=X1&pid=1001" + secret)


def test_probe_finds_scan_support_charging_nothing(gw, site, sim_client):
    assert gw.probe() == {"scan": "yes"}
    assert gw.supports(Capability.MICROPAY)
    site.scan_supported = False
    assert gw.probe() == {"scan": "no"}
    assert not gw.supports(Capability.MICROPAY)
    assert all(o["charged"] == 0 for o in sim_client.orders("epay"))


def test_scan_no_on_the_profile_drops_micropay(demo_profile):
    profile, secret = demo_profile("epay")
    remembered = Profile.from_dict({**profile.to_dict(), "extra": {**profile.extra, "scan": "no"}})
    gateway = EpayGateway(remembered, secret)
    assert not gateway.supports(Capability.MICROPAY) and gateway.supports(Capability.ALIPAY_QR)
    assert EpayGateway(profile, secret).supports(Capability.MICROPAY)
    gateway.close_transport()


def test_status_3_frozen_is_paid_and_held(gw, sim_client, site):
    order = paid_order(gw, sim_client, "FROZEN0001", "3.00")
    site.frozen.add("FROZEN0001")
    state = gw.query(order)
    assert state.status == PayStatus.PAID and state.held and "冻结" in state.reason
    site.frozen.clear()
    assert not gw.query(order).held


def test_probe_on_a_site_with_a_minimum_amount_and_alipay_switched_off(gw, site, sim_client):
    """The site checks its minimum amount before method=scan, and a switched-off type
    answers an HTML page: the probe tries again at the minimum and with another type."""
    site.min_money, site.disabled_types = Y("1.00"), {"alipay"}
    site.scan_supported = False
    assert gw.probe() == {"scan": "no"}
    assert all(o["charged"] == 0 for o in sim_client.orders("epay"))
    site.scan_supported = True
    assert gw.probe() == {"scan": "yes"}


def test_probe_with_a_wrong_key_says_so(gw):
    wrong = gateway_with_secret(gw, "0" * 32)
    try:
        with pytest.raises(BadSignature):
            wrong.probe()
    finally:
        wrong.close_transport()
