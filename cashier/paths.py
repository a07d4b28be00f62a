"""Where the app keeps its files.

`CASHIER_HOME`, when set, holds every file the app writes (config, database, logs).
Otherwise an installed program may name a machine-wide folder: a per-machine Windows
install writes `cashier-home.txt` next to cashier.exe holding e.g.
`%ProgramData%/cashier`, so that every clerk account on the PC shares one set of books.
Otherwise the platform's user directories (platformdirs) are used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "cashier"
APP_AUTHOR = "cashier"
MACHINE_HOME_FILE = "cashier-home.txt"


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
    in the same folder, fsync, then an atomic rename."""
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
