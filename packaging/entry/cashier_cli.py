"""PyInstaller entry point of the console `cashier-cli` executable (= cashier.cli:main).

Last line of defence: an exception nothing else handled ends the program with one
plain line (and the traceback in the log folder), never a traceback on screen.
"""

try:
    from cashier.cli import main

    code = main()
except SystemExit:
    raise
except BaseException as exc:  # noqa: BLE001
    from _crash import report

    code = report("cashier-cli", exc)
raise SystemExit(code)
