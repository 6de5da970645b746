from apimon_tui.cli import main

raise SystemExit(main())
