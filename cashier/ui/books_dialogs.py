"""The back office in the window: the cash key (现金, with the change shown big), shift
open / close / handover (交班), reconciliation review (对账), and printing or saving
as PDF of the shift and day reports through Qt's own print support.

Everything asks `cashier.books.Books` / `cashier.reconcile` (Qt-free); a run that
talks to the gateway goes to a worker thread (`Workers`).
"""

from __future__ import annotations

import datetime
import html
import threading
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPageSize, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from cashier.i18n import UserError, define, tr
from cashier.money import format_yuan, parse_amount, parse_amount_or_zero

define({
    "ui.cash.title": ("现金收款", "Cash sale"),
    "ui.cash.amount": ("应收", "Due"),
    "ui.cash.tendered": ("实收现金", "Tendered"),
    "ui.cash.change": ("找零 ¥{change}", "Change ¥{change}"),
    "ui.cash.short": ("还差 ¥{short}", "¥{short} short"),
    "ui.cash.done": ("现金收款 ¥{amount}，找零 ¥{change}（现金单号 {no}）",
                     "Cash ¥{amount}, change ¥{change} (cash sale no. {no})"),
    "ui.books.ok": ("确定 (Enter)", "OK (Enter)"),
    "ui.books.cancel": ("取消 (Esc)", "Cancel (Esc)"),
    "ui.books.close": ("关闭 (Esc)", "Close (Esc)"),
    "ui.move.title": ("备用金 / 取款", "Cash in / out"),
    "ui.move.kind": ("类型", "Kind"),
    "ui.move.in": ("备用金（放入钱箱）", "Cash in (into the drawer)"),
    "ui.move.out": ("取款（从钱箱取出）", "Cash out (from the drawer)"),
    "ui.move.amount": ("金额", "Amount"),
    "ui.move.reason": ("原因", "Reason"),
    "ui.move.refund": ("现金退款（退给顾客，需店长密码）", "Cash refund (to a customer, manager PIN)"),
    "ui.move.sale": ("现金单号", "Cash sale no."),
    "ui.move.pin": ("店长密码", "Manager PIN"),
    "ui.move.refunded": ("已从钱箱退款 {amount} 元（{sale}）", "Refunded ¥{amount} from the drawer ({sale})"),
    "ui.move.done": ("钱箱 {amount} 元：{reason}", "Drawer ¥{amount}: {reason}"),
    "ui.shift.open_title": ("开班", "Open a shift"),
    "ui.shift.handover_title": ("交班", "Close the shift"),
    "ui.shift.clerk": ("收银员", "Clerk"),
    "ui.shift.float": ("备用金", "Cash float"),
    "ui.shift.close_title": ("交班：第 {shift_id} 班（{clerk}）", "Close shift {shift_id} ({clerk})"),
    "ui.shift.counted": ("清点现金", "Counted cash"),
    "ui.shift.next_clerk": ("接班收银员（可空）", "Next clerk (optional)"),
    "ui.shift.expected": ("应有现金 ¥{expected}", "Expected cash ¥{expected}"),
    "ui.shift.difference": ("差额 ¥{difference}", "Difference ¥{difference}"),
    "ui.shift.close": ("交班 (Enter)", "Close shift (Enter)"),
    "ui.shift.print": ("打印 / 存为 PDF", "Print / save as PDF"),
    "ui.shift.unresolved": ("未完成订单 {count} 笔，将转入下一班", "{count:plural:unresolved order,unresolved orders}, carried into the next shift"),
    "ui.shift.handover_ask": ("第 {shift_id} 班（{clerk}）还没有交班。现在交班吗？",
                              "Shift {shift_id} ({clerk}) is still open. Close it now?"),
    "ui.books.col.method": ("方式", "Method"), "ui.books.col.gateway": ("网关", "Gateway"), "ui.books.col.wallet": ("钱包", "Wallet"),
    "ui.books.col.count": ("笔数", "Count"), "ui.books.col.amount": ("收款", "Taken"), "ui.books.col.refunded": ("退款", "Refunded"),
    "ui.books.col.order": ("订单号", "Order"), "ui.books.col.kind": ("差异", "Difference"), "ui.books.col.ours": ("本店", "Ours"),
    "ui.books.col.theirs": ("网关", "Gateway"), "ui.books.col.resolution": ("处理", "Resolution"),
    "ui.method.cash": ("现金", "cash"), "ui.method.qr": ("扫码", "QR"), "ui.method.micropay": ("付款码", "payment code"),
    "ui.recon.title": ("对账", "Reconciliation"),
    "ui.recon.run": ("开始对账", "Start"),
    "ui.recon.pin": ("店长密码", "Manager PIN"),
    "ui.recon.note": ("备注", "Note"),
    "ui.recon.record": ("补记收款", "Record the payment"),
    "ui.recon.refund": ("标记退款", "Flag for refund"),
    "ui.recon.checked": ("已核对", "Mark checked"),
    "ui.recon.done": ("对账完成：查询 {checked} 笔，差异 {count} 处", "Done: {checked} checked, {count:plural:difference,differences}"),
    "ui.books.gw.paid": ("已付款", "paid"), "ui.books.gw.refunded": ("已退款", "refunded"),
    "ui.books.gw.pending": ("未付款", "not paid"), "ui.books.gw.closed": ("已关闭", "closed"),
    "ui.books.gw.failed": ("失败", "failed"), "ui.books.gw.not_found": ("网关没有此单", "not at the gateway"),
    "ui.books.gw.unknown": ("状态不明", "unclear"),
    "ui.books.none": ("—", "—"),
    "ui.books.total": ("合计", "Total"),
    "ui.rep.print": ("打印 / PDF", "Print / PDF"),
    "ui.rep.recon": ("对账 {runs} 次：差异 {found} 处，未处理 {left} 处", "Reconciled {runs}×: {found:plural:difference,differences}, {left} open"),
    "ui.rep.cash_moves": ("备用金存入 ¥{cash_in}，取款 ¥{cash_out}", "Cash put in ¥{cash_in}, taken out ¥{cash_out}"),
    "ui.report.shift_title": ("交班报表 第 {shift_id} 班", "Shift report {shift_id}"),
    "ui.report.day_title": ("日报 {day}", "Day report {day}"),
    "ui.print.shift_times": ("收银员 {clerk} · 开班 {opened} · 交班 {closed}", "Clerk {clerk} · opened {opened} · closed {closed}"),
    "ui.print.refund_count": ("退款笔数", "Refunds"),
    "ui.print.net": ("净额", "Net"),
    "ui.print.cash": ("备用金 ¥{float} · 现金收款 ¥{sales} · 现金退款 ¥{refunds} · 存入 ¥{cash_in} · 取款 ¥{cash_out}",
                      "Float ¥{float} · cash sales ¥{sales} · cash refunds ¥{refunds} · put in ¥{cash_in} · "
                      "taken out ¥{cash_out}"),
    "ui.print.count": ("应有现金 ¥{expected} · 清点 ¥{counted} · 差额 ¥{difference}",
                       "Expected cash ¥{expected} · counted ¥{counted} · Difference ¥{difference}"),
    "ui.print.unresolved": ("未完成订单（转入下一班）：", "Unresolved orders (carried into the next shift):"),
    "ui.print.corrections": ("交班后的更正：", "Corrections after the close:"),
    "ui.print.recon_line": ("{profile}：查询 {checked} 笔，差异 {found} 处，未处理 {left} 处",
                            "{profile}: {checked} checked, {found:plural:difference,differences}, {left} open"),
})

