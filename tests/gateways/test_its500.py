"""站长付 its500: the client against its simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import itertools
import json
import logging
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import png

from tests.gateways.endpoint import NotifyEndpoint
from cashier import i18n
from cashier.gateways import build_gateway
from cashier.gateways.base import (
    BadResponse,
    BadSignature,
    Capability,
    ConfigError,
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
    Rejected,
    ServerError,
    Timeout,
    Wallet,
    check_notification_against,
)
from cashier.gateways.http import GatewayHttp
from cashier.gateways.its500 import DEFAULT_QUERY_URL, SEED_BASE_URL, Its500Gateway, alipay_link, userid_link
from cashier.sim.core import SimState
from cashier.sim.its500 import Its500Sim, alipay_user_id

APPKEY = "demo-its500-appkey-0005"
SECRET = "demo-its500-appsecret-000000005"
QRCODE = "alipayqr://platformapi/startapp?saId=10000007&qrcode=https%3A%2F%2Fqr.alipay.com%2Ffkx152655c8lyjz0qqxag7a"
_seq = itertools.count(1)


def new_no(prefix: str = "ZZ") -> str:
    return f"{prefix}{next(_seq):04d}{datetime.now().strftime('%H%M%S%f')}"


@pytest.fixture
def its(sim):
    return sim.gateways["its500"]


@pytest.fixture
def gw(make_gateway):
    return make_gateway("its500")


@pytest.fixture
def profile(demo_profile):
    return demo_profile("its500")[0]


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


def ref(qr, amount: str = "100.00", method: Method = Method.ALIPAY) -> OrderRef:
    return OrderRef(out_trade_no=qr.out_trade_no, amount=Decimal(amount), method=method,
                    gateway_trade_no=qr.gateway_trade_no)


# ----------------------------------------------------------------------- basics


def test_class_declares_what_its500_has():
    caps = Its500Gateway.capabilities
    assert caps == {Capability.WECHAT_QR, Capability.ALIPAY_QR, Capability.QQ_QR, Capability.QUERY,
                    Capability.NOTIFY_VERIFY, Capability.CHECK_CONNECTION}
    for missing in (Capability.REFUND, Capability.REFUND_QUERY, Capability.CLOSE, Capability.REVERSE,
                    Capability.MICROPAY, Capability.MERGED_QR):
        assert missing not in caps
    # the query is known only from public clients; the connection check uses createOrder (seed)
    assert Its500Gateway.unverified == {Capability.QUERY}
    assert Its500Gateway.limits.min_amount == Decimal("1.00")
    assert Its500Gateway.limits.max_qr_expiry == 300  # orders live 5 minutes
    assert Its500Gateway.qr_methods() == (Method.WECHAT, Method.ALIPAY, Method.QQ)
    # the host every public client calls; the seed's host stays selectable
    assert Its500Gateway.default_base_url == "https://admin.zhanzhangfu.com"
    assert SEED_BASE_URL == "https://pay.its500.com"


def test_unsupported_operations(gw):
    order = OrderRef(out_trade_no=new_no(), amount=Decimal("5.00"), method=Method.ALIPAY, gateway_trade_no="x")
    with pytest.raises(NotSupported):
        gw.refund(order, new_no("RF"), Decimal("1.00"), "")
    with pytest.raises(NotSupported):
        gw.refund_query(order, new_no("RF"))
    with pytest.raises(NotSupported):
        gw.close(order)
    with pytest.raises(NotSupported):
        gw.reverse(order)
    with pytest.raises(NotSupported):
        gw.micropay(new_no(), Decimal("5.00"), "134567890123456789", Wallet.WECHAT, "x")
    with pytest.raises(NotSupported):
        gw.create_qr(new_no(), Decimal("5.00"), Method.MERGED, "x", 300)


def test_query_url_default_and_override(build, profile):
    # the createOrder host answers the status too...
    assert build(extra={}).query_url == profile.base_url + "/order/onlinePayFindResult"
    assert build(extra={}, base_url="https://admin.zhanzhangfu.com/").query_url == DEFAULT_QUERY_URL
    assert DEFAULT_QUERY_URL == "https://admin.zhanzhangfu.com/order/onlinePayFindResult"
    # ...except the seed's host, whose query path no public client shows
    assert build(extra={}, base_url=SEED_BASE_URL).query_url == DEFAULT_QUERY_URL
    assert build().query_url == profile.extra["query_url"]
    assert build(extra={"query_url": "https://q.example.com/x"}).query_url == "https://q.example.com/x"
    with pytest.raises(ConfigError):
        build(extra={"query_url": "http://admin.zhanzhangfu.com/order/onlinePayFindResult"})


# ------------------------------------------------------------------------ create


def test_create_alipay_qr(gw, its, sim_client):
    no = new_no()
    before = datetime.now(timezone.utc)
    qr = gw.create_qr(no, Decimal("100.00"), Method.ALIPAY, "开通超级VIP", 300)
    assert Decimal("99.01") <= qr.amount_to_pay < Decimal("100.00")
    # the QR is the zfbuseridcode link: the customer's Alipay opens with the amount filled in
    answer = its.answers[qr.gateway_trade_no]
    assert qr.qr == answer["zfbuseridcode"] and qr.qr_image_url is None
    assert qr.qr.endswith(f"/its500/zfbuserid?zfbuserid={alipay_user_id(APPKEY)}&price={qr.amount_to_pay}")
    with httpx.Client() as client:
        assert client.get(qr.qr).status_code == 200
    assert qr.gateway_trade_no.startswith("oderpay-") and qr.wallet == Wallet.ALIPAY and qr.out_trade_no == no
    assert before + timedelta(seconds=299) <= qr.expires_at <= datetime.now(timezone.utc) + timedelta(seconds=301)
    sent = its.received[-1]
    assert sent["path"] == "/order/createOrder" and sent["method"] == "POST"
    assert sent["fields"] == {"price": "100.00", "name": "开通超级VIP", "paytype": "ali", "thirduid": no}
    order = sim_client.order("its500", qr.gateway_trade_no)
    assert order["amount"] == "100.00" and order["pay_amount"] == str(qr.amount_to_pay)


def test_alipay_without_zfbuseridcode_shows_the_personal_code_link(gw, its):
    its.missing_codes[APPKEY] = {"zfbuserid"}
    qr = gw.create_qr(new_no(), Decimal("100.00"), Method.ALIPAY, "x", 300)
    assert "zfbuseridcode" not in its.answers[qr.gateway_trade_no]
    assert qr.qr.startswith("https://qr.alipay.com/fkx") and qr.qr == alipay_link(its.answers[qr.gateway_trade_no]["qrcode"])
    # the customer must type the amount: it is what the window shows big
    assert qr.amount_to_pay < Decimal("100.00")


def test_userid_link_only_for_the_amount_to_pay():
    link = "https://www.xxx.com/common/zfbuserid?zfbuserid=2088212200290635&price=99.13"
    assert userid_link(link, Decimal("99.13")) == link
    assert userid_link(" " + link + " ", Decimal("99.13")) == link
    assert userid_link(link.replace("99.13", "99,13"), Decimal("99.13")) == ""  # not an amount
    assert userid_link(link, Decimal("99.14")) == ""  # another amount would lose the order
    assert userid_link(link + "&price=99.13", Decimal("99.13")) == ""
    assert userid_link("https://x.example/pay?zfbuserid=2088212200290635", Decimal("1.00")).startswith("https://")
    for bad in ("", "alipays://platformapi?x=1", "javascript:alert(1)", "https:///nohost", "https://a b.com/"):
        assert userid_link(bad, Decimal("1.00")) == ""


def test_create_wechat_and_qq_give_the_personal_code_image(gw):
    for method, wallet, name in ((Method.WECHAT, Wallet.WECHAT, "wx.png"), (Method.QQ, Wallet.QQ, "qq.png")):
        qr = gw.create_qr(new_no(), Decimal("5.00"), method, "x", 300)
        assert qr.qr == "" and qr.wallet == wallet
        assert qr.qr_image_url.endswith("/" + name) and APPKEY not in qr.qr_image_url
        assert qr.amount_to_pay < Decimal("5.00")
        with httpx.Client() as client:
            image = client.get(qr.qr_image_url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        width, height, _, info = png.Reader(bytes=image.content).read()  # pypng: qrcode's own PNG writer
        assert width == height >= 100 and info["bitdepth"] == 1


def test_answer_keys_carry_trailing_spaces(sim):
    answer = httpx.post(sim.gateway_url("its500") + "/order/createOrder",
                        data={"price": "100", "name": "开通超级VIP", "paytype": "ali"},
                        headers={"Payment-Key": APPKEY, "Payment-Secret": SECRET}).json()
    assert answer["code"] == "10001" and answer["msg"] == "下单成功"
    assert {"originalprice ", "remarks ", "wxcode ", "zfbcode ", "qrcode ", "zfbuseridcode "} <= set(answer)
    assert answer["originalprice "] == "100"
    assert answer["qrcode "].startswith("alipayqr://platformapi/startapp?saId=10000007&qrcode=https%3A%2F%2Fqr.alipay.com%2F")
    assert alipay_link(answer["qrcode "]).startswith("https://qr.alipay.com/fkx")


def test_discount_is_random_below_one_yuan_and_repeats_per_seed():
    def first_prices():
        sim = Its500Sim(SimState())
        return [sim._discounted("m", Decimal("1.00")) for _ in range(5)]

    prices = first_prices()
    assert prices == first_prices()  # seeded: the same run gives the same prices
    assert all(Decimal("0.01") <= p < Decimal("1.00") for p in prices)
    assert len(set(prices)) > 1


def test_pending_orders_get_distinct_prices(gw):
    prices = [gw.create_qr(new_no(), Decimal("2.00"), Method.ALIPAY, "x", 300).amount_to_pay for _ in range(30)]
    assert len(set(prices)) == 30
    assert all(Decimal("1.01") <= p <= Decimal("1.99") for p in prices)


def test_amount_below_one_yuan_refused_before_sending(gw, its):
    with pytest.raises(InvalidParameter):
        gw.create_qr(new_no(), Decimal("0.99"), Method.ALIPAY, "x", 300)
    assert its.received == []


def test_sim_price_errors(sim):
    url = sim.gateway_url("its500") + "/order/createOrder"
    headers = {"Payment-Key": APPKEY, "Payment-Secret": SECRET}
    for price, code in (("", "10002"), ("1元", "10003"), ("1.001", "10003"), ("0.99", "10004")):
        answer = httpx.post(url, data={"price": price, "name": "x"}, headers=headers).json()
        assert answer["code"] == code, price


def test_error_codes_map_to_typed_errors(gw):
    for code, error in (("10002", InvalidParameter), ("10003", InvalidParameter), ("10004", InvalidParameter),
                        ("10005", BadSignature), ("10006", BadSignature), ("10007", Rejected),
                        ("10008", Rejected), ("10009", Rejected), ("10010", Rejected), ("10021", Rejected)):
        with pytest.raises(error) as info:
            gw._raise_for({"code": code, "msg": "下单失败"}, code)
        assert info.value.gateway_code == code


def test_bad_secret_and_unknown_appkey_are_bad_signature(build):
    with pytest.raises(BadSignature) as info:
        build(secret="wrong-secret").create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)
    assert info.value.gateway_code == "10005" and "AppKey" in info.value.message("zh_CN")
    with pytest.raises(BadSignature) as info:
        build(merchant_id="no-such-appkey").create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)
    assert info.value.gateway_code == "10006"


@pytest.mark.parametrize("code", ["10007", "10008", "10009", "10010"])
def test_account_problems_are_rejected(gw, its, code):
    its.account_state[APPKEY] = code
    with pytest.raises(Rejected) as info:
        gw.create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)
    assert info.value.gateway_code == code and "下单失败" in info.value.message("zh_CN")


def test_no_uploaded_code_is_rejected(gw, its):
    its.missing_codes[APPKEY] = {"wx", "zfb", "zfbuserid"}
    with pytest.raises(Rejected) as info:
        gw.create_qr(new_no(), Decimal("5.00"), Method.WECHAT, "x", 300)
    assert info.value.key == "gw.its500_no_code"
    with pytest.raises(Rejected):
        gw.create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)


def test_callback_url_sent_unless_loopback(build, its):
    build(notify_url="https://shop.example.com/its500/notify").create_qr(new_no(), Decimal("5.00"),
                                                                         Method.ALIPAY, "x", 300)
    assert its.received[-1]["fields"]["callbackurl"] == "https://shop.example.com/its500/notify"
    build(notify_url="http://127.0.0.1:8080/notify").create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)
    assert "callbackurl" not in its.received[-1]["fields"]


def test_credentials_only_in_headers_and_no_signature(gw, its):
    qr = gw.create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)
    gw.query(ref(qr, "5.00"))
    for sent in its.received:
        headers = {k.lower(): v for k, v in sent["headers"].items()}
        assert headers["payment-key"] == APPKEY and headers["payment-secret"] == SECRET
        assert "sign" not in sent["fields"]
        assert SECRET not in json.dumps(sent["fields"], ensure_ascii=False)


# ------------------------------------------------------------------------ query


def test_query_pending_then_paid(gw, its, sim_client):
    qr = gw.create_qr(new_no(), Decimal("100.00"), Method.ALIPAY, "x", 300)
    state = gw.query(ref(qr))
    assert state.status == PayStatus.PENDING and state.gateway_trade_no == qr.gateway_trade_no
    sent = its.received[-1]
    assert sent["path"] == "/order/onlinePayFindResult" and sent["method"] == "GET"
    assert sent["fields"] == {"orderId": qr.gateway_trade_no}
    sim_client.pay("its500", qr.gateway_trade_no)
    state = gw.query(ref(qr))
    assert state.status == PayStatus.PAID and state.paid_amount == qr.amount_to_pay
    assert state.wallet == Wallet.ALIPAY


def test_query_paid_by_wechat(gw, sim_client):
    qr = gw.create_qr(new_no(), Decimal("3.00"), Method.WECHAT, "x", 300)
    sim_client.pay("its500", qr.gateway_trade_no)
    state = gw.query(ref(qr, "3.00", Method.WECHAT))
    assert state.status == PayStatus.PAID and state.wallet == Wallet.WECHAT


def test_expired_order_is_closed(gw, sim_client):
    qr = gw.create_qr(new_no(), Decimal("3.00"), Method.ALIPAY, "x", 300)
    sim_client.advance(301)
    state = gw.query(ref(qr, "3.00"))
    assert state.status == PayStatus.CLOSED and "失效" in state.reason


def test_unknown_order_id_is_closed(gw):
    order = OrderRef(out_trade_no=new_no(), amount=Decimal("3.00"), method=Method.ALIPAY,
                     gateway_trade_no="oderpay-7ae379d1-e4c1-4acd-8d9a-584a208b28b7")
    assert gw.query(order).status == PayStatus.CLOSED


def test_query_without_order_id_asks_nothing(gw, its):
    order = OrderRef(out_trade_no=new_no(), amount=Decimal("3.00"), method=Method.ALIPAY)
    state = gw.query(order)
    assert state.status == PayStatus.NOT_FOUND and state.reason
    assert its.received == []


def test_query_proves_nothing_about_the_keys(build, gw, sim):
    """The public demo page asks the status with no credentials at all: so does the simulator."""
    qr = gw.create_qr(new_no(), Decimal("3.00"), Method.ALIPAY, "x", 300)
    assert build(secret="wrong-secret").query(ref(qr, "3.00")).status == PayStatus.PENDING
    url = sim.gateway_url("its500") + "/order/onlinePayFindResult?orderId=" + qr.gateway_trade_no
    assert httpx.post(url).json() == {"msg": "订单未支付", "code": "10002"}


def test_query_answer_naming_bad_keys_is_bad_signature(profile):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"code": "10005", "msg": "不合法"}))
    gw = Its500Gateway(profile, SECRET, http=GatewayHttp(profile.base_url, transport=transport))
    try:
        with pytest.raises(BadSignature):
            gw.query(OrderRef(out_trade_no=new_no(), amount=Decimal("3.00"), method=Method.ALIPAY,
                              gateway_trade_no="oderpay-1"))
    finally:
        gw.close_transport()


# ----------------------------------------------------------- transport failures


def test_http_500_before_and_after(gw, sim_client):
    sim_client.fault("http500", gateway="its500", op="create", when="before")
    with pytest.raises(ServerError):
        gw.create_qr(new_no(), Decimal("1.00"), Method.ALIPAY, "x", 300)
    assert sim_client.orders("its500") == []
    no = new_no()
    sim_client.fault("http500", gateway="its500", op="create", when="after")
    with pytest.raises(ServerError):
        gw.create_qr(no, Decimal("1.00"), Method.ALIPAY, "x", 300)
    orders = sim_client.orders("its500")
    assert len(orders) == 1 and orders[0]["status"] == "NOTPAY"  # created, but we never learnt its orderId
    # without the orderId no code was shown, so nothing can be paid: the query says so without asking
    lost = OrderRef(out_trade_no=no, amount=Decimal("1.00"), method=Method.ALIPAY)
    assert gw.query(lost).status == PayStatus.NOT_FOUND


def test_connection_reset_before_and_after(gw, sim_client):
    qr = gw.create_qr(new_no(), Decimal("1.00"), Method.ALIPAY, "x", 300)
    for when in ("before", "after"):
        sim_client.fault("reset", gateway="its500", op="query", when=when)
        with pytest.raises(ConnectionLost):
            gw.query(ref(qr, "1.00"))
    sim_client.fault("reset", gateway="its500", op="create", when="after")
    with pytest.raises(ConnectionLost):
        gw.create_qr(new_no(), Decimal("1.00"), Method.ALIPAY, "x", 300)
    assert len(sim_client.orders("its500")) == 2
    assert gw.query(ref(qr, "1.00")).status == PayStatus.PENDING


def test_malformed_answer(gw, sim_client):
    sim_client.fault("malformed", gateway="its500", op="create", when="before")
    with pytest.raises(BadResponse):
        gw.create_qr(new_no(), Decimal("1.00"), Method.ALIPAY, "x", 300)


@pytest.mark.parametrize("answer", [
    {"msg": "下单成功"},  # no code
    {"code": "10001", "msg": "下单成功", "price": "99.13"},  # no orderId
    {"code": "10001", "orderId": "oderpay-1", "price": "100.01", "qrcode ": QRCODE},  # more than asked
    {"code": "10001", "orderId": "oderpay-1", "price": "99.00", "qrcode ": QRCODE},  # a whole yuan off
    {"code": "10001", "orderId": "oderpay-1", "price": "9,9", "qrcode ": QRCODE},
    {"code": "10001", "orderId": "oderpay-1", "price": "99.13", "originalprice ": "99", "qrcode ": QRCODE},
])
def test_odd_create_answers_are_bad_response(profile, answer):
    """Answers the simulator never gives, through a canned transport."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    http = GatewayHttp(profile.base_url, secrets=(SECRET,), transport=transport)
    gw = Its500Gateway(profile, SECRET, http=http)
    try:
        with pytest.raises(BadResponse):
            gw.create_qr(new_no(), Decimal("100.00"), Method.ALIPAY, "x", 300)
    finally:
        gw.close_transport()


