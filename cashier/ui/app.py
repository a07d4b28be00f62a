"""QApplication set-up: language (Chinese by default, following cashier.i18n and the
settings), Qt's own translations when installed, fonts and the style sheet."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from cashier import i18n

RESOURCES = Path(__file__).resolve().parent.parent / "resources"  # package data
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
                "WenQuanYi Micro Hei", "Noto Sans SC")


def style_sheet() -> str:
    path = RESOURCES / "cashier.qss"
    try:
        return path.read_text("utf-8")
    except OSError:
        return ""


def make_app(argv: list[str], language: str | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "cashier", *argv])
    app.setApplicationName("cashier")
    app.setApplicationDisplayName("收银台")
    lang = i18n.set_language(language) if language is not None else i18n.language()
    QLocale.setDefault(QLocale(QLocale.Language.Chinese, QLocale.Country.China) if lang == i18n.ZH
                       else QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    if lang == i18n.ZH:
        translator = QTranslator(app)
        if translator.load("qtbase_zh_CN", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(translator)
    font = QFont(app.font())
    font.setFamilies([*CJK_FAMILIES, font.family()])
    app.setFont(font)
    app.setStyleSheet(style_sheet())
    return app