BIG = 44


def gateway_title(name: str) -> str:
    """A gateway as the shop knows it (its title), cash as 现金."""
    if name == "cash":
        return tr("ui.method.cash")
    from cashier import i18n
    from cashier.gateways import gateway_class

    try:
        cls = gateway_class(name)
    except Exception:
        return name
    return cls.title_en if i18n.language() == i18n.EN else cls.title_zh


def wallet_title(wallet: str) -> str:
    if wallet == "cash":
        return tr("ui.books.none")
    from cashier.ui.checkout.texts import wallet_text

    return wallet_text(wallet)


def ours_text(ours: dict) -> str:
    if not ours:
        return tr("ui.books.none")
    state = ours.get("state", "")
    key = "ui.state." + state
    words = tr(key)
    return f"{words if words != key else state} {ours.get('paid_amount') or ours.get('amount') or ''}".strip()


def theirs_text(theirs: dict) -> str:
    status = theirs.get("status", "unknown")
    return f"{tr('ui.books.gw.' + status)} {theirs.get('amount') or ''}".strip()



def _heading(dialog: QDialog) -> QLabel:
    """The dialog's title inside it: a kiosk with no window manager shows no title bar,
    and 收银员 / 备用金 alone do not say that a shift is being opened."""
    label = QLabel(dialog.windowTitle())
    label.setObjectName("dialogTitle")
    label.setWordWrap(True)
    return label


