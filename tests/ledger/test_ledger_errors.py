"""A ledger used after it was closed says so in the clerk's language."""

from __future__ import annotations

import pytest

from cashier import i18n
from cashier.ledger import Ledger
from cashier.ledger.errors import LedgerClosed, LedgerError

from .helpers import new_order


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_closed_ledger_says_it_is_closed_in_the_clerks_words(db_path, clock, lang):
    ledger = Ledger(db_path, clock=clock)
    ledger.close()
    i18n.set_language(lang)
    try:
        with pytest.raises(LedgerClosed) as raised:
            new_order(ledger)
        message = raised.value.message()
    finally:
        i18n.set_language("zh_CN")
    assert isinstance(raised.value, LedgerError)  # callers catching ledger errors still do
    if lang == "zh_CN":
        assert message.startswith("账本已关闭") and "closed" not in message  # it read "账本操作失败：the ledger is closed"
    else:
        assert message.startswith("The ledger is closed")
