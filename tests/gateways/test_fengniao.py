"""Fengniao-style open gateway: the client against the simulator, over real HTTP."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest

from tests.gateways.endpoint import NotifyEndpoint
from cashier.gateways import build_gateway, gateway_class
from cashier.gateways.base import (
    AlreadyExists,
    BadResponse,
    BadSignature,
    Capability,
    ConnectionLost,
    IncomingRequest,
    InvalidParameter,
    Method,
    NotificationError,
    Profile,
    NotSent,
    NotSupported,
    OrderRef,
    PayStatus,
    RateLimited,
    Rejected,
    RefundStatus,
    ServerError,
    Timeout,
    UnknownOutcome,
    Wallet,
    check_notification_against,
)
from cashier.gateways.fengniao import FengniaoGateway, encode_content
from cashier.gateways.http import GatewayHttp

GW = "fengniao"
SECRET = "demo-fengniao-secret-000000003"
APP_ID = "2017081443803662"
MERCHANT = "20170815152552020001"
WX_CODE = "134567890123456789"
ALI_CODE = "284567890123456789"
PRICE = Decimal("12.30")


@pytest.fixture
def gw(make_gateway):
    return make_gateway(GW)


@pytest.fixture
def fsim(sim):
    return sim.gateways[GW]


def ref(no, amount=PRICE, *, method=Method.WECHAT, wallet=Wallet.WECHAT, trade_no=None):
    return OrderRef(out_trade_no=no, amount=amount, method=method, wallet=wallet, gateway_trade_no=trade_no)


def micro_ref(no, wallet=Wallet.WECHAT, trade_no=None):
    return ref(no, method=Method.MICROPAY, wallet=wallet, trade_no=trade_no)


def paid_qr(gw, sim_client, no, method=Method.WECHAT, amount=PRICE):
    gw.create_qr(no, amount, method, "测试", 300)
    sim_client.pay(GW, no)


def code(i: int, wallet=Wallet.WECHAT) -> str:
    return (WX_CODE if wallet is Wallet.WECHAT else ALI_CODE)[:-3] + f"{i:03d}"


# ------------------------------------------------------------------------- what it is


def test_capabilities_and_limits():
    cls = gateway_class(GW)
    assert cls is FengniaoGateway
    assert Capability.MERGED_QR not in cls.capabilities  # no merged QR method exists
    assert Capability.CLOSE not in cls.capabilities  # no close method exists
    assert cls.qr_methods() == (Method.WECHAT, Method.ALIPAY, Method.QQ)
    assert {Capability.MICROPAY, Capability.REVERSE, Capability.REFUND} <= cls.capabilities
    assert Capability.REFUND_QUERY in cls.unverified
    assert cls.limits.query_interval == 2.0
    assert cls.limits.trade_no_max_length == 64


def test_content_encoding_keeps_decimal_exact():
    assert encode_content({"a": Decimal("0.1"), "b": "支付", "c": [1, None, True]}) == \
        '{"a":0.10,"b":"\\u652f\\u4ed8","c":[1,null,true]}'
    with pytest.raises(TypeError):
        encode_content({"total_amount": 0.1})


# ----------------------------------------------------------------------------- QR


@pytest.mark.parametrize("method, wallet, prefix", [
    (Method.WECHAT, Wallet.WECHAT, "weixin://wxpay/bizpayurl?pr="),
    (Method.ALIPAY, Wallet.ALIPAY, "https://qr.alipay.com/"),
    (Method.QQ, Wallet.QQ, "https://qpay.qq.com/qr/"),
])
def test_create_qr(gw, sim_client, fsim, method, wallet, prefix):
    before = datetime.now(timezone.utc)
    qr = gw.create_qr("FNQR1", PRICE, method, "测试商品", 300)
    after = datetime.now(timezone.utc)
    assert qr.qr.startswith(prefix) and len(qr.qr) > len(prefix)
    assert qr.amount_to_pay == PRICE and qr.wallet is wallet and qr.qr_image_url is None
    assert qr.expires_at.tzinfo is not None
    assert before + timedelta(seconds=300) <= qr.expires_at <= after + timedelta(seconds=300)
    order = sim_client.order(GW, "FNQR1")
    assert order["amount"] == "12.30" and order["wallet"] == wallet.value and order["status"] == "NOTPAY"
    assert '"total_amount":12.30' in fsim.received[-1]["content"]  # a JSON number, two decimals


def test_create_qr_refuses_what_it_cannot_send(gw, fsim):
    with pytest.raises(NotSupported):
        gw.create_qr("FNQR2", PRICE, Method.MERGED, "x", 300)
    with pytest.raises(InvalidParameter):
        gw.create_qr("FN-QR-3", PRICE, Method.WECHAT, "x", 300)  # '-' is not allowed in out_trade_no
    with pytest.raises(InvalidParameter):
        gw.create_qr("FNQR4", Decimal("0.001"), Method.WECHAT, "x", 300)
    assert len(fsim.received) == 0


def test_query_lifecycle(gw, sim_client):
    gw.create_qr("FNQ1", PRICE, Method.WECHAT, "测试", 300)
    state = gw.query(ref("FNQ1"))
    assert state.status is PayStatus.PENDING and not state.user_paying
    sim_client.pay(GW, "FNQ1")
    sim_client.advance(2)
    state = gw.query(ref("FNQ1"))
    assert state.status is PayStatus.PAID and state.paid_amount == PRICE
    assert state.paid_at is not None and state.paid_at.tzinfo is not None and state.gateway_trade_no
    assert gw.query(ref("FNQ-NONE")).status is PayStatus.NOT_FOUND


def test_query_expired_order_is_closed(gw, sim_client):
    gw.create_qr("FNQ2", PRICE, Method.ALIPAY, "测试", 300)
    sim_client.advance(7201)  # the gateway keeps QR orders two hours
    assert gw.query(ref("FNQ2", method=Method.ALIPAY, wallet=Wallet.ALIPAY)).status is PayStatus.CLOSED


def test_query_after_refunds(gw, sim_client):
    paid_qr(gw, sim_client, "FNW1")
    gw.refund(ref("FNW1"), "FNWR1", Decimal("1.00"), "")
    assert gw.query(ref("FNW1")).status is PayStatus.REFUNDED  # WeChat REFUND, even partial
    paid_qr(gw, sim_client, "FNA1", Method.ALIPAY)
    ali = ref("FNA1", method=Method.ALIPAY, wallet=Wallet.ALIPAY)
    gw.refund(ali, "FNAR1", Decimal("1.00"), "")
    assert gw.query(ali).status is PayStatus.PAID  # Alipay: TRADE_SUCCESS until fully refunded
    gw.refund(ali, "FNAR2", Decimal("11.30"), "")
    sim_client.advance(2)
    state = gw.query(ali)
    assert state.status is PayStatus.REFUNDED and state.paid_amount == PRICE  # TRADE_CLOSED after payment


# ------------------------------------------------------------------------ micropay


@pytest.mark.parametrize("wallet", [Wallet.WECHAT, Wallet.ALIPAY])
def test_micropay_paid_at_once(gw, sim_client, fsim, wallet):
    state = gw.micropay("FNM1", PRICE, code(1, wallet), wallet, "测试")
    assert state.status is PayStatus.PAID and state.paid_amount == PRICE and state.wallet is wallet
    assert state.gateway_trade_no and state.paid_at is not None
    sent = json.loads(fsim.received[-1]["content"])
    assert fsim.received[-1]["method"] == ("weixin" if wallet is Wallet.WECHAT else "alipay") + ".scan_qr_code_pay"
    assert sent["auth_code"] == code(1, wallet)
    if wallet is Wallet.ALIPAY:
        assert sent["scene"] == "bar_code"
    assert sim_client.order(GW, "FNM1")["charged"] == 1


@pytest.mark.parametrize("wallet", [Wallet.WECHAT, Wallet.ALIPAY])
def test_micropay_password_then_paid(gw, sim_client, wallet):
    sim_client.micropay_behaviour("password", seconds=10)
    state = gw.micropay("FNM2", PRICE, code(2, wallet), wallet, "测试")
    assert state.status is PayStatus.PENDING and state.user_paying
    state = gw.query(micro_ref("FNM2", wallet))
    assert state.status is PayStatus.PENDING and state.user_paying
    sim_client.advance(10)
    assert gw.query(micro_ref("FNM2", wallet)).status is PayStatus.PAID


def test_micropay_declines_are_definite(gw, sim_client):
    sim_client.micropay_behaviour("decline", reason="余额不足")
    state = gw.micropay("FNM3", PRICE, code(3), Wallet.WECHAT, "测试")
    assert state.status is PayStatus.FAILED and "余额不足" in state.reason
    assert gw.query(micro_ref("FNM3")).status is PayStatus.FAILED
    used = gw.micropay("FNM4", PRICE, code(3), Wallet.WECHAT, "测试")  # a code is single-use
    assert used.status is PayStatus.FAILED and "已使用" in used.reason
    wrong = gw.micropay("FNM5", PRICE, code(5, Wallet.ALIPAY), Wallet.WECHAT, "测试")
    assert wrong.status is PayStatus.FAILED
    ali = gw.micropay("FNM6", PRICE, code(6, Wallet.ALIPAY), Wallet.ALIPAY, "测试")
    assert ali.status is PayStatus.PAID


def test_micropay_system_error_is_unknown_then_query_finds_it_paid(gw, sim_client):
    sim_client.micropay_behaviour("error_then_pay")
    with pytest.raises(UnknownOutcome) as caught:
        gw.micropay("FNM7", PRICE, code(7), Wallet.WECHAT, "测试")
    assert caught.value.gateway_code == "1000"
    assert gw.query(micro_ref("FNM7")).status is PayStatus.PAID


def test_micropay_refuses_other_wallets(gw, fsim):
    with pytest.raises(NotSupported):
        gw.micropay("FNM8", PRICE, "621234567890123456", Wallet.UNIONPAY, "测试")
    with pytest.raises(InvalidParameter):
        gw.micropay("FNM8", PRICE, "", Wallet.WECHAT, "测试")
    assert len(fsim.received) == 0


# -------------------------------------------------------------------------- reverse


@pytest.mark.parametrize("wallet, flag", [(Wallet.WECHAT, "recall"), (Wallet.ALIPAY, "retry_flag")])
def test_reverse_mid_password_must_be_retried(gw, sim_client, wallet, flag):
    sim_client.micropay_behaviour("never")
    state = gw.micropay("FNV1", PRICE, code(11, wallet), wallet, "测试")
    assert state.user_paying
    first = gw.reverse(micro_ref("FNV1", wallet, state.gateway_trade_no))
    assert not first.done and first.retry
    assert sim_client.order(GW, "FNV1")["status"] == "USERPAYING"
    second = gw.reverse(micro_ref("FNV1", wallet, state.gateway_trade_no))
    assert second.done and not second.retry
    assert sim_client.order(GW, "FNV1")["status"] == "REVOKED"
    assert gw.query(micro_ref("FNV1", wallet)).status is PayStatus.CLOSED


def test_reverse_of_a_paid_order_refunds_it(gw, sim_client):
    state = gw.micropay("FNV2", PRICE, code(12), Wallet.WECHAT, "测试")
    assert state.status is PayStatus.PAID
    result = gw.reverse(micro_ref("FNV2"))  # trade_no remembered from the micropay answer
    assert result.done
    order = sim_client.order(GW, "FNV2")
    assert order["status"] == "REVOKED" and order["reversed_refund"]


def test_reverse_learns_the_trade_no_by_query(make_gateway, sim_client, fsim):
    make_gateway(GW).micropay("FNV3", PRICE, code(13), Wallet.WECHAT, "测试")
    fresh = make_gateway(GW)  # e.g. after a restart: nothing remembered
    assert fresh.reverse(micro_ref("FNV3")).done
    assert [f["method"] for f in list(fsim.received)[-2:]] == ["trade.query", "trade.reverse"]
    assert sim_client.order(GW, "FNV3")["status"] == "REVOKED"


def test_reverse_of_an_unknown_order_is_done(gw):
    result = gw.reverse(micro_ref("FNVNONE"))
    assert result.done and not result.retry


def test_reverse_system_error_is_unknown(gw, sim_client, fsim):
    state = gw.micropay("FNV4", PRICE, code(14), Wallet.WECHAT, "测试")
    fsim.fail_next("reverse")
    with pytest.raises(UnknownOutcome):
        gw.reverse(micro_ref("FNV4", trade_no=state.gateway_trade_no))
    assert sim_client.order(GW, "FNV4")["status"] == "REVOKED"  # it took effect all the same
    assert gw.reverse(micro_ref("FNV4", trade_no=state.gateway_trade_no)).done  # and a retry is harmless


# -------------------------------------------------------------------------- refunds


def test_refund_full_and_partial(gw, sim_client, fsim):
    paid_qr(gw, sim_client, "FNR1")
    part = gw.refund(ref("FNR1"), "FNRR1", Decimal("2.30"), "退货")
    assert part.status is RefundStatus.SUCCEEDED and part.amount == Decimal("2.30")
    assert json.loads(fsim.received[-1]["content"], parse_float=Decimal)["refund_fee"] == Decimal("2.30")
    rest = gw.refund(ref("FNR1"), "FNRR2", Decimal("10.00"), "退货")
    assert rest.status is RefundStatus.SUCCEEDED
    with pytest.raises(InvalidParameter):  # nothing left to refund: 10008
        gw.refund(ref("FNR1"), "FNRR3", Decimal("0.01"), "")
    assert [r["amount"] for r in sim_client.order(GW, "FNR1")["refunds"]] == ["2.30", "10.00"]


def test_refund_of_an_unpaid_order_is_rejected(gw):
    gw.create_qr("FNR2", PRICE, Method.WECHAT, "测试", 300)
    with pytest.raises(Rejected) as caught:
        gw.refund(ref("FNR2"), "FNRR4", PRICE, "")
    assert caught.value.gateway_code == "14001"


def test_refund_processing_then_learnt_by_resending(gw, sim_client):
    paid_qr(gw, sim_client, "FNR3")
    sim_client.refund_behaviour(delay=60)
    first = gw.refund(ref("FNR3"), "FNRR5", Decimal("5.00"), "")
    assert first.status is RefundStatus.PROCESSING
    assert gw.refund_query(ref("FNR3"), "FNRR5").status is RefundStatus.PROCESSING
    sim_client.advance(60)
    done = gw.refund_query(ref("FNR3"), "FNRR5")
    assert done.status is RefundStatus.SUCCEEDED and done.amount == Decimal("5.00")
    assert len(sim_client.order(GW, "FNR3")["refunds"]) == 1  # re-sending refunded nothing twice


def test_refund_query_needs_the_amount(make_gateway, sim_client, fsim):
    gw = make_gateway(GW)
    paid_qr(gw, sim_client, "FNR4")
    gw.refund(ref("FNR4"), "FNRR6", Decimal("3.00"), "")
    fresh = make_gateway(GW)
    sent = len(fsim.received)
    with pytest.raises(NotSupported):  # never re-send a refund without its amount
        fresh.refund_query(ref("FNR4"), "FNRR6")
    assert len(fsim.received) == sent
    assert fresh.refund_query(ref("FNR4"), "FNRR6", amount=Decimal("3.00")).status is RefundStatus.SUCCEEDED


def test_refund_failed(gw, sim_client):
    paid_qr(gw, sim_client, "FNR5")
    sim_client.refund_behaviour(fail_next=True)
    assert gw.refund(ref("FNR5"), "FNRR7", PRICE, "").status is RefundStatus.FAILED


def test_refund_number_reused_elsewhere_is_never_a_definite_failure(gw, sim_client):
    paid_qr(gw, sim_client, "FNR6")
    paid_qr(gw, sim_client, "FNR7")
    gw.refund(ref("FNR6"), "FNRR8", Decimal("1.00"), "")
    with pytest.raises(AlreadyExists) as caught:  # 12003: typed, neither success nor refusal
        gw.refund(ref("FNR7"), "FNRR8", Decimal("1.00"), "")
    assert caught.value.gateway_code == "12003"
    assert sim_client.order(GW, "FNR7")["refunds"] == []


def test_refund_query_meeting_12003_asks_the_order(gw, sim_client, fsim):
    """The re-send answered only "that number exists": the gateway's order query is
    the real status check, and it reports the order's refunded total."""
    paid_qr(gw, sim_client, "FNR8")
    paid_qr(gw, sim_client, "FNR9")
    gw.refund(ref("FNR8"), "FNRR9", Decimal("2.00"), "")
    # FNRR9 belongs to FNR8: asked about it for FNR9 with another amount, the gateway says 12003
    state = gw.refund_query(ref("FNR9"), "FNRR9", amount=Decimal("3.00"))
    assert state.status is RefundStatus.PROCESSING and state.order_refunded == Decimal("0.00")
    assert [json.loads(f["content"]).get("out_trade_no") for f in list(fsim.received)[-2:]] == ["FNR9", "FNR9"]
    assert [f["method"] for f in list(fsim.received)[-2:]] == ["trade.refund", "trade.query"]
    state = gw.refund_query(ref("FNR8"), "FNRR9", amount=Decimal("5.00"))  # another amount: 12003 too
    assert state.order_refunded == Decimal("2.00")
    assert sim_client.order(GW, "FNR9")["refunds"] == []