def _buttons(dialog: QDialog, ok_text: str) -> tuple[QPushButton, QPushButton]:
    ok, cancel = QPushButton(ok_text), QPushButton(tr("ui.books.cancel"))
    ok.setDefault(True)
    ok.clicked.connect(dialog.accept)
    cancel.clicked.connect(dialog.reject)
    return ok, cancel


def _button_row(dialog: QDialog) -> QHBoxLayout:
    """OK and Cancel side by side, for a form's last row."""
    row = QHBoxLayout()
    for button in _buttons(dialog, tr("ui.books.ok")):
        row.addWidget(button)
    return row


class CashDialog(QDialog):
    """The cash key: what was tendered, and the change big."""

    def __init__(self, books, amount: Decimal, parent=None) -> None:
        super().__init__(parent)
        self.books, self.amount, self.sale = books, amount, None
        self.setWindowTitle(tr("ui.cash.title"))
        layout = QVBoxLayout(self)
        layout.addWidget(_heading(self))
        due = QLabel(f"{tr('ui.cash.amount')}  ¥{format_yuan(amount)}")
        due.setStyleSheet("font-size: 20pt;")
        layout.addWidget(due)
        form = QFormLayout()
        self.tendered = QLineEdit()
        self.tendered.setPlaceholderText(format_yuan(amount))
        self.tendered.textChanged.connect(self._update)
        form.addRow(tr("ui.cash.tendered"), self.tendered)
        layout.addLayout(form)
        self.change = QLabel("")
        self.change.setObjectName("change")
        # A style sheet, not setFont: the app's own style sheet would override a font.
        self.change.setStyleSheet(f"font-size: {BIG}pt; font-weight: bold; color: #b00000;")
        self.change.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.change)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        self.ok, self.cancel = _buttons(self, tr("ui.books.ok"))
        row.addWidget(self.ok)
        row.addWidget(self.cancel)
        layout.addLayout(row)
        self._update()

    def _tendered(self) -> Decimal:
        text = self.tendered.text().strip()
        return self.amount if not text else parse_amount(text)

    def _update(self) -> None:
        try:
            tendered = self._tendered()
        except UserError as exc:
            self.change.setText("")
            self.message.setText(exc.message())
            self.ok.setEnabled(False)
            return
        self.message.setText("")
        if tendered < self.amount:
            self.change.setText(tr("ui.cash.short", short=format_yuan(self.amount - tendered)))
            self.ok.setEnabled(False)
        else:
            self.change.setText(tr("ui.cash.change", change=format_yuan(tendered - self.amount)))
            self.ok.setEnabled(True)

    def accept(self) -> None:
        try:
            self.sale = self.books.cash_sale(self.amount, self._tendered())
        except UserError as exc:
            self.message.setText(exc.message())
            return
        self.change.setText(tr("ui.cash.change", change=format_yuan(self.sale.change)))
        super().accept()


class CashMoveDialog(QDialog):
    """备用金 in or 取款 out of the drawer, with a reason."""

    def __init__(self, books, parent=None) -> None:
        super().__init__(parent)
        self.books, self.entry = books, None
        self.setWindowTitle(tr("ui.move.title"))
        form = QFormLayout(self)
        form.addRow(_heading(self))
        self.kind = QComboBox()
        self.kind.addItem(tr("ui.move.out"), -1)
        self.kind.addItem(tr("ui.move.in"), 1)
        self.kind.addItem(tr("ui.move.refund"), 0)
        self.amount = QLineEdit()
        self.reason = QLineEdit()
        self.sale = QLineEdit()  # a cash refund: which cash sale, and the manager's PIN
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(tr("ui.move.kind"), self.kind)
        form.addRow(tr("ui.move.sale"), self.sale)
        form.addRow(tr("ui.move.amount"), self.amount)
        form.addRow(tr("ui.move.reason"), self.reason)
        form.addRow(tr("ui.move.pin"), self.pin)
        self._form = form
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        form.addRow(self.message)
        form.addRow(_button_row(self))

        self._kind_changed()

    @property
    def refunding(self) -> bool:
        return self.kind.currentData() == 0

    def _kind_changed(self) -> None:
        for field in (self.sale, self.pin):
            self._form.setRowVisible(field, self.refunding)

    def accept(self) -> None:
        try:
            if self.refunding:
                self.entry = self.books.cash_refund(self.sale.text().strip().upper(), parse_amount(self.amount.text()),
                                                    self.reason.text(), pin=self.pin.text())
            else:
                amount = parse_amount(self.amount.text()) * int(self.kind.currentData())
                self.entry = self.books.cash_move(amount, self.reason.text())
        except UserError as exc:
            self.message.setText(exc.message())
            return
        super().accept()


