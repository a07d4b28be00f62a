from cashier.app import main

raise SystemExit(main())