def test_refund_system_error_is_unknown_and_a_retry_refunds_once(gw, sim_client, fsim):
    paid_qr(gw, sim_client, "FNR8")
    fsim.fail_next("refund")
    with pytest.raises(UnknownOutcome):
        gw.refund(ref("FNR8"), "FNRR9", PRICE, "")
    assert gw.refund(ref("FNR8"), "FNRR9", PRICE, "").status is RefundStatus.SUCCEEDED
    assert len(sim_client.order(GW, "FNR8")["refunds"]) == 1


# ------------------------------------------------------------------ connection test


def test_check_connection(gw, sim_client):
    paid_qr(gw, sim_client, "FNC1")
    text = gw.check_connection()
    assert MERCHANT in text and "12.30" in text


# --------------------------------------------------------------------- failure classes


def test_bad_key_is_bad_signature(demo_profile, sim_client):
    profile, _ = demo_profile(GW)
    wrong = build_gateway(profile, "not-the-key")
    try:
        with pytest.raises(BadSignature):
            wrong.create_qr("FNE1", PRICE, Method.WECHAT, "测试", 300)
        with pytest.raises(BadSignature):
            wrong.check_connection()
    finally:
        wrong.close_transport()
    assert sim_client.orders(GW) == []


def test_unknown_app_id_is_rejected(demo_profile):
    profile, secret = demo_profile(GW)
    other = build_gateway(dataclasses.replace(profile, app_id="2017000000000000"), secret)
    try:
        with pytest.raises(Rejected) as caught:
            other.check_connection()
        assert caught.value.gateway_code == "10001"
    finally:
        other.close_transport()


