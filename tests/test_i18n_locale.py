"""Which language the system asks for: a machine with no locale (or the C locale)
gets the default, Chinese; only an English locale gets English."""

import locale

import pytest

from cashier import i18n


@pytest.fixture
def c_locale(monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
    except locale.Error:
        pytest.skip("this system has no C.UTF-8 locale")
    yield monkeypatch
    locale.setlocale(locale.LC_CTYPE, saved)


def test_the_c_locale_is_not_english(c_locale):
    # Python reports C.UTF-8 as en_US through getlocale(); that is no request for English.
    assert i18n.system_language() == i18n.ZH
    c_locale.setenv("LANG", "C.UTF-8")
    assert i18n.system_language() == i18n.ZH
    c_locale.setenv("LANG", "POSIX")
    assert i18n.system_language() == i18n.ZH


def test_a_named_locale_decides(c_locale):
    c_locale.setenv("LANG", "en_US.UTF-8")
    assert i18n.system_language() == i18n.EN
    c_locale.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.system_language() == i18n.ZH
    c_locale.setenv("LC_ALL", "en_GB.UTF-8")
    assert i18n.system_language() == i18n.EN
