"""Order history with refunds: full or partial, approved by the manager's PIN, the
refund's status followed until final (engine events)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cashier.gateways.base import Capability
from cashier.i18n import UserError, define, tr
from cashier.money import AmountError, format_yuan, parse_amount
from cashier.ui.attention import method_text
from cashier.ui.widgets import fit_dialog

define({
    "ui.hist.title": ("订单与退款", "Orders and refunds"),
    "ui.hist.more": ("更早的订单", "Older orders"),
    "ui.hist.search": ("订单号", "Order number"),
    "ui.hist.find": ("查找", "Find"),
    "ui.hist.not_found": ("没有找到订单 {no}", "No order {no}"),
    "ui.hist.pick": ("选择一笔订单查看详情和退款", "Pick an order to see details and refund"),
    "ui.hist.detail": ("订单 {no}\n{time}　{method}　{state}\n金额 ¥{amount}　实付 ¥{paid}　可退 ¥{refundable}",
                       "Order {no}\n{time}  {method}  {state}\nAmount ¥{amount}  paid ¥{paid}  refundable ¥{refundable}"),
    "ui.hist.refunds": ("退款记录", "Refunds"),
    "ui.hist.no_refunds": ("没有退款", "No refunds"),
    "ui.hist.refund": ("退款…", "Refund…"),
    "ui.hist.refund_check": ("查询退款", "Check refund"),
    "ui.hist.manual": ("该网关没有退款接口，请在网关后台手工退款", "This gateway has no refund API: refund in its back office"),
    "ui.refund.title": ("退款（需店长密码）", "Refund (manager PIN)"),
    "ui.refund.amount": ("退款金额（最多 ¥{max}）", "Amount (up to ¥{max})"),
    "ui.refund.reason": ("退款原因", "Reason"),
    "ui.refund.pin": ("店长密码", "Manager PIN"),
    "ui.refund.who": ("批准人", "Approved by"),
    "ui.refund.full": ("全额", "Full"),
    "ui.refund.sent": ("退款已提交：{no}，正在跟踪结果", "Refund sent: {no}; following its status"),
    "ui.refund.too_much": ("退款金额不能超过可退金额 ¥{max}", "Cannot refund more than ¥{max}"),
    "ui.refund.no_pin": ("还没有设置店长密码。请店长现在设置（4–8 位数字），之后退款都需要输入。",
                         "No manager PIN is set. The manager sets one now (4–8 digits); every refund will ask for it."),
    "ui.refund.new_pin": ("新店长密码", "New manager PIN"),
    "ui.refund.new_pin2": ("再输一次", "Repeat"),
    "ui.refund.pin_mismatch": ("两次输入的密码不一致", "The two PINs differ"),
    "ui.refund.default_reason": ("顾客退货", "Returned by customer"),
    "ui.refund.who_default": ("店长", "Manager"),
    "ui.rstate.sending": ("提交中", "sending"),
    "ui.rstate.processing": ("退款处理中", "processing"),
    "ui.rstate.unknown": ("结果未知，查询中", "unknown, querying"),
    "ui.rstate.succeeded": ("退款成功", "refunded"),
    "ui.rstate.failed": ("退款失败", "failed"),
    "ui.rstate.needs_check": ("需要人工核对", "needs checking"),
})

COLUMNS = ("ui.col.time", "ui.col.order", "ui.col.amount", "ui.col.method", "ui.col.state", "ui.col.reason")
PAGE = 50


class SetPinDialog(QDialog):
    """Shown when a refund is asked for and no manager PIN exists yet."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("ui.refund.title"))
        layout = QVBoxLayout(self)
        fit_dialog(self, layout)
        text = QLabel(tr("ui.refund.no_pin"))
        text.setWordWrap(True)
        layout.addWidget(text)
        form = QFormLayout()
        self.pin1 = QLineEdit()
        self.pin2 = QLineEdit()
        for edit in (self.pin1, self.pin2):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setMaxLength(8)
        form.addRow(tr("ui.refund.new_pin"), self.pin1)
        form.addRow(tr("ui.refund.new_pin2"), self.pin2)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setObjectName("message")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def save(self) -> None:
        from cashier.settings import SettingsStore

        if self.pin1.text() != self.pin2.text():
            self.error.setText(tr("ui.refund.pin_mismatch"))
            return
        try:
            self.settings = SettingsStore().set_pin(self.pin1.text())
        except UserError as exc:
            self.error.setText(exc.message())
            return
        self.accept()


