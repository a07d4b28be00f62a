"""The print queue: a slip never blocks or slows a payment (no Qt).

`submit()` only appends to an in-memory queue and wakes a worker thread; the worker
keeps the queue on disk (`data/print-queue.json`, written atomically), prints what it
can, and leaves what it can't (printer off, out of paper, unplugged) in the queue with
the reason. It tries again every `retry_seconds` and whenever `retry()` is called (the
clerk's 补打/reprint), so nothing waits on the printer but the printer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from cashier import paths
from cashier.i18n import UserError, define
from cashier.peripherals.printer import PrinterError, PrinterTarget, Slip, print_slip

define({
    "spooler.queued": ("打印机未就绪，小票已排队（{count} 张待打）：{reason}。可在“订单”里补打。",
                       "The printer is not ready; the receipt is queued ({count} waiting): {reason}. Reprint from Orders."),
    "spooler.printed": ("小票已打印", "Receipt printed"),
})

log = logging.getLogger("cashier.printer")


@dataclass(frozen=True)
class Job:
    id: str
    slip: Slip
    copies: int = 1
    created_at: float = 0.0
    attempts: int = 0
    last_error: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "slip": self.slip.to_dict(), "copies": self.copies, "created_at": self.created_at,
                "attempts": self.attempts, "last_error": self.last_error}

    @classmethod
    def from_dict(cls, data: dict) -> "Job":
        return cls(id=str(data["id"]), slip=Slip.from_dict(data["slip"]), copies=int(data.get("copies", 1)),
                   created_at=float(data.get("created_at", 0)), attempts=int(data.get("attempts", 0)),
                   last_error=str(data.get("last_error", "")))


@dataclass(frozen=True)
class SpoolerStatus:
    """What the clerk is told after each try: `error` is None when the queue is empty."""

    waiting: int
    error: str | None
    printed: int = 0


PrintFunction = Callable[[Slip, int], None]


def queue_path() -> Path:
    return paths.data_dir() / "print-queue.json"


class Spooler:
    def __init__(self, printer: PrintFunction, *, path: Path | None = None, retry_seconds: float = 30.0,
                 on_status: Callable[[SpoolerStatus], None] | None = None) -> None:
        self._print = printer
        self._path = path or queue_path()
        self._retry_seconds = retry_seconds
        self._on_status = on_status
        self._lock = threading.Lock()
        self._jobs: list[Job] = self._load()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings, **kwargs) -> "Spooler":
        """A spooler printing to the printer the settings name (`settings` may be a
        callable giving the current settings: a change applies to the next job)."""
        from cashier.peripherals.printer import parse_printer_url

        current = settings if callable(settings) else (lambda: settings)

        def send(slip: Slip, copies: int) -> None:
            settings = current()
            target: PrinterTarget = parse_printer_url(settings.printer_url or "")
            print_slip(target, slip, paper_mm=settings.printer_paper_mm, encoding=settings.printer_encoding,
                       copies=copies)

        return cls(send, **kwargs)

    # -------------------------------------------------------------- public
    def submit(self, slip: Slip, copies: int = 1) -> str:
        job = Job(id=uuid.uuid4().hex[:12], slip=slip, copies=max(1, copies), created_at=time.time())
        with self._lock:
            self._jobs.append(job)
        self._idle.clear()
        self._wake.set()
        return job.id

    def retry(self) -> None:
        self._idle.clear()
        self._wake.set()

    def pending(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def start(self) -> "Spooler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="print-spooler", daemon=True)
            self._thread.start()
        if self._jobs:
            self._wake.set()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float) -> bool:
        """For scripts and tests: wait until a pass over the queue has finished."""
        return self._idle.wait(timeout)

    def run_once(self) -> SpoolerStatus:
        """One pass over the queue, in this thread (the CLI prints synchronously)."""
        printed, error = 0, None
        for job in self.pending():
            try:
                self._print(job.slip, job.copies)
            except (PrinterError, UserError) as exc:
                error = exc.message()
                self._replace(replace(job, attempts=job.attempts + 1, last_error=error))
                break  # the printer is down: the rest waits behind this one, in order
            except Exception as exc:  # a driver's bug must not take the queue down
                log.exception("printing failed")
                error = str(exc)[:120] or type(exc).__name__
                self._replace(replace(job, attempts=job.attempts + 1, last_error=error))
                break
            else:
                printed += 1
                self._remove(job.id)
        self._save()
        status = SpoolerStatus(waiting=len(self.pending()), error=error, printed=printed)
        if self._on_status is not None and (printed or error):
            try:
                self._on_status(status)
            except Exception:
                log.exception("print status listener failed")
        return status

    # -------------------------------------------------------------- internals
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._retry_seconds if self.pending() else None)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.run_once()
            self._idle.set()

    def _replace(self, job: Job) -> None:
        with self._lock:
            self._jobs = [job if j.id == job.id else j for j in self._jobs]

    def _remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs = [j for j in self._jobs if j.id != job_id]

    def _load(self) -> list[Job]:
        try:
            data = json.loads(self._path.read_text("utf-8"))
            return [Job.from_dict(d) for d in data.get("jobs", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("print queue %s is unreadable; starting empty", self._path)
            return []

    def _save(self) -> None:
        with self._lock:
            data = {"jobs": [j.to_dict() for j in self._jobs]}
        try:
            paths.write_json_atomically(self._path, data)
        except OSError:
            log.warning("could not save the print queue to %s", self._path)
