"""The signing algorithms against the published check vectors (docs/gateways/)."""

from cashier.gateways.signing import canonical, epay_sign, signature_equal, wx_v2_sign


def test_wechat_v2_vector():
    fields = {"appid": "wxd930ea5d5a258f4f", "body": "test", "device_info": "1000", "mch_id": "10000100",
              "nonce_str": "ibuaiVcKdpRxkhJA"}
    assert wx_v2_sign(fields, "192006250b4c09247ec02edce69f6a2d") == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_epay_vector():
    assert epay_sign({"timestamp": "1548047628", "uid": "1000", "sign": "x", "sign_type": "MD5"},
                     "58b31d465652be856d7ed80977aa4ce4") == "15540d3398e5ed2a37533e3fc032e1a0"


def test_canonical_drops_empty_and_unsigned():
    fields = {"b": "2", "a": "1", "c": "", "sign": "S", "d": None}
    assert canonical(fields) == "a=1&b=2"
    assert canonical(fields, keys=("b",)) == "b=2"


def test_signature_equal():
    assert signature_equal("ABC", "ABC")
    assert not signature_equal("ABC", "abc")
    assert signature_equal("ABC", "abc", case_insensitive=True)
    assert not signature_equal("ABC", None)
    assert not signature_equal("ABC", "")
