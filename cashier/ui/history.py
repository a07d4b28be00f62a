"""Order history: search by order number, amount, time, day, wallet and state (one
line a clerk types, e.g. "12.34 15:00", plus two pickers), newest first in pages; each
order's refund state in the list; refunds approved by the manager's PIN and followed
until final (engine events); 查单 and 已核对 where they apply.

The list keeps at least MIN_ROWS orders in sight on every counter screen (1024×768
up to 1920×1080, 125 % scaling too): its columns always fit its width (state and
note elided when short, whole in the tooltip and in the detail); the picked order's
detail scrolls under it, its buttons always in sight on one line.

The page talks to the counter service (search_history, history_entry, refunds_for, refund,
check, mark_checked), never to the ledger."""

from __future__ import annotations

import dataclasses
import datetime
import time
from decimal import Decimal

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel,
    QLineEdit, QPushButton, QSplitter, QVBoxLayout, QWidget,
)

from cashier.counter import profile_title
from cashier.history_search import WALLETS, parse_search
from cashier.i18n import UserError, define, tr
from cashier.ledger import states as S
from cashier.ledger.records import SEARCH_STATUSES, HistoryEntry
from cashier.money import AmountError, format_yuan, parse_amount
from cashier.ui.attention import ask_checker, check_words, method_text
from cashier.ui.pin import PinDialog
from cashier.ui.widgets import FittedTable, fit_dialog, keyed, say, scrolling

