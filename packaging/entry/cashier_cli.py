"""PyInstaller entry point of the console `cashier-cli` executable (= cashier.cli:main)."""

from cashier.cli import main

raise SystemExit(main())
