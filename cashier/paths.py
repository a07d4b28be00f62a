"""Where the app keeps its files.

`CASHIER_HOME`, when set, holds every file the app writes (config, database, logs).
Otherwise an installed program may name a machine-wide folder: a per-machine Windows
install writes `cashier-home.txt` next to cashier.exe holding e.g.
`%ProgramData%/cashier`, so that every clerk account on the PC shares one set of books.
Otherwise the platform's user directories (platformdirs) are used.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cashier.i18n import UserError, define

APP_NAME = "cashier"
APP_AUTHOR = "cashier"
MACHINE_HOME_FILE = "cashier-home.txt"


define({
    "files.read_only": (
        "无法写入（文件夹只读或没有写权限）：{path}。本次操作没有保存，也没有发出任何请求",
        "Cannot write there (the folder is read-only or not writable): {path}. Nothing was saved or sent",
    ),
    "files.full": (
        "磁盘已满，无法写入：{path}。本次操作没有保存，也没有发出任何请求；请腾出磁盘空间后重试",
        "The disk is full, cannot write: {path}. Nothing was saved or sent; free some disk space and try again",
    ),
    "files.io": (
        "读写文件失败（{reason}）：{path}。本次操作没有保存，也没有发出任何请求",
        "Reading or writing a file failed ({reason}): {path}. Nothing was saved or sent",
    ),
})

_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class StorageError(UserError):
    """The operating system refused to read or write one of the app's files."""

    key = "files.io"


def storage_error(exc: OSError, path: object = None) -> StorageError:
    """The message a clerk can act on for an OSError: read-only, full, or other."""
    where = str(path if path is not None else (exc.filename or "?"))
    if exc.errno in _FULL:
        return StorageError("files.full", path=where)
    if exc.errno in _READ_ONLY or isinstance(exc, PermissionError):
        return StorageError("files.read_only", path=where)
    return StorageError("files.io", path=where, reason=exc.strerror or type(exc).__name__)


@contextmanager
def storing(path: object) -> Iterator[None]:
    """Turn an OSError raised inside into the StorageError naming `path`."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, path) from exc


def _home() -> Path | None:
    value = os.environ.get("CASHIER_HOME")
    if value:
        return Path(value).expanduser()
    return machine_home()


def machine_home() -> Path | None:
    """The folder named by cashier-home.txt beside the frozen program (installed apps
    only: a source checkout or pip install never reads a file next to the Python)."""
    if not getattr(sys, "frozen", False):
        return None
    try:
        text = (Path(sys.executable).resolve().parent / MACHINE_HOME_FILE).read_text("utf-8-sig").strip()
    except OSError:
        return None
    return Path(os.path.expandvars(text)).expanduser() if text else None


def write_json_atomically(path: Path, data: object) -> None:
    """Write JSON so that a crash or a full disk leaves the old file whole: a temp file
    in the same folder, fsync, then an atomic rename. An OSError (read-only folder, full
    disk) becomes a StorageError naming the file."""
    with storing(path):
        _write_json(path, data)


def _write_json(path: Path, data: object) -> None:
    import json
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _ensure(path: Path) -> Path:
    with storing(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return _ensure(home / "config")
    import platformdirs

    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)))


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return _ensure(home / "data")
    import platformdirs

    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)))


def log_dir() -> Path:
    home = _home()
    if home is not None:
        return _ensure(home / "logs")
    import platformdirs

    return _ensure(Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)))


def database_path() -> Path:
    return data_dir() / "ledger.sqlite3"


def profiles_path() -> Path:
    return config_dir() / "profiles.json"


def settings_path() -> Path:
    return config_dir() / "settings.json"
