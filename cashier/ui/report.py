"""A day's report: unresolved orders first, then count and sum per gateway and wallet,
refunds, net."""

from __future__ import annotations

import datetime

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDateEdit, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from cashier import logs
from cashier.i18n import define, tr
from cashier.money import format_yuan
from cashier.ui.books_dialogs import gateway_title, wallet_title
from cashier.ui.widgets import keyed, rows_follow_font

define({
    "ui.rep.held": ("其中 {count} 笔已付款但资金被支付站点冻结，请与站点核实",
                    "{count} paid but held (frozen) by the payment site: check with the site"),
    "ui.rep.title": ("日报", "Daily report"),
    "ui.rep.day": ("日期", "Day"),
    "ui.rep.today": ("今天", "Today"),
    "ui.rep.shop": ("全店", "Whole shop"),
    "ui.rep.this_counter": ("本收银台（{counter}）", "This counter ({counter})"),
    "ui.rep.unresolved": ("⚠ 未完成或需核对：订单 {orders} 笔，退款 {refunds} 笔",
                          "⚠ Unresolved or to check: {orders:plural:order,orders}, {refunds:plural:refund,refunds}"),
    "ui.rep.open_orders": ("查看待处理订单", "Orders to check"),
    "ui.rep.open_refunds": ("查看未完成的退款", "Unfinished refunds"),
    "ui.rep.refunds": ("查看退款", "See refunds"),
    "ui.rep.all_clear": ("✓ 没有未完成的订单或退款", "✓ No unresolved orders or refunds"),
    "ui.rep.gateway": ("网关", "Gateway"),
    "ui.rep.wallet": ("钱包", "Wallet"),
    "ui.rep.paid_count": ("收款笔数", "Payments"),
    "ui.rep.paid_sum": ("收款金额", "Taken"),
    "ui.rep.refund_count": ("退款笔数", "Refunds"),
    "ui.rep.refund_sum": ("退款金额", "Refunded"),
    "ui.rep.net": ("净收入", "Net"),
    "ui.rep.total": ("合计", "Total"),
    "ui.rep.empty": ("这一天没有收款", "No payments that day"),
})

HEADERS = ("ui.rep.gateway", "ui.rep.wallet", "ui.rep.paid_count", "ui.rep.paid_sum", "ui.rep.refund_count",
           "ui.rep.refund_sum", "ui.rep.net")