class ShiftOpenDialog(QDialog):
    def __init__(self, books, parent=None, clerk: str = "", float_amount: Decimal | None = None) -> None:
        super().__init__(parent)
        self.books, self.shift = books, None
        self.setWindowTitle(tr("ui.shift.open_title"))
        form = QFormLayout(self)
        form.addRow(_heading(self))
        self.clerk = QLineEdit(clerk)
        self.float = QLineEdit("" if float_amount is None else format_yuan(float_amount))
        form.addRow(tr("ui.shift.clerk"), self.clerk)
        form.addRow(tr("ui.shift.float"), self.float)
        self.message = QLabel("")
        form.addRow(self.message)
        form.addRow(_button_row(self))

    def accept(self) -> None:
        try:
            self.shift = self.books.open_shift(self.clerk.text(), parse_amount_or_zero(self.float.text() or "0"))
        except UserError as exc:
            self.message.setText(exc.message())
            return
        super().accept()


def read_only(table: QTableWidget) -> QTableWidget:
    """A table that shows figures: no key edits a cell, and Tab leaves it for the
    next field (a typed count must never land in a report)."""
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()  # row numbers mean nothing to a clerk
    return table


def _totals_table(report) -> QTableWidget:
    table = read_only(QTableWidget(len(report.lines), 6))
    table.setHorizontalHeaderLabels([tr(f"ui.books.col.{c}") for c in
                                     ("method", "gateway", "wallet", "count", "amount", "refunded")])
    for r, line in enumerate(report.lines):
        for c, value in enumerate((tr(f"ui.method.{line.method}"), gateway_title(line.gateway),
                                   wallet_title(line.wallet), str(line.count),
                                   format_yuan(line.amount), format_yuan(line.refunded))):
            table.setItem(r, c, QTableWidgetItem(value))
    table.resizeColumnsToContents()
    return table


class ShiftCloseDialog(QDialog):
    """交班: the shift's totals, what is unresolved, expected vs counted cash."""

    def __init__(self, books, parent=None) -> None:
        super().__init__(parent)
        self.books, self.closed, self.opened = books, None, None
        self.report = books.shift_report()
        shift = self.report.shift
        self.setWindowTitle(tr("ui.shift.close_title", shift_id=shift.shift_id, clerk=shift.clerk))
        layout = QVBoxLayout(self)
        layout.addWidget(_heading(self))
        self.table = _totals_table(self.report)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the count is typed first
        layout.addWidget(self.table)
        if self.report.unresolved:
            layout.addWidget(QLabel(tr("ui.shift.unresolved", count=len(self.report.unresolved))))
        self.expected = QLabel(tr("ui.shift.expected", expected=format_yuan(self.report.expected_cash)))
        self.expected.setStyleSheet("font-size: 18pt;")
        layout.addWidget(self.expected)
        form = QFormLayout()
        self.counted = QLineEdit()
        self.counted.textChanged.connect(self._update)
        self.next_clerk = QLineEdit()
        form.addRow(tr("ui.shift.counted"), self.counted)
        form.addRow(tr("ui.shift.next_clerk"), self.next_clerk)
        layout.addLayout(form)
        self.difference = QLabel("")
        self.difference.setStyleSheet("font-size: 26pt; font-weight: bold;")
        layout.addWidget(self.difference)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        self.ok, cancel = _buttons(self, tr("ui.shift.close"))
        self.print_button = QPushButton(tr("ui.shift.print"))
        self.print_button.clicked.connect(lambda: print_preview(self, self.print_html()))
        for b in (self.ok, self.print_button, cancel):
            row.addWidget(b)
        layout.addLayout(row)
        books.count_drawer()
        self._update()
        self.counted.setFocus()

    def _counted(self) -> Decimal | None:
        text = self.counted.text().strip()
        return None if not text else parse_amount_or_zero(text)

    def print_html(self) -> str:
        """The report to print before 交班 is pressed: with the cash counted so far
        (it printed 清点 ¥— and 差额 ¥— under the figures the clerk had typed)."""
        import dataclasses

        try:
            counted = self._counted()
        except UserError:
            counted = None
        return shift_report_html(dataclasses.replace(self.report, counted_cash=counted))

    def _update(self) -> None:
        try:
            counted = self._counted()
        except UserError as exc:
            self.message.setText(exc.message())
            self.ok.setEnabled(False)
            return
        self.message.setText("")
        self.ok.setEnabled(counted is not None)
        self.difference.setText("" if counted is None else tr(
            "ui.shift.difference", difference=format_yuan(counted - self.report.expected_cash)))

    def accept(self) -> None:
        try:
            counted = self._counted()
            if self.next_clerk.text().strip():
                self.closed, self.opened = self.books.handover(counted, self.next_clerk.text())
            else:
                self.closed = self.books.close_shift(counted)
        except UserError as exc:
            self.message.setText(exc.message())
            return
        super().accept()


