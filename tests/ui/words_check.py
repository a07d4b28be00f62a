"""Words a clerk sees, read off the real widgets: in English no Chinese (except the
names a merchant typed: profile names), in Chinese no internal ids (merged_qr,
sub_appid, its500, micropay…), and no "1 orders"."""

from __future__ import annotations

import re

from PySide6.QtWidgets import (
    QAbstractButton, QComboBox, QGroupBox, QLabel, QLineEdit, QTableWidget, QTabWidget, QWidget,
)

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
INTERNAL = re.compile(r"(?<![\w./-])(merged_qr|wechat_qr|alipay_qr|qq_qr|micropay|refund_query|notify_verify|"
                      r"check_connection|sub_appid|client_ip|merge_mch_id|alipay_mch_id|query_url|clientip|"
                      r"return_url|its500|ltzf|epay|fengniao|weidoufu|needs_check|userpaying|[a-z]+_[a-z_]+)(?![\w./-])")  # not in a host name
PLURAL = re.compile(r"\b1 (orders|refunds|payments|items|seconds)\b")


def visible_texts(window: QWidget) -> list[str]:
    texts: list[str] = [window.windowTitle()]
    for w in window.findChildren(QWidget):
        if not w.isVisible():
            continue
        if isinstance(w, (QLabel, QAbstractButton)):
            texts.append(w.text())
        elif isinstance(w, QLineEdit):
            texts.append(w.placeholderText())
        elif isinstance(w, QComboBox):
            texts += [w.itemText(i) for i in range(w.count())]
        elif isinstance(w, QGroupBox):
            texts.append(w.title())
        elif isinstance(w, QTabWidget):
            texts += [w.tabText(i) for i in range(w.count())]
        if isinstance(w, QTableWidget):
            for c in range(w.columnCount()):
                item = w.horizontalHeaderItem(c)
                texts.append(item.text() if item else "")
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    texts.append(item.text() if item else "")
        tip = w.toolTip()
        if tip:
            texts.append(tip)
    return [t for t in texts if t]


def word_faults(window: QWidget, lang: str, names: list[str]) -> list[str]:
    """names: what the merchant typed (profile names), allowed in any language."""
    faults = []
    names = [*names, "中文"]  # the language picker names Chinese in Chinese
    for text in visible_texts(window):
        plain = text
        for name in sorted(names, key=len, reverse=True):
            plain = plain.replace(name, "")
        plain = re.sub(r"[A-Z0-9]{2}[0-9]{10,}", "", plain)  # order numbers
        if lang == "en" and CJK.search(plain):
            faults.append(f"Chinese in English mode: {text!r}")
        if lang != "en":
            hit = INTERNAL.search(plain)
            if hit:
                faults.append(f"internal id {hit.group(0)!r} shown: {text!r}")
        hit = PLURAL.search(plain)
        if hit:
            faults.append(f"plural: {text!r}")
    return faults
