"""Small helpers shared by the pages: scroll areas for forms, dialogs that fit the
screen whatever the text and the scale."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFrame, QLayout, QScrollArea, QWidget


def scrolling(inner: QWidget) -> QScrollArea:
    """`inner` in a vertical scroll area: a long form stays usable on a short screen.
    The area itself takes no focus (it shows none, and keys typed to it went nowhere);
    it still scrolls to whichever field the keys move to."""
    area = QScrollArea()
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(inner)
    return area


def fit_dialog(dialog: QDialog, layout: QLayout) -> None:
    """A dialog as wide as its text needs (a share of the screen), never larger
    than the screen's available area."""
    from cashier.ui.app import px

    parent = dialog.parentWidget()
    if parent is not None:  # the window is fitted to its screen's area
        area = QWidget.window(parent).geometry()  # (pages keep a `window` attribute)
    else:
        screen = dialog.screen()
        area = screen.availableGeometry() if screen is not None else None
    width = px(640)
    if area is not None:
        width = min(width, area.width() - 40)
        dialog.setMaximumSize(area.width(), area.height())
    dialog.setMinimumWidth(width)
    layout.setSizeConstraint(QLayout.SizeConstraint.SetDefaultConstraint)


class DialogActivator(QObject):
    """Gives the keyboard to every dialog as it opens, and back when it closes: to the
    dialog still open below it (a print preview over 交班), else to `window`. A window
    manager would; on a kiosk with none, the keys would go nowhere."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        kind = event.type()
        if kind in (QEvent.Type.Show, QEvent.Type.Hide) and isinstance(obj, QDialog) and obj.isWindow():
            if kind == QEvent.Type.Show:
                QTimer.singleShot(0, lambda w=obj: _activate(w))
            else:  # once it is gone: whichever modal dialog is left, if any
                QTimer.singleShot(0, lambda: _activate(QApplication.activeModalWidget() or self.window))
        return False


def _activate(window: QWidget) -> None:
    try:
        if window.isVisible() and QApplication.activeModalWidget() in (None, window):
            window.raise_()
            window.activateWindow()
    except RuntimeError:  # closed and deleted meanwhile
        pass


def keyed(button, label: str, key: str, *, below: bool = False) -> None:
    """A button that shows its key and is pressed by it (while it is visible and
    enabled: one key can serve a button on each screen)."""
    from PySide6.QtGui import QKeySequence

    button.setText(f"{label}\n{key}" if below else f"{label}  {key}")
    button.setShortcut(QKeySequence(key))
    button.setProperty("key", key)
