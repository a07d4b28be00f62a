"""A profile whose key vanished from the keyring is named in the window, not silently dropped."""

from cashier.gateways.base import Profile


def test_missing_key_is_shown(qtbot, tmp_path, sim):
    from cashier.profiles import ProfileStore
    from cashier.services import open_context
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    ProfileStore().add(Profile(name="店铺", gateway="ltzf", base_url=sim.gateway_url("ltzf"), merchant_id="1230000109"))
    make_app([])
    ctx = open_context(demo=False, start=False, ledger_path=tmp_path / "ledger.sqlite3")
    assert "店铺" in ctx.problems
    window = MainWindow(demo=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.set_context(ctx)
    try:
        assert "店铺" in window.status_note.text() and "钥匙串" in window.status_note.text()
    finally:
        window.workers.wait(5000)
        window.close()
        ctx.close()
