"""PyInstaller entry point of the windowed `cashier` executable (= cashier.app:main).

Last line of defence: an exception nothing else handled ends the program with one
plain line (and the traceback in the log folder), never a traceback on screen.
"""

import sys

try:
    from cashier.app import main

    code = main()
except SystemExit:
    raise
except BaseException as exc:  # noqa: BLE001
    from _crash import report

    code = report("cashier", exc)
raise SystemExit(code)
