"""English plurals in messages: "1 order", "2 orders" (Chinese needs none)."""

from cashier import i18n


def test_plural_forms():
    i18n.define({"test.plural": ("订单 {n} 笔", "{n:plural:order,orders} to check")})
    assert i18n.tr("test.plural", lang="en", n=1) == "1 order to check"
    assert i18n.tr("test.plural", lang="en", n=0) == "0 orders to check"
    assert i18n.tr("test.plural", lang="en", n=2) == "2 orders to check"
    assert i18n.tr("test.plural", lang="zh_CN", n=1) == "订单 1 笔"
