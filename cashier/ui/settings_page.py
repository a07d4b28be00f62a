"""Settings: the counter (language, counter id, QR expiry, scanner timing, manager PIN,
notification receiver) and the merchant profiles of all five gateways (add, edit,
delete, test connection; keys typed into password fields, stored in the keyring)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QHBoxLayout,
    QLabel, QLineEdit, QMessageBox, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from cashier import logs
from cashier.counter import profile_title
from cashier.i18n import UserError, define, tr
from cashier.ui.widgets import FittedTable, fit_dialog, keyed, say, scrolling

define({
    "ui.set.title": ("设置", "Settings"),
    "ui.set.general": ("收银台", "Counter"),
    "ui.set.profiles": ("商户配置", "Merchant profiles"),
    "ui.set.language": ("语言", "Language"),
    "ui.set.lang.auto": ("跟随系统", "System"),
    "ui.set.counter_id": ("收银台编号", "Counter id"),
    "ui.set.qr_expiry": ("二维码有效期（秒）", "QR expiry (s)"),
    "ui.set.gap": ("扫码枪按键间隔上限（毫秒）", "Scanner key gap limit (ms)"),
    "ui.set.min_length": ("付款码最短位数", "Minimum payment-code length"),
    "ui.set.suffix": ("扫码枪结束键", "Scanner suffix"),
    "ui.set.suffix.auto": ("自动（回车或 Tab）", "Auto (Enter or Tab)"),
    "ui.set.suffix.enter": ("回车", "Enter"),
    "ui.set.suffix.tab": ("Tab", "Tab"),
    "ui.set.suffix.none": ("无（停顿结束）", "None (pause ends it)"),
    "ui.set.pin": ("店长密码", "Manager PIN"),
    "ui.set.pin_set": ("已设置", "set"),
    "ui.set.pin_unset": ("未设置", "not set"),
    "ui.set.pin_change": ("设置/修改…", "Set/change…"),
    "ui.set.pin_saved": ("店长密码已保存", "Manager PIN saved"),
    "ui.set.notify": ("接收网关通知（需要公网转发，默认关闭）", "Receive gateway notifications (needs a relay; off by default)"),
    "ui.set.notify_port": ("通知端口", "Notification port"),
    "ui.set.notify_path": ("通知路径", "Notification path"),
    "ui.set.kiosk": ("全屏显示（收银机模式，无窗口边框）", "Full screen (kiosk: no window frame)"),
    "ui.set.micropay_profile": ("付款码转交给", "Payment codes go to"),
    "ui.set.micropay_none": ("不转交", "Nobody else"),
    "ui.set.micropay_demo": ("自动（演示：“{name}”）", "Automatic (demo: '{name}')"),
    "ui.set.save": ("保存", "Save"),
    "ui.set.saved": ("设置已保存", "Settings saved"),
    "ui.set.restart_lang": ("语言将在重新启动后生效", "The language applies after a restart"),
    "ui.set.active": ("当前使用", "In use"),
    "ui.set.use": ("使用此配置", "Use this profile"),
    "ui.set.add": ("添加…", "Add…"),
    "ui.set.edit": ("编辑…", "Edit…"),
    "ui.set.delete": ("删除", "Delete"),
    "ui.set.test": ("测试连接", "Test connection"),
    "ui.set.reload": ("重新加载配置", "Reload profiles"),
    "ui.set.testing": ("正在测试连接…", "Testing the connection…"),
    "ui.set.test_failed": ("连接失败：{reason}", "Connection failed: {reason}"),
    "ui.set.delete_confirm": ("删除商户配置“{name}”及其密钥？", "Delete profile '{name}' and its key?"),
    "ui.set.demo_note": ("演示模式：以下是内置模拟网关的演示配置，不能修改；添加的真实配置在正常模式下使用。",
                         "Demo mode: these demo profiles use the built-in simulator and cannot be changed; real profiles you add are used outside demo mode."),
    "ui.set.profile_saved": ("商户配置已保存；点“重新加载配置”后生效", "Profile saved; press 'Reload profiles' to use it"),
    "ui.set.unverified": ("（部分功能依据公开文档实现，尚未与网关核实：{what}）", "(some operations follow public documents not yet confirmed with the gateway: {what})"),
    "ui.col.name": ("名称", "Name"),
    "ui.col.gateway": ("网关", "Gateway"),
    "ui.col.merchant": ("商户号", "Merchant id"),
    "ui.col.key": ("密钥", "Key"),
    "ui.key.ok": ("已保存在钥匙串", "in the keyring"),
    "ui.key.missing": ("缺少密钥", "missing"),
    "ui.pf.title": ("商户配置", "Merchant profile"),
    "ui.pf.name": ("配置名称", "Profile name"),
    "ui.pf.gateway": ("支付网关", "Gateway"),
    "ui.pf.base_url": ("网关地址", "Gateway address"),
    "ui.pf.merchant_id": ("商户号", "Merchant id"),
    "ui.pf.app_id": ("应用 ID", "App id"),
    "ui.pf.notify_url": ("通知地址", "Notification URL"),
    "ui.pf.secret": ("商户密钥", "Merchant key"),
    "ui.pf.secret_keep": ("留空则保留原密钥", "leave empty to keep the stored key"),
})

SUFFIX_KEYS = ("auto", "enter", "tab", "none")


def _gateway_title(name: str) -> str:
    from cashier import i18n
    from cashier.gateways import gateway_class

    try:
        cls = gateway_class(name)
    except Exception:
        return name
    return cls.title_en if i18n.language() == i18n.EN else cls.title_zh


class ProfileDialog(QDialog):
    """Add or edit a profile. The key goes to the keyring, nowhere else."""

    def __init__(self, parent=None, profile=None) -> None:
        super().__init__(parent)
        from cashier.gateways import gateway_names

        self.editing = profile
        self.setWindowTitle(tr("ui.pf.title"))
        layout = QVBoxLayout(self)
        fit_dialog(self, layout)
        heading = QLabel(self.windowTitle())  # no window manager, no title bar: said inside
        heading.setObjectName("dialogTitle")
        layout.addWidget(heading)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.name = QLineEdit(profile.name if profile else "")
        self.name.setReadOnly(profile is not None)
        self.gateway = QComboBox()
        for name in gateway_names():
            self.gateway.addItem(_gateway_title(name), name)
        if profile is not None:
            self.gateway.setCurrentIndex(max(0, self.gateway.findData(profile.gateway)))
            self.gateway.setEnabled(False)
        self.base_url = QLineEdit(profile.base_url if profile else "")
        self.merchant_id = QLineEdit(profile.merchant_id if profile else "")
        self.app_id = QLineEdit(profile.app_id if profile else "")
        self.notify_url = QLineEdit(profile.notify_url if profile else "http://127.0.0.1/notify")
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        if profile is not None:
            self.secret.setPlaceholderText(tr("ui.pf.secret_keep"))
        self.form.addRow(tr("ui.pf.name"), self.name)
        self.form.addRow(tr("ui.pf.gateway"), self.gateway)
        self.form.addRow(tr("ui.pf.base_url"), self.base_url)
        self.form.addRow(tr("ui.pf.merchant_id"), self.merchant_id)
        self.form.addRow(tr("ui.pf.app_id"), self.app_id)
        self.form.addRow(tr("ui.pf.notify_url"), self.notify_url)
        self.form.addRow(tr("ui.pf.secret"), self.secret)
        self.extra_edits: dict[str, QLineEdit] = {}
        self.extra_rows: list[QWidget] = []
        holder = QWidget()
        holder.setLayout(self.form)
        layout.addWidget(scrolling(holder), 1)
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.error = QLabel("")
        self.error.setObjectName("message")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.gateway.currentIndexChanged.connect(self._gateway_changed)
        self._gateway_changed()
        (self.base_url if profile is not None else self.name).setFocus()  # the first field that can change

    def _gateway_changed(self) -> None:
        from cashier.gateways import gateway_class

        name = self.gateway.currentData()
        cls = gateway_class(name)
        if not self.editing and not self.base_url.text().strip() or (
                not self.editing and self.base_url.text() in getattr(self, "_defaults", ())):
            self.base_url.setText(cls.default_base_url)
        self._defaults = {gateway_class(n).default_base_url for n in
                          (self.gateway.itemData(i) for i in range(self.gateway.count()))}
        uses_app = "app_id" in cls.profile_fields
        self.form.setRowVisible(self.app_id, uses_app)
        for widget in self.extra_rows:
            self.form.removeRow(widget)
        self.extra_rows, self.extra_edits = [], {}
        for key, label in getattr(cls, "profile_extra_fields", {}).items():
            edit = QLineEdit((self.editing.extra.get(key, "") if self.editing else ""))
            self.form.addRow(tr(label), edit)
            self.extra_rows.append(edit)
            self.extra_edits[key] = edit
        notes = []
        if cls.unverified:
            from cashier.counter import capability_text

            notes.append(tr("ui.set.unverified", what=tr("ui.list_sep").join(
                sorted(capability_text(c.value) for c in cls.unverified))))
        self.note.setText(" ".join(notes))

    def profile(self):
        from cashier.gateways.base import Profile

        extra = dict(self.editing.extra) if self.editing else {}
        for key, edit in self.extra_edits.items():
            value = edit.text().strip()
            if value:
                extra[key] = value
            else:
                extra.pop(key, None)
        return Profile(name=self.name.text().strip(), gateway=self.gateway.currentData(),
                       base_url=self.base_url.text().strip(), merchant_id=self.merchant_id.text().strip(),
                       app_id=self.app_id.text().strip(), notify_url=self.notify_url.text().strip(), extra=extra)

    def save(self) -> None:
        from cashier import secrets
        from cashier.profiles import ProfileStore, validate

        self.error.setText("")
        try:
            profile = validate(self.profile())
            secret = self.secret.text()
            if self.editing is None or secret:
                secrets.set_secret(profile.name, secret)
            ProfileStore().add(profile, replace=self.editing is not None)
        except UserError as exc:
            self.error.setText(exc.message())
            return
        self.saved = profile
        self.secret.clear()
        self.accept()


class SettingsPage(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        layout = QVBoxLayout(self)
        title = QLabel(tr("ui.set.title"))
        title.setObjectName("pageTitle")
        layout.addWidget(title)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_general(), tr("ui.set.general"))
        self.tabs.addTab(self._build_profiles(), tr("ui.set.profiles"))
        from cashier.ui.devices_page import DevicesTab

        self.devices = DevicesTab(self)
        self.tabs.addTab(self.devices, tr("ui.dev.tab"))
        layout.addWidget(self.tabs, 1)
        self.message = QLabel("")
        self.message.setObjectName("hint")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.load()

    # ------------------------------------------------------------------ general
    def _build_general(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        inner = QWidget()
        form = QFormLayout(inner)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        outer.addWidget(scrolling(inner), 1)
        self.language = QComboBox()
        for value, text in (("auto", tr("ui.set.lang.auto")), ("zh_CN", "中文"), ("en", "English")):
            self.language.addItem(text, value)
        self.counter_id = QLineEdit()
        self.counter_id.setMaxLength(4)
        self.qr_expiry = QSpinBox()
        self.qr_expiry.setRange(60, 7200)
        self.qr_expiry.setSingleStep(30)
        self.gap = QSpinBox()
        self.gap.setRange(5, 150)
        self.min_length = QSpinBox()
        self.min_length.setRange(16, 32)
        self.suffix = QComboBox()
        for key in SUFFIX_KEYS:
            self.suffix.addItem(tr("ui.set.suffix." + key), key)
        pin_row = QHBoxLayout()
        self.pin_state = QLabel("")
        pin_button = QPushButton(tr("ui.set.pin_change"))
        pin_button.clicked.connect(self.change_pin)
        pin_row.addWidget(self.pin_state, 1)
        keyed(pin_button, tr("ui.set.pin_change"), "Ctrl+P")
        pin_row.addWidget(pin_button)
        self.micropay_profile = QComboBox()
        self.kiosk = QCheckBox(tr("ui.set.kiosk"))
        self.notify_enabled = QCheckBox(tr("ui.set.notify"))
        self.notify_port = QSpinBox()
        self.notify_port.setRange(1024, 65535)
        self.notify_path = QLineEdit()
        form.addRow(tr("ui.set.language"), self.language)
        form.addRow(tr("ui.set.counter_id"), self.counter_id)
        form.addRow(tr("ui.set.qr_expiry"), self.qr_expiry)
        form.addRow(tr("ui.set.gap"), self.gap)
        form.addRow(tr("ui.set.min_length"), self.min_length)
        form.addRow(tr("ui.set.suffix"), self.suffix)
        form.addRow(tr("ui.set.pin"), pin_row)
        form.addRow(tr("ui.set.micropay_profile"), self.micropay_profile)
        form.addRow(self.kiosk)
        form.addRow(self.notify_enabled)
        form.addRow(tr("ui.set.notify_port"), self.notify_port)
        form.addRow(tr("ui.set.notify_path"), self.notify_path)
        save = QPushButton(tr("ui.set.save"))
        save.setObjectName("primary")
        save.clicked.connect(self.save)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(save)
        outer.addLayout(row)
        self.save_button = save
        keyed(save, tr("ui.set.save"), "Ctrl+S")
        return page

    def load(self) -> None:
        from cashier.settings import SettingsStore

        s, error = SettingsStore().load_or_default()
        if error is not None:
            self.message.setText(error.message())
        self.language.setCurrentIndex(max(0, self.language.findData(s.language)))
        self.counter_id.setText(s.counter_id)
        self.qr_expiry.setValue(s.qr_expiry_seconds)
        self.gap.setValue(s.scanner_max_gap_ms)
        self.min_length.setValue(s.scanner_min_length)
        self.suffix.setCurrentIndex(max(0, self.suffix.findData(s.scanner_suffix)))
        self.pin_state.setText(tr("ui.set.pin_set") if s.has_pin else tr("ui.set.pin_unset"))
        self.kiosk.setChecked(s.kiosk)
        self.micropay_profile.clear()
        # Demo mode routes payment codes itself when nothing is chosen: say where,
        # as the checkout does, rather than "nobody".
        auto = self.window.counter.micropay_route(None) if self.window.counter is not None else None
        self.micropay_profile.addItem(tr("ui.set.micropay_demo", name=profile_title(auto)) if auto else tr("ui.set.micropay_none"),
                                      None)
        for name in self.window.micropay_profiles():
            self.micropay_profile.addItem(profile_title(name), name)
        if s.micropay_profile and self.micropay_profile.findData(s.micropay_profile) < 0:
            self.micropay_profile.addItem(profile_title(s.micropay_profile), s.micropay_profile)
        self.micropay_profile.setCurrentIndex(max(0, self.micropay_profile.findData(s.micropay_profile)))
        self.notify_enabled.setChecked(s.notify_enabled)
        self.notify_port.setValue(s.notify_port)
        self.notify_path.setText(s.notify_path)
        if hasattr(self, "devices"):
            self.devices.load(s)

    def save(self) -> bool:
        from cashier.settings import SettingsStore

        store = SettingsStore()
        try:
            current = store.load_or_default()[0]
            new = current.replace(language=self.language.currentData(), counter_id=self.counter_id.text().strip(),
                                  qr_expiry_seconds=self.qr_expiry.value(), scanner_max_gap_ms=self.gap.value(),
                                  scanner_min_length=self.min_length.value(),
                                  scanner_suffix=self.suffix.currentData(),
                                  kiosk=self.kiosk.isChecked(),
                                  micropay_profile=self.micropay_profile.currentData(),
                                  notify_enabled=self.notify_enabled.isChecked(),
                                  notify_port=self.notify_port.value(), notify_path=self.notify_path.text().strip(),
                                  **self.devices.values())
            store.save(new)
        except UserError as exc:
            self._note(exc.message(), error=True)
            return False
        self.window.apply_settings(new)
        text = tr("ui.set.saved")
        if new.language != current.language:
            text += "；" + tr("ui.set.restart_lang")
        self._note(text)
        return True

    def change_pin(self) -> None:
        """Set the manager PIN, or change it: the dialog asks for the current one."""
        dialog = self.pin_dialog()
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.message.setText(tr("ui.set.pin_saved"))
            self.load()

    def pin_dialog(self):
        from cashier.ui.pin import PinDialog

        return PinDialog(self)

    # ------------------------------------------------------------------ profiles
    def _build_profiles(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.demo_note = QLabel(tr("ui.set.demo_note"))
        self.demo_note.setObjectName("hint")
        self.demo_note.setWordWrap(True)
        layout.addWidget(self.demo_note)
        # Columns always within the table's width (at 1024×768 in English they ran past
        # it): name, gateway and merchant elided when short, whole in the tooltip.
        self.table = FittedTable([tr("ui.col.name"), tr("ui.col.gateway"), tr("ui.col.merchant"),
                                  tr("ui.col.key"), tr("ui.set.active")], flexible=(0, 1, 2))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        layout.addWidget(self.table, 1)
        row = QGridLayout()
        self.use_button = QPushButton(tr("ui.set.use"))
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self.use_selected)
        self.add_button = QPushButton(tr("ui.set.add"))
        self.add_button.clicked.connect(self.add_profile)
        self.edit_button = QPushButton(tr("ui.set.edit"))
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button = QPushButton(tr("ui.set.delete"))
        self.delete_button.setObjectName("danger")
        self.delete_button.clicked.connect(self.delete_selected)
        self.test_button = QPushButton(tr("ui.set.test"))
        self.test_button.clicked.connect(self.test_selected)
        self.reload_button = QPushButton(tr("ui.set.reload"))
        self.reload_button.clicked.connect(self.window_reload)
        for b, text, key in ((self.use_button, "ui.set.use", "Ctrl+U"), (self.add_button, "ui.set.add", "Ctrl+N"),
                             (self.edit_button, "ui.set.edit", "Ctrl+E"), (self.delete_button, "ui.set.delete", "Ctrl+Del"),
                             (self.test_button, "ui.set.test", "Ctrl+T"), (self.reload_button, "ui.set.reload", "Ctrl+R")):
            keyed(b, tr(text), key)
        for i, b in enumerate((self.use_button, self.add_button, self.edit_button, self.delete_button,
                               self.test_button, self.reload_button)):
            row.addWidget(b, i // 3, i % 3)
        layout.addLayout(row)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        layout.addWidget(self.test_result)
        return page

    def first_focus(self):
        return self.tabs.tabBar()

    def _note(self, text: str, *, error: bool = False) -> None:
        """The line under the form: a refusal in red, anything else as a plain note."""
        say(self.message, text, error=error)

    def activate(self) -> None:
        self._note("")  # what was said on an earlier visit no longer applies
        self.load()
        self.refresh_profiles()

    def context_changed(self) -> None:
        self.refresh_profiles()

    def _profiles(self):
        """(profile, is_demo) rows: the engine's in demo mode, else the store's."""
        ctx = self.window.ctx
        if ctx is not None and ctx.demo:
            return [(p, True) for p in ctx.profiles]
        from cashier.profiles import ProfileStore

        try:
            return [(p, False) for p in ProfileStore().list()]
        except UserError as exc:
            self.message.setText(exc.message())
            return []

    def refresh_profiles(self) -> None:
        from cashier import secrets

        rows = self._profiles()
        self.rows = rows
        demo = bool(rows) and rows[0][1]
        self.demo_note.setVisible(demo)
        active = self.window.checkout.profile
        self.table.setRowCount(len(rows))
        for i, (p, is_demo) in enumerate(rows):
            key_ok = True if is_demo else secrets.has_secret(p.name)
            values = (profile_title(p.name), _gateway_title(p.gateway), p.merchant_id,
                      tr("ui.key.ok") if key_ok else tr("ui.key.missing"), "●" if p.name == active else "")
            for col, value in enumerate(values):
                self.table.setItem(i, col, self.table.item_for(col, value))
        self.table.fit()
        for b in (self.edit_button, self.delete_button):
            b.setEnabled(not demo)

    def selected_profile(self):
        row = self.table.currentRow()
        rows = getattr(self, "rows", [])
        return rows[row] if 0 <= row < len(rows) else (None, False)

    def use_selected(self) -> None:
        from cashier.settings import SettingsStore

        profile, is_demo = self.selected_profile()
        if profile is None:
            return
        counter = self.window.counter
        if counter is not None and profile.name in counter.profiles():
            self.window.use_profile(profile.name)
            return
        if not is_demo:  # not loaded (e.g. added since): remembered for the next reload
            from cashier.profiles import ProfileStore

            try:
                ProfileStore().set_active(profile.name)
                self.window.apply_settings(SettingsStore().update(active_profile=profile.name))
            except UserError as exc:
                self.message.setText(exc.message())
        self.refresh_profiles()

    def add_profile(self) -> ProfileDialog:
        dialog = ProfileDialog(self)
        dialog.accepted.connect(self._profile_saved)
        self.dialog = dialog
        dialog.open()
        return dialog

    def edit_selected(self) -> None:
        profile, is_demo = self.selected_profile()
        if profile is None or is_demo:
            return
        dialog = ProfileDialog(self, profile)
        dialog.accepted.connect(self._profile_saved)
        self.dialog = dialog
        dialog.open()

    def _profile_saved(self) -> None:
        self.message.setText(tr("ui.set.profile_saved"))
        self.refresh_profiles()

    def delete_selected(self) -> None:
        from cashier import secrets
        from cashier.profiles import ProfileStore

        profile, is_demo = self.selected_profile()
        if profile is None or is_demo:
            return
        answer = QMessageBox.question(self, tr("ui.set.delete"), tr("ui.set.delete_confirm", name=profile_title(profile.name)))
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            ProfileStore().remove(profile.name)
            secrets.delete_secret(profile.name)
        except UserError as exc:
            self.message.setText(exc.message())
        self.refresh_profiles()

    def test_selected(self) -> None:
        profile, is_demo = self.selected_profile()
        if profile is None:
            return
        counter = self.window.counter
        self.test_result.setText(tr("ui.set.testing"))

        def test() -> str:
            if counter is not None:
                return counter.check_connection(profile)
            from cashier.counter import check_profile_connection

            return check_profile_connection(profile)

        self.window.workers.run(
            # the gateway's own words say what was checked ("连接正常：…"): not wrapped again
            test, lambda detail: self.test_result.setText(detail),
            lambda exc: self.test_result.setText(tr("ui.set.test_failed",
                                                    reason=logs.one_line(logs.describe(exc)))))

    def window_reload(self) -> None:
        self.window.reload_context()
