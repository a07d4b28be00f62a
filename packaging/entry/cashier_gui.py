"""PyInstaller entry point of the windowed `cashier` executable (= cashier.app:main)."""

from cashier.app import main

raise SystemExit(main())