def test_duplicate_order_number_means_an_earlier_request_arrived(gw, sim_client):
    gw.create_qr("FNE2", PRICE, Method.WECHAT, "测试", 300)
    with pytest.raises(AlreadyExists) as caught:  # not a refusal: the engine asks the order's status
        gw.create_qr("FNE2", PRICE, Method.WECHAT, "测试", 300)
    assert caught.value.gateway_code == "12001"


def test_query_flood_is_rate_limited(gw, sim_client):
    gw.create_qr("FNE3", PRICE, Method.WECHAT, "测试", 300)
    gw.query(ref("FNE3"))
    with pytest.raises(RateLimited):
        gw.query(ref("FNE3"))
    sim_client.advance(gw.limits.query_interval)
    assert gw.query(ref("FNE3")).status is PayStatus.PENDING


@pytest.mark.parametrize("kind, error", [("http500", ServerError), ("reset", ConnectionLost)])
@pytest.mark.parametrize("when", ["before", "after"])
def test_transport_faults(gw, sim_client, kind, error, when):
    sim_client.fault(kind, gateway=GW, op="create", when=when)
    with pytest.raises(error):
        gw.create_qr("FNE4", PRICE, Method.WECHAT, "测试", 300)
    exists = any(o["out_trade_no"] == "FNE4" for o in sim_client.orders(GW))
    assert exists is (when == "after")