@pytest.mark.parametrize("answer, status", [
    ({"code": "10001", "msg": "支付成功", "price": "9.97"}, PayStatus.PAID),
    ({"code": 10002, "msg": "未支付"}, PayStatus.PENDING),
    ({"code": "10003", "msg": "订单已失效"}, PayStatus.CLOSED),
    ({"code": "10099", "msg": "?"}, PayStatus.UNKNOWN),
])
def test_canned_query_answers(profile, answer, status):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    gw = Its500Gateway(profile, SECRET, http=GatewayHttp(profile.base_url, transport=transport))
    try:
        order = OrderRef(out_trade_no=new_no(), amount=Decimal("10.00"), method=Method.ALIPAY,
                         gateway_trade_no="oderpay-1")
        assert gw.query(order).status == status
    finally:
        gw.close_transport()


def test_canned_answer_of_the_seed(profile):
    """The seed's own sample answer, stray spaces and all."""
    answer = {"msg": "下单成功", "other": "", "code": "10001", "orderId": "oderpay-7ae379d1-e4c1-4acd-8d9a-584a208b28b7",
              "price": "99.13", "name": "开通超级VIP", "reurl": "", "thirduid": "15811111111",
              "originalprice ": "100", "remarks ": "", "wxcode ": "http://zyphoto.xxx.cn/20210309003047",
              "zfbcode ": "http://zyphoto.xxx.cn/20210328224809", "qrcode ": QRCODE}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    gw = Its500Gateway(profile, SECRET, http=GatewayHttp(profile.base_url, transport=transport))
    try:
        ali = gw.create_qr(new_no(), Decimal("100.00"), Method.ALIPAY, "开通超级VIP", 300)
        assert ali.qr == "https://qr.alipay.com/fkx152655c8lyjz0qqxag7a" and ali.amount_to_pay == Decimal("99.13")
        # the sample's zfbuseridcode names price=1000.00, not the 99.13 to pay: not shown
        answer["zfbuseridcode "] = "https://www.xxx.com/common/zfbuserid?zfbuserid=2088212200290635&price=1000.00"
        ali = gw.create_qr(new_no(), Decimal("100.00"), Method.ALIPAY, "开通超级VIP", 300)
        assert ali.qr == "https://qr.alipay.com/fkx152655c8lyjz0qqxag7a"
        answer["zfbuseridcode "] = "https://www.xxx.com/common/zfbuserid?zfbuserid=2088212200290635&price=99.13"
        ali = gw.create_qr(new_no(), Decimal("100.00"), Method.ALIPAY, "开通超级VIP", 300)
        assert ali.qr == answer["zfbuseridcode "] and ali.amount_to_pay == Decimal("99.13")
        wx = gw.create_qr(new_no(), Decimal("100.00"), Method.WECHAT, "开通超级VIP", 300)
        assert wx.qr == "" and wx.qr_image_url == "http://zyphoto.xxx.cn/20210309003047"
        with pytest.raises(Rejected):  # no qqcode in that answer
            gw.create_qr(new_no(), Decimal("100.00"), Method.QQ, "开通超级VIP", 300)
    finally:
        gw.close_transport()


