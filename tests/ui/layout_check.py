"""Layout faults of a shown window, measured on the real widgets: a visible widget
outside its window or its parent, two visible siblings overlapping, a button or a
label whose text does not fit (font metrics, through the style, so padding and
borders count). Used by the layout tests and by tools/screenshots.py. And
table_faults: a table whose columns run past its width, or whose headers or cells
cut their words (the order tables' test)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractItemView, QAbstractScrollArea, QAbstractSpinBox, QComboBox, QLabel, QLineEdit,
    QPushButton, QScrollArea, QScrollBar, QStackedWidget, QStyle, QStyleOptionButton, QTableWidget, QTabBar,
    QWidget,
)

# Composite widgets: their insides are Qt's business (viewport, scroll bars, arrows).
_OPAQUE = (QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit, QTabBar, QScrollBar)


def _name(w: QWidget) -> str:
    text = ""
    if isinstance(w, (QAbstractButton, QLabel)):
        text = w.text().replace("\n", " ")[:30]
    return f"{type(w).__name__}#{w.objectName() or '-'}({text!r})"


def _visible_children(w: QWidget) -> list[QWidget]:
    return [c for c in w.findChildren(QWidget, options=_direct()) if c.isVisible() and not c.isWindow()]


def _direct():
    from PySide6.QtCore import Qt

    return Qt.FindChildOption.FindDirectChildrenOnly


def button_text_fits(button: QPushButton) -> bool:
    """The button's own rectangle holds its text (every line) as the style draws it."""
    text = button.text()
    if not text:
        return True
    fm = button.fontMetrics()
    lines = text.replace("&&", "&").split("\n")
    width = max(fm.horizontalAdvance(line) for line in lines)
    height = fm.height() * len(lines)
    opt = QStyleOptionButton()
    button.initStyleOption(opt)
    need = button.style().sizeFromContents(QStyle.ContentsType.CT_PushButton, opt, QSize(width, height), button)
    if not button.icon().isNull():
        need.setWidth(need.width() + button.iconSize().width() + 4)
    return button.width() >= need.width() and button.height() >= min(need.height(), height + 4)


def label_text_fits(label: QLabel) -> bool:
    text = label.text()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return True
    rect = label.contentsRect()
    margin = label.margin() * 2 + label.indent() if label.indent() > 0 else label.margin() * 2
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        return need <= label.height() + 1
    fm = label.fontMetrics()
    lines = text.split("\n")
    if len(lines) == 1 and label.toolTip() == text and fm.height() <= rect.height() + 2:
        return True  # elided on its line, whole on hovering (the status bar's note)
    if label.textFormat() != 0 and "<" in text:  # rich text: trust the size hint
        return label.sizeHint().width() <= label.width() + 1
    width = max(fm.horizontalAdvance(line) for line in lines)
    return width + margin <= rect.width() + 1 and fm.height() * len(lines) <= rect.height() + 2


def table_faults(table: QTableWidget) -> list[str]:
    """A table's columns within its width (nothing scrolled sideways out of sight),
    every header's words whole, and every cell's text whole: on its line(s), wrapped
    within its row's height, or elided with the whole text in its tooltip."""
    faults: list[str] = []
    name = f"{type(table).__name__}#{table.objectName() or '-'}"
    header = table.horizontalHeader()
    columns = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    width = table.viewport().width()
    used = sum(header.sectionSize(c) for c in columns)
    if used > width + 1 or table.horizontalScrollBar().isVisible():
        faults.append(f"{name}: columns {used} px wide in a table {width} px wide")
    for c in columns:
        if header.sectionSize(c) + 1 < header.sectionSizeHint(c):
            label = table.horizontalHeaderItem(c).text() if table.horizontalHeaderItem(c) else c
            faults.append(f"{name}: header {label!r} {header.sectionSize(c)} px, needs {header.sectionSizeHint(c)}")
    fm = table.fontMetrics()
    margin = 2 * (table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1)
    for r in range(table.rowCount()):
        for c in columns:
            item = table.item(r, c)
            text = item.text() if item is not None else ""
            if not text:
                continue
            room = header.sectionSize(c) - margin
            if table.wordWrap():
                box = fm.boundingRect(QRect(0, 0, room, 100000), int(Qt.TextFlag.TextWordWrap), text)
                fits = box.width() <= room + 1 and box.height() <= table.rowHeight(r) + 2
            else:
                lines = text.split("\n")
                wide = max(fm.horizontalAdvance(line) for line in lines) <= room + 1
                wide = wide or item.toolTip() == text  # elided, the whole text on hovering
                fits = wide and fm.height() * len(lines) <= table.rowHeight(r) + 2
            if not fits:
                size = f"{header.sectionSize(c)}×{table.rowHeight(r)} px"
                faults.append(f"{name}: row {r} column {c} cuts {text!r} ({size})")
    return faults


def layout_faults(window: QWidget, area: QRect | None = None) -> list[str]:
    """Every fault found in the visible widget tree of `window` (empty = fine).
    `area`: the screen area the window must lie in (default: its screen's)."""
    faults: list[str] = []
    win_rect = QRect(0, 0, window.width(), window.height())
    screen = area if area is not None else (window.screen().availableGeometry() if window.screen() else None)

    def walk(w: QWidget) -> None:
        kids = _visible_children(w)
        inner = QRect(0, 0, w.width(), w.height())
        for c in kids:
            if not inner.contains(c.geometry()) and not isinstance(w, (QScrollArea,)) \
                    and w.objectName() != "qt_scrollarea_viewport":
                faults.append(f"{_name(c)} {c.geometry().getRect()} outside its parent {_name(w)} {w.size().toTuple()}")
            top_left = c.mapTo(window, c.rect().topLeft())
            in_window = QRect(top_left, c.size())
            if not _in_scroll_area(c) and not win_rect.contains(in_window):
                faults.append(f"{_name(c)} {in_window.getRect()} outside the window {win_rect.getRect()}")
        if not isinstance(w, QStackedWidget):
            for i, a in enumerate(kids):
                for b in kids[i + 1:]:
                    if a.geometry().intersects(b.geometry()):
                        faults.append(f"{_name(a)} {a.geometry().getRect()} overlaps {_name(b)} {b.geometry().getRect()}")
        for c in kids:
            if isinstance(c, QPushButton) and not button_text_fits(c):
                faults.append(f"{_name(c)} size {c.size().toTuple()} cuts its text")
            elif isinstance(c, QLabel) and not label_text_fits(c):
                faults.append(f"{_name(c)} size {c.size().toTuple()} cuts its text")
            if not isinstance(c, _OPAQUE):
                walk(c)

    if screen is not None and window.isWindow():
        size = window.size()  # (the offscreen platform pretends a 2 px frame: size, not position)
        if size.width() > screen.width() or size.height() > screen.height():
            faults.append(f"window {size.toTuple()} is larger than the screen's area {screen.getRect()}")
    walk(window)
    return faults


def _in_scroll_area(w: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QAbstractScrollArea) and not isinstance(p, QAbstractItemView):
            return True
        p = p.parentWidget()
    return False