def test_malformed_answer(gw, sim_client):
    sim_client.fault("malformed", gateway=GW, op="micropay", when="after")
    with pytest.raises(BadResponse):
        gw.micropay("FNE5", PRICE, code(21), Wallet.WECHAT, "测试")
    assert gw.query(micro_ref("FNE5")).status is PayStatus.PAID


def test_timeout(demo_profile, sim_client):
    profile, secret = demo_profile(GW)
    http = GatewayHttp(profile.base_url, secrets=(secret,), timeout=httpx.Timeout(0.3))
    gateway = build_gateway(profile, secret, http=http)
    sim_client.fault("delay", gateway=GW, op="query", seconds=1)
    try:
        with pytest.raises(Timeout):
            gateway.query(ref("FNE6"))
    finally:
        gateway.close_transport()


def test_connection_refused(demo_profile):
    profile, secret = demo_profile(GW)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = build_gateway(dataclasses.replace(profile, base_url=f"http://127.0.0.1:{port}/gateway"), secret)
    try:
        with pytest.raises(NotSent):
            gateway.query(ref("FNE7"))
    finally:
        gateway.close_transport()


def _canned(answer: dict | str) -> FengniaoGateway:
    body = answer if isinstance(answer, str) else json.dumps(answer)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
    profile = Profile(name="canned", gateway=GW, base_url="https://gw.example/gateway", merchant_id=MERCHANT,
                      app_id=APP_ID)
    return FengniaoGateway(profile, SECRET, http=GatewayHttp(profile.base_url, transport=transport))


