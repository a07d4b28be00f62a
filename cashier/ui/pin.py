"""The manager PIN: set by the owner at first run or in Settings (changing it needs the
current one), never on the spot by whoever refunds first. Stored by cashier.settings
as a salted PBKDF2 hash."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from cashier.i18n import UserError, define, tr
from cashier.ui.widgets import fit_dialog

define({
    "ui.pin.title": ("店长密码", "Manager PIN"),
    "ui.pin.explain": ("退款需要店长密码（4–8 位数字）。只有店长知道它；修改时需要输入当前密码。",
                       "Refunds need the manager PIN (4 to 8 digits). Only the manager knows it; changing it "
                       "needs the current one."),
    "ui.pin.current": ("当前店长密码", "Current manager PIN"),
    "ui.pin.new": ("新店长密码", "New manager PIN"),
    "ui.pin.repeat": ("再输一次", "Repeat"),
    "ui.pin.mismatch": ("两次输入的密码不一致", "The two PINs differ"),
    "ui.pin.missing": ("请设置店长密码（4–8 位数字）", "Set the manager PIN (4 to 8 digits)"),
})


def _secret_field() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setMaxLength(8)
    return edit


class PinFields(QWidget):
    """New PIN + repeat (+ the current one when a PIN exists), as a form."""

    def __init__(self, parent=None, *, with_current: bool = False, compact: bool = False) -> None:
        """compact: the two new-PIN fields side by side, named by their placeholders."""
        super().__init__(parent)
        self.current = _secret_field() if with_current else None
        self.pin1 = _secret_field()
        self.pin2 = _secret_field()
        if compact:
            row = QHBoxLayout(self)
            row.setContentsMargins(0, 0, 0, 0)
            for edit, key in ((self.current, "ui.pin.current"), (self.pin1, "ui.pin.new"), (self.pin2, "ui.pin.repeat")):
                if edit is not None:
                    edit.setPlaceholderText(tr(key))
                    row.addWidget(edit)
            return
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        if self.current is not None:
            form.addRow(tr("ui.pin.current"), self.current)
        form.addRow(tr("ui.pin.new"), self.pin1)
        form.addRow(tr("ui.pin.repeat"), self.pin2)

    def is_empty(self) -> bool:
        return not self.pin1.text() and not self.pin2.text()

    def save(self, store=None):
        """Check the two entries and save the PIN (the current one must match when a
        PIN exists). Returns the saved Settings; raises UserError with the reason."""
        from cashier.settings import SettingsStore

        if self.pin1.text() != self.pin2.text():
            raise UserError("ui.pin.mismatch")
        store = store or SettingsStore()
        current = self.current.text() if self.current is not None else None
        try:
            return store.set_pin(self.pin1.text(), current=current)
        except UserError:
            for edit in (self.current, self.pin1, self.pin2):
                if edit is not None:
                    edit.clear()
            raise


class PinDialog(QDialog):
    """Set the manager PIN, or change it (asks for the current one when one is set)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        from cashier.settings import SettingsStore

        self.setWindowTitle(tr("ui.pin.title"))
        layout = QVBoxLayout(self)
        fit_dialog(self, layout)
        text = QLabel(tr("ui.pin.explain"))
        text.setWordWrap(True)
        layout.addWidget(text)
        has_pin = SettingsStore().load_or_default()[0].has_pin
        self.fields = PinFields(self, with_current=has_pin)
        self.current, self.pin1, self.pin2 = self.fields.current, self.fields.pin1, self.fields.pin2
        layout.addWidget(self.fields)
        self.error = QLabel("")
        self.error.setObjectName("message")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        (self.current or self.pin1).setFocus()

    def save(self) -> None:
        try:
            self.settings = self.fields.save()
        except UserError as exc:
            self.error.setText(exc.message())
            return
        self.accept()