class ReconcileDialog(QDialog):
    """对账: run a day's reconciliation for a profile (on a worker), then resolve each
    difference with the manager PIN."""

    finished_run = Signal(object)
    progressed = Signal(int, int)

    def __init__(self, books, profiles: list[str], parent=None, *, sleep=None) -> None:
        super().__init__(parent)
        from cashier.ui.workers import Workers

        self.books, self.result, self._sleep = books, None, sleep
        self.workers = Workers(self)
        self._stop = threading.Event()
        self.setWindowTitle(tr("ui.recon.title"))
        layout = QVBoxLayout(self)
        layout.addWidget(_heading(self))
        top = QHBoxLayout()
        self.profile = QComboBox()
        from cashier.counter import profile_title

        for name in profiles:  # shown in the UI's language (demo profiles), kept as stored
            self.profile.addItem(profile_title(name), name)
        self.day = QDateEdit(datetime.date.today())
        self.day.setDisplayFormat("yyyy-MM-dd")
        self.run_button = QPushButton(tr("ui.recon.run"))
        self.run_button.clicked.connect(self.start)
        for w in (self.profile, self.day, self.run_button):
            top.addWidget(w)
        layout.addLayout(top)
        self.progress = QProgressBar()
        layout.addWidget(self.progress)
        self.table = read_only(QTableWidget(0, 5))
        self.table.setHorizontalHeaderLabels([tr(f"ui.books.col.{c}") for c in
                                              ("order", "kind", "ours", "theirs", "resolution")])
        layout.addWidget(self.table)
        form = QFormLayout()
        self.note = QLineEdit()
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(tr("ui.recon.note"), self.note)
        form.addRow(tr("ui.recon.pin"), self.pin)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.action_buttons = {}
        for action in ("record", "refund", "checked"):
            button = QPushButton(tr(f"ui.recon.{action}"))
            button.clicked.connect(lambda _=False, a=action: self.resolve(a))
            self.action_buttons[action] = button
            row.addWidget(button)
        layout.addLayout(row)
        self.table.itemSelectionChanged.connect(self._enable_actions)
        self._enable_actions()  # nothing to resolve before a run finds a difference
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.progressed.connect(self._on_progress)
        self.resize(820, 520)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def start(self) -> None:
        from cashier.reconcile import Reconciler

        profile = self.profile.currentData()
        day = self.day.date().toPython()
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        rec = Reconciler(self.books.engine, stop=self._stop,
                         on_progress=lambda p: self.progressed.emit(p.done, p.total) if p.phase == "query" else None,
                         **kwargs)
        self.run_button.setEnabled(False)
        self.workers.run(lambda: rec.run(profile, day), self._done, self._failed)

    def _done(self, result) -> None:
        self.result = result
        self.run_button.setEnabled(True)
        self.message.setText(tr("ui.recon.done", checked=result.orders_checked, count=len(result.differences)))
        self.show_differences()
        self.finished_run.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self.run_button.setEnabled(True)
        self.message.setText(exc.message() if isinstance(exc, UserError) else tr("error.generic"))

    def show_differences(self) -> None:
        from cashier.reconcile import kind_text

        diffs = self.books.ledger.differences(self.result.run.run_id) if self.result else []
        self.diffs = diffs
        self.table.setRowCount(len(diffs))
        for r, d in enumerate(diffs):
            ours, theirs = ours_text(d.ours), theirs_text(d.gateway)
            for c, value in enumerate((d.out_trade_no, kind_text(d.kind), ours, theirs,
                                       tr(f"ui.recon.{d.resolution}") if d.resolution else "")):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        if diffs and self.table.currentRow() < 0:
            self.table.selectRow(0)
        self._enable_actions()

    def _enable_actions(self) -> None:
        """补记收款 / 标记退款 / 已核对 act on the picked difference: greyed while none is."""
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        picked = any(0 <= r < len(getattr(self, "diffs", [])) for r in rows)
        for button in self.action_buttons.values():
            button.setEnabled(picked)

    def resolve(self, action: str) -> None:
        from cashier.reconcile import resolve

        row = self.table.currentRow()
        if row < 0 or row >= len(getattr(self, "diffs", [])):
            return
        try:
            resolve(self.books.engine, self.books, self.diffs[row].out_trade_no, action, self.note.text(),
                    pin=self.pin.text() or None)
        except UserError as exc:
            self.message.setText(exc.message())
            return
        self.pin.clear()
        self.message.setText("")
        self.show_differences()

    def reject(self) -> None:
        self._stop.set()
        self.workers.wait(5000)
        super().reject()