def test_envelopes_the_simulator_does_not_send():
    """A nested `data` is read; an unknown code or a missing error_code is "outcome unknown"."""
    nested = _canned({"error_code": "0", "error_msg": "成功",
                      "data": {"out_trade_no": "FNX1", "trade_no": "T1", "trade_status": "TRADE_SUCCESS",
                               "total_amount": 12.3, "pay_time": "2024-01-02 03:04:05"}})
    state = nested.query(ref("FNX1", wallet=Wallet.UNKNOWN))
    assert state.status is PayStatus.PAID and state.paid_amount == PRICE and state.wallet is Wallet.ALIPAY
    with pytest.raises(UnknownOutcome):
        _canned({"error_code": 40004, "error_msg": "?"}).refund(ref("FNX1"), "FNXR1", PRICE, "")
    with pytest.raises(BadResponse):
        _canned({"code": 0}).query(ref("FNX1"))
    with pytest.raises(BadResponse):  # the seed's bare Alipay micropay answer: no status, no time
        _canned({"error_code": 0, "out_trade_no": "FNX1", "total_amount": 12.3}).micropay(
            "FNX1", PRICE, ALI_CODE, Wallet.ALIPAY, "x")


# --------------------------------------------------------------------------- signing


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


SIGNED_CALLS = [
    ("weixin.qr_code_pay", lambda g: g.create_qr("FNS1", PRICE, Method.WECHAT, "测试", 300),
     '{"merchant_no":"20170815152552020001","out_trade_no":"FNS1","order_name":"\\u6d4b\\u8bd5",'
     '"total_amount":12.30,"sub_appid":"wx2421b1c4370ec43b","spbill_create_ip":"127.0.0.1",'
     '"body":"\\u6d4b\\u8bd5","goods_id":"FNS1","is_online":0,"notify_url":"http://127.0.0.1/notify"}'),
    ("alipay.qr_code_pay", lambda g: g.create_qr("FNS2", PRICE, Method.ALIPAY, "测试", 300),
     '{"merchant_no":"20170815152552020001","out_trade_no":"FNS2","order_name":"\\u6d4b\\u8bd5",'
     '"total_amount":12.30,"goods_id":"FNS2","client_ip":"127.0.0.1","notify_url":"http://127.0.0.1/notify"}'),
    ("qq.unified", lambda g: g.create_qr("FNS3", PRICE, Method.QQ, "测试", 300),
     '{"out_trade_no":"FNS3","order_name":"\\u6d4b\\u8bd5","total_amount":12.30,'
     '"spbill_create_ip":"127.0.0.1","notify_url":"http://127.0.0.1/notify"}'),
    ("weixin.scan_qr_code_pay", lambda g: g.micropay("FNS4", PRICE, WX_CODE, Wallet.WECHAT, "测试"),
     '{"merchant_no":"20170815152552020001","out_trade_no":"FNS4","order_name":"\\u6d4b\\u8bd5",'
     '"body":"\\u6d4b\\u8bd5","total_amount":12.30,"sub_appid":"wx2421b1c4370ec43b",'
     '"auth_code":"134567890123456789","spbill_create_ip":"127.0.0.1"}'),
    ("alipay.scan_qr_code_pay", lambda g: g.micropay("FNS5", PRICE, ALI_CODE, Wallet.ALIPAY, "测试"),
     '{"merchant_no":"20170815152552020001","out_trade_no":"FNS5","order_name":"\\u6d4b\\u8bd5",'
     '"body":"\\u6d4b\\u8bd5","total_amount":12.30,"auth_code":"284567890123456789","scene":"bar_code",'
     '"client_ip":"127.0.0.1","notify_url":"http://127.0.0.1/notify"}'),
    ("trade.query", lambda g: g.query(ref("FNS4")),
     '{"merchant_no":"20170815152552020001","out_trade_no":"FNS4"}'),
    ("trade.refund", lambda g: g.refund(ref("FNS4"), "FNSR1", Decimal("1.00"), ""),
     '{"out_trade_no":"FNS4","out_refund_no":"FNSR1","refund_fee":1.00}'),
    ("trade.reverse", lambda g: g.reverse(micro_ref("FNS5", Wallet.ALIPAY, "FN0001")),
     '{"out_trade_no":"FNS5","trade_no":"FN0001"}'),
    ("merchant.balance", lambda g: g.check_connection(),
     '{"merchant_no":"20170815152552020001"}'),
]


