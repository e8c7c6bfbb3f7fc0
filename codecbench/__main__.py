from codecbench.cli.main import main

raise SystemExit(main())