# ---------------------------------------------------------------------------- printing
_STYLE = ("<style>body{font-family:'Noto Sans CJK SC','Noto Sans SC',sans-serif;font-size:10pt}"
          "table{border-collapse:collapse}td,th{border:1px solid #888;padding:3px 8px}"
          "td.n{text-align:right}</style>")


def _e(text) -> str:
    return html.escape(str(text))


def shift_report_html(report, shop: str = "") -> str:
    d = report.to_dict()
    rows = "".join(
        f"<tr><td>{_e(tr('ui.method.' + line.method))}</td><td>{_e(gateway_title(line.gateway))}</td>"
        f"<td>{_e(wallet_title(line.wallet))}</td>"
        f"<td class=n>{line.count}</td><td class=n>{format_yuan(line.amount)}</td>"
        f"<td class=n>{line.refund_count}</td><td class=n>{format_yuan(line.refunded)}</td></tr>"
        for line in report.lines)
    opened = datetime.datetime.fromtimestamp(d["opened_at"]).strftime("%Y-%m-%d %H:%M")
    closed = datetime.datetime.fromtimestamp(d["closed_at"]).strftime("%Y-%m-%d %H:%M") if d["closed_at"] else "—"
    unresolved = "".join(f"<li>{_e(u['out_trade_no'])} {_e(ours_text({'state': u['state']}))} ¥{_e(u['amount'])}</li>"
                         for u in d["unresolved"])
    corrections = "".join(f"<li>{_e(c['entry_no'])} ¥{_e(c['amount'])} {_e(c['reason'])}（{_e(c['clerk'])}）</li>"
                          for c in d["corrections"])
    head = [tr("ui.books.col." + c) for c in ("method", "gateway", "wallet", "count", "amount")]
    head += [tr("ui.print.refund_count"), tr("ui.books.col.refunded")]
    times = tr("ui.print.shift_times", clerk=d["clerk"], opened=opened, closed=closed)
    cash = tr("ui.print.cash", float=d["float"], sales=d["cash_sales"], refunds=d["cash_refunds"],
              cash_in=d["cash_in"], cash_out=d["cash_out"])
    count = tr("ui.print.count", expected=d["expected_cash"], counted=d["counted_cash"] or "—",
               difference=d["difference"] or "—")
    return (f"<html><head>{_STYLE}</head><body><h2>{_e(shop)} {_e(tr('ui.report.shift_title', shift_id=d['shift_id']))}</h2>"
            f"<p>{_e(times)}</p>"
            f"<table><tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr>"
            f"{rows}</table>"
            f"<p>{_e(cash)}</p>"
            f"<h3>{_e(count)}</h3>"
            + (f"<p>{_e(tr('ui.print.unresolved'))}</p><ul>{unresolved}</ul>" if unresolved else "")
            + (f"<p>{_e(tr('ui.print.corrections'))}</p><ul>{corrections}</ul>" if corrections else "")
            + "</body></html>")