def test_every_method_is_signed_as_the_seed_says(demo_profile, fsim):
    profile, secret = demo_profile(GW)
    profile = dataclasses.replace(profile, extra={"sub_appid": "wx2421b1c4370ec43b"})
    gateway = build_gateway(profile, secret)
    try:
        for method, call, content in SIGNED_CALLS:
            try:
                call(gateway)
            except Rejected:  # the reverse's made-up trade_no: 12002 is fine, the request is what counts
                pass
            form = fsim.received[-1]
            assert set(form) == {"app_id", "method", "version", "content", "sign_type", "sign"}, method
            assert (form["app_id"], form["method"], form["version"], form["sign_type"]) == \
                ("2017081443803662", method, "1.0", "MD5")
            assert form["content"] == content, method
            expected = md5(f"app_id=2017081443803662&content={content}&method={method}&version=1.0"
                           "&key=demo-fengniao-secret-000000003")
            assert form["sign"] == expected, method
    finally:
        gateway.close_transport()


def _raw(sim, form: dict) -> dict:
    return httpx.post(sim.gateway_url(GW) + "/gateway", data=form).json()


def _signed(content: str, *, method="merchant.balance", extra_signed: dict | None = None, upper=False) -> dict:
    form = {"app_id": APP_ID, "method": method, "version": "1.0", "content": content}
    text = "&".join(f"{k}={v}" for k, v in sorted({**form, **(extra_signed or {})}.items()))
    sign = md5(text + "&key=" + SECRET)
    return {**form, "sign_type": "MD5", "sign": sign.upper() if upper else sign}


