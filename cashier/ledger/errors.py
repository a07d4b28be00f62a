"""Ledger errors: each one a UserError with a Chinese and an English message."""

from __future__ import annotations

import sqlite3

from cashier.i18n import UserError, define

define({
    "ledger.error": ("账本操作失败：{detail}", "The ledger operation failed: {detail}"),
    "ledger.closed": ("账本已关闭（收银台正在退出或重新打开账本），本次操作没有执行",
                      "The ledger is closed (the counter is closing or reopening it); nothing was done"),
    "ledger.busy": (
        "账本正被其他程序占用，请稍后再试（{path}）",
        "The ledger is in use by another program; try again in a moment ({path})",
    ),
    "ledger.full": (
        "磁盘已满，账本无法写入。本次操作没有保存，请腾出磁盘空间后重试（{path}）",
        "The disk is full and the ledger cannot be written. Nothing was saved; free some disk space and try again ({path})",
    ),
    "ledger.corrupt": (
        "账本文件已损坏或不是账本文件：{path}",
        "The ledger file is damaged or is not a ledger: {path}",
    ),
    "ledger.io": (
        "读写账本文件时出错：{path}",
        "Reading or writing the ledger file failed: {path}",
    ),
    "ledger.schema_too_new": (
        "账本文件（版本 {found}）来自更新版本的收银程序，本程序只支持到版本 {supported}。请升级收银程序：{path}",
        "The ledger file (version {found}) was written by a newer version of the cashier; this one supports up to version {supported}. Please upgrade the cashier: {path}",
    ),
    "ledger.state_conflict": (
        "订单 {entity_id} 的状态已变为“{current}”（预期“{expected}”），操作未执行",
        "{entity_id} is now “{current}” (expected “{expected}”); nothing was changed",
    ),
    "ledger.illegal_state_change": (
        "{entity_id} 处于“{current}”，不能因“{event}”改变状态；操作未执行",
        "{entity_id} is “{current}” and cannot take “{event}”; nothing was changed",
    ),
    "ledger.duplicate_order": (
        "订单号 {out_trade_no} 已存在",
        "Order number {out_trade_no} already exists",
    ),
    "ledger.duplicate_refund": (
        "退款单号 {out_refund_no} 已存在",
        "Refund number {out_refund_no} already exists",
    ),
    "ledger.order_not_found": ("找不到订单 {out_trade_no}", "No order {out_trade_no}"),
    "ledger.refund_not_found": ("找不到退款 {out_refund_no}", "No refund {out_refund_no}"),
    "ledger.refund_too_large": (
        "退款金额 {amount} 元超过可退金额 {refundable} 元（订单 {out_trade_no}）",
        "The refund of ¥{amount} exceeds the refundable ¥{refundable} (order {out_trade_no})",
    ),
    "ledger.refund_not_paid": (
        "订单 {out_trade_no} 未支付成功（状态“{state}”），不能退款；可退金额 {refundable} 元",
        "Order {out_trade_no} is not paid (state “{state}”) and cannot be refunded; refundable ¥{refundable}",
    ),
    "ledger.day_out_of_range": (
        "无法统计这一天（{day}）：日期超出范围",
        "No report for {day}: the date is out of range",
    ),
    "ledger.read_only": (
        "账本所在的文件夹或文件只读，无法写入：{path}。没有发出任何请求",
        "The ledger's folder or file is read-only and cannot be written: {path}. Nothing was sent",
    ),
    "ledger.empty_file": (
        "账本文件是空的（0 字节），已损坏，不会当作新账本使用。请从备份恢复，或移走这个文件：{path}",
        "The ledger file is empty (0 bytes): it is damaged and will not be used as new books. Restore it from a backup or move it away: {path}",
    ),
    "ledger.full_auth_code": (
        "付款码不能写入账本，只能记录最后 4 位数字",
        "A payment code may not be written to the ledger; only its last 4 digits",
    ),
    "ledger.unreachable": (
        "连不上共享账本（{where}）：现在不能收新的款。已经发出的订单会继续处理，数据库恢复后写入账本。请检查网络或数据库服务器",
        "The shared ledger cannot be reached ({where}): no new payments can be taken now. Orders already sent are finished and written when the database is back. Check the network or the database server",
    ),
    "ledger.denied": (
        "共享账本拒绝连接（{where}）：{reason}。数据库密码用 cashier-cli ledger password 存进系统钥匙串",
        "The shared ledger refused the connection ({where}): {reason}. Store the database password in the system keyring with cashier-cli ledger password",
    ),
})