def test_timeout(build, profile, sim_client):
    http = GatewayHttp(profile.base_url, secrets=(SECRET,), timeout=httpx.Timeout(0.3))
    gw = build(http=http)
    sim_client.fault("delay", gateway="its500", op="create", seconds=1.0)
    with pytest.raises(Timeout):
        gw.create_qr(new_no(), Decimal("1.00"), Method.ALIPAY, "x", 300)


def test_connection_refused_is_not_sent(build):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = build(base_url=f"http://127.0.0.1:{port}/its500",
               extra={"query_url": f"http://127.0.0.1:{port}/its500/order/onlinePayFindResult"})
    with pytest.raises(NotSent):
        gw.create_qr(new_no(), Decimal("1.00"), Method.ALIPAY, "x", 300)
    with pytest.raises(NotSent):
        gw.query(OrderRef(out_trade_no=new_no(), amount=Decimal("1.00"), method=Method.ALIPAY,
                          gateway_trade_no="oderpay-x"))


# ---------------------------------------------------------------- notifications


_Receiver = NotifyEndpoint


@pytest.fixture
def receiver(gw):
    r = _Receiver(gw)
    yield r
    r.close()


def test_payment_notification_needs_confirmation(gw, sim_client, receiver):
    no = new_no()
    qr = gw.create_qr(no, Decimal("100.00"), Method.WECHAT, "开通超级VIP", 300)
    sim_client.pay("its500", qr.gateway_trade_no)
    record = sim_client.notify("its500", qr.gateway_trade_no, url=receiver.url)
    assert record["status"] == 200 and record["body"] == "success"
    request = receiver.received[-1]
    payload = json.loads(request.body)
    assert set(payload) == {"code", "msg", "other", "orderId", "price", "originalprice", "name", "reurl",
                            "thirduid", "paytype", "remarks"}
    assert payload["code"] == 10001 and payload["paytype"] == "0" and "sign" not in payload
    note = gw.verify_notification(request)
    assert note.needs_confirmation  # unsigned: the engine confirms it by a query
    assert note.kind == "payment" and note.paid and note.out_trade_no == no
    assert note.gateway_trade_no == qr.gateway_trade_no and note.wallet == Wallet.WECHAT
    assert note.amount == qr.amount_to_pay
    check_notification_against(note, {no: qr.amount_to_pay})
    with pytest.raises(NotificationError):  # the asked amount is not what the customer paid
        check_notification_against(note, {no: Decimal("100.00")})
    assert gw.verify_notification(request) == note  # a replay parses the same
    assert gw.query(ref(qr, "100.00", Method.WECHAT)).status == PayStatus.PAID  # the confirmation