def test_simulator_checks_signatures_like_the_gateway(sim):
    content = '{"merchant_no":"20170815152552020001"}'
    assert _raw(sim, _signed(content))["error_code"] == 0
    assert _raw(sim, _signed(content, upper=True))["error_code"] == 0  # compared case-insensitively
    wrong_set = _signed(content, extra_signed={"sign_type": "MD5"})  # sign_type must not be signed
    assert _raw(sim, wrong_set) == {"error_code": 10002, "error_msg": "无效的签名"}
    tampered = {**_signed(content), "content": '{"merchant_no":"20170815152552020002"}'}
    assert _raw(sim, tampered)["error_code"] == 10002


def test_simulator_wants_amounts_as_numbers(sim):
    content = ('{"merchant_no":"20170815152552020001","out_trade_no":"FNS9","order_name":"x",'
               '"total_amount":"12.30","goods_id":"1","notify_url":"http://127.0.0.1/n"}')
    form = _signed(content, method="alipay.qr_code_pay")
    answer = _raw(sim, form)
    assert answer["error_code"] == 10008 and "total_amount" in answer["error_msg"]


# --------------------------------------------------------------------- notifications


_Receiver = NotifyEndpoint


def test_notification_verified_and_replayed(gw, sim_client):
    paid_qr(gw, sim_client, "FNN1")
    with _Receiver(gw) as receiver:
        record = sim_client.notify(GW, "FNN1", url=receiver.url)
        again = sim_client.notify(GW, "FNN1", url=receiver.url)
    assert (record["status"], record["body"]) == (200, "SUCCESS") and again["body"] == "SUCCESS"
    note, replayed = receiver.results
    assert note == replayed  # the engine applies it once
    assert note.kind == "payment" and note.paid and note.out_trade_no == "FNN1" and note.amount == PRICE
    assert note.wallet is Wallet.WECHAT and note.gateway_trade_no and note.paid_at is not None
    check_notification_against(note, {"FNN1": PRICE})
    with pytest.raises(NotificationError):
        check_notification_against(note, {"FNOTHER": PRICE})


def test_alipay_notification_and_unpaid_order(gw, sim_client, sim):
    paid_qr(gw, sim_client, "FNN2", Method.ALIPAY)
    gw.create_qr("FNN3", PRICE, Method.ALIPAY, "测试", 300)
    with _Receiver(gw) as receiver:
        sim_client.notify(GW, "FNN2", url=receiver.url)
        sim_client.notify(GW, "FNN3", url=receiver.url)
    paid, unpaid = receiver.results
    assert paid.paid and paid.wallet is Wallet.ALIPAY
    assert not unpaid.paid