define({
    "ui.hist.title": ("订单与退款", "Orders and refunds"),
    "ui.hist.more": ("更早的订单", "Older orders"),
    "ui.hist.search": ("订单号、金额 12.34、时间 15:00、日期 12-01", "Order no., amount 12.34, time 15:00, day 12-01"),
    "ui.hist.find": ("查找", "Find"),
    "ui.hist.clear": ("清除", "Clear"),
    "ui.hist.any_wallet": ("全部钱包", "Any wallet"),
    "ui.hist.any_state": ("全部状态", "Any state"),
    "ui.hist.status.paid": ("已付款", "Paid"),
    "ui.hist.status.refunded": ("有退款", "Refunded"),
    "ui.hist.status.partly_refunded": ("部分退款", "Partly refunded"),
    "ui.hist.status.fully_refunded": ("全额退款", "Fully refunded"),
    "ui.hist.status.refund_open": ("退款未完成", "Refund not final"),
    "ui.hist.status.unresolved": ("未完成", "Unfinished"),
    "ui.hist.status.not_paid": ("未付款（关闭/撤销/失败）", "Not paid (closed/reversed/failed)"),
    "ui.hist.found": ("{what}：{n} 笔", "{what}: {n:plural:order,orders}"),
    "ui.hist.found_one": ("{what}：1 笔", "{what}: 1 order"),
    "ui.hist.found_more": ("{what}：已显示 {n} 笔，还有更早的", "{what}: {n:plural:order,orders} shown, older ones follow"),
    "ui.hist.none": ("{what}：没有找到订单", "{what}: no orders found"),
    "ui.hist.not_found": ("没有找到订单 {no}", "No order {no}"),
    "ui.hist.pick": ("选择一笔订单查看详情和退款", "Pick an order to see details and refund"),
    "ui.hist.detail": ("订单 {no}\n{time}　{method}　{state}\n{money}", "Order {no}\n{time}  {method}  {state}\n{money}"),
    "ui.hist.money": ("金额 ¥{amount}　实付 ¥{paid}　可退 ¥{refundable}",
                      "Amount ¥{amount}  paid ¥{paid}  refundable ¥{refundable}"),
    "ui.hist.money_unpaid": ("金额 ¥{amount}　未付款", "Amount ¥{amount}  not paid"),
    "ui.hist.merchant": ("收款商户：{name}", "Merchant: {name}"),
    "ui.hist.partly": ("部分退款 ¥{amount}", "partly refunded ¥{amount}"),
    "ui.hist.fully": ("已全额退款", "Fully refunded"),
    "ui.hist.refunding": ("退款中 ¥{amount}", "refund of ¥{amount} under way"),
    "ui.hist.refunds": ("退款记录", "Refunds"),
    "ui.hist.no_refunds": ("没有退款", "No refunds"),
    "ui.hist.refund": ("退款…", "Refund…"),
    "ui.hist.reprint": ("补打小票", "Reprint receipt"),
    "ui.hist.reprinted": ("小票已送去打印", "The receipt was sent to the printer"),
    "ui.hist.refund_check": ("查询退款", "Check refund"),
    "ui.hist.manual": ("该网关没有退款接口，请在网关后台手工退款", "This gateway has no refund API: refund in its back office"),
    "ui.refund.title": ("退款（需店长密码）", "Refund (manager PIN)"),
    "ui.refund.amount": ("退款金额（最多 ¥{max}）", "Amount (up to ¥{max})"),
    "ui.refund.reason": ("退款原因", "Reason"),
    "ui.refund.pin": ("店长密码", "Manager PIN"),
    "ui.refund.who": ("批准人", "Approved by"),
    "ui.refund.rest": ("退还余额 ¥{amount}", "All that is left: ¥{amount}"),
    "ui.refund.sent": ("退款已提交：{no}，正在跟踪结果", "Refund sent: {no}; following its status"),
    "ui.refund.too_much": ("退款金额不能超过可退金额 ¥{max}", "Cannot refund more than ¥{max}"),
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
MIN_ROWS = 8  # orders the list shows at least, whatever the screen: "12.34 around three" needs a few
LIST_SHARE = 0.62  # of the height under the search: the list's at first (the detail's: the rest)
REST_KEY = "F2"  # the refund dialog's 退还余额 (its other keys: Enter, Esc, Tab)

# Kept for callers of the old name: setting or changing the PIN is the owner's dialog.
SetPinDialog = PinDialog


def state_text(entry: HistoryEntry) -> str:
    """An order's state as the list shows it, refunds included."""
    order = entry.order
    if entry.refund_state == "fully":
        text = tr("ui.hist.fully")
    else:
        text = tr("ui.state." + order.state)
        if entry.refund_state == "partly":
            text += " · " + tr("ui.hist.partly", amount=format_yuan(entry.refunded))
    if entry.refunding > 0:
        text += " · " + tr("ui.hist.refunding", amount=format_yuan(entry.refunding))
    return text


def _when(ts: float, fmt: str = "%m-%d %H:%M:%S") -> str:
    return datetime.datetime.fromtimestamp(ts).strftime(fmt)


class RefundDialog(QDialog):
    """Amount (empty at first; one key fills in all that is still refundable), reason,
    who approves, and the manager PIN."""

    def __init__(self, window, order, refundable: Decimal) -> None:
        super().__init__(window)
        self.window = window
        self.order = order
        self.refundable = refundable
        self.result_refund = None
        self.setWindowTitle(tr("ui.refund.title"))
        layout = QVBoxLayout(self)
        fit_dialog(self, layout)
        info = QLabel(f"{order.out_trade_no}  ¥{format_yuan(order.paid_amount or order.amount_to_pay)}")
        layout.addWidget(info)
        form = QFormLayout()
        rest_row = QHBoxLayout()
        self.amount = QLineEdit()  # empty: the manager types the amount or takes the rest
        self.rest = QPushButton()
        keyed(self.rest, tr("ui.refund.rest", amount=format_yuan(refundable)), REST_KEY)
        self.rest.clicked.connect(self.fill_rest)
        self.rest.setEnabled(refundable > 0)
        # The button (its words, the sum and its key) under the field, as wide as its
        # text: beside the field it squeezed the label (cut at 1024 px in English).
        rest_row.addWidget(self.rest)
        rest_row.addStretch(1)
        form.addRow(tr("ui.refund.amount", max=format_yuan(refundable)), self.amount)
        form.addRow("", rest_row)
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
        self.amount.setFocus()

    def fill_rest(self) -> None:
        self.amount.setText(format_yuan(self.refundable))
        self.pin.setFocus()

    def submit(self) -> None:
        from cashier.settings import SettingsStore

        try:
            amount = parse_amount(self.amount.text())
        except AmountError as exc:
            self.error.setText(exc.message())
            self.amount.setFocus()
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
        counter, no = self.window.counter, self.order.out_trade_no
        self.buttons.setEnabled(False)
        self.window.workers.run(lambda: counter.refund(no, amount, reason, actor=who), self._done, self._failed)

    def _done(self, refund) -> None:
        self.result_refund = refund
        self.window.flash(tr("ui.refund.sent", no=refund.out_refund_no))
        self.accept()

    def _failed(self, exc) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(exc.message() if isinstance(exc, UserError) else tr("error.generic"))


def _keys_fit(buttons: list[QPushButton], room: int, spacing: int) -> None:
    """Label and key on one line when the buttons, side by side `spacing` apart, fit
    `room` pixels that way; else the key under the label (narrower, a little taller)."""
    need = spacing * (len(buttons) - 1)
    for b in buttons:
        fm = b.fontMetrics()
        padding = b.sizeHint().width() - max(fm.horizontalAdvance(line) for line in b.text().split("\n"))
        need += padding + fm.horizontalAdvance(f"{b.property('label')}  {b.property('key')}")
    for b in buttons:
        keyed(b, b.property("label"), b.property("key"), below=need > room)


class _Split(QSplitter):
    """List above, detail below: whenever its height changes (a screen, a scale) the
    list gets `share` of it, never fewer rows than its minimum; a drag by hand holds
    until then."""

    def __init__(self, share: float) -> None:
        super().__init__(Qt.Orientation.Vertical)
        self.share = share
        self._height = -1
        self.setChildrenCollapsible(False)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 0)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self.count() == 2 and self.height() != self._height:
            self._height = self.height()
            total = sum(self.sizes())
            top = round(total * self.share)
            self.setSizes([top, total - top])


class HistoryPage(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.entries: list[HistoryEntry] = []
        self.selected_order = None
        self.asked = None  # the engine's CheckAnswer to the clerk's last 查单 here
        self.refunds = []
        self.refundable = Decimal("0.00")
        self.query = None
        self.description = ""
        self.has_more = False
        self._generation = 0
        self._connected = False
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel(tr("ui.hist.title"))
        title.setObjectName("pageTitle")
        top.addWidget(title)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("ui.hist.search"))
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.run_search)
        self.find_button = QPushButton(tr("ui.hist.find"))
        self.find_button.clicked.connect(self.run_search)
        top.addWidget(self.search, 1)
        top.addWidget(self.find_button)
        layout.addLayout(top)
        self.filters = filters = QHBoxLayout()
        self.wallet = QComboBox()
        self.wallet.addItem(tr("ui.hist.any_wallet"), None)
        for wallet in WALLETS:
            self.wallet.addItem(tr("wallet." + wallet), wallet)
        self.status = QComboBox()
        self.status.addItem(tr("ui.hist.any_state"), None)
        for status in SEARCH_STATUSES:
            self.status.addItem(tr("ui.hist.status." + status), status)
        self.wallet.currentIndexChanged.connect(lambda _: self.run_search())
        self.status.currentIndexChanged.connect(lambda _: self.run_search())
        self.clear_button = QPushButton(tr("ui.hist.clear"))
        self.clear_button.clicked.connect(self.clear_search)
        self.more = QPushButton(tr("ui.hist.more"))  # on the pickers' line: the list gets the height
        self.more.clicked.connect(self.load_more)
        filters.addWidget(self.wallet)
        filters.addWidget(self.status)
        filters.addWidget(self.clear_button)
        filters.addStretch(1)
        filters.addWidget(self.more)
        layout.addLayout(filters)
        self.understood = QLabel("")  # what the search was read as, or why it was refused
        self.understood.setObjectName("hint")
        self.understood.setWordWrap(True)
        layout.addWidget(self.understood)
        self.message = QLabel("")  # why an action could not be done (shown with a reason only)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.hide()
        layout.addWidget(self.message)
        # The list above, the picked order below: the list keeps MIN_ROWS rows in
        # sight at any screen size; the detail scrolls, its buttons stay in sight.
        self.split = split = _Split(LIST_SHARE)
        self.table = FittedTable([tr(c) for c in COLUMNS], flexible=(4, 5))  # state, note: elided when short
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._on_select)
        split.addWidget(self.table)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        inner = QWidget()
        il = QVBoxLayout(inner)
        il.setContentsMargins(0, 0, 0, 0)
        self.detail = QLabel(tr("ui.hist.pick"))
        self.detail.setWordWrap(True)
        il.addWidget(self.detail)
        self.refund_table = FittedTable([tr("ui.col.time"), tr("ui.hist.refunds"), tr("ui.col.amount"),
                                         tr("ui.col.state")], flexible=(3,))
        self.refund_table.verticalHeader().hide()
        self.refund_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.refund_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.refund_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # as tall as its rows
        self.refund_table.hide()  # until the picked order has refunds
        il.addWidget(self.refund_table)
        il.addStretch(1)
        self.detail_area = scrolling(inner)
        dl.addWidget(self.detail_area, 1)
        self.action_row = buttons = QHBoxLayout()  # one line under the detail, always in sight
        self.check_button = QPushButton(tr("ui.check"))
        self.check_button.clicked.connect(self.check_order)
        self.refund_check = QPushButton(tr("ui.hist.refund_check"))
        self.refund_check.clicked.connect(self.check_refund)
        self.mark_button = QPushButton(tr("ui.mark_checked"))
        self.mark_button.clicked.connect(lambda: self.mark_checked())
        self.refund_button = QPushButton(tr("ui.hist.refund"))
        self.refund_button.setObjectName("danger")
        self.refund_button.clicked.connect(self.refund)
        self.reprint_button = QPushButton(tr("ui.hist.reprint"))
        self.reprint_button.clicked.connect(self.reprint)
        for b in (self.check_button, self.refund_check, self.mark_button, self.refund_button, self.reprint_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        dl.addLayout(buttons)
        split.addWidget(detail)
        layout.addWidget(split, 1)
        # Keyboard: Ctrl+F back to the search line; Down from it into the list; each
        # action's key is on its button (this page only).
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.focus_search,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Down), self.search, activated=self.focus_list,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self.actions = (self.check_button, self.refund_check, self.mark_button, self.refund_button, self.reprint_button)
        for button, key in zip(self.actions + (self.more,), ("F5", "F6", "F7", "F8", "Ctrl+P", "Ctrl+PgDown")):
            button.setProperty("label", button.text())
            keyed(button, button.text(), key)
        self._update_buttons()

    @property
    def orders(self):
        """The listed orders (OrderRecord), newest first."""
        return [e.order for e in self.entries]

    def first_focus(self) -> QWidget:
        return self.search

    # ------------------------------------------------------------------ loading
    def activate(self) -> None:
        self._connect()
        self.run_search()
        self.focus_search()

    def context_changed(self) -> None:
        self._connected = False  # a new engine bridge
        self.run_search()

    def reload(self) -> None:
        self.run_search()

    def _connect(self) -> None:
        if not self._connected and self.window.bridge is not None:
            self._connected = True
            self.window.bridge.refund_changed.connect(self.on_refund)
            self.window.bridge.order_changed.connect(self.on_order)

    def _now(self) -> float:
        counter = self.window.counter
        return counter.now() if counter is not None else time.time()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def focus_list(self) -> None:
        if self.entries:
            self.table.setFocus()  # (which makes the first cell current, picking nothing)
            if not self.table.selectionModel().hasSelection():
                self.table.selectRow(max(0, self.table.currentRow()))

    def clear_search(self) -> None:
        for combo in (self.wallet, self.status):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self.search.clear()
        self.run_search()
        self.focus_search()

    def show_status(self, status: str | None) -> None:
        """List the orders in one search state (e.g. from the day's report)."""
        self.search.clear()
        self.wallet.blockSignals(True)
        self.wallet.setCurrentIndex(0)
        self.wallet.blockSignals(False)
        self.status.blockSignals(True)
        self.status.setCurrentIndex(max(0, self.status.findData(status)))
        self.status.blockSignals(False)
        self.run_search()

    def run_search(self) -> None:
        """Read the search line and the pickers, then load the first page."""
        self._connect()
        try:
            parsed = parse_search(self.search.text(), now=self._now(), wallet=self.wallet.currentData(),
                                  status=self.status.currentData())
        except UserError as exc:
            self._say_understood(exc.message(), error=True)
            return
        self.query, self.description = parsed.query, parsed.description
        self._say_understood(self.description)
        counter = self.window.counter
        if counter is None:
            return
        self._generation += 1
        generation, query = self._generation, self.query
        self.window.workers.run(lambda: counter.search_history(query, limit=PAGE),
                                lambda entries: self._show_page(generation, entries, append=False), self._failed)

    def load_more(self) -> None:
        counter = self.window.counter
        if counter is None or not self.entries or self.query is None:
            return
        generation, query, cursor = self._generation, self.query, self.entries[-1].page_key
        self.window.workers.run(lambda: counter.search_history(query, limit=PAGE, before=cursor),
                                lambda entries: self._show_page(generation, entries, append=True), self._failed)

    def _say(self, text: str, *, error: bool = False) -> None:
        """The page's message line: a refusal in red, a note (what 查单 found) plain."""
        say(self.message, text, error=error)
        self.message.setVisible(bool(text))

    def _say_understood(self, text: str, *, error: bool = False) -> None:
        say(self.understood, text, error=error)

    def _show_page(self, generation: int, entries, *, append: bool) -> None:
        if generation != self._generation:
            return  # a newer search was started meanwhile
        entries = list(entries)
        self.has_more = len(entries) >= PAGE
        self._show((self.entries if append else []) + entries)
        n = len(self.entries)
        key = ("ui.hist.none" if not n else "ui.hist.found_more" if self.has_more
               else "ui.hist.found_one" if n == 1 else "ui.hist.found")
        self._say_understood(tr(key, what=self.description, n=n))
        if not append and n and self.selected_order is None and self.search.text().strip():
            self.table.selectRow(0)  # a search: its best match is ready for the keys

    def _show(self, entries) -> None:
        keep = self.selected_order.out_trade_no if self.selected_order else None
        self.entries = list(entries)
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            self._fill_row(row, entry)
        self.table.blockSignals(False)
        self.table.fit()
        self.more.setEnabled(self.has_more)
        if keep and any(o.out_trade_no == keep for o in self.orders):
            self.select(keep)
        elif keep:
            self.selected_order = None
            self._load_detail()

    def _fill_row(self, row: int, entry: HistoryEntry) -> None:
        o = entry.order
        values = (_when(o.created_at), o.out_trade_no,
                  "¥" + format_yuan(o.paid_amount if o.paid_amount is not None else o.amount_to_pay),
                  method_text(o), state_text(entry), o.reason or "")
        for col, value in enumerate(values):
            self.table.setItem(row, col, self.table.item_for(col, value))

    def _replace(self, entry: HistoryEntry) -> None:
        for row, old in enumerate(self.entries):
            if old.order.out_trade_no == entry.order.out_trade_no:
                self.entries[row] = entry
                self._fill_row(row, entry)
                self.table.fit()

    def select(self, out_trade_no: str) -> None:
        for row, o in enumerate(self.orders):
            if o.out_trade_no == out_trade_no:
                self.table.blockSignals(True)
                self.table.selectRow(row)
                self.table.blockSignals(False)
                self.selected_order = o
                self._load_detail()
                return

    def find(self) -> None:
        """Search for what the search line holds (kept for callers of the old name)."""
        self.run_search()

    def _on_select(self) -> None:
        row = self.table.currentRow()
        self.selected_order = self.orders[row] if 0 <= row < len(self.entries) else None
        self._load_detail()

    def _load_detail(self) -> None:
        order = self.selected_order
        counter = self.window.counter
        self._say("")
        if order is None or counter is None:
            self.detail.setText(tr("ui.hist.pick"))
            self.refunds = []
            self._show_refunds()
            self._update_buttons()
            return
        no = order.out_trade_no
        if self.asked is not None and self.asked.order.out_trade_no != no:
            self.asked = None  # a 查单 of another order says nothing about this one
        asked = self.asked
        self.window.workers.run(
            lambda: (counter.history_entry(no), counter.refunds_for(no),
                     counter.last_query(no) if asked is not None else None),
            self._show_detail, self._failed)

    def _show_detail(self, result) -> None:
        entry, refunds, last = result
        if entry is None or self.selected_order is None or entry.order.out_trade_no != self.selected_order.out_trade_no:
            return
        self._say(check_words(entry.order, self.asked, last))  # what 查单 found, or when it goes out
        order = entry.order
        self.selected_order = order
        self.refunds = list(refunds)
        self.refundable = entry.refundable
        if order.paid_amount is None:  # nothing paid: no "实付 ¥—"
            money = tr("ui.hist.money_unpaid", amount=format_yuan(order.amount))
        else:
            money = tr("ui.hist.money", amount=format_yuan(order.amount), paid=format_yuan(order.paid_amount),
                       refundable=format_yuan(entry.refundable))
        self.detail.setText(tr(
            "ui.hist.detail", no=order.out_trade_no, time=_when(order.created_at, "%Y-%m-%d %H:%M:%S"),
            method=method_text(order), state=state_text(entry), money=money)
            + (f"\n{tr('ui.hist.merchant', name=profile_title(order.profile))}" if self._names_merchant(order) else "")
            + (f"\n{order.reason}" if order.reason else ""))
        self._show_refunds()
        self._replace(entry)
        self._update_buttons()

    def _names_merchant(self, order) -> bool:
        """Whether the detail says which merchant (profile) took the order: when the
        list holds orders of several, or the order is not the active profile's (a
        payment code forwarded to a profile that takes them)."""
        if not order.profile:
            return False
        listed = {e.order.profile for e in self.entries}
        return len(listed | {order.profile}) > 1 or order.profile != self.window.checkout.profile

    def _show_refunds(self) -> None:
        """The picked order's refunds under its detail: a table as tall as its rows
        (the detail scrolls), none when there are none."""
        table = self.refund_table
        table.setRowCount(len(self.refunds))
        for row, r in enumerate(self.refunds):
            values = (_when(r.created_at), r.out_refund_no, "¥" + format_yuan(r.amount),
                      tr("ui.rstate." + r.state) + (f"（{r.failure_reason}）" if r.failure_reason else ""))
            for col, value in enumerate(values):
                table.setItem(row, col, table.item_for(col, value))
        table.setVisible(bool(self.refunds))
        self._fit_heights()
        table.fit()
        # The detail's text and rows changed: the scroll area measures them again (it
        # is not told by itself, and would cut a longer text instead of scrolling).
        QApplication.postEvent(self.detail_area, QEvent(QEvent.Type.LayoutRequest))

    def _fit_heights(self) -> None:
        """Heights that follow the font (the window's scale): the list at least
        MIN_ROWS rows high, the detail at least two lines, the refund table its rows."""
        t = self.table
        row = t.verticalHeader().defaultSectionSize()
        t.setMinimumHeight(t.horizontalHeader().sizeHint().height() + MIN_ROWS * row + 2 * t.frameWidth())
        self.detail_area.setMinimumHeight(self.detail.fontMetrics().lineSpacing() * 2 + 4)
        r = self.refund_table
        rows = r.rowCount() * r.verticalHeader().defaultSectionSize()
        r.setFixedHeight(r.horizontalHeader().sizeHint().height() + rows + 2 * r.frameWidth())

    def _fit_keys(self) -> None:
        """The keys beside their labels where a line has room for them, else below
        (lower buttons): the older-orders button on the pickers' line, the actions
        under the detail."""
        margins = self.layout().contentsMargins()
        width = self.width() - margins.left() - margins.right()
        pickers = (self.wallet, self.status, self.clear_button)
        gap = max(0, self.filters.spacing())
        _keys_fit([self.more], width - sum(w.sizeHint().width() + gap for w in pickers) - gap, 0)
        _keys_fit(list(self.actions), width, max(0, self.action_row.spacing()))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._fit_keys()
        self._fit_heights()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit_keys()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange) and hasattr(self, "split"):
            self._fit_keys()  # another scale: other widths and row heights
            self._fit_heights()

    def _update_buttons(self) -> None:
        order = self.selected_order
        counter = self.window.counter
        can_refund = False
        self.refund_button.setToolTip("")
        if order is not None and counter is not None and order.state == S.PAID and self.refundable > 0:
            can_refund = counter.can_refund(order.profile)
            if not can_refund:
                self.refund_button.setToolTip(tr("ui.hist.manual"))
        self.refund_button.setEnabled(can_refund)
        self.check_button.setEnabled(order is not None and order.state not in S.FINAL_ORDER_STATES)
        self.mark_button.setEnabled(order is not None and order.state in S.CHECKABLE_ORDER_STATES)
        self.refund_check.setEnabled(any(r.state not in S.FINAL_REFUND_STATES for r in self.refunds))
        self.reprint_button.setEnabled(order is not None and order.state == S.PAID)

    # ------------------------------------------------------------------ actions
    def reprint(self) -> None:
        """补打: the paid order's receipt goes to the print queue again."""
        order = self.selected_order
        counter = self.window.counter
        if order is None or counter is None or order.state != S.PAID:
            return
        no = order.out_trade_no
        self.window.workers.run(lambda: counter.reprint(no), lambda _: self._say(tr("ui.hist.reprinted")),
                                self._failed)

    def refund(self) -> None:
        order = self.selected_order
        if order is None:
            return
        from cashier.settings import SettingsStore

        if not SettingsStore().load_or_default()[0].has_pin:
            # The owner sets the PIN (first run or Settings), never whoever refunds first.
            self._say(tr("settings.pin_not_set"), error=True)
            return
        self.open_refund_dialog().exec()

    def open_refund_dialog(self) -> RefundDialog:
        dialog = RefundDialog(self.window, self.selected_order, self.refundable)
        dialog.accepted.connect(self._load_detail)
        self.refund_dialog = dialog
        return dialog

    def check_order(self) -> None:
        """查单 (F5): asked now, answered by a query of a moment ago, or queued for the
        gateway's next query slot; never "too soon" (the engine's own query is not the
        clerk's fault). Said on the page's message line, then the answer when it comes."""
        order = self.selected_order
        counter = self.window.counter
        if order is None or counter is None:
            return
        no = order.out_trade_no
        self.window.workers.run(lambda: counter.check_soon(no, actor="clerk"), self._on_checked,
                                lambda exc: self._say(exc.message() if isinstance(exc, UserError)
                                                      else tr("error.generic"), error=True))

    def _on_checked(self, answer) -> None:
        if self.selected_order is None or self.selected_order.out_trade_no != answer.order.out_trade_no:
            return  # the clerk picked another order meanwhile
        self.asked = answer
        self._load_detail()

    def mark_checked(self, who: str | None = None) -> None:
        """已核对: a person settled the selected order by hand (asks who)."""
        order = self.selected_order
        counter = self.window.counter
        if order is None or counter is None or order.state not in S.CHECKABLE_ORDER_STATES:
            return
        name = who.strip() if who is not None else ask_checker(self, order)
        if not name:
            return

        def done(_) -> None:
            self._load_detail()
            self.window.refresh_attention()

        self.window.workers.run(lambda: counter.mark_checked(order.out_trade_no, actor=name), done, self._failed)

    def check_refund(self) -> None:
        counter = self.window.counter
        open_refunds = [r for r in self.refunds if r.state not in S.FINAL_REFUND_STATES]
        if not open_refunds or counter is None:
            return
        no = open_refunds[0].out_refund_no
        self.window.workers.run(lambda: counter.check_refund(no, actor="clerk"),
                                lambda _: self._load_detail(), self._failed)

    def on_refund(self, refund) -> None:
        if self.selected_order is not None and refund.out_trade_no == self.selected_order.out_trade_no:
            self._load_detail()
            return
        counter = self.window.counter
        if counter is not None and any(o.out_trade_no == refund.out_trade_no for o in self.orders):
            no = refund.out_trade_no
            self.window.workers.run(lambda: counter.history_entry(no),
                                    lambda entry: entry is not None and self._replace(entry), self._failed)

    def on_order(self, order) -> None:
        for entry in self.entries:
            if entry.order.out_trade_no == order.out_trade_no:
                self._replace(dataclasses.replace(entry, order=order))
                if self.selected_order is not None and self.selected_order.out_trade_no == order.out_trade_no:
                    self._load_detail()
                return

    def _failed(self, exc) -> None:
        text = exc.message() if isinstance(exc, UserError) else tr("error.generic")
        self._say(text, error=True)
        self.window.flash(text)