class ReportPage(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.report = None
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel(tr("ui.rep.title"))
        title.setObjectName("pageTitle")
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(QLabel(tr("ui.rep.day")))
        self.day = QDateEdit(QDate.currentDate())
        self.day.setCalendarPopup(True)
        self.day.setDisplayFormat("yyyy-MM-dd")
        self.day.dateChanged.connect(lambda _: self.reload())
        top.addWidget(self.day)
        today = QPushButton(tr("ui.rep.today"))
        today.clicked.connect(lambda: self.day.setDate(QDate.currentDate()))
        keyed(today, tr("ui.rep.today"), "Ctrl+T")
        top.addWidget(today)
        # The whole shop, or only this counter's sales and the refunds made here.
        self.scope = QComboBox()
        self.scope.addItem(tr("ui.rep.shop"), None)
        self.scope.currentIndexChanged.connect(lambda _: self.reload())
        top.addWidget(self.scope)
        layout.addLayout(top)
        self.unresolved = QLabel("")
        self.unresolved.setObjectName("wallet")
        self.unresolved.setWordWrap(True)
        layout.addWidget(self.unresolved)
        links = QHBoxLayout()
        self.orders_link = QPushButton(tr("ui.rep.open_orders"))
        self.orders_link.clicked.connect(lambda: self.window.show_page("attention"))
        self.refunds_link = QPushButton(tr("ui.rep.refunds"))
        self.refunds_link.clicked.connect(self.show_refunds)
        keyed(self.orders_link, tr("ui.rep.open_orders"), "F7")
        keyed(self.refunds_link, tr("ui.rep.refunds"), "F8")
        links.addWidget(self.orders_link)
        links.addWidget(self.refunds_link)
        links.addStretch(1)
        self.print_button = QPushButton(tr("ui.rep.print"))
        self.print_button.clicked.connect(self.print_report)
        keyed(self.print_button, tr("ui.rep.print"), "Ctrl+P")
        links.addWidget(self.print_button)
        layout.addLayout(links)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels([tr(h) for h in HEADERS])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        rows_follow_font(self.table)  # (a fixed 30 px cut the text at 1920×1080)
        layout.addWidget(self.table, 1)
        self.empty = QLabel(tr("ui.rep.empty"))
        self.empty.setObjectName("hint")
        layout.addWidget(self.empty)

    def first_focus(self):
        return self.day

    def activate(self) -> None:
        self.reload()

    def context_changed(self) -> None:
        self.reload()

    def reload(self) -> None:
        counter = self.window.counter
        if counter is None:
            return
        if self.scope.count() < 2 or self.scope.itemData(1) != counter.counter_id:
            self.scope.blockSignals(True)
            while self.scope.count() > 1:
                self.scope.removeItem(1)
            self.scope.addItem(tr("ui.rep.this_counter", counter=counter.counter_id), counter.counter_id)
            self.scope.blockSignals(False)
        q = self.day.date()
        day = datetime.date(q.year(), q.month(), q.day())
        only = self.scope.currentData()
        self.window.workers.run(lambda: counter.daily_report(day, only), self._show,
                                lambda exc: self.window.flash(logs.one_line(logs.describe(exc))))

    def _show(self, report) -> None:
        self.report = report
        n_orders, n_refunds = len(report.unresolved_orders), len(report.unresolved_refunds)
        if n_orders or n_refunds:
            self.unresolved.setText(tr("ui.rep.unresolved", orders=n_orders, refunds=n_refunds))
            self.unresolved.setStyleSheet("color: #d83931;")
        else:
            self.unresolved.setText(tr("ui.rep.all_clear"))
            self.unresolved.setStyleSheet("color: #07a35a;")
        if report.held_orders:  # paid, but the site froze the money: someone checks with the site
            self.unresolved.setText(self.unresolved.text() + "  " + tr("ui.rep.held", count=len(report.held_orders)))
            self.unresolved.setStyleSheet("color: #d83931;")
        runs = list(report.reconciliation)
        if runs:  # the day's reconciliation (对账) results
            found = sum(len(r["differences"]) for r in runs)
            left = sum(r["unresolved"] for r in runs)
            self.unresolved.setText(self.unresolved.text() + "  " + tr("ui.rep.recon", runs=len(runs), found=found,
                                                                       left=left))
        if report.cash_in or report.cash_out:
            self.unresolved.setText(self.unresolved.text() + "  " + tr(
                "ui.rep.cash_moves", cash_in=format_yuan(report.cash_in), cash_out=format_yuan(report.cash_out)))
        # Refunds live in 订单/退款 (the to-check page lists orders only).
        self.orders_link.setVisible(bool(n_orders))
        keyed(self.refunds_link, tr("ui.rep.open_refunds") if n_refunds else tr("ui.rep.refunds"), "F8")
        lines = list(report.lines)
        self.table.setRowCount(len(lines) + (1 if lines else 0))
        titles = self._gateway_titles()
        for row, line in enumerate(lines + ([report.totals] if lines else [])):
            total = row == len(lines)
            values = (tr("ui.rep.total") if total else titles.get(line.gateway, gateway_title(line.gateway)),
                      "" if total else wallet_title(line.wallet),
                      str(line.paid_count), "¥" + format_yuan(line.paid_sum), str(line.refund_count),
                      "¥" + format_yuan(line.refund_sum), "¥" + format_yuan(line.net))
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if total:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.empty.setVisible(not lines)

    def print_report(self) -> None:
        """The day report through Qt's print preview (a printer, or save as PDF)."""
        if self.report is None:
            return
        from cashier.ui.books_dialogs import day_report_html, print_preview

        print_preview(self, day_report_html(self.report, shop=getattr(self.window.settings, "shop_name", "")))

    def show_refunds(self) -> None:
        """The history, filtered to unfinished refunds when there are some, else to
        refunded orders."""
        open_refunds = self.report is not None and bool(self.report.unresolved_refunds)
        page = self.window.show_page("history")
        page.show_status("refund_open" if open_refunds else "refunded")

    def _gateway_titles(self) -> dict[str, str]:
        from cashier import i18n
        from cashier.gateways import gateway_class, gateway_names

        out = {}
        for name in gateway_names():
            try:
                cls = gateway_class(name)
            except Exception:
                continue
            out[name] = cls.title_en if i18n.language() == i18n.EN else cls.title_zh
        return out