def test_forged_notification_is_exposed_by_the_query(gw, sim_client, receiver):
    """Anyone can POST this JSON: parsing it proves nothing, the query does."""
    no = new_no()
    qr = gw.create_qr(no, Decimal("50.00"), Method.ALIPAY, "x", 300)
    record = sim_client.notify("its500", qr.gateway_trade_no, url=receiver.url, forge=True)
    assert record["status"] == 200
    note = gw.verify_notification(receiver.received[-1])
    assert note.paid and note.needs_confirmation
    assert gw.query(ref(qr, "50.00")).status == PayStatus.PENDING  # not paid at all


def test_amount_mismatched_notification(gw, sim_client, receiver):
    no = new_no()
    qr = gw.create_qr(no, Decimal("10.00"), Method.ALIPAY, "x", 300)
    sim_client.pay("its500", qr.gateway_trade_no)
    sim_client.notify("its500", qr.gateway_trade_no, url=receiver.url, amount="0.01")
    note = gw.verify_notification(receiver.received[-1])
    with pytest.raises(NotificationError) as info:
        check_notification_against(note, {no: qr.amount_to_pay})
    assert info.value.key == "gw.notify_amount_mismatch"


def test_malformed_notifications(gw):
    good = {"code": 10001, "orderId": "oderpay-1", "price": "99.97", "thirduid": "ZZ1", "paytype": "1"}

    def req(body, method="POST"):
        return IncomingRequest(method, "/n", {}, {}, body if isinstance(body, bytes) else json.dumps(body).encode(), {})

    assert gw.verify_notification(req(good)).wallet == Wallet.ALIPAY
    for bad in (b"", b"nope", b"[1]", {k: v for k, v in good.items() if k != "orderId"},
                {k: v for k, v in good.items() if k != "thirduid"}, dict(good, price="9.999"),
                dict(good, price="abc"), dict(good, price="-1")):
        with pytest.raises(NotificationError) as info:
            gw.verify_notification(req(bad))
        assert info.value.key == "gw.notify_malformed"
    with pytest.raises(NotificationError):
        gw.verify_notification(req(good, "GET"))
    assert not gw.verify_notification(req(dict(good, code=10021))).paid


