"""Orders someone must look at: unresolved ones (with 查单) and the ones the engine
marked "needs checking", shown until a person marks them checked.

Each order is a two-line row in three columns: time over order number, amount over
method, state over the note (the note wraps in the column that takes the rest of the
width): every word stays readable on a 1024-wide screen, in Chinese and English."""

from __future__ import annotations

import datetime

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
    QStyledItemDelegate, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cashier.i18n import UserError, define, tr
from cashier.ledger import states as S
from cashier.money import format_yuan
from cashier.ui.widgets import fit_dialog, keyed, say
from cashier.ui.checkout import wallet_text

define({
    "ui.att.title": ("待处理订单", "Orders to check"),
    "ui.att.empty": ("没有待处理的订单", "Nothing to check"),
    "ui.att.explain": ("未完成的订单会自动查询；“需要人工核对”和“已过期”的订单请在网关后台或顾客手机上核对后点“已核对”。",
                       "Unfinished orders are queried automatically; check 'needs checking' and expired orders in the gateway back office or on the customer's phone, then press 'Checked'."),
    "ui.col.time": ("时间", "Time"),
    "ui.col.order": ("订单号", "Order"),
    "ui.col.amount": ("金额", "Amount"),
    "ui.col.method": ("方式", "Method"),
    "ui.col.state": ("状态", "State"),
    "ui.col.reason": ("说明", "Note"),
    "ui.att.col.when": ("时间 / 订单号", "Time / order"),
    "ui.att.col.amount": ("金额 / 方式", "Amount / method"),
    "ui.att.col.state": ("状态 / 说明", "State / note"),
    "ui.mark_checked": ("已核对", "Checked"),
    "ui.mark_checked_who": ("核对人姓名：", "Checked by (name):"),
    "ui.mark_checked_order": ("订单 {no}（¥{amount}）：已在网关后台或顾客手机上核对过？核对后此单结束，没收到钱的按未付款关闭。",
                              "Order {no} (¥{amount}): checked in the gateway's back office or on the customer's phone? It is then closed; if no money arrived, as unpaid."),
    "ui.refresh": ("刷新", "Refresh"),
    "ui.order_method.merged": ("一码付", "One-code QR"),
    "ui.att.checked": ("订单 {no}：{note}", "Order {no}: {note}"),
    "ui.check.state": ("{time} 已查单：{state}", "Checked at {time}: {state}"),
})

COLUMNS = ("ui.att.col.when", "ui.att.col.amount", "ui.att.col.state")