class LedgerError(UserError):
    """Base of every ledger error."""

    key = "ledger.error"


class LedgerClosed(LedgerError):
    """Asked after close() (a page's late worker while the window reopens the books)."""

    key = "ledger.closed"


class LedgerBusy(LedgerError):
    """The database stayed locked by someone else beyond the busy timeout."""

    key = "ledger.busy"


class LedgerFull(LedgerError):
    """SQLITE_FULL: the disk (or the configured page limit) is full."""

    key = "ledger.full"


class LedgerCorrupt(LedgerError):
    """The file is damaged or not a SQLite database."""

    key = "ledger.corrupt"


class LedgerEmpty(LedgerCorrupt):
    """The ledger file exists with 0 bytes: damaged, not new books."""

    key = "ledger.empty_file"


class LedgerIOError(LedgerError):
    """The operating system refused a read or write (SQLITE_IOERR, SQLITE_CANTOPEN...)."""

    key = "ledger.io"


class LedgerReadOnly(LedgerError):
    """The file or its folder cannot be written (SQLITE_READONLY, or cannot open in a
    folder that is not writable)."""

    key = "ledger.read_only"


class LedgerUnreachable(LedgerBusy):
    """The shared ledger's database server cannot be reached (or the connection broke
    mid-transaction: then nothing of that transaction was written)."""

    key = "ledger.unreachable"


class LedgerDenied(LedgerError):
    """The database server refused us: wrong password, unknown user or database."""

    key = "ledger.denied"


class DayOutOfRange(LedgerError, ValueError):
    key = "ledger.day_out_of_range"


class SchemaTooNew(LedgerError):
    key = "ledger.schema_too_new"


class StateConflict(LedgerError):
    """Compare-and-set failed: the row is no longer in the expected state."""

    key = "ledger.state_conflict"

    def __init__(self, key: str | None = None, /, **params: object) -> None:
        super().__init__(key, **params)
        self.current = params.get("current")


class IllegalStateChange(StateConflict):
    """The change is not in the state machine's table (cashier.ledger.states)."""

    key = "ledger.illegal_state_change"


class DuplicateOrder(LedgerError, ValueError):
    key = "ledger.duplicate_order"


class DuplicateRefund(DuplicateOrder):
    key = "ledger.duplicate_refund"


class OrderNotFound(LedgerError, LookupError):
    key = "ledger.order_not_found"


class RefundNotFound(LedgerError, LookupError):
    key = "ledger.refund_not_found"


class RefundTooLarge(LedgerError, ValueError):
    """The refund exceeds what is still refundable (or the order is not paid).

    `refundable` holds the Decimal still refundable."""

    key = "ledger.refund_too_large"

    def __init__(self, key: str | None = None, /, **params: object) -> None:
        super().__init__(key, **params)
        self.refundable = params.get("refundable_value")


class FullAuthCode(LedgerError, ValueError):
    """Something that is not exactly 4 digits was offered as auth_code_last4."""

    key = "ledger.full_auth_code"


# SQLite primary result codes (the low byte of the extended code).
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26
SQLITE_BUSY = 5
SQLITE_LOCKED = 6


def translate(exc: sqlite3.Error, path: str) -> LedgerError | None:
    """Map a sqlite3 error to the ledger error a clerk can act on, or None."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary in (SQLITE_BUSY, SQLITE_LOCKED) or "database is locked" in text or "database is busy" in text:
        return LedgerBusy(path=path)
    if primary == SQLITE_FULL or "database or disk is full" in text:
        return LedgerFull(path=path)
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return LedgerCorrupt(path=path)
    if primary == SQLITE_READONLY or "readonly database" in text:
        return LedgerReadOnly(path=path)
    if primary in (SQLITE_IOERR, SQLITE_CANTOPEN) or "disk i/o error" in text or "unable to open" in text:
        import os

        folder = os.path.dirname(os.path.abspath(path))
        if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
            return LedgerReadOnly(path=path)
        if _disk_full(folder):  # e.g. the -shm file could not grow: say why
            return LedgerFull(path=path)
        return LedgerIOError(path=path)
    return None


def _disk_full(folder: str) -> bool:
    import shutil

    try:
        return shutil.disk_usage(folder).free < 64 * 1024
    except OSError:
        return False