def test_forged_notification_is_refused(gw, sim_client):
    paid_qr(gw, sim_client, "FNN4")
    with _Receiver(gw) as receiver:
        record = sim_client.notify(GW, "FNN4", url=receiver.url, forge=True)
    assert (record["status"], record["body"]) == (400, "FAIL")
    (error,) = receiver.results
    assert isinstance(error, NotificationError) and error.key == "gw.notify_bad_signature"


def test_amount_mismatch_is_caught_after_verification(gw, sim_client):
    paid_qr(gw, sim_client, "FNN5")
    with _Receiver(gw) as receiver:
        sim_client.notify(GW, "FNN5", url=receiver.url, amount="0.01")
    (note,) = receiver.results
    assert note.amount == Decimal("0.01")  # genuinely signed, but not what we asked
    with pytest.raises(NotificationError) as caught:
        check_notification_against(note, {"FNN5": PRICE})
    assert caught.value.key == "gw.notify_amount_mismatch"


def test_malformed_notification(gw, sim_client, sim):
    paid_qr(gw, sim_client, "FNN6")
    sent = sim.gateways[GW].notification(sim.state.get(GW, "FNN6")).form

    def incoming(form):
        return IncomingRequest("POST", "/notify", {}, form, b"", {})

    del sent["out_trade_no"]
    from cashier.sim.fengniao import sim_sign

    sent["sign"] = sim_sign(sent, SECRET)
    with pytest.raises(NotificationError) as caught:
        gw.verify_notification(incoming(sent))
    assert caught.value.key == "gw.notify_malformed"
    with pytest.raises(NotificationError) as caught:
        gw.verify_notification(incoming({k: v for k, v in sent.items() if k != "sign"}))
    assert caught.value.key == "gw.notify_bad_signature"
    with pytest.raises(NotificationError):
        gw.verify_notification(incoming({}))


def test_notification_read_from_the_raw_body(gw, sim_client, sim):
    paid_qr(gw, sim_client, "FNN7")
    form = sim.gateways[GW].notification(sim.state.get(GW, "FNN7")).form
    body = urlencode(form).encode("utf-8")
    note = gw.verify_notification(IncomingRequest("POST", "/notify", {}, {}, body, {}))
    assert note.paid and note.out_trade_no == "FNN7" and note.amount == PRICE


# --------------------------------------------------------------------------- secrets


def test_secret_never_logged_or_shown(gw, demo_profile, sim_client, fsim, caplog):
    caplog.set_level(logging.DEBUG)
    profile, _ = demo_profile(GW)
    errors: list[Exception] = []
    paid_qr(gw, sim_client, "FNK1")
    gw.query(ref("FNK1"))
    gw.refund(ref("FNK1"), "FNKR1", Decimal("1.00"), "")
    wrong = build_gateway(profile, "not-the-key")
    for call in (
        lambda: wrong.query(ref("FNK1")),
        lambda: gw.query(ref("FNK1")),  # flood guard
        lambda: gw.create_qr("FNK1", PRICE, Method.WECHAT, "x", 300),
        lambda: gw.refund_query(ref("FNK1"), "FNKRUNKNOWN"),
    ):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - collecting them all
            errors.append(exc)
    sim_client.fault("malformed", gateway=GW, op="balance")
    try:
        gw.check_connection()
    except BadResponse as exc:
        errors.append(exc)
    wrong.close_transport()
    assert len(errors) == 5
    texts = [caplog.text, repr(gw)] + [str(e) for e in errors] + [e.message("en") for e in errors]
    assert all(SECRET not in text for text in texts)
    assert all(SECRET not in json.dumps(form, ensure_ascii=False) for form in fsim.received)


def test_micropay_order_exists_is_unknown_not_a_refusal(gw):
    """12001 订单号已存在 on a payment code: an order with our number exists (our own
    request seen twice) and may be paid. Not a definite refusal: query."""
    from cashier.gateways.base import DefiniteError, UnknownOutcome

    gw.micropay("DUPMICRO0001", Decimal("1.00"), "134567890123450999", Wallet.WECHAT, "x")
    with pytest.raises(UnknownOutcome) as err:
        gw.micropay("DUPMICRO0001", Decimal("1.00"), "134567890123450998", Wallet.WECHAT, "x")
    assert not isinstance(err.value, DefiniteError) and err.value.gateway_code == "12001"
    assert gw.query(micro_ref("DUPMICRO0001")).status == PayStatus.PAID