class RefundDialog(QDialog):
    def __init__(self, window, order, refundable: Decimal) -> None:
        super().__init__(window)
        self.window = window
        self.order = order
        self.refundable = refundable
        self.result_refund = None
        self.setWindowTitle(tr("ui.refund.title"))
        layout = QVBoxLayout(self)
        fit_dialog(self, layout)
        info = QLabel(f"{order.out_trade_no}　¥{format_yuan(order.paid_amount or order.amount_to_pay)}")
        layout.addWidget(info)
        form = QFormLayout()
        amount_row = QHBoxLayout()
        self.amount = QLineEdit(format_yuan(refundable))
        full = QPushButton(tr("ui.refund.full"))
        full.clicked.connect(lambda: self.amount.setText(format_yuan(refundable)))
        amount_row.addWidget(self.amount, 1)
        amount_row.addWidget(full)
        form.addRow(tr("ui.refund.amount", max=format_yuan(refundable)), amount_row)
        self.reason = QLineEdit(tr("ui.refund.default_reason"))
        form.addRow(tr("ui.refund.reason"), self.reason)
        self.who = QLineEdit(tr("ui.refund.who_default"))
        form.addRow(tr("ui.refund.who"), self.who)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setMaxLength(8)
        form.addRow(tr("ui.refund.pin"), self.pin)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setObjectName("message")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.pin.setFocus()

    def submit(self) -> None:
        from cashier.settings import SettingsStore

        try:
            amount = parse_amount(self.amount.text())
        except AmountError as exc:
            self.error.setText(exc.message())
            return
        if amount > self.refundable:
            self.error.setText(tr("ui.refund.too_much", max=format_yuan(self.refundable)))
            return
        settings = SettingsStore().load_or_default()[0]
        try:
            ok = settings.verify_pin(self.pin.text())
        except UserError as exc:
            self.error.setText(exc.message())
            return
        if not ok:
            self.pin.clear()
            self.error.setText(tr("settings.pin_wrong"))
            return
        who = self.who.text().strip() or "manager"
        reason = self.reason.text().strip() or tr("ui.refund.default_reason")
        engine, no = self.window.engine, self.order.out_trade_no
        self.buttons.setEnabled(False)
        self.window.workers.run(lambda: engine.refund(no, amount, reason, actor=who), self._done, self._failed)

    def _done(self, refund) -> None:
        self.result_refund = refund
        self.window.flash(tr("ui.refund.sent", no=refund.out_refund_no))
        self.accept()

    def _failed(self, exc) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(exc.message() if isinstance(exc, UserError) else repr(exc))


