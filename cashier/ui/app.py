"""QApplication set-up: language (Chinese by default, following cashier.i18n and the
settings), Qt's own translations when installed, fonts and the style sheet."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QLibraryInfo, QLocale, QObject, QTranslator, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget

from cashier import i18n, logs

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

RESOURCES = Path(__file__).resolve().parent.parent / "resources"  # package data
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
                "WenQuanYi Micro Hei", "Noto Sans SC")


# The style sheet is written for a 1280×800 screen; other screens get it scaled.
BASE_WIDTH, BASE_HEIGHT = 1280, 800
MIN_SCALE, MAX_SCALE = 0.6, 1.4
_SIZE = re.compile(r"(\d+(?:\.\d+)?)(pt|px)\b")
_scale = 1.0


def scale_for(width: int, height: int) -> float:
    """How much bigger or smaller than the 1280×800 design the text and targets are
    drawn on a screen whose available area is width×height (logical pixels, so a
    125 % scaled 1366×768 screen counts as 1093×614)."""
    factor = min(width / BASE_WIDTH, height / BASE_HEIGHT)
    return round(max(MIN_SCALE, min(MAX_SCALE, factor)), 2)


def current_scale() -> float:
    return _scale


def px(value: float) -> int:
    """A design size in pixels at the current scale."""
    return max(1, round(value * _scale))


def style_sheet(scale: float = 1.0) -> str:
    path = RESOURCES / "cashier.qss"
    try:
        text = path.read_text("utf-8")
    except OSError:
        return ""
    if scale == 1.0:
        return text
    return _SIZE.sub(lambda m: f"{max(1, round(float(m[1]) * scale))}{m[2]}", text)


def apply_scale(scale: float, app: QApplication | None = None) -> bool:
    """Restyle the application for `scale`; False when it already was."""
    global _scale
    app = app or QApplication.instance()
    if app is None or (scale == _scale and app.property("cashierStyled")):
        return False
    _scale = scale
    app.setStyleSheet(style_sheet(scale))
    app.setProperty("cashierStyled", True)
    return True


def screen_scale(app: QApplication) -> float:
    screen = app.primaryScreen()
    if screen is None:
        return 1.0
    area = screen.availableGeometry()
    return scale_for(area.width(), area.height())


def make_app(argv: list[str], language: str | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "cashier", *argv])
    app.setApplicationName("cashier")
    app.setApplicationDisplayName("收银台")
    lang = i18n.set_language(language) if language is not None else i18n.language()
    QLocale.setDefault(QLocale(QLocale.Language.Chinese, QLocale.Country.China) if lang == i18n.ZH
                       else QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    old = getattr(app, "_cashier_translator", None)
    if old is not None and lang != i18n.ZH:  # Qt's own buttons (OK, Cancel) follow the language
        app.removeTranslator(old)
        app._cashier_translator = None
    if lang == i18n.ZH and old is None:
        translator = QTranslator(app)
        if translator.load("qtbase_zh_CN", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(translator)
            app._cashier_translator = translator
    font = QFont(app.font())
    font.setFamilies([*CJK_FAMILIES, font.family()])
    app.setFont(font)
    apply_scale(screen_scale(app), app)
    return app


class _Relay(QObject):
    """Carries a line from any thread to the GUI thread (a queued signal)."""

    line = Signal(str)


class LastResort:
    """sys.excepthook and threading.excepthook for the window: an exception nobody
    caught (in a slot, a timer, a worker thread) becomes one plain line in a message
    box and its traceback goes to the log file. The window keeps running."""

    def __init__(self, parent: Callable[[], QWidget | None]) -> None:
        self._parent = parent
        self._relay = _Relay()  # created on the GUI thread: its slot runs there
        self._relay.line.connect(self.show)
        self._box: "QMessageBox | None" = None
        self.shown: list[str] = []
        self._previous = (sys.excepthook, threading.excepthook)

    def install(self) -> "LastResort":
        sys.excepthook = self._hook
        logs.install_thread_hook(self._relay.line.emit)
        return self

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _hook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        try:
            if exc is not None and exc.__traceback__ is None:
                exc = exc.with_traceback(tb)
            self._relay.line.emit(logs.one_line(logs.describe(exc if exc is not None else exc_type())))
        except Exception:  # the last resort must not raise in turn
            pass

    def show(self, line: str) -> None:
        """One message box at a time: a burst of errors updates its text."""
        self.shown.append(line)
        from PySide6.QtWidgets import QMessageBox  # here: its enums need not be built at start-up

        if self._box is None:
            self._box = QMessageBox(QMessageBox.Icon.Warning, i18n.tr("ui.last_resort.title"), line,
                                    QMessageBox.StandardButton.Ok, self._parent())
            self._box.setModal(False)
            self._box.finished.connect(self._closed)
        else:
            self._box.setText(line)
        self._box.show()

    def _closed(self, _result: int) -> None:
        if self._box is not None:
            self._box.deleteLater()
            self._box = None


i18n.define({
    "ui.last_resort.title": ("出错了", "Something went wrong"),
})
