"""Weidoufu 微豆付: the client against its simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest

from tests.gateways.endpoint import NotifyEndpoint
from cashier.gateways import build_gateway
from cashier.gateways.base import (
    BadResponse,
    BadSignature,
    Capability,
    ConnectionLost,
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
from cashier.gateways.http import GatewayHttp
from cashier.gateways.weidoufu import (
    RefundSignatureUnconfirmed,
    UnclearAnswer,
    WeidoufuGateway,
    raw_members,
    sign_string,
    weidoufu_sign,
)

SECRET = "demo-weidoufu-secret-00000000004"
AK = "demo-access-key-weidoufu-00004"
WECHAT_CODE = "134567890123456789"
ALIPAY_CODE = "284567890123456789"
_seq = itertools.count(1)


def new_no(prefix: str = "WD") -> str:
    return f"{prefix}{next(_seq):04d}{datetime.now().strftime('%H%M%S%f')}"


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def public_client_sign(content_text: str, secret: str = SECRET) -> str:
    """The public C# client's notification check, re-implemented here from its
    description (not the client's or the simulator's code): HMAC-SHA256 with the secret
    over the JSON text of `content`, its lowercase hex digest, MD5 of that, uppercase."""
    mac = hmac.new(secret.encode("utf-8"), content_text.encode("utf-8"), hashlib.sha256).hexdigest()
    return hashlib.md5(mac.encode("ascii")).hexdigest().upper()


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def wd(sim):
    return sim.gateways["weidoufu"]


@pytest.fixture
def gw(make_gateway):
    return make_gateway("weidoufu")


@pytest.fixture
def profile(demo_profile):
    return demo_profile("weidoufu")[0]


@pytest.fixture
def build(profile):
    built = []

    def factory(secret: str = SECRET, http=None, **changes):
        data = profile.to_dict()
        data.update(changes)
        g = build_gateway(Profile.from_dict(data), secret, **({"http": http} if http else {}))
        built.append(g)
        return g

    yield factory
    for g in built:
        g.close_transport()


def ref(no: str, amount: str = "10.00", method: Method = Method.WECHAT) -> OrderRef:
    return OrderRef(out_trade_no=no, amount=Decimal(amount), method=method)


def paid_order(gw, sim_client, amount="10.00", method=Method.WECHAT):
    no = new_no()
    gw.create_qr(no, Decimal(amount), method, "咖啡", 300)
    sim_client.pay("weidoufu", no)
    return no


# ----------------------------------------------------------------------- basics


def test_class_declares_what_weidoufu_has():
    caps = WeidoufuGateway.capabilities
    assert caps == {Capability.WECHAT_QR, Capability.ALIPAY_QR, Capability.MICROPAY, Capability.QUERY,
                    Capability.REFUND, Capability.NOTIFY_VERIFY, Capability.CHECK_CONNECTION}
    assert Capability.CLOSE not in caps and Capability.REVERSE not in caps and Capability.REFUND_QUERY not in caps
    # the seed documents only mini-program pay: everything a counter uses is unconfirmed
    assert WeidoufuGateway.unverified == caps
    limits = WeidoufuGateway.limits
    assert limits.max_partial_refunds == 10
    assert limits.max_qr_expiry == 3600  # `expire` is at most 60 minutes
    assert limits.trade_no_min_length == 18 and limits.trade_no_max_length == 32
    assert WeidoufuGateway.qr_methods() == (Method.WECHAT, Method.ALIPAY)
    assert WeidoufuGateway.default_base_url == "https://open.weidoufu.com"


def test_unsupported_operations(gw):
    order = ref(new_no())
    with pytest.raises(NotSupported):
        gw.close(order)
    with pytest.raises(NotSupported):
        gw.reverse(order)
    with pytest.raises(NotSupported):
        gw.refund_query(order, new_no("RF"))
    for method in (Method.MERGED, Method.QQ):
        with pytest.raises(NotSupported):
            gw.create_qr(new_no(), Decimal("1.00"), method, "x", 300)


def test_create_wechat_qr(gw, sim_client, wd):
    no = new_no()
    before = datetime.now(timezone.utc)
    qr = gw.create_qr(no, Decimal("12.34"), Method.WECHAT, "咖啡", 300)
    assert qr.qr.startswith("weixin://wxpay/bizpayurl?pr=") and qr.qr_image_url is None
    assert qr.amount_to_pay == Decimal("12.34") and qr.wallet == Wallet.WECHAT
    assert qr.gateway_trade_no and qr.out_trade_no == no
    assert before + timedelta(seconds=299) <= qr.expires_at <= datetime.now(timezone.utc) + timedelta(seconds=301)
    sent = wd.received[-1]
    assert sent["path"] == "/pay/native" and sent["fields"]["total_fee"] == 1234  # integer fen, in JSON
    assert sent["fields"]["expire"] == 5  # minutes: the QR countdown
    order = sim_client.order("weidoufu", no)
    assert order["amount"] == "12.34" and order["status"] == "NOTPAY" and order["wallet"] == "wechat"


def test_create_alipay_qr(gw, wd):
    qr = gw.create_qr(new_no(), Decimal("0.01"), Method.ALIPAY, "x", 300)
    assert qr.qr.startswith("https://qr.alipay.com/") and qr.wallet == Wallet.ALIPAY
    assert wd.received[-1]["fields"]["pay_type"] == 2


@pytest.mark.parametrize("seconds, minutes, lives", [
    (300, 5, 300), (60, 1, 60), (90, 2, 90), (3600, 60, 3600), (7200, 60, 3600), (10, 1, 60)])
def test_expire_matches_the_countdown_and_is_clamped(gw, wd, seconds, minutes, lives):
    before = datetime.now(timezone.utc)
    qr = gw.create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", seconds)
    assert wd.received[-1]["fields"]["expire"] == minutes
    assert before + timedelta(seconds=lives - 1) <= qr.expires_at <= datetime.now(timezone.utc) + timedelta(seconds=lives + 1)


def test_order_lapses_when_its_expire_runs_out(gw, sim_client):
    no = new_no()
    gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 120)
    sim_client.advance(119)
    assert gw.query(ref(no)).status == PayStatus.PENDING
    sim_client.advance(2)
    assert gw.query(ref(no)).status == PayStatus.CLOSED


def test_sim_refuses_expire_beyond_60_minutes(sim):
    fields = {"access_key": AK, "body": "x", "out_order_no": new_no(), "pay_type": 1, "total_fee": 1,
              "notify_url": "https://example.com/n", "expire": 61}
    fields["sign"] = md5_upper("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + "&secret_key=" + SECRET)
    answer = httpx.post(sim.gateway_url("weidoufu") + "/pay/native", json=fields).json()
    assert answer["code"] == 0 and "expire" in answer["message"]


def test_order_number_checked_before_sending(gw, wd):
    for bad in ("SHORT123", "WD-with-dash-000000001", "X" * 33):
        with pytest.raises(InvalidParameter):
            gw.create_qr(bad, Decimal("1.00"), Method.WECHAT, "x", 300)
    assert wd.received == []


def test_gateway_says_invalid_parameter(gw):
    with pytest.raises(InvalidParameter) as info:
        gw.create_qr(new_no(), Decimal("0.00"), Method.WECHAT, "x", 300)
    assert "total_fee" in info.value.message("zh_CN")


def test_duplicate_order_number_is_rejected(gw):
    no = new_no()
    gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    with pytest.raises(Rejected) as info:
        gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    assert "重复" in info.value.message("zh_CN")


def test_bad_key_is_bad_signature(build):
    with pytest.raises(BadSignature) as info:
        build(secret="wrong-key").create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", 300)
    assert "签名错误" in info.value.message("zh_CN")


def test_unknown_access_key_is_bad_signature(build):
    with pytest.raises(BadSignature):
        build(merchant_id="no-such-access-key").create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", 300)


# ------------------------------------------------------------------------ query


def test_query_pending_then_paid(gw, wd, sim_client):
    no = new_no()
    created = gw.create_qr(no, Decimal("8.88"), Method.ALIPAY, "x", 300)
    order = OrderRef(out_trade_no=no, amount=Decimal("8.88"), method=Method.ALIPAY, wallet=Wallet.ALIPAY)
    state = gw.query(order)
    assert state.status == PayStatus.PENDING and not state.user_paying
    assert state.gateway_trade_no == created.gateway_trade_no
    sim_client.pay("weidoufu", no)
    sim_client.advance(1)
    state = gw.query(order)
    # the documented answer: mch_trade_no, out_order_no, notify, status (no amount, no time)
    assert state.status == PayStatus.PAID and state.paid_amount is None and state.paid_at is None
    assert state.wallet == Wallet.ALIPAY and state.gateway_trade_no == created.gateway_trade_no


def test_query_answers_as_documented(sim, gw):
    """No access_key and no sign needed, by either order number; documented fields only."""
    no = new_no()
    created = gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    url = sim.gateway_url("weidoufu") + "/pay/query"
    answer = httpx.get(url, params={"out_order_no": no}).json()
    assert answer == {"code": 1, "message": "查询成功", "status": "success",
                      "data": {"mch_trade_no": created.gateway_trade_no, "out_order_no": no, "notify": 1,
                               "status": 1}}
    assert httpx.get(url, params={"mch_trade_no": created.gateway_trade_no}).json()["data"]["out_order_no"] == no


def test_paid_query_answer_with_total_fee_is_checked(profile):
    """A richer answer than the documented one is used (and read strictly)."""
    def answer(request):
        return httpx.Response(200, json={"code": 1, "message": "ok", "data": {
            "out_order_no": request.url.params["out_order_no"], "status": 2, "total_fee": 250, "pay_type": 2,
            "pay_time": "2021-05-11 11:31:08"}})

    gw = WeidoufuGateway(profile, SECRET, http=GatewayHttp(profile.base_url, transport=httpx.MockTransport(answer)))
    try:
        state = gw.query(ref(new_no(), "2.50"))
        assert state.status == PayStatus.PAID and state.paid_amount == Decimal("2.50")
        assert state.wallet == Wallet.ALIPAY and state.paid_at == datetime(2021, 5, 11, 3, 31, 8, tzinfo=timezone.utc)
    finally:
        gw.close_transport()


def test_query_unknown_order_is_not_found(gw):
    assert gw.query(ref(new_no())).status == PayStatus.NOT_FOUND


def test_query_rate_limit(gw, sim_client):
    no = new_no()
    gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    gw.query(ref(no))
    with pytest.raises(RateLimited):
        gw.query(ref(no))
    sim_client.advance(1)
    assert gw.query(ref(no)).status == PayStatus.PENDING


def test_expired_qr_order_is_closed(gw, sim_client):
    no = new_no()
    gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    sim_client.advance(7200)
    state = gw.query(ref(no))
    assert state.status == PayStatus.CLOSED


# --------------------------------------------------------------------- micropay


def test_micropay_paid_at_once(gw, wd, sim_client):
    no = new_no()
    state = gw.micropay(no, Decimal("3.50"), WECHAT_CODE, Wallet.WECHAT, "面包")
    assert state.status == PayStatus.PAID and state.paid_amount == Decimal("3.50")
    assert state.wallet == Wallet.WECHAT and state.gateway_trade_no
    sent = wd.received[-1]
    assert sent["path"] == "/pay/micropay" and sent["fields"]["auth_code"] == WECHAT_CODE
    assert sent["fields"]["pay_type"] == 1
    assert sim_client.order("weidoufu", no)["charged"] == 1


def test_micropay_wallet_from_the_code(gw, wd):
    state = gw.micropay(new_no(), Decimal("1.00"), ALIPAY_CODE, Wallet.UNKNOWN, "x")
    assert state.status == PayStatus.PAID and state.wallet == Wallet.ALIPAY
    assert wd.received[-1]["fields"]["pay_type"] == 2
    gw.micropay(new_no(), Decimal("1.00"), "6212345678901234567", Wallet.UNKNOWN, "x")
    assert wd.received[-1]["fields"]["pay_type"] == 3
    with pytest.raises(InvalidParameter):
        gw.micropay(new_no(), Decimal("1.00"), "99999", Wallet.UNKNOWN, "x")


def test_micropay_user_paying_then_paid(gw, sim_client):
    sim_client.micropay_behaviour("password", seconds=8)
    no = new_no()
    state = gw.micropay(no, Decimal("20.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    assert state.status == PayStatus.PENDING and state.user_paying
    query = gw.query(ref(no, "20.00", Method.MICROPAY))
    assert query.status == PayStatus.PENDING and query.user_paying
    sim_client.advance(8)
    query = gw.query(ref(no, "20.00", Method.MICROPAY))
    assert query.status == PayStatus.PAID and query.paid_amount is None  # the engine takes the amount asked


def test_micropay_answer_as_documented_is_paid(profile):
    """The public docs: code 1 means paid; the answer has no status."""
    def answer(request):
        sent = json.loads(request.content)
        return httpx.Response(200, json={"code": 1, "message": "支付成功", "data": {
            "mch_trade_no": "202105135513716648486662", "out_order_no": sent["out_order_no"],
            "total_fee": sent["total_fee"]}})

    gw = WeidoufuGateway(profile, SECRET, http=GatewayHttp(profile.base_url, transport=httpx.MockTransport(answer)))
    try:
        state = gw.micropay(new_no(), Decimal("3.50"), ALIPAY_CODE, Wallet.UNKNOWN, "x")
        assert state.status == PayStatus.PAID and state.paid_amount == Decimal("3.50")
        assert state.wallet == Wallet.ALIPAY and state.gateway_trade_no == "202105135513716648486662"
    finally:
        gw.close_transport()


def test_micropay_decline_is_failed(gw, sim_client):
    sim_client.micropay_behaviour("decline", reason="余额不足")
    no = new_no()
    state = gw.micropay(no, Decimal("20.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    assert state.status == PayStatus.FAILED and state.reason == "余额不足"
    # status 3 of a micropay order is a failure
    assert gw.query(ref(no, "20.00", Method.MICROPAY)).status == PayStatus.FAILED


def test_micropay_used_code_is_failed(gw):
    gw.micropay(new_no(), Decimal("1.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    state = gw.micropay(new_no(), Decimal("1.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    assert state.status == PayStatus.FAILED and "付款码" in state.reason


def test_micropay_system_error_is_unknown_and_query_finds_the_payment(gw, sim_client):
    sim_client.micropay_behaviour("error_then_pay")
    no = new_no()
    with pytest.raises(UnknownOutcome) as info:
        gw.micropay(no, Decimal("5.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    assert isinstance(info.value, UnclearAnswer) and "系统繁忙" in info.value.message("zh_CN")
    assert gw.query(ref(no, "5.00", Method.MICROPAY)).status == PayStatus.PAID


def test_micropay_unrecognised_refusal_is_never_a_decline(gw, sim_client):
    """Words we do not know must not be read as "declined": that invites a second charge."""
    sim_client.micropay_behaviour("decline", reason="交易状态不明")
    with pytest.raises(UnclearAnswer):
        gw.micropay(new_no(), Decimal("5.00"), WECHAT_CODE, Wallet.WECHAT, "x")


def test_micropay_never_confirmed_stays_pending(gw, sim_client):
    sim_client.micropay_behaviour("never")
    no = new_no()
    assert gw.micropay(no, Decimal("5.00"), WECHAT_CODE, Wallet.WECHAT, "x").user_paying
    sim_client.advance(60)
    assert gw.query(ref(no, "5.00", Method.MICROPAY)).status == PayStatus.PENDING


# ---------------------------------------------------------------------- refunds


def test_refund_succeeds(gw, sim_client, wd):
    no = paid_order(gw, sim_client, "10.00")
    out_refund_no = new_no("RF")
    state = gw.refund(ref(no), out_refund_no, Decimal("2.50"), "退货")
    assert state.status == RefundStatus.SUCCEEDED and state.amount == Decimal("2.50")
    assert state.out_refund_no == out_refund_no and state.finished_at is not None
    assert state.gateway_refund_no is None  # the documented answer carries no refund number
    # exactly the documented fields: no refund number exists at this gateway
    sent = wd.received[-1]["fields"]
    assert set(sent) == {"access_key", "out_order_no", "refund_fee", "sign"} and sent["refund_fee"] == 250
    refunds = sim_client.order("weidoufu", no)["refunds"]
    assert [(r["amount"], r["status"]) for r in refunds] == [("2.50", "SUCCESS")]


def test_refund_is_not_idempotent_so_the_answer_is_all_there_is(gw, sim_client):
    """Without a refund number, a second request is a second refund: the client never
    repeats one by itself (the engine asks the clerk when an outcome is unknown)."""
    no = paid_order(gw, sim_client)
    gw.refund(ref(no), new_no("RF"), Decimal("1.00"), "")
    gw.refund(ref(no), new_no("RF"), Decimal("1.00"), "")
    assert [r["amount"] for r in sim_client.order("weidoufu", no)["refunds"]] == ["1.00", "1.00"]


def test_refund_signature_refused_while_payments_work(gw, wd, sim_client):
    """The gateway verifies refunds another way (here: the only public refund client's
    form): the clerk is told the refund form is unconfirmed, not to check a key that works."""
    no = paid_order(gw, sim_client)
    wd.refund_sign_form = "public_page"
    with pytest.raises(RefundSignatureUnconfirmed) as info:
        gw.refund(ref(no), new_no("RF"), Decimal("1.00"), "")
    assert not isinstance(info.value, (BadSignature, UnknownOutcome))  # definite: nothing refunded
    zh, en = info.value.message("zh_CN"), info.value.message("en")
    assert "签名方式尚未得到确认" in zh and "请检查商户密钥" not in zh and "签名错误" in zh
    assert "access_key、out_order_no、refund_fee" in zh and "&secret_key=" in zh and "手动退款" in zh
    assert "unconfirmed" in en and "check the merchant key" not in en
    # the key was seen working in this session (the paid order's signed /pay/native)
    assert [r["path"] for r in wd.received[-2:]] == ["/pay/native", "/pay/refund"]
    assert sim_client.order("weidoufu", no)["refunds"] == []
    # a payment with the same key still goes through
    assert gw.micropay(new_no(), Decimal("1.00"), WECHAT_CODE, Wallet.WECHAT, "x").status == PayStatus.PAID


def test_refund_signature_refused_in_a_fresh_session_proves_the_key_first(build, gw, wd, sim_client):
    no = paid_order(gw, sim_client)
    wd.refund_sign_form = "public_page"
    fresh = build()
    with pytest.raises(RefundSignatureUnconfirmed):
        fresh.refund(ref(no), new_no("RF"), Decimal("1.00"), "")
    # proved by a signed 0.01 yuan order that lapses after a minute
    probe = wd.received[-1]
    assert probe["path"] == "/pay/native" and probe["fields"]["total_fee"] == 1 and probe["fields"]["expire"] == 1
    sim_client.advance(61)
    assert sim_client.order("weidoufu", probe["fields"]["out_order_no"])["status"] == "CLOSED"


def test_refund_with_a_wrong_key_says_check_the_key(build, gw, sim_client):
    no = paid_order(gw, sim_client)
    with pytest.raises(BadSignature) as info:
        build(secret="wrong-key").refund(ref(no), new_no("RF"), Decimal("1.00"), "")
    assert not isinstance(info.value, RefundSignatureUnconfirmed)
    assert "请检查商户密钥" in info.value.message("zh_CN")


def test_sim_refund_forms(sim, gw, wd, sim_client):
    """The simulator's refund follows the public docs: access_key, refund_fee and either
    order number, signed by the general rule (or, in the other mode, the public page's way)."""
    no = paid_order(gw, sim_client, "3.00")
    url = sim.gateway_url("weidoufu") + "/pay/refund"
    fields = {"access_key": AK, "refund_fee": 100, "out_order_no": no}
    general = dict(fields, sign=md5_upper(f"access_key={AK}&out_order_no={no}&refund_fee=100&secret_key={SECRET}"))
    answer = httpx.post(url, json=general).json()
    assert answer["code"] == 1 and answer["message"] == "退款成功"
    assert answer["data"] == {"mch_trade_no": sim_client.order("weidoufu", no)["trade_no"], "out_order_no": no,
                              "refund_fee": 100, "total_fee": 300}
    by_trade_no = {"access_key": AK, "refund_fee": 100, "mch_trade_no": answer["data"]["mch_trade_no"]}
    by_trade_no["sign"] = md5_upper("&".join(f"{k}={by_trade_no[k]}" for k in sorted(by_trade_no))
                                    + "&secret_key=" + SECRET)
    assert httpx.post(url, json=by_trade_no).json()["code"] == 1
    wd.refund_sign_form = "public_page"
    assert httpx.post(url, json=general).json()["message"] == "签名错误"
    page = dict(fields, sign=md5_upper(f"access_key={AK}&refund_fee=100&out_order_no={no}"))
    assert httpx.post(url, json=page).json()["code"] == 1
    assert len(sim_client.order("weidoufu", no)["refunds"]) == 3


def test_at_most_10_partial_refunds(gw, sim_client):
    no = paid_order(gw, sim_client, "20.00")
    for _ in range(10):
        gw.refund(ref(no, "20.00"), new_no("RF"), Decimal("1.00"), "")
    with pytest.raises(Rejected) as info:
        gw.refund(ref(no, "20.00"), new_no("RF"), Decimal("1.00"), "")
    assert "10" in info.value.message("zh_CN")


def test_refund_rules_rejected(gw, sim_client):
    unpaid = new_no()
    gw.create_qr(unpaid, Decimal("5.00"), Method.WECHAT, "x", 300)
    with pytest.raises(Rejected):
        gw.refund(ref(unpaid, "5.00"), new_no("RF"), Decimal("1.00"), "")
    no = paid_order(gw, sim_client, "5.00")
    with pytest.raises(Rejected):
        gw.refund(ref(no, "5.00"), new_no("RF"), Decimal("5.01"), "")
    with pytest.raises(Rejected):
        gw.refund(ref(new_no(), "5.00"), new_no("RF"), Decimal("1.00"), "")
    with pytest.raises(InvalidParameter):
        gw.refund(ref(no, "5.00"), "RF-short", Decimal("1.00"), "")


def test_refund_disabled_merchant(build, sim_client):
    sim_client.add_merchant("weidoufu", "norefund-access-key-00000001", "norefund-secret", refund_enabled=False)
    gw = build(merchant_id="norefund-access-key-00000001", secret="norefund-secret")
    no = paid_order(gw, sim_client)
    with pytest.raises(Rejected):
        gw.refund(ref(no), new_no("RF"), Decimal("1.00"), "")


# ----------------------------------------------------------- transport failures


def test_http_500_before_and_after(gw, sim_client):
    no = new_no()
    sim_client.fault("http500", gateway="weidoufu", op="create", when="before")
    with pytest.raises(ServerError):
        gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    assert not [o for o in sim_client.orders("weidoufu") if o["out_trade_no"] == no]
    no2 = new_no()
    sim_client.fault("http500", gateway="weidoufu", op="create", when="after")
    with pytest.raises(ServerError):
        gw.create_qr(no2, Decimal("1.00"), Method.WECHAT, "x", 300)
    assert sim_client.order("weidoufu", no2)["status"] == "NOTPAY"  # it was created: query it
    assert gw.query(ref(no2, "1.00")).status == PayStatus.PENDING


def test_connection_reset_before_and_after(gw, sim_client):
    no = paid_order(gw, sim_client)
    sim_client.fault("reset", gateway="weidoufu", op="refund", when="before")
    with pytest.raises(ConnectionLost):
        gw.refund(ref(no), "RFA" + no, Decimal("1.00"), "")
    assert sim_client.order("weidoufu", no)["refunds"] == []
    sim_client.fault("reset", gateway="weidoufu", op="refund", when="after")
    with pytest.raises(ConnectionLost):  # outcome unknown: it was refunded
        gw.refund(ref(no), "RFB" + no, Decimal("1.00"), "")
    assert [r["amount"] for r in sim_client.order("weidoufu", no)["refunds"]] == ["1.00"]


def test_micropay_reset_after_processing_is_unknown(gw, sim_client):
    no = new_no()
    sim_client.fault("reset", gateway="weidoufu", op="micropay", when="after")
    with pytest.raises(ConnectionLost):
        gw.micropay(no, Decimal("2.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    assert gw.query(ref(no, "2.00", Method.MICROPAY)).status == PayStatus.PAID


def test_malformed_answer(gw, sim_client):
    sim_client.fault("malformed", gateway="weidoufu", op="query", when="before")
    with pytest.raises(BadResponse):
        gw.query(ref(new_no()))


def test_answer_without_code_is_bad_response(gw):
    with pytest.raises(BadResponse):
        gw._answer({"message": "ok"})
    with pytest.raises(BadResponse):
        gw._answer({"code": 200})
    assert gw._answer({"code": "1", "message": "成功", "data": ""}) == (True, "成功", {})


def test_timeout(build, profile, sim_client):
    http = GatewayHttp(profile.base_url, secrets=(SECRET,), timeout=httpx.Timeout(0.3))
    gw = build(http=http)
    sim_client.fault("delay", gateway="weidoufu", op="create", seconds=1.0)
    with pytest.raises(Timeout):
        gw.create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", 300)


def test_connection_refused_is_not_sent(build):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = build(base_url=f"http://127.0.0.1:{port}/weidoufu")
    with pytest.raises(NotSent):
        gw.create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", 300)


# ---------------------------------------------------------------------- signing


def test_signing_by_hand_each_endpoint(gw, wd, sim_client):
    key = "&secret_key=" + SECRET
    no = "WD2024011100000000001"

    gw.create_qr(no, Decimal("12.34"), Method.WECHAT, "咖啡", 300)
    fields = wd.received[-1]["fields"]
    assert fields["sign"] == md5_upper(
        f"access_key={AK}&body=咖啡&expire=5&notify_url=http://127.0.0.1/notify"
        f"&out_order_no={no}&pay_type=1&total_fee=1234" + key)

    gw.query(ref(no, "12.34"))
    fields = wd.received[-1]["fields"]
    assert wd.received[-1]["method"] == "GET"
    assert fields["sign"] == md5_upper(f"access_key={AK}&out_order_no={no}" + key)

    mp = "WD2024011100000000002"
    gw.micropay(mp, Decimal("0.05"), WECHAT_CODE, Wallet.WECHAT, "面包")
    assert wd.received[-1]["fields"]["sign"] == md5_upper(
        f"access_key={AK}&auth_code={WECHAT_CODE}&body=面包&out_order_no={mp}&pay_type=1&total_fee=5" + key)

    sim_client.pay("weidoufu", no)
    gw.refund(ref(no, "12.34"), "RF2024011100000000001", Decimal("1.00"), "不签也不发")
    fields = wd.received[-1]["fields"]
    assert "refund_desc" not in fields and "reason" not in fields and "out_refund_no" not in fields
    assert fields["sign"] == md5_upper(f"access_key={AK}&out_order_no={no}&refund_fee=100" + key)

    # the client's own helpers, on a known input (empty values and sign left out)
    sample = {"b": "2", "a": "1", "c": "", "sign": "X", "total_fee": 1}
    assert sign_string(sample, "S") == "a=1&b=2&total_fee=1&secret_key=S"
    assert weidoufu_sign(sample, "S") == md5_upper("a=1&b=2&total_fee=1&secret_key=S")


def test_sim_checks_the_sign_over_every_field_sent(sim):
    base = sim.gateway_url("weidoufu")
    fields = {"access_key": AK, "body": "x", "out_order_no": new_no(), "pay_type": 1, "total_fee": 1,
              "notify_url": "https://example.com/n", "attach": "abc"}
    without_attach = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "attach")
    wrong = dict(fields, sign=md5_upper(without_attach + "&secret_key=" + SECRET))
    answer = httpx.post(base + "/pay/native", json=wrong).json()
    assert answer == {"code": 0, "message": "签名错误", "data": {"out_order_no": fields["out_order_no"], "jsapi": ""}}
    lower = dict(fields, sign=md5_upper("&".join(f"{k}={fields[k]}" for k in sorted(fields))
                                        + "&secret_key=" + SECRET).lower())
    assert httpx.post(base + "/pay/native", json=lower).json()["message"] == "签名错误"
    everything = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
    right = dict(fields, sign=md5_upper(everything + "&secret_key=" + SECRET))
    answer = httpx.post(base + "/pay/native", json=right).json()
    assert answer["code"] == 1 and answer["data"]["code_url"].startswith("weixin://")


def test_sim_miniapp_as_the_seed_documents(sim):
    base = sim.gateway_url("weidoufu")
    fields = {"access_key": AK, "body": "QQ 会员充值", "out_order_no": new_no(), "pay_type": 1, "total_fee": 1,
              "notify_url": "https://example.com/n"}
    fields["sign"] = md5_upper("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + "&secret_key=" + SECRET)
    answer = httpx.post(base + "/pay/miniapp", json=fields).json()
    assert answer["code"] == 0 and "openid" in answer["message"]
    fields["openid"] = "o-demo-openid"
    del fields["sign"]
    fields["sign"] = md5_upper("&".join(f"{k}={fields[k]}" for k in sorted(fields)) + "&secret_key=" + SECRET)
    answer = httpx.post(base + "/pay/miniapp", json=fields).json()
    assert answer["code"] == 1 and answer["message"] == "成功"
    assert set(answer["data"]) == {"mch_trade_no", "out_order_no", "jsapi"}
    assert answer["data"]["jsapi"]["package"].startswith("prepay_id=")


# ---------------------------------------------------------------- notifications


_Receiver = NotifyEndpoint


@pytest.fixture
def receiver(gw):
    r = _Receiver(gw)
    yield r
    r.close()


def post(receiver, body: bytes | str, content_type: str = "application/json"):
    """POST a notification to the merchant's notify URL over HTTP; (reply, what the client made of it)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    reply = httpx.post(receiver.url, content=data, headers={"Content-Type": content_type})
    return reply, receiver.results[-1]


CONTENT = {"mch_trade_no": "202105135513716648486662", "out_order_no": "180901620895069445",
           "transaction_id": "4200001234202105111234567890", "total_fee": 100, "attach": "桌号 3",
           "trade_type": 2, "pay_type": 1, "bank_type": "OTHERS", "pay_time": "2021-05-11 11:31:08",
           "status": 2, "nonce_str": "82aafec92844bd7b7575e5d642911ac9"}


def test_payment_notification_from_the_simulator(gw, sim_client, receiver):
    no = paid_order(gw, sim_client, "6.60", Method.ALIPAY)
    record = sim_client.notify("weidoufu", no, url=receiver.url)
    assert record["status"] == 200 and record["body"] == "success"
    request = receiver.received[-1]
    payload = json.loads(request.body)
    assert set(payload) == {"content", "sign"}
    assert list(payload["content"]) == ["mch_trade_no", "out_order_no", "transaction_id", "total_fee", "attach",
                                        "trade_type", "pay_type", "bank_type", "pay_time", "status", "nonce_str"]
    # the simulator signs by the public client's scheme (checked by this file's own code)
    text = raw_members(request.body.decode("utf-8"))["content"]
    assert text == compact(payload["content"])
    assert payload["sign"] == public_client_sign(text)
    note = receiver.results[-1]
    assert note.kind == "payment" and note.paid and note.out_trade_no == no
    assert note.amount == Decimal("6.60") and note.wallet == Wallet.ALIPAY
    assert note.gateway_trade_no and note.paid_at.tzinfo is not None and not note.needs_confirmation
    check_notification_against(note, {no: Decimal("6.60")})
    # a replay parses the same (applying it once is the engine's job)
    assert gw.verify_notification(request) == note


def test_notification_signed_by_the_public_clients_scheme(receiver):
    text = compact(CONTENT)
    reply, note = post(receiver, '{"content":' + text + ',"sign":"' + public_client_sign(text) + '"}')
    assert reply.status_code == 200 and reply.text == "success"
    assert note.paid and note.out_trade_no == "180901620895069445" and note.amount == Decimal("1.00")
    assert note.wallet == Wallet.WECHAT and note.gateway_trade_no == "202105135513716648486662"
    assert note.paid_at == datetime(2021, 5, 11, 3, 31, 8, tzinfo=timezone.utc)


def test_notification_is_checked_over_the_text_as_received(receiver):
    """The gateway's exact text is what counts: its own spacing, key order and escapes."""
    pretty = json.dumps(CONTENT, indent=2, ensure_ascii=True)  # spaces, newlines, \uXXXX escapes
    body = '{\n  "sign": "' + public_client_sign(pretty) + '",\n  "content": ' + pretty + "\n}"
    reply, note = post(receiver, body)
    assert reply.text == "success" and note.paid
    reordered = compact(dict(reversed(list(CONTENT.items()))))
    reply, note = post(receiver, '{"content":' + reordered + ',"sign":"' + public_client_sign(reordered) + '"}')
    assert reply.text == "success" and note.paid
    # content sent as a JSON string: the text is that string's value
    as_string = {"content": compact(CONTENT), "sign": public_client_sign(compact(CONTENT))}
    reply, note = post(receiver, json.dumps(as_string))
    assert reply.text == "success" and note.paid and note.amount == Decimal("1.00")
    # lowercase hex of the same signature
    reply, note = post(receiver, '{"content":' + compact(CONTENT) + ',"sign":"'
                       + public_client_sign(compact(CONTENT)).lower() + '"}')
    assert reply.text == "success"


def test_notification_signed_over_the_compact_form_the_public_client_rebuilds(receiver):
    """Sent pretty-printed but signed over the compact text (what the C# client rebuilds)."""
    body = json.dumps({"content": CONTENT, "sign": public_client_sign(compact(CONTENT))}, indent=4,
                      ensure_ascii=False)
    reply, note = post(receiver, body)
    assert reply.status_code == 200 and note.paid


def test_notification_form_body(receiver):
    text = compact(CONTENT)
    reply, note = post(receiver, urlencode({"content": text, "sign": public_client_sign(text)}),
                       "application/x-www-form-urlencoded")
    assert reply.text == "success" and note.paid


def test_notifications_signed_otherwise_are_refused(receiver):
    text = compact(CONTENT)
    bad = {
        "other key": public_client_sign(text, "another-secret"),
        "sorted keys": public_client_sign(compact(dict(sorted(CONTENT.items())))),
        "HMAC bytes, not hex": hashlib.md5(hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).digest())
        .hexdigest().upper(),
        "request-style MD5": weidoufu_sign(CONTENT, SECRET),
        "no sign": None,
    }
    for what, sign in bad.items():
        body = '{"content":' + text + (',"sign":' + json.dumps(sign) if sign is not None else "") + "}"
        reply, result = post(receiver, body)
        assert reply.status_code == 400 and reply.text == "fail", what
        assert isinstance(result, NotificationError) and result.key == "gw.notify_bad_signature", what


def test_forged_notification_rejected(gw, sim_client, receiver):
    no = paid_order(gw, sim_client)
    record = sim_client.notify("weidoufu", no, url=receiver.url, forge=True)
    assert record["status"] == 400 and record["body"] == "fail"
    assert receiver.results[-1].key == "gw.notify_bad_signature"
    # tampering with a field of a genuine one breaks the signature too
    sim_client.notify("weidoufu", no, url=receiver.url)
    genuine = receiver.received[-1].body.decode("utf-8")
    tampered = genuine.replace('"total_fee":1000', '"total_fee":1')
    assert tampered != genuine
    with pytest.raises(NotificationError):
        gw.verify_notification(IncomingRequest("POST", "/n", {}, {}, tampered.encode(), {}))


def test_amount_mismatched_notification(gw, sim_client, receiver):
    no = paid_order(gw, sim_client, "10.00")
    record = sim_client.notify("weidoufu", no, url=receiver.url, amount="0.01")
    assert record["status"] == 200  # correctly signed...
    note = receiver.results[-1]
    assert note.amount == Decimal("0.01")
    with pytest.raises(NotificationError) as info:  # ...but not our amount
        check_notification_against(note, {no: Decimal("10.00")})
    assert info.value.key == "gw.notify_amount_mismatch"
    with pytest.raises(NotificationError):
        check_notification_against(note, {new_no(): Decimal("0.01")})


def test_malformed_notifications(gw):
    def req(body: bytes, method: str = "POST"):
        return IncomingRequest(method, "/n", {}, {}, body, {})

    text = compact(CONTENT)
    for body, method in ((b"", "POST"), (b"not json", "POST"), (b"[]", "POST"), (b"{}", "GET"), (b"{}", "POST"),
                         (b'{"content":' + text.encode() + b'} trailing', "POST"),
                         (('{"content":' + text + ',"content":' + text + "}").encode(), "POST"),
                         (b'{"content":[1],"sign":"x"}', "POST")):
        with pytest.raises(NotificationError) as info:
            gw.verify_notification(req(body, method))
        assert info.value.key == "gw.notify_malformed", body
    odd = compact(dict(CONTENT, total_fee="1.5"))
    with pytest.raises(NotificationError) as info:
        gw.verify_notification(req(('{"content":' + odd + ',"sign":"' + public_client_sign(odd) + '"}').encode()))
    assert info.value.key == "gw.notify_malformed"


def test_unpaid_notification_is_not_paid(gw):
    text = compact(dict(CONTENT, status=3))
    body = '{"content":' + text + ',"sign":"' + public_client_sign(text) + '"}'
    note = gw.verify_notification(IncomingRequest("POST", "/n", {}, {}, body.encode(), {}))
    assert not note.paid


def test_raw_members():
    assert raw_members(' {"a" : {"x": 1} , "b":"s"} ') == {"a": '{"x": 1}', "b": '"s"'}
    assert raw_members("{}") == {}
    for bad in ("", "[]", '{"a":1,}', '{"a":1 "b":2}', '{"a":1}x', '{a:1}'):
        with pytest.raises(ValueError):
            raw_members(bad)


def test_notification_reply(gw):
    assert gw.notification_reply(True).body == "success" and gw.notification_reply(True).status == 200
    assert gw.notification_reply(False).status == 400


# -------------------------------------------------------------- check connection


def test_check_connection_uses_a_call_that_needs_the_keys(gw, build, wd):
    """The query may be answered without any key (public docs): the check makes a test order."""
    text = gw.check_connection()
    assert "0.01" in text and "1 分钟" in text and "请勿支付" in text
    sent = wd.received[-1]
    assert sent["path"] == "/pay/native" and sent["fields"]["total_fee"] == 1 and sent["fields"]["expire"] == 1
    assert gw.check_connection()  # a second check right away is fine
    with pytest.raises(BadSignature):
        build(secret="wrong-key").check_connection()
    with pytest.raises(BadSignature):
        build(merchant_id="no-such-access-key").check_connection()


# ---------------------------------------------------------------------- secrets


def test_secret_never_logged(build, profile, sim_client, caplog):
    caplog.set_level(logging.DEBUG)
    gw = build()
    errors = []
    no = new_no()
    gw.create_qr(no, Decimal("1.00"), Method.WECHAT, "x", 300)
    gw.query(ref(no, "1.00"))
    gw.micropay(new_no(), Decimal("1.00"), WECHAT_CODE, Wallet.WECHAT, "x")
    for call in (lambda: gw.query(ref(no, "1.00")),  # rate limited
                 lambda: build(secret="wrong-key").create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", 300),
                 lambda: gw.refund(ref(no, "1.00"), new_no("RF"), Decimal("1.00"), "")):
        with pytest.raises(Exception) as info:
            call()
        errors.append(info.value)
    sim_client.fault("malformed", gateway="weidoufu", op="query")
    sim_client.advance(5)
    with pytest.raises(BadResponse) as info:
        gw.query(ref(no, "1.00"))
    errors.append(info.value)
    http = GatewayHttp(profile.base_url, secrets=(SECRET,), timeout=httpx.Timeout(0.3))
    sim_client.fault("delay", gateway="weidoufu", op="create", seconds=1.0)
    with pytest.raises(Timeout) as info:
        build(http=http).create_qr(new_no(), Decimal("1.00"), Method.WECHAT, "x", 300)
    errors.append(info.value)
    assert caplog.records
    assert SECRET not in caplog.text
    for exc in errors:
        assert SECRET not in str(exc) and SECRET not in repr(exc) and SECRET not in exc.message("en")
    assert SECRET not in repr(gw)


def test_micropay_duplicate_order_is_unknown_not_a_refusal(gw):
    from cashier.gateways.base import DefiniteError, UnknownOutcome

    no = new_no()
    gw.micropay(no, Decimal("1.00"), "134567890123450997", Wallet.WECHAT, "x")
    with pytest.raises(UnknownOutcome) as err:  # 商户订单号重复: the order exists, maybe paid
        gw.micropay(no, Decimal("1.00"), "134567890123450996", Wallet.WECHAT, "x")
    assert not isinstance(err.value, DefiniteError)