def test_notification_reply(gw):
    assert gw.notification_reply(True).body == "success" and gw.notification_reply(True).status == 200
    assert gw.notification_reply(False).status == 400


# -------------------------------------------------------------- check connection


def test_check_connection_uses_a_call_that_needs_the_keys(gw, build, its, sim_client):
    text = gw.check_connection()
    sent = its.received[-1]
    assert sent["path"] == "/order/createOrder" and sent["fields"]["price"] == "1.00"
    assert "请勿支付" in sent["fields"]["name"]
    # it says plainly that it made a test order, and that it lapses
    assert "AppSecret" in text and "1.00" in text and "5 分钟" in text and "已上传" in text
    created = [o for o in sim_client.orders("its500") if o["amount"] == "1.00"]
    assert len(created) == 1 and created[0]["status"] == "NOTPAY"
    sim_client.advance(301)
    assert sim_client.order("its500", created[0]["out_trade_no"])["status"] == "CLOSED"
    with pytest.raises(BadSignature) as info:
        build(secret="wrong-secret").check_connection()
    assert info.value.gateway_code == "10005"
    with pytest.raises(BadSignature):
        build(merchant_id="no-such-appkey").check_connection()


def test_check_connection_names_account_problems_and_missing_codes(gw, its):
    its.account_state[APPKEY] = "10008"
    with pytest.raises(Rejected) as info:
        gw.check_connection()
    assert "余额不足" in info.value.message("zh_CN")
    del its.account_state[APPKEY]
    its.missing_codes[APPKEY] = {"wx", "qq"}
    text = gw.check_connection()
    assert "未上传：微信、QQ" in text
    i18n.set_language("en")
    try:
        assert "Not uploaded in the back office: WeChat, QQ" in gw.check_connection()
    finally:
        i18n.set_language("zh_CN")


