"""Placeholder window until the counter window lands (issue 4)."""

from __future__ import annotations


def run(argv: list[str]) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(["cashier", *argv])
    label = QLabel("收银台")
    label.resize(480, 320)
    label.show()
    if "--exit-after-first-frame" in argv:
        QTimer.singleShot(0, app.quit)
    return app.exec()
