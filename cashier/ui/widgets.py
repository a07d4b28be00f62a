"""Small helpers shared by the pages: scroll areas for forms, dialogs that fit the
screen whatever the text and the scale, tables whose rows follow the font (the
window's scale) and whose columns fit their width (FittedTable), the status bar's
note always whole (StatusLine)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication, QDialog, QFrame, QHBoxLayout, QHeaderView, QLabel, QLayout, QScrollArea, QSizePolicy, QTableView,
    QTableWidget, QTableWidgetItem, QWidget,
)


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


def say(label: QLabel, text: str, *, error: bool = False) -> None:
    """A page's message line: a refusal in red (#message), anything else as a plain
    note (#hint), restyled at once."""
    label.setText(text)
    label.setObjectName("message" if error else "hint")
    label.style().unpolish(label)
    label.style().polish(label)


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


def _row_height(table: QTableView) -> None:
    height = table.fontMetrics().height()
    table.verticalHeader().setDefaultSectionSize(height + max(6, height // 4))


class _RowsFollowFont(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            _row_height(obj)
        return False


def rows_follow_font(table: QTableView) -> None:
    """Rows as tall as the table's text, now and whenever its font or style changes
    (the window's scale): the style's default is a fixed 30 px whatever the font,
    which cut a larger text top and bottom."""
    _row_height(table)
    table.installEventFilter(_RowsFollowFont(table))


class FittedTable(QTableWidget):
    """A table of orders whose columns always fit its width (never scrolled sideways):
    every column gets the width its text needs when there is room; when there is not,
    the `flexible` columns share what the others leave (the narrower first gets all it
    needs) and their text is elided, the whole of it in the cell's tooltip (`item`)."""

    def __init__(self, headers: list[str], flexible: tuple[int, ...]) -> None:
        super().__init__(0, len(headers))
        self.flexible = flexible
        self._fitting = False
        self.setHorizontalHeaderLabels(headers)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        rows_follow_font(self)

    def item_for(self, col: int, text: str) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        if col in self.flexible and text:
            item.setToolTip(text)  # what an elided cell holds
        return item

    def fit(self) -> None:
        if self._fitting:
            return
        self._fitting = True
        try:
            header = self.horizontalHeader()
            least = {c: header.sectionSizeHint(c) for c in range(self.columnCount())}  # the header's words
            want = {c: max(self.sizeHintForColumn(c), least[c])
                    for c in range(self.columnCount()) if not self.isColumnHidden(c)}
            flexible = sorted((c for c in self.flexible if c in want), key=want.get)
            rest = self.viewport().width() - sum(w for c, w in want.items() if c not in self.flexible)
            widths = dict(want)
            for i, c in enumerate(flexible):
                share = rest // (len(flexible) - i)
                widths[c] = max(least[c], min(want[c], share))
                rest -= widths[c]
            for c, w in widths.items():
                header.resizeSection(c, w)
        finally:
            self._fitting = False

    def viewportEvent(self, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return super().viewportEvent(event)


class StatusNote(QLabel):
    """The status bar's passing note, on one line: its StatusLine makes room for it
    whenever it changes; a note longer than the whole bar is elided, whole in its
    tooltip."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        super().setText(text)
        line = self.parentWidget()
        if isinstance(line, StatusLine):
            line.place_note()
        self._tip()

    def elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def _tip(self) -> None:
        tip = self.text() if self.elided() else ""
        if self.toolTip() != tip:
            self.setToolTip(tip)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._tip()
        if not self.elided():
            super().paintEvent(event)
            return
        from PySide6.QtGui import QPainter

        rect = self.contentsRect()
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(self.alignment()), shown)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._tip()


class StatusLine(QWidget):
    """A status bar's items on one line, and its passing note whole on that line:
    while a note needs more room than the items leave, the items give way (hidden
    until the note is cleared): those after the note first, then those before it,
    nearest first. The bar never grows (a line more cut the page list at 1024×768),
    and a note never wraps (wrapped in the room a 1024-wide English bar leaves, it
    took four lines and the bar cut them)."""

    def __init__(self, note: StatusNote) -> None:
        super().__init__()
        self.note = note
        note.setWordWrap(False)
        note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.items = QHBoxLayout(self)
        self.items.setContentsMargins(0, 0, 0, 0)
        self.items.setSpacing(12)
        self.given_way: list[QWidget] = []

    def addWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 (QStatusBar's name)
        self.items.addWidget(widget, stretch)

    def _order(self) -> list[QWidget]:
        """The items in the order they give way to the note."""
        widgets = [self.items.itemAt(i).widget() for i in range(self.items.count())]
        widgets = [w for w in widgets if w is not None]
        if self.note not in widgets:
            return []
        at = widgets.index(self.note)
        return widgets[at + 1:][::-1] + widgets[:at][::-1]

    def place_note(self) -> None:
        for w in self.given_way:
            w.show()
        self.given_way = []
        text = self.note.text()
        if not text or self.width() <= 0:
            return
        need = self.note.sizeHint().width()  # its text, one line, with the style's padding
        shown = [w for w in self._order() if not w.isHidden()]
        spacing = self.items.spacing()
        room = self.width() - sum(w.sizeHint().width() + spacing for w in shown)
        for w in shown:
            if room >= need:
                break
            w.hide()
            self.given_way.append(w)
            room += w.sizeHint().width() + spacing

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.place_note()