# ---------------------------------------------------------------------- secrets


def test_secret_never_logged(build, profile, sim_client, caplog):
    caplog.set_level(logging.DEBUG)
    gw = build()
    errors = []
    qr = gw.create_qr(new_no(), Decimal("5.00"), Method.WECHAT, "x", 300)
    gw.query(ref(qr, "5.00", Method.WECHAT))
    gw.check_connection()
    for call in (lambda: build(secret="wrong-secret").create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300),
                 lambda: build(secret="wrong-secret").check_connection(),
                 lambda: gw.create_qr(new_no(), Decimal("0.50"), Method.ALIPAY, "x", 300)):
        with pytest.raises(Exception) as info:
            call()
        errors.append(info.value)
    sim_client.fault("malformed", gateway="its500", op="query")
    with pytest.raises(BadResponse) as info:
        gw.query(ref(qr, "5.00"))
    errors.append(info.value)
    http = GatewayHttp(profile.base_url, secrets=(SECRET,), timeout=httpx.Timeout(0.3))
    sim_client.fault("delay", gateway="its500", op="create", seconds=1.0)
    with pytest.raises(Timeout) as info:
        build(http=http).create_qr(new_no(), Decimal("5.00"), Method.ALIPAY, "x", 300)
    errors.append(info.value)
    assert caplog.records
    assert SECRET not in caplog.text
    for exc in errors:
        assert SECRET not in str(exc) and SECRET not in repr(exc) and SECRET not in exc.message("en")
    assert SECRET not in repr(gw)