class HistoryPage(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.orders = []
        self.selected_order = None
        self.refunds = []
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel(tr("ui.hist.title"))
        title.setObjectName("pageTitle")
        top.addWidget(title)
        top.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("ui.hist.search"))
        self.search.returnPressed.connect(self.find)
        find = QPushButton(tr("ui.hist.find"))
        find.clicked.connect(self.find)
        top.addWidget(self.search)
        top.addWidget(find)
        layout.addLayout(top)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_select)
        split.addWidget(self.table)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        self.detail = QLabel(tr("ui.hist.pick"))
        self.detail.setWordWrap(True)
        dl.addWidget(self.detail)
        self.refund_table = QTableWidget(0, 4)
        self.refund_table.setHorizontalHeaderLabels([tr("ui.col.time"), tr("ui.hist.refunds"), tr("ui.col.amount"),
                                                     tr("ui.col.state")])
        self.refund_table.verticalHeader().hide()
        self.refund_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.refund_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.refund_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.refund_table.horizontalHeader().setStretchLastSection(True)
        dl.addWidget(self.refund_table)
        buttons = QHBoxLayout()
        self.more = QPushButton(tr("ui.hist.more"))
        self.more.clicked.connect(self.load_more)
        self.check_button = QPushButton(tr("ui.check"))
        self.check_button.clicked.connect(self.check_order)
        self.refund_check = QPushButton(tr("ui.hist.refund_check"))
        self.refund_check.clicked.connect(self.check_refund)
        self.refund_button = QPushButton(tr("ui.hist.refund"))
        self.refund_button.setObjectName("danger")
        self.refund_button.clicked.connect(self.refund)
        for b in (self.more, self.check_button, self.refund_check, self.refund_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        dl.addLayout(buttons)
        split.addWidget(detail)
        split.setSizes([420, 320])
        layout.addWidget(split, 1)
        self._update_buttons()

    # ------------------------------------------------------------------ loading
    def activate(self) -> None:
        self.reload()

    def context_changed(self) -> None:
        self._connected = False  # a new engine bridge
        self.reload()

    def reload(self) -> None:
        engine = self.window.engine
        if engine is None:
            return
        if not getattr(self, "_connected", False) and self.window.bridge is not None:
            self._connected = True
            self.window.bridge.refund_changed.connect(self.on_refund)
            self.window.bridge.order_changed.connect(self.on_order)
        self.window.workers.run(lambda: engine.ledger.history(limit=PAGE), self._show, self._failed)

    def load_more(self) -> None:
        engine = self.window.engine
        if engine is None or not self.orders:
            return
        cursor = self.orders[-1].page_key
        self.window.workers.run(lambda: engine.ledger.history(limit=PAGE, before=cursor),
                                lambda orders: self._show(self.orders + list(orders)), self._failed)

    def find(self) -> None:
        no = self.search.text().strip()
        engine = self.window.engine
        if not no or engine is None:
            return

        def done(order) -> None:
            if order is None:
                self.window.flash(tr("ui.hist.not_found", no=no))
                return
            if all(o.out_trade_no != order.out_trade_no for o in self.orders):
                self._show([order] + self.orders)
            self.select(order.out_trade_no)

        self.window.workers.run(lambda: engine.ledger.get_order(no), done, self._failed)

    def _show(self, orders) -> None:
        keep = self.selected_order.out_trade_no if self.selected_order else None
        self.orders = list(orders)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.orders))
        for row, o in enumerate(self.orders):
            self._fill_row(row, o)
        self.table.blockSignals(False)
        self.more.setEnabled(len(self.orders) >= PAGE)
        if keep:
            self.select(keep)

    def _fill_row(self, row: int, o) -> None:
        values = (datetime.datetime.fromtimestamp(o.created_at).strftime("%m-%d %H:%M:%S"), o.out_trade_no,
                  "¥" + format_yuan(o.paid_amount if o.paid_amount is not None else o.amount_to_pay),
                  method_text(o), tr("ui.state." + o.state), o.reason or "")
        for col, value in enumerate(values):
            self.table.setItem(row, col, QTableWidgetItem(value))

    def select(self, out_trade_no: str) -> None:
        for row, o in enumerate(self.orders):
            if o.out_trade_no == out_trade_no:
                self.table.selectRow(row)
                self.selected_order = o
                self._load_detail()
                return

    def _on_select(self) -> None:
        row = self.table.currentRow()
        self.selected_order = self.orders[row] if 0 <= row < len(self.orders) else None
        self._load_detail()

    def _load_detail(self) -> None:
        order = self.selected_order
        engine = self.window.engine
        if order is None or engine is None:
            self.detail.setText(tr("ui.hist.pick"))
            self.refund_table.setRowCount(0)
            self._update_buttons()
            return
        no = order.out_trade_no

        def load():
            fresh = engine.ledger.get_order(no)
            refundable = engine.refundable(no) if fresh is not None and fresh.state == "paid" else Decimal("0.00")
            return fresh, engine.ledger.refunds_for(no), refundable

        self.window.workers.run(load, self._show_detail, self._failed)

    def _show_detail(self, result) -> None:
        order, refunds, refundable = result
        if order is None or self.selected_order is None or order.out_trade_no != self.selected_order.out_trade_no:
            return
        self.selected_order = order
        self.refunds = list(refunds)
        self.refundable = refundable
        self.detail.setText(tr(
            "ui.hist.detail", no=order.out_trade_no,
            time=datetime.datetime.fromtimestamp(order.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            method=method_text(order), state=tr("ui.state." + order.state), amount=format_yuan(order.amount),
            paid=format_yuan(order.paid_amount) if order.paid_amount is not None else "—",
            refundable=format_yuan(refundable)) + (f"\n{order.reason}" if order.reason else ""))
        self.refund_table.setRowCount(len(self.refunds))
        for row, r in enumerate(self.refunds):
            values = (datetime.datetime.fromtimestamp(r.created_at).strftime("%m-%d %H:%M:%S"), r.out_refund_no,
                      "¥" + format_yuan(r.amount), tr("ui.rstate." + r.state) + (
                          f"（{r.failure_reason}）" if r.failure_reason else ""))
            for col, value in enumerate(values):
                self.refund_table.setItem(row, col, QTableWidgetItem(value))
        for row, o in enumerate(self.orders):
            if o.out_trade_no == order.out_trade_no:
                self.orders[row] = order
                self._fill_row(row, order)
        self._update_buttons()

    def _update_buttons(self) -> None:
        order = self.selected_order
        engine = self.window.engine
        can_refund = False
        if order is not None and engine is not None and order.state == "paid" \
                and getattr(self, "refundable", Decimal("0.00")) > 0:
            try:
                can_refund = engine.gateway(order.profile).supports(Capability.REFUND)
            except UserError:
                can_refund = False
            if not can_refund:
                self.refund_button.setToolTip(tr("ui.hist.manual"))
        self.refund_button.setEnabled(can_refund)
        self.check_button.setEnabled(order is not None and order.state not in ("paid", "closed", "reversed", "failed"))
        self.refund_check.setEnabled(any(r.state not in ("succeeded", "failed") for r in self.refunds))

    # ------------------------------------------------------------------ actions
    def refund(self) -> None:
        order = self.selected_order
        if order is None:
            return
        from cashier.settings import SettingsStore

        settings = SettingsStore().load_or_default()[0]
        if not settings.has_pin:
            dialog = SetPinDialog(self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
        self.open_refund_dialog().exec()

    def open_refund_dialog(self) -> RefundDialog:
        dialog = RefundDialog(self.window, self.selected_order, getattr(self, "refundable", Decimal("0.00")))
        dialog.accepted.connect(self._load_detail)
        self.refund_dialog = dialog
        return dialog

    def check_order(self) -> None:
        order = self.selected_order
        if order is None:
            return
        engine = self.window.engine
        self.window.workers.run(lambda: engine.check(order.out_trade_no, actor="clerk"),
                                lambda _: self._load_detail(), self._failed)

    def check_refund(self) -> None:
        engine = self.window.engine
        open_refunds = [r for r in self.refunds if r.state not in ("succeeded", "failed")]
        if not open_refunds or engine is None:
            return
        no = open_refunds[0].out_refund_no
        self.window.workers.run(lambda: engine.check_refund(no, actor="clerk"),
                                lambda _: self._load_detail(), self._failed)

    def on_refund(self, refund) -> None:
        if self.selected_order is not None and refund.out_trade_no == self.selected_order.out_trade_no:
            self._load_detail()

    def on_order(self, order) -> None:
        for row, o in enumerate(self.orders):
            if o.out_trade_no == order.out_trade_no:
                self.orders[row] = order
                self._fill_row(row, order)
                if self.selected_order is not None and self.selected_order.out_trade_no == order.out_trade_no:
                    self._load_detail()
                return

    def _failed(self, exc) -> None:
        text = exc.message() if isinstance(exc, UserError) else repr(exc)
        self.window.flash(text)