class _Roomy(QStyledItemDelegate):
    """Half a line of air in each row: orders of two or three lines stay apart."""

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        size = super().sizeHint(option, index)
        return QSize(size.width(), size.height() + option.fontMetrics.height() // 2)


class CheckerDialog(QDialog):
    """已核对: who checked, under a question that names the order and what 已核对 does
    to it, wrapped to the dialog's width (a one-line question made the dialog wider
    than a 1024 screen, its 取消 off the edge)."""

    def __init__(self, parent, order=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("ui.mark_checked"))
        layout = QVBoxLayout(self)
        if order is not None:
            question = QLabel(tr("ui.mark_checked_order", no=order.out_trade_no,
                                 amount=format_yuan(order.amount_to_pay)))
            question.setWordWrap(True)
            layout.addWidget(question)
        layout.addWidget(QLabel(tr("ui.mark_checked_who")))
        self.name = QLineEdit()
        layout.addWidget(self.name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        fit_dialog(self, layout)
        self.name.setFocus()

    def showEvent(self, event) -> None:  # noqa: N802
        # tall enough for the wrapped question at the width it got
        super().showEvent(event)
        self.resize(self.width(), max(self.height(), self.layout().heightForWidth(self.width())))


def ask_checker(parent, order=None) -> str:
    """Who checked (for 已核对): a name, or "" when the person cancels."""
    dialog = CheckerDialog(parent, order)
    ok = dialog.exec() == QDialog.DialogCode.Accepted
    return dialog.name.text().strip() if ok else ""


def method_text(order) -> str:
    """How an order was paid, as the lists and details say it: 付款码 · 微信, 微信,
    一码付 · 微信 (the one-code QR, not the checkout button's "Any wallet")."""
    if order.method == "micropay":
        return tr("method.micropay") + (" · " + wallet_text(order.wallet) if order.wallet != "unknown" else "")
    text = tr("ui.order_method.merged") if order.method == "merged" else wallet_text(order.method) or order.method
    if order.method == "merged" and order.wallet not in ("unknown", "", None):
        text += " · " + wallet_text(order.wallet)  # 一码付, paid with WeChat
    return text


def check_words(order, asked, last) -> str:
    """What the clerk's 查单 (F5) of `order` from a list found, or when it goes out:
    the checkout's words (presenter.check_note) for the engine's CheckAnswer `asked`
    and its latest QueryNote `last`; an order the answer settled (paid, say) says its
    state, since a list has no paid screen to say it."""
    from cashier.ui.checkout import presenter

    if asked is None or asked.order.out_trade_no != order.out_trade_no:
        return ""
    text = presenter.check_note(order, asked, last).render()
    if text or order.state not in S.FINAL_ORDER_STATES:
        return text
    at = last.at if last is not None and last.answered else asked.queried_at
    state = tr("ui.state." + order.state)
    return tr("ui.check.state", time=presenter._clock(at), state=state) if at is not None else state


class AttentionPage(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.orders = []
        self.asked = None  # the engine's CheckAnswer to the clerk's last 查单 here
        layout = QVBoxLayout(self)
        title = QLabel(tr("ui.att.title"))
        title.setObjectName("pageTitle")
        layout.addWidget(title)
        explain = QLabel(tr("ui.att.explain"))
        explain.setObjectName("hint")
        explain.setWordWrap(True)
        layout.addWidget(explain)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)  # the note wraps in its column
        self.table.setItemDelegate(_Roomy(self.table))
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)  # tall rows scroll smoothly
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self.empty = QLabel(tr("ui.att.empty"))
        self.empty.setObjectName("hint")
        layout.addWidget(self.empty)
        self.message = QLabel("")  # what 查单 found, or why an action could not be done
        self.message.setObjectName("hint")
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.check_button = QPushButton(tr("ui.check"))
        self.check_button.clicked.connect(self.check_selected)
        self.mark_button = QPushButton(tr("ui.mark_checked"))
        self.mark_button.setObjectName("primary")
        self.mark_button.clicked.connect(lambda: self.mark_selected())  # not clicked(bool) as the name
        refresh = QPushButton(tr("ui.refresh"))
        refresh.clicked.connect(self.refresh)
        for b, key in ((self.check_button, "F5"), (self.mark_button, "F7"), (refresh, "Ctrl+R")):
            keyed(b, b.text(), key)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._update_buttons()

    def activate(self) -> None:
        self.asked = None  # what 查单 said on an earlier visit no longer applies
        self._say("")
        self.refresh()

    def first_focus(self) -> QWidget:
        return self.table

    def on_order(self, order) -> None:
        pass  # the window refreshes the list on every order event (attention_changed)

    def refresh(self) -> None:
        counter = self.window.counter
        if counter is None:
            return
        asked = self.asked

        def load():
            orders = counter.needs_attention()
            if asked is None:
                return orders, None
            no = asked.order.out_trade_no  # it may have left the list (paid): read it again
            entry = counter.history_entry(no)
            return orders, (entry.order if entry is not None else asked.order, counter.last_query(no))

        self.window.workers.run(load, self._show, lambda exc: None)

    def _show(self, loaded) -> None:
        orders, checked = loaded
        if checked is not None and self.asked is not None:
            order, last = checked
            words = check_words(order, self.asked, last)
            self._say(tr("ui.att.checked", no=order.out_trade_no, note=words) if words else "")
        self.orders = list(orders)
        self.window.set_attention_count(len(self.orders))
        self.table.setRowCount(len(self.orders))
        for row, o in enumerate(self.orders):
            when = datetime.datetime.fromtimestamp(o.created_at).strftime("%m-%d %H:%M:%S")
            state = tr("ui.state." + o.state)
            values = (f"{when}\n{o.out_trade_no}", f"¥{format_yuan(o.amount_to_pay)}\n{method_text(o)}",
                      f"{state}\n{o.reason}" if o.reason else state)
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if o.state == S.NEEDS_CHECK:
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, col, item)
        self.empty.setVisible(not self.orders)
        self._update_buttons()

    def _update_buttons(self) -> None:
        order = self.selected()
        self.check_button.setEnabled(order is not None)
        # 已核对 only where it does something: the engine no longer settles these itself.
        self.mark_button.setEnabled(order is not None and order.state in S.CHECKABLE_ORDER_STATES)

    def selected(self):
        row = self.table.currentRow()
        return self.orders[row] if 0 <= row < len(self.orders) else None

    def select(self, out_trade_no: str) -> None:
        for row, o in enumerate(self.orders):
            if o.out_trade_no == out_trade_no:
                self.table.selectRow(row)

    def check_selected(self) -> None:
        """查单 (F5): asked now, answered by a query of a moment ago, or queued for the
        gateway's next query slot (never "too soon": the engine's own query is not the
        clerk's fault); said on this page's message line, then the answer when it comes."""
        order = self.selected()
        counter = self.window.counter
        if order is None or counter is None:
            return
        no = order.out_trade_no
        self.window.workers.run(lambda: counter.check_soon(no, actor="clerk"), self._on_checked, self._failed)

    def _on_checked(self, answer) -> None:
        self.asked = answer
        self.refresh()

    def mark_selected(self, who: str | None = None) -> None:
        order = self.selected()
        if order is None or order.state not in S.CHECKABLE_ORDER_STATES:
            return
        name = who.strip() if who is not None else ask_checker(self, order)
        if not name:
            return
        counter = self.window.counter
        self.window.workers.run(lambda: counter.mark_checked(order.out_trade_no, actor=name),
                                lambda _: self.refresh(), self._failed)

    def _say(self, text: str, *, error: bool = False) -> None:
        say(self.message, text, error=error)
        self.message.setVisible(bool(text))

    def _failed(self, exc) -> None:
        """Said on this page, where the clerk looks (the status bar's note outlived a
        switch to another page)."""
        self._say(exc.message() if isinstance(exc, UserError) else tr("error.generic"), error=True)
