"""The counter's settings file: validation, atomic save, the manager PIN."""

from __future__ import annotations

import json

import pytest

from cashier import paths
from cashier.i18n import UserError, tr
from cashier.settings import PinNotSet, Settings, SettingsError, SettingsStore


def test_defaults_when_nothing_saved():
    s = SettingsStore().load()
    assert s == Settings()
    assert s.language == "auto" and s.qr_expiry_seconds == 300
    assert s.notify_enabled is False
    assert s.manager_pin is None and not s.has_pin
    assert s.scanner_config().max_gap_ms == 50


def test_round_trip_and_file_location():
    store = SettingsStore()
    saved = store.save(Settings(language="en", counter_id="A7", qr_expiry_seconds=600, scanner_max_gap_ms=120,
                                scanner_suffix="tab", active_profile="演示·蓝兔支付", notify_enabled=True,
                                notify_port=9000, notify_path="/pay/notify"))
    assert store.path == paths.settings_path()
    assert store.load() == saved
    assert json.loads(store.path.read_text("utf-8"))["counter_id"] == "A7"
    assert not [p for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("changes", [
    {"language": "fr"}, {"counter_id": ""}, {"counter_id": "ABCDE"}, {"counter_id": "A-1"},
    {"counter_id": "收银"}, {"qr_expiry_seconds": 59}, {"qr_expiry_seconds": 7201},
    {"qr_expiry_seconds": 300.5}, {"scanner_max_gap_ms": 151}, {"scanner_min_length": 12},
    {"scanner_suffix": "space"}, {"notify_port": 80}, {"notify_path": "notify"},
    {"notify_path": "/../etc"}, {"notify_enabled": "yes"}, {"active_profile": ""},
])
def test_invalid_values_are_refused_with_a_message(changes):
    with pytest.raises(UserError) as info:
        Settings().replace(**changes)
    assert info.value.message("zh_CN") != info.value.message("en")
    assert not info.value.message("zh_CN").startswith("settings.")


def test_unknown_setting_refused():
    with pytest.raises(UserError):
        Settings().replace(colour="red")


def test_update_validates_before_writing():
    store = SettingsStore()
    store.update(counter_id="B2")
    with pytest.raises(UserError):
        store.update(qr_expiry_seconds=5)
    assert store.load().counter_id == "B2"


def test_damaged_file_is_reported_and_defaults_offered():
    store = SettingsStore()
    store.path.write_text("{not json", "utf-8")
    with pytest.raises(SettingsError) as info:
        store.load()
    assert str(store.path) in info.value.message("en")
    settings, error = store.load_or_default()
    assert settings == Settings() and isinstance(error, SettingsError)
    store.path.write_text(json.dumps({"qr_expiry_seconds": 1}), "utf-8")
    with pytest.raises(SettingsError):
        store.load()


def test_no_default_pin():
    s = SettingsStore().load()
    with pytest.raises(PinNotSet):
        s.verify_pin("0000")
    assert "店长" in tr("settings.pin_not_set")


def test_pin_is_stored_hashed_and_verified():
    store = SettingsStore()
    store.set_pin("246810")
    text = store.path.read_text("utf-8")
    assert "246810" not in text
    data = json.loads(text)["manager_pin"]
    assert set(data) == {"salt", "hash", "iterations"} and data["iterations"] >= 100_000
    s = store.load()
    assert s.verify_pin("246810")
    assert not s.verify_pin("246811")
    assert not s.verify_pin("")
    # Two stores of the same PIN use different salts.
    other = Settings().with_pin("246810")
    assert other.manager_pin.salt != s.manager_pin.salt


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", " 1234"])
def test_bad_pins_refused(pin):
    with pytest.raises(UserError):
        Settings().with_pin(pin)


def test_changing_pin_needs_the_current_one():
    store = SettingsStore()
    store.set_pin("1357")
    with pytest.raises(UserError):
        store.set_pin("2468", current="0000")
    store.set_pin("2468", current="1357")
    assert store.load().verify_pin("2468")


def test_tampered_pin_hash_is_damage_not_a_reset():
    store = SettingsStore()
    store.set_pin("1357")
    data = json.loads(store.path.read_text("utf-8"))
    data["manager_pin"]["iterations"] = 1
    store.path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(SettingsError):
        store.load()


def test_one_bad_value_keeps_the_rest():
    # A value this version refuses (a hand edit, a newer version's value) must not
    # silently move the counter to the local ledger or to counter 01, nor drop the PIN.
    store = SettingsStore()
    store.save(Settings(counter_id="B2", ledger_url="postgresql://cashier@db.shop.lan/books"))
    store.set_pin("1357")
    data = json.loads(store.path.read_text("utf-8"))
    data["qr_expiry_seconds"] = 5  # out of range
    data["kiosk"] = "yes"  # wrong type
    store.path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(SettingsError):
        store.load()
    settings, error = store.load_or_default()
    assert isinstance(error, SettingsError)
    assert settings.counter_id == "B2"
    assert settings.ledger_url == "postgresql://cashier@db.shop.lan/books"
    assert settings.verify_pin("1357")
    assert settings.qr_expiry_seconds == Settings().qr_expiry_seconds and settings.kiosk is False
    from cashier.settings import ledger_url

    assert ledger_url() == "postgresql://cashier@db.shop.lan/books"