def day_report_html(report, shop: str = "") -> str:
    rows = "".join(
        f"<tr><td>{_e(gateway_title(line.gateway) if line.gateway else tr('ui.books.total'))}</td>"
        f"<td>{_e(wallet_title(line.wallet) if line.wallet else '')}</td><td class=n>{line.paid_count}</td>"
        f"<td class=n>{format_yuan(line.paid_sum)}</td><td class=n>{line.refund_count}</td>"
        f"<td class=n>{format_yuan(line.refund_sum)}</td><td class=n>{format_yuan(line.net)}</td></tr>"
        for line in (*report.lines, report.totals))
    from cashier.counter import profile_title

    recon = "".join("<li>" + _e(tr("ui.print.recon_line", profile=profile_title(r["profile"]),
                                   checked=r["orders_checked"],
                                   found=len(r["differences"]), left=r["unresolved"])) + "</li>"
                    for r in report.reconciliation)
    head = [tr("ui.books.col." + c) for c in ("gateway", "wallet", "count", "amount")]
    head += [tr("ui.print.refund_count"), tr("ui.books.col.refunded"), tr("ui.print.net")]
    cash = tr("ui.rep.cash_moves", cash_in=format_yuan(report.cash_in), cash_out=format_yuan(report.cash_out))
    return (f"<html><head>{_STYLE}</head><body><h2>{_e(shop)} {_e(tr('ui.report.day_title', day=report.day.isoformat()))}</h2>"
            f"<table><tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr>"
            f"{rows}</table><p>{_e(cash)}</p>"
            + (f"<h3>{_e(tr('ui.recon.title'))}</h3><ul>{recon}</ul>" if recon else "") + "</body></html>")


def _document(html_text: str) -> QTextDocument:
    doc = QTextDocument()
    doc.setHtml(html_text)
    return doc


def save_pdf(html_text: str, path: str) -> None:
    """Render a report to a PDF file (QPrinter in PDF mode: no printer needed)."""
    from PySide6.QtPrintSupport import QPrinter

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    printer.setOutputFileName(str(path))
    _document(html_text).print_(printer)


def preview_dialog(parent, html_text: str):
    """Qt's print preview, as big as the counter window, and Ctrl+P on its Print button:
    on a 1024×768 kiosk the toolbar's Print fell into its overflow, with no key to reach
    it, and the page showed at a third of its size."""
    from PySide6.QtGui import QKeySequence
    from PySide6.QtPrintSupport import QPrinter, QPrintPreviewDialog
    from PySide6.QtWidgets import QToolBar

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintPreviewDialog(printer, parent)
    dialog.kept = (printer, doc := _document(html_text))  # alive as long as the dialog (it points at both)
    dialog.paintRequested.connect(doc.print_)
    top = parent
    while top is not None and top.parentWidget() is not None:
        top = top.parentWidget()
    if top is not None:
        dialog.resize(top.size())
    toolbar = dialog.findChild(QToolBar)
    if toolbar is not None and toolbar.actions():
        toolbar.actions()[-1].setShortcut(QKeySequence("Ctrl+P"))  # Qt adds Print last
    # Qt's preview has no close button of its own (Esc only): with no window manager
    # (no title bar) nothing on screen said how to leave it.
    dialog.close_button = close = QPushButton(tr("ui.books.close"))
    close.clicked.connect(dialog.reject)
    row = QHBoxLayout()
    row.setContentsMargins(12, 6, 12, 12)  # Qt's preview layout has none: off the screen's edge
    row.addStretch(1)
    row.addWidget(close)
    dialog.layout().addLayout(row)
    return dialog


def print_preview(parent, html_text: str) -> None:
    """Qt's print preview: print on any printer, or choose "PDF" there to save."""
    preview_dialog(parent, html_text).exec()


def handover_question(parent, shift) -> QMessageBox:
    """The question asked on quit: close (交班) the open shift now?"""
    box = QMessageBox(QMessageBox.Icon.Question, tr("ui.shift.handover_title"),
                      tr("ui.shift.handover_ask", shift_id=shift.shift_id, clerk=shift.clerk),
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                      | QMessageBox.StandardButton.Cancel, parent)
    return box


def ask_handover(parent, books) -> bool:
    """On quit or a change of clerk: offer to close the open shift. False: stay."""
    shift = books.current_shift()
    if shift is None:
        return True
    box = handover_question(parent, shift)
    box.exec()
    answer = box.standardButton(box.clickedButton()) if box.clickedButton() is not None \
        else QMessageBox.StandardButton.Cancel
    if answer == QMessageBox.StandardButton.Cancel:
        return False
    if answer == QMessageBox.StandardButton.Yes:
        return ShiftCloseDialog(books, parent).exec() == QDialog.DialogCode.Accepted
    return True
